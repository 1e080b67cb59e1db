//! The job state machine. Every transition is a conditional update on the job row, so two
//! processes can never both move a job: a claim requires `QUEUED` and the token it read;
//! every later write of the attempt requires `RUNNING` and the token its claim set.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{job, job_attempt};
use rand::Rng;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Delivery, JobContract, Status};
use crate::config::JobsConfig;
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::outbox;

/// The error class of an attempt that ran out of time.
pub const ERROR_TIMEOUT: &str = "TIMEOUT";

/// Attempts run by worker processes; `BATCH` (one-shot containers) comes with cloud runs.
pub const EXECUTOR_FLEET: &str = "FLEET";

/// The timings and limits the state machine applies (from [`JobsConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub lease: Duration,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    pub org_concurrency: u32,
    /// The org's cap on running workflow runs (they get their own: a browser each).
    pub run_org_concurrency: u32,
}

impl From<&JobsConfig> for Policy {
    fn from(c: &JobsConfig) -> Self {
        Policy {
            lease: Duration::from_secs(c.lease_secs),
            max_attempts: c.max_attempts,
            retry_base: Duration::from_secs(c.retry_base_secs),
            retry_cap: Duration::from_secs(c.retry_cap_secs),
            org_concurrency: c.org_concurrency,
            run_org_concurrency: c.run_org_concurrency,
        }
    }
}

impl Policy {
    /// How many jobs of `kind` one org may run at once.
    pub fn org_cap(&self, kind: &str) -> u32 {
        // Browser jobs share the browser cap.
        if kind == super::contracts::WorkflowRun::KIND
            || kind == super::contracts::FormAnalysis::KIND
        {
            self.run_org_concurrency
        } else {
            self.org_concurrency
        }
    }

    /// Delay before attempt `attempt + 1`: base × 2^(attempt-1), capped, with ±25% jitter
    /// so a burst of failures does not come back as a burst.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let exp = attempt.clamp(1, 20) as u32 - 1;
        let raw = self.retry_base.saturating_mul(1u32 << exp.min(16));
        let capped = raw.min(self.retry_cap);
        let jitter = rand::rng().random_range(0.75..=1.25);
        capped.mul_f64(jitter).min(self.retry_cap)
    }
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Inserts a `QUEUED` job and its `job.enqueued` outbox row in the caller's transaction:
/// both commit or neither does.
pub async fn enqueue<C: JobContract>(
    tx: &impl ConnectionTrait,
    org_id: Uuid,
    job_id: Uuid,
    contract: &C,
    max_attempts: u32,
) -> DomainResult<job::Model> {
    enqueue_in_group(tx, org_id, job_id, contract, max_attempts, None).await
}

/// A concurrency group: at most `limit` running jobs share `key` (besides the org's cap).
#[derive(Debug, Clone)]
pub struct Group {
    pub key: String,
    pub limit: i32,
}

/// [`enqueue`], with a second cap shared by the jobs of `group`.
pub async fn enqueue_in_group<C: JobContract>(
    tx: &impl ConnectionTrait,
    org_id: Uuid,
    job_id: Uuid,
    contract: &C,
    max_attempts: u32,
    group: Option<Group>,
) -> DomainResult<job::Model> {
    let now = crate::time::now();
    let payload = serde_json::to_value(contract).map_err(anyhow::Error::from)?;
    let row = job::Model {
        id: job_id,
        org_id,
        kind: C::KIND.to_owned(),
        payload,
        status: Status::Queued.as_str().to_owned(),
        attempt: 0,
        max_attempts: max_attempts.max(1) as i32,
        run_after: now,
        lease_owner: None,
        lease_expires_at: None,
        fencing_token: 0,
        cancel_requested_at: None,
        progress: 0,
        result: None,
        last_error: None,
        // Its delivery is on its way in the outbox row written below.
        delivered_at: Some(now),
        created_at: now,
        updated_at: now,
        started_at: None,
        finished_at: None,
        group_limit: group.as_ref().map(|g| g.limit.max(1)),
        group_key: group.map(|g| g.key),
        error_class: None,
    };
    job::Entity::insert(job::ActiveModel::from(row.clone()))
        .exec_without_returning(tx)
        .await?;
    outbox::enqueue(tx, org_id, outbox::JOB_ENQUEUED, delivery_payload(&row)).await?;
    Ok(row)
}

