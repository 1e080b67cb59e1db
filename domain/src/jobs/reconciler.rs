//! The reconciler: the database is the truth, so whatever the queue lost or a dead worker
//! held is found here and set moving again. Run on a schedule by every worker process (and
//! in-process when embedded); every change it makes is conditional, so any number of
//! reconcilers can run at once.
//!
//! - `RUNNING` with an expired lease → the attempt is recorded as lost, and the job is
//!   queued after a backoff (or dead-lettered, or cancelled if that was asked).
//! - `QUEUED`, due, and never delivered (a retry) or delivered too long ago (Redis flushed,
//!   a delivery dropped) → delivered again.

use std::time::Duration;

use entity::job;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::queue::Queue;
use super::store::{self, Policy};
use super::{Delivery, Status};
use crate::db::{self, Db, Scope};
use crate::error::DomainResult;

const BATCH: u64 = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub leases_expired: usize,
    pub redelivered: usize,
}

pub async fn reconcile_once(
    db: &Db,
    queue: &Queue,
    policy: &Policy,
    redeliver_after: Duration,
) -> DomainResult<Reconciled> {
    let mut done = Reconciled::default();
    let now = crate::time::now();

    let tx = db::begin(db, Scope::system()).await?;
    let expired = job::Entity::find()
        .filter(store::status_is(Status::Running))
        .filter(job::Column::LeaseExpiresAt.lt(now))
        .order_by_asc(job::Column::LeaseExpiresAt)
        .limit(BATCH)
        .all(&tx)
        .await?;
    for row in &expired {
        if store::expire_lease(&tx, row, policy).await? {
            tracing::warn!(job_id = %row.id, org_id = %row.org_id, kind = %row.kind,
                worker = row.lease_owner.as_deref().unwrap_or("?"), "lease expired; job reclaimed");
            done.leases_expired += 1;
        }
    }
    tx.commit().await?;

    let stale = now - chrono::Duration::from_std(redeliver_after).unwrap_or_default();
    let tx = db::begin(db, Scope::system()).await?;
    let due = job::Entity::find()
        .filter(store::status_is(Status::Queued))
        // True of every queued job; stated so that this look-up, and only it, can use
        // `jobs_queued_idx` (migration 16).
        .filter(job::Column::LeaseOwner.is_null())
        .filter(job::Column::RunAfter.lte(now))
        .filter(
            Condition::any()
                .add(job::Column::DeliveredAt.is_null())
                .add(job::Column::DeliveredAt.lt(stale)),
        )
        // A job waiting for its org's slot is not lost: the slot's release delivers it.
        // Redelivering it would only be refused again, and would crowd out lost ones.
        .filter(at_capacity_excluded(db.get_database_backend(), policy))
        .order_by_asc(job::Column::RunAfter)
        .limit(BATCH)
        .all(&tx)
        .await?;
    let (woken, ids) = queue
        .deliver(due.iter().map(|row| {
            (
                row.kind.as_str(),
                Delivery {
                    job_id: row.id,
                    org_id: row.org_id,
                    kind: row.kind.clone(),
                },
            )
        }))
        .await
        .map_err(crate::error::DomainError::Internal)?;
    store::mark_delivered(&tx, &ids).await?;
    tx.commit().await?;
    queue.wake(&woken).await;
    done.redelivered = ids.len();
    Ok(done)
}

fn at_capacity_excluded(backend: DbBackend, policy: &Policy) -> SimpleExpr {
    let run_kind = <super::contracts::WorkflowRun as super::JobContract>::KIND;
    let (p1, p2) = if backend == DbBackend::Postgres {
        ("$1", "$2")
    } else {
        ("?", "?")
    };
    Expr::cust_with_values(
        format!(
            "(jobs.org_id, jobs.kind) NOT IN (SELECT r.org_id, r.kind FROM jobs r \
             WHERE r.status = 'RUNNING' GROUP BY r.org_id, r.kind HAVING count(*) >= \
             CASE WHEN r.kind = '{run_kind}' THEN {p1} ELSE {p2} END)"
        ),
        [
            i64::from(policy.run_org_concurrency),
            i64::from(policy.org_concurrency),
        ],
    )
}

/// Reconciles every `every` until `shutdown`.
pub async fn run(
    db: Db,
    queue: Queue,
    policy: Policy,
    every: Duration,
    redeliver_after: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        match reconcile_once(&db, &queue, &policy, redeliver_after).await {
            Ok(r) => {
                metrics::counter!("opsdeck_jobs_leases_expired_total")
                    .increment(r.leases_expired as u64);
                metrics::counter!("opsdeck_jobs_redelivered_total").increment(r.redelivered as u64);
            }
            Err(e) => tracing::warn!(error = %e, "reconciler failed; retrying next tick"),
        }
    }
}