fn delivery_payload(job: &job::Model) -> Value {
    json!({ "jobId": job.id, "kind": job.kind })
}

/// What a worker holds after a successful claim. Every write of the attempt carries `token`.
#[derive(Debug, Clone)]
pub struct Lease {
    pub job_id: Uuid,
    pub org_id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub token: i64,
    pub attempt: i32,
    pub max_attempts: i32,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    /// From when the job became runnable (enqueue, or the end of its retry delay) to its claim.
    pub waited: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No such job in that org (a stale or forged delivery).
    Gone,
    /// Already running, finished or cancelled: a duplicate delivery.
    NotQueued,
    /// Its retry delay has not passed.
    NotDue,
    /// The org already runs its cap of this kind (or its group its own cap); the job waits
    /// for a slot.
    AtCapacity,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Gone => "gone",
            Skip::NotQueued => "not_queued",
            Skip::NotDue => "not_due",
            Skip::AtCapacity => "at_capacity",
        }
    }
}

#[derive(Debug)]
pub enum Claim {
    Claimed(Lease),
    Skipped(Skip),
}

/// Claims the delivered job for `worker`: `QUEUED` → `RUNNING`, attempt and fencing token
/// incremented, a lease of `policy.lease`. Refused (and left queued) while the org runs its
/// cap of the kind, or the job's group its own cap; a job refused for capacity is parked
/// until a slot frees (`promote_next`). Only a refused claim reads the row, to say why.
pub async fn claim(
    db: &Db,
    delivery: &Delivery,
    worker: &str,
    policy: &Policy,
) -> DomainResult<Claim> {
    let now = crate::time::now();
    let claimed = match db.get_database_backend() {
        DbBackend::Postgres => claim_in_server(db, delivery, worker, policy, now).await?,
        _ => return claim_in_transaction(db, delivery, worker, policy, now).await,
    };
    let Some(row) = claimed else {
        let tx = db::begin_read(db, Scope::org(delivery.org_id)).await?;
        let current = job::Entity::find_in_org(delivery.org_id, delivery.job_id)
            .one(&tx)
            .await?;
        tx.commit().await?;
        return Ok(Claim::Skipped(why_refused(current, delivery, now)));
    };
    Ok(Claim::Claimed(leased(row, worker, now)))
}

/// PostgreSQL: the `jobs_claim` function (migration 17) takes the turn of the org and
/// kind, claims or parks the job, and commits, in one statement outside any client-side
/// transaction, so the turn is never held across a round trip.
async fn claim_in_server(
    db: &Db,
    delivery: &Delivery,
    worker: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> DomainResult<Option<job::Model>> {
    let kind = delivery.kind.as_str();
    Ok(job::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT * FROM jobs_claim($1, $2, $3, $4, $5, $6, $7)",
            [
                delivery.org_id.into(),
                delivery.job_id.into(),
                kind.into(),
                worker.into(),
                now.into(),
                after(now, policy.lease).into(),
                i64::from(policy.org_cap(kind)).into(),
            ],
        ))
        .one(db)
        .await?)
}

/// SQLite: the same conditional update in an IMMEDIATE transaction, which holds the
/// database's single write lock, so the running count cannot be raced either.
async fn claim_in_transaction(
    db: &Db,
    delivery: &Delivery,
    worker: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> DomainResult<Claim> {
    use sea_orm::ExprTrait;
    let (org_id, kind) = (delivery.org_id, delivery.kind.as_str());
    let tx = db::begin(db, Scope::org(org_id)).await?;
    let running = Query::select()
        .expr(Expr::col(job::Column::Id).count())
        .from(job::Entity)
        .and_where(job::Column::OrgId.eq(org_id))
        .and_where(job::Column::Kind.eq(kind))
        .and_where(job::Column::Status.eq(Status::Running.as_str()))
        .to_owned();
    let claimed = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(Status::Running.as_str()))
        .col_expr(job::Column::Attempt, Expr::col(job::Column::Attempt).add(1))
        .col_expr(
            job::Column::FencingToken,
            Expr::col(job::Column::FencingToken).add(1),
        )
        .col_expr(job::Column::LeaseOwner, Expr::value(worker))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(after(now, policy.lease)),
        )
        .col_expr(job::Column::StartedAt, Expr::value(now))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(delivery.job_id))
        .filter(job::Column::OrgId.eq(org_id))
        .filter(job::Column::Kind.eq(kind))
        .filter(job::Column::Status.eq(Status::Queued.as_str()))
        .filter(job::Column::RunAfter.lte(now))
        .filter(Expr::SubQuery(None, Box::new(running.into())).lt(i64::from(policy.org_cap(kind))))
        .filter(group_has_room())
        .exec_with_returning(&tx)
        .await?;
    if let Some(row) = claimed.into_iter().next() {
        tx.commit().await?;
        return Ok(Claim::Claimed(leased(row, worker, now)));
    }
    let current = job::Entity::find_in_org(org_id, delivery.job_id)
        .one(&tx)
        .await?;
    let skip = why_refused(current, delivery, now);
    if skip == Skip::AtCapacity {
        park(&tx, delivery.job_id).await?;
    }
    tx.commit().await?;
    Ok(Claim::Skipped(skip))
}

fn leased(row: job::Model, worker: &str, now: DateTime<Utc>) -> Lease {
    let runnable_since = std::cmp::max(row.run_after, row.created_at);
    Lease {
        job_id: row.id,
        org_id: row.org_id,
        kind: row.kind,
        payload: row.payload,
        token: row.fencing_token,
        attempt: row.attempt,
        max_attempts: row.max_attempts,
        worker: worker.to_owned(),
        started_at: now,
        waited: (now - runnable_since).to_std().unwrap_or_default(),
    }
}

/// Why a claim matched no row, from the job as it is now.
fn why_refused(current: Option<job::Model>, delivery: &Delivery, now: DateTime<Utc>) -> Skip {
    let Some(current) = current.filter(|c| c.kind == delivery.kind) else {
        return Skip::Gone;
    };
    if current.status != Status::Queued.as_str() {
        Skip::NotQueued
    } else if current.run_after > now {
        Skip::NotDue
    } else {
        // Queued and due, so a cap refused it.
        Skip::AtCapacity
    }
}

/// Marks a job refused for capacity as waiting for a slot (no longer in the queue): the
/// next release of a slot of its org and kind delivers it again.
async fn park(tx: &DatabaseTransaction, job_id: Uuid) -> DomainResult<()> {
    job::Entity::update_many()
        .col_expr(
            job::Column::DeliveredAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::Status.eq(Status::Queued.as_str()))
        .exec(tx)
        .await?;
    Ok(())
}

/// `jobs.status = '…'` as a literal rather than a bound value, for the look-ups that the
/// partial indexes on `status` serve. A prepared statement's generic plan cannot prove a
/// partial index's predicate from a bound value: it fell back to every queued job of the
/// org (B7: 3.5 ms a finish on average over a burst).
pub(super) fn status_is(status: Status) -> sea_orm::sea_query::Expr {
    Expr::cust(format!("jobs.status = '{}'", status.as_str()))
}

/// The row's group (if it has one) runs fewer jobs than its limit.
fn group_has_room() -> sea_orm::sea_query::Expr {
    Expr::cust(
        "(jobs.group_key IS NULL OR (SELECT count(*) FROM jobs g WHERE g.org_id = jobs.org_id \
         AND g.group_key = jobs.group_key AND g.status = 'RUNNING') < jobs.group_limit)",
    )
}

/// A renewed lease, and whether someone asked to cancel the job meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    pub cancel_requested: bool,
}

/// Renews the lease (and records `progress`, 0–100, when given). `LeaseLost` when the
/// token has moved on: the attempt must stop without writing anything else.
pub async fn heartbeat(
    db: &Db,
    lease: &Lease,
    policy: &Policy,
    progress: Option<i32>,
) -> DomainResult<Beat> {
    let tx = db::begin(db, Scope::org(lease.org_id)).await?;
    let now = crate::time::now();
    let mut update = job::Entity::update_many()
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(after(now, policy.lease)),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now));
    if let Some(p) = progress {
        update = update.col_expr(job::Column::Progress, Expr::value(p.clamp(0, 100)));
    }
    let rows = update.filter(held(lease)).exec_with_returning(&tx).await?;
    tx.commit().await?;
    match rows.first() {
        None => Err(DomainError::LeaseLost),
        Some(row) => Ok(Beat {
            cancel_requested: row.cancel_requested_at.is_some(),
        }),
    }
}

/// The condition of every write of a held attempt.
fn held(lease: &Lease) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(job::Column::Id.eq(lease.job_id))
        .add(job::Column::OrgId.eq(lease.org_id))
        .add(job::Column::Status.eq(Status::Running.as_str()))
        .add(job::Column::FencingToken.eq(lease.token))
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Succeeded(Option<Value>),
    /// Fails the job now.
    Failed(String),
    /// Fails the job now: the attempt ran out of time (error class `TIMEOUT`).
    TimedOut(String),
    /// Tries again after a backoff, or dead-letters the job after its last attempt.
    Retry(String),
    /// The job was cancelled while it ran.
    Cancelled,
    /// The worker is shutting down: back to the queue, this attempt not counted.
    Released,
}

/// A recorded outcome; `promoted` when it handed the freed slot to a waiting job (whose
/// delivery is then in the outbox).
#[derive(Debug)]
pub struct Recorded {
    pub job: job::Model,
    pub promoted: bool,
}

/// Records the attempt's outcome in `tx`, which may also hold the handler's own writes
/// (they then commit exactly when the outcome does). `LeaseLost` if the token moved on.
pub async fn finish(
    tx: &DatabaseTransaction,
    lease: &Lease,
    outcome: Outcome,
    policy: &Policy,
) -> DomainResult<Recorded> {
    let ending = Ending::of(lease, outcome, policy);
    match tx.get_database_backend() {
        DbBackend::Postgres => finish_in_server(tx, lease, ending).await,
        _ => finish_in_statements(tx, lease, ending).await,
    }
}

/// [`finish`] for an outcome without writes of its own. On PostgreSQL it is the one
/// statement of its transaction, the `jobs_finish` function (migration 18).
pub async fn record(
    db: &Db,
    lease: &Lease,
    outcome: Outcome,
    policy: &Policy,
) -> DomainResult<Recorded> {
    let ending = Ending::of(lease, outcome, policy);
    if db.get_database_backend() == DbBackend::Postgres {
        return finish_in_server(db, lease, ending).await;
    }
    let tx = db::begin(db, Scope::org(lease.org_id)).await?;
    let recorded = finish_in_statements(&tx, lease, ending).await?;
    tx.commit().await?;
    Ok(recorded)
}

/// What an outcome writes, decided once for both backends.
struct Ending {
    now: DateTime<Utc>,
    status: Status,
    /// The attempt row's outcome.
    attempt_outcome: &'static str,
    error: Option<String>,
    error_class: Option<String>,
    /// A success's result.
    result: Option<Value>,
    /// Back to the queue, runnable from then (a retry, or a released job).
    retry_at: Option<DateTime<Utc>>,
    /// Released by a shutting-down worker: the attempt is not counted.
    released: bool,
}

impl Ending {
    fn of(lease: &Lease, outcome: Outcome, policy: &Policy) -> Ending {
        let now = crate::time::now();
        let error_class = matches!(outcome, Outcome::TimedOut(_)).then(|| ERROR_TIMEOUT.to_owned());
        let ending = |status, attempt_outcome, error, retry_at| Ending {
            now,
            status,
            attempt_outcome,
            error,
            error_class: error_class.clone(),
            result: None,
            retry_at,
            released: false,
        };
        match outcome {
            Outcome::Succeeded(result) => Ending {
                result,
                ..ending(Status::Succeeded, "SUCCEEDED", None, None)
            },
            Outcome::Failed(e) | Outcome::TimedOut(e) => {
                ending(Status::Failed, "FAILED", Some(e), None)
            }
            Outcome::Retry(e) if lease.attempt >= lease.max_attempts => {
                ending(Status::Dead, "DEAD", Some(e), None)
            }
            Outcome::Retry(e) => {
                let at = after(now, policy.backoff(lease.attempt));
                ending(Status::Queued, "RETRY", Some(e), Some(at))
            }
            Outcome::Cancelled => ending(Status::Cancelled, "CANCELLED", None, None),
            Outcome::Released => Ending {
                released: true,
                ..ending(Status::Queued, "RELEASED", None, Some(now))
            },
        }
    }
}

/// PostgreSQL: the update, the attempt and outbox rows and the promotion of the next
/// parked job in one statement (`jobs_finish`), instead of seven round trips.
async fn finish_in_server(
    conn: &impl ConnectionTrait,
    lease: &Lease,
    e: Ending,
) -> DomainResult<Recorded> {
    use sea_orm::FromQueryResult;
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT (f.job).*, f.promoted FROM jobs_finish($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18) AS f",
            [
                lease.org_id.into(),
                lease.job_id.into(),
                lease.token.into(),
                e.now.into(),
                e.status.as_str().into(),
                e.error.into(),
                e.error_class.into(),
                e.result.into(),
                e.retry_at.into(),
                e.released.into(),
                Uuid::now_v7().into(),
                lease.attempt.into(),
                lease.worker.as_str().into(),
                lease.started_at.into(),
                e.attempt_outcome.into(),
                EXECUTOR_FLEET.into(),
                Uuid::now_v7().into(),
                Uuid::now_v7().into(),
            ],
        ))
        .await?;
    let Some(row) = row else {
        return Err(DomainError::LeaseLost);
    };
    Ok(Recorded {
        job: job::Model::from_query_result(&row, "")?,
        promoted: row.try_get("", "promoted")?,
    })
}

/// SQLite: the same writes as statements in the caller's transaction.
async fn finish_in_statements(
    tx: &DatabaseTransaction,
    lease: &Lease,
    e: Ending,
) -> DomainResult<Recorded> {
    let now = e.now;
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(e.status.as_str()))
        .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .col_expr(job::Column::ErrorClass, Expr::value(e.error_class.clone()));
    if let Some(error) = &e.error {
        update = update.col_expr(job::Column::LastError, Expr::value(error.clone()));
    }
    if e.status == Status::Succeeded {
        update = update
            .col_expr(job::Column::Result, Expr::value(e.result.clone()))
            .col_expr(job::Column::Progress, Expr::value(100));
    }
    update = match e.retry_at {
        Some(at) => update
            .col_expr(job::Column::RunAfter, Expr::value(at))
            .col_expr(
                job::Column::DeliveredAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            ),
        None => update.col_expr(job::Column::FinishedAt, Expr::value(now)),
    };
    if e.released {
        update = update.col_expr(job::Column::Attempt, Expr::value(lease.attempt - 1));
    }
    let rows = update.filter(held(lease)).exec_with_returning(tx).await?;
    let Some(row) = rows.into_iter().next() else {
        return Err(DomainError::LeaseLost);
    };
    record_attempt(tx, lease, e.attempt_outcome, e.error, e.error_class, now).await?;
    status_changed(tx, &row).await?;
    let promoted = promote_next(tx, lease.org_id, &lease.kind, lease.job_id).await?;
    Ok(Recorded { job: row, promoted })
}

async fn record_attempt(
    tx: &impl ConnectionTrait,
    lease: &Lease,
    outcome: &str,
    error: Option<String>,
    error_class: Option<String>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    job_attempt::Entity::insert(job_attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(lease.org_id),
        job_id: Set(lease.job_id),
        attempt: Set(lease.attempt),
        fencing_token: Set(lease.token),
        worker: Set(lease.worker.clone()),
        outcome: Set(outcome.to_owned()),
        error: Set(error),
        started_at: Set(lease.started_at),
        finished_at: Set(now),
        executor: Set(EXECUTOR_FLEET.to_owned()),
        error_class: Set(error_class),
    })
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

async fn status_changed(tx: &impl ConnectionTrait, row: &job::Model) -> DomainResult<()> {
    outbox::enqueue(
        tx,
        row.org_id,
        outbox::JOB_STATUS_CHANGED,
        json!({ "jobId": row.id, "kind": row.kind, "status": row.status, "attempt": row.attempt }),
    )
    .await
}

/// A slot of (org, kind) has freed: deliver again the org's oldest runnable job of that
/// kind that a claim refused for capacity (it is not in the queue any more). Jobs still in
/// the queue are left alone, so a busy org's finishes cause no duplicate deliveries.
async fn promote_next(
    tx: &impl ConnectionTrait,
    org_id: Uuid,
    kind: &str,
    except: Uuid,
) -> DomainResult<bool> {
    let next = job::Entity::find()
        .filter(job::Column::OrgId.eq(org_id))
        .filter(job::Column::Kind.eq(kind))
        .filter(status_is(Status::Queued))
        .filter(job::Column::RunAfter.lte(crate::time::now()))
        .filter(job::Column::DeliveredAt.is_null())
        .filter(job::Column::Id.ne(except))
        // Skip jobs whose group is still full: promoting one would only be refused again
        // while another group's job could take the slot.
        .filter(group_has_room())
        .order_by_asc(job::Column::Id)
        .limit(1);
    // Two finishes freeing two slots at once promote two different jobs.
    let next = if tx.get_database_backend() == DbBackend::Postgres {
        next.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    } else {
        next
    };
    let next = next.one(tx).await?;
    let Some(next) = next else {
        return Ok(false);
    };
    // Its delivery is on its way: the next finish of the org must not promote it again.
    let marked = job::Entity::update_many()
        .col_expr(job::Column::DeliveredAt, Expr::value(crate::time::now()))
        .filter(job::Column::Id.eq(next.id))
        .filter(job::Column::Status.eq(Status::Queued.as_str()))
        .filter(job::Column::DeliveredAt.is_null())
        .exec(tx)
        .await?;
    if marked.rows_affected == 0 {
        return Ok(false);
    }
    outbox::enqueue(tx, org_id, outbox::JOB_ENQUEUED, delivery_payload(&next)).await?;
    Ok(true)
}

/// Cancels a job. Queued (or waiting to retry): cancelled at once. Running: the request is
/// recorded; the worker stops the handler at its next heartbeat and records `CANCELLED`
/// (or the reconciler does, if the worker is gone). Already cancelled: unchanged.
/// Succeeded, failed or dead-lettered: refused.
pub async fn cancel(
    tx: &DatabaseTransaction,
    org_id: Uuid,
    job_id: Uuid,
) -> DomainResult<job::Model> {
    let current = job::Entity::find_in_org(org_id, job_id)
        .one(tx)
        .await?
        .ok_or(DomainError::not_found("job"))?;
    let now = crate::time::now();
    let status = Status::parse(&current.status).unwrap_or(Status::Dead);
    let update = job::Entity::update_many()
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::OrgId.eq(org_id))
        .filter(job::Column::FencingToken.eq(current.fencing_token))
        .filter(job::Column::Status.eq(current.status.as_str()));
    let update = match status {
        Status::Cancelled => return Ok(current),
        Status::Succeeded | Status::Failed | Status::Dead => {
            let mut details = serde_json::Map::new();
            details.insert("status".into(), Value::String(current.status.clone()));
            return Err(DomainError::Conflict {
                message: format!("the job has already finished ({})", current.status),
                details,
            });
        }
        Status::Queued => update
            .col_expr(job::Column::Status, Expr::value(Status::Cancelled.as_str()))
            .col_expr(job::Column::CancelRequestedAt, Expr::value(now))
            .col_expr(job::Column::FinishedAt, Expr::value(now)),
        Status::Running => update.col_expr(job::Column::CancelRequestedAt, Expr::value(now)),
    };
    let rows = update.exec_with_returning(tx).await?;
    let Some(row) = rows.into_iter().next() else {
        // It moved between the read and the write (claimed, finished): the caller retries.
        return Err(DomainError::conflict(
            "the job changed while it was being cancelled; try again",
        ));
    };
    if status == Status::Queued {
        status_changed(tx, &row).await?;
        promote_next(tx, org_id, &row.kind, row.id).await?;
    }
    Ok(row)
}

/// Marks jobs as handed to the queue (the reconciler, under the system scope).
pub async fn mark_delivered(tx: &impl ConnectionTrait, job_ids: &[Uuid]) -> DomainResult<()> {
    if job_ids.is_empty() {
        return Ok(());
    }
    job::Entity::update_many()
        .col_expr(job::Column::DeliveredAt, Expr::value(crate::time::now()))
        .filter(job::Column::Id.is_in(job_ids.iter().copied()))
        .filter(job::Column::Status.eq(Status::Queued.as_str()))
        .exec(tx)
        .await?;
    Ok(())
}

/// Lease expired: the worker died or was cut off. Its attempt is recorded as
/// `LEASE_EXPIRED`; the job is queued again after a backoff, dead-lettered if that was its
/// last attempt, or cancelled if a cancel was requested. Under the system scope.
pub async fn expire_lease(
    tx: &impl ConnectionTrait,
    row: &job::Model,
    policy: &Policy,
) -> DomainResult<bool> {
    let now = crate::time::now();
    let error = format!(
        "lease expired: worker {} stopped renewing it",
        row.lease_owner.as_deref().unwrap_or("?")
    );
    let (status, outcome) = if row.cancel_requested_at.is_some() {
        (Status::Cancelled, "CANCELLED")
    } else if row.attempt >= row.max_attempts {
        (Status::Dead, "DEAD")
    } else {
        (Status::Queued, "LEASE_EXPIRED")
    };
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(status.as_str()))
        .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::LastError, Expr::value(error.clone()))
        .col_expr(job::Column::UpdatedAt, Expr::value(now));
    update = if status == Status::Queued {
        update
            .col_expr(
                job::Column::RunAfter,
                Expr::value(after(now, policy.backoff(row.attempt))),
            )
            .col_expr(
                job::Column::DeliveredAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
    } else {
        update.col_expr(job::Column::FinishedAt, Expr::value(now))
    };
    let moved = update
        .filter(job::Column::Id.eq(row.id))
        .filter(job::Column::Status.eq(Status::Running.as_str()))
        .filter(job::Column::FencingToken.eq(row.fencing_token))
        .exec_with_returning(tx)
        .await?;
    let Some(moved) = moved.into_iter().next() else {
        return Ok(false);
    };
    let lease = Lease {
        job_id: row.id,
        org_id: row.org_id,
        kind: row.kind.clone(),
        payload: Value::Null,
        token: row.fencing_token,
        attempt: row.attempt,
        max_attempts: row.max_attempts,
        worker: row.lease_owner.clone().unwrap_or_default(),
        started_at: row.started_at.unwrap_or(now),
        waited: Duration::ZERO,
    };
    record_attempt(tx, &lease, outcome, Some(error), None, now).await?;
    status_changed(tx, &moved).await?;
    // The dead worker's slot is free: the org's next job of the kind may start.
    promote_next(tx, row.org_id, &row.kind, row.id).await?;
    Ok(true)
}

/// Fails a job whose payload cannot be read, without an attempt: no attempt could succeed.
pub async fn dead_letter_unreadable(
    tx: &DatabaseTransaction,
    lease: &Lease,
    error: String,
) -> DomainResult<job::Model> {
    let now = crate::time::now();
    let rows = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(Status::Dead.as_str()))
        .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(
            job::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::LastError, Expr::value(error.clone()))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .col_expr(job::Column::FinishedAt, Expr::value(now))
        .filter(held(lease))
        .exec_with_returning(tx)
        .await?;
    let Some(row) = rows.into_iter().next() else {
        return Err(DomainError::LeaseLost);
    };
    record_attempt(tx, lease, "DEAD", Some(error), None, now).await?;
    status_changed(tx, &row).await?;
    promote_next(tx, lease.org_id, &lease.kind, lease.job_id).await?;
    Ok(row)
}

/// Queued and running jobs by kind and status, every org (system scope): the worker's
/// queue-depth gauge.
pub async fn depth(db: &Db) -> DomainResult<Vec<(String, String, i64)>> {
    use sea_orm::FromQueryResult;
    #[derive(FromQueryResult)]
    struct Row {
        kind: String,
        status: String,
        n: i64,
    }
    let tx = db::begin_read(db, Scope::system()).await?;
    let rows = job::Entity::find()
        .select_only()
        .column(job::Column::Kind)
        .column(job::Column::Status)
        .column_as(job::Column::Id.count(), "n")
        .filter(job::Column::Status.is_in([Status::Queued.as_str(), Status::Running.as_str()]))
        .group_by(job::Column::Kind)
        .group_by(job::Column::Status)
        .into_model::<Row>()
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| (r.kind, r.status, r.n)).collect())
}
