//! Runs: one execution of a published workflow version with a scenario's inputs, by the
//! worker fleet. A run is a `runs` row (what it was launched with, frozen) sharing the id of
//! a `workflow_run` job (its state: status, attempts, lease, fencing token). Steps and
//! artifacts are written by the attempt holding the token, as they happen.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{job, job_attempt, run, run_artifact, run_step, scenario};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::definition::{InputField, Step};
use super::problems::Problems;
use super::scenarios::{self, Kind, Outcome};
use super::{targets, workflows};
use crate::audit::{self, Entry};
use crate::config::RunsConfig;
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::jobs::contracts::WorkflowRun;
use crate::jobs::store::{self, Group, Lease, Policy};
use crate::jobs::{self, JobContract};
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

/// One `launchRuns` call, at most.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    /// Cancellation was asked while it ran; the worker is stopping it.
    Cancelling,
    Cancelled,
}

impl RunStatus {
    pub fn of(job: &job::Model) -> Self {
        let cancelling = job.cancel_requested_at.is_some();
        match jobs::Status::parse(&job.status) {
            Some(jobs::Status::Queued) if cancelling => RunStatus::Cancelling,
            Some(jobs::Status::Queued) => RunStatus::Queued,
            Some(jobs::Status::Running) if cancelling => RunStatus::Cancelling,
            Some(jobs::Status::Running) => RunStatus::Running,
            Some(jobs::Status::Succeeded) => RunStatus::Succeeded,
            Some(jobs::Status::Cancelled) => RunStatus::Cancelled,
            Some(jobs::Status::Failed)
                if job.error_class.as_deref() == Some(store::ERROR_TIMEOUT) =>
            {
                RunStatus::TimedOut
            }
            Some(jobs::Status::Failed) | Some(jobs::Status::Dead) | None => RunStatus::Failed,
        }
    }

    pub fn is_finished(self) -> bool {
        !matches!(
            self,
            RunStatus::Queued | RunStatus::Running | RunStatus::Cancelling
        )
    }

    /// The jobs in this run status, as a condition on `jobs`.
    fn condition(self) -> Condition {
        let status = |s: jobs::Status| job::Column::Status.eq(s.as_str());
        let timeout = job::Column::ErrorClass.eq(store::ERROR_TIMEOUT);
        match self {
            RunStatus::Queued => Condition::all()
                .add(status(jobs::Status::Queued))
                .add(job::Column::CancelRequestedAt.is_null()),
            RunStatus::Running => Condition::all()
                .add(status(jobs::Status::Running))
                .add(job::Column::CancelRequestedAt.is_null()),
            RunStatus::Cancelling => Condition::all()
                .add(job::Column::Status.is_in(["QUEUED", "RUNNING"]))
                .add(job::Column::CancelRequestedAt.is_not_null()),
            RunStatus::Succeeded => Condition::all().add(status(jobs::Status::Succeeded)),
            RunStatus::Cancelled => Condition::all().add(status(jobs::Status::Cancelled)),
            RunStatus::TimedOut => Condition::all()
                .add(status(jobs::Status::Failed))
                .add(timeout),
            RunStatus::Failed => Condition::any().add(status(jobs::Status::Dead)).add(
                Condition::all().add(status(jobs::Status::Failed)).add(
                    Condition::any()
                        .add(job::Column::ErrorClass.is_null())
                        .add(job::Column::ErrorClass.ne(store::ERROR_TIMEOUT)),
                ),
            ),
        }
    }
}

/// A run and its job.
#[derive(Debug, Clone)]
pub struct Run {
    pub row: run::Model,
    pub job: job::Model,
}

impl Run {
    pub fn status(&self) -> RunStatus {
        RunStatus::of(&self.job)
    }
}

pub struct Launch {
    pub workflow_id: Uuid,
    pub scenario_ids: Vec<Option<Uuid>>,
    /// A published version; the latest when `None`.
    pub version: Option<i32>,
    pub screenshots: Screenshots,
}

/// Which screenshots a run takes besides its failure's (always taken): one after every
/// step, as a record of the whole run; or only its SCREENSHOT steps', for batches where
/// time and storage matter more than a picture of each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screenshots {
    #[default]
    EveryStep,
    OnFailure,
}

impl Screenshots {
    pub fn as_str(self) -> &'static str {
        match self {
            Screenshots::EveryStep => "EVERY_STEP",
            Screenshots::OnFailure => "ON_FAILURE",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "EVERY_STEP" => Screenshots::EveryStep,
            "ON_FAILURE" => Screenshots::OnFailure,
            _ => return None,
        })
    }
}

/// Queues runs in one transaction: every one or none. `scenario_ids[i] = None` runs the
/// workflow without inputs.
pub async fn launch(
    db: &Db,
    org: &OrgCtx,
    input: Launch,
    policy: &Policy,
    limits: &RunsConfig,
) -> DomainResult<Vec<Run>> {
    org.require(Role::Engineer)?;
    if input.scenario_ids.is_empty() {
        return Err(DomainError::invalid_field(
            "scenarioIds",
            "at least one scenario",
        ));
    }
    if input.scenario_ids.len() > MAX_BATCH {
        return Err(DomainError::invalid_field(
            "scenarioIds",
            format!("at most {MAX_BATCH} runs per call"),
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let workflow = workflows::load_active(&tx, org.org_id(), input.workflow_id).await?;
    let target = targets::load_active(&tx, org.org_id(), workflow.target_id).await?;
    let number = match input.version {
        Some(v) => v,
        None if workflow.latest_version == 0 => {
            return Err(DomainError::invalid_field(
                "version",
                "the workflow has no published version yet: publishWorkflow first",
            ));
        }
        None => workflow.latest_version,
    };
    let version = workflows::version_row(&tx, org.org_id(), workflow.id, number)
        .await
        .map_err(|_| {
            DomainError::invalid_field(
                "version",
                format!(
                    "no published version {number} (latest: {})",
                    workflow.latest_version
                ),
            )
        })?;
    let schema = workflows::schema_of(&version.input_schema);
    let wanted: Vec<Uuid> = input.scenario_ids.iter().flatten().copied().collect();
    let found = scenario::Entity::find()
        .filter(scenario::Column::OrgId.eq(org.org_id()))
        .filter(scenario::Column::Id.is_in(wanted.iter().copied()))
        .filter(scenario::Column::DeletedAt.is_null())
        .all(&tx)
        .await?;
    let mut p = Problems::default();
    let mut plans = Vec::with_capacity(input.scenario_ids.len());
    for (i, id) in input.scenario_ids.iter().enumerate() {
        let at = if input.scenario_ids.len() == 1 {
            "scenarioId".to_owned()
        } else {
            format!("scenarioIds[{i}]")
        };
        let Some(id) = id else {
            scenarios::check_inputs(&mut p, &at, &schema, Kind::Valid, &json!({}));
            plans.push((None, json!({}), Outcome::Success));
            continue;
        };
        let Some(s) = found.iter().find(|s| s.id == *id) else {
            return Err(DomainError::not_found("scenario"));
        };
        if s.workflow_id != workflow.id {
            p.add(at, "a scenario of another workflow");
            continue;
        }
        let kind = Kind::parse(&s.kind).unwrap_or(Kind::Valid);
        scenarios::check_inputs(&mut p, &format!("{at}.inputs"), &schema, kind, &s.inputs);
        let outcome = Outcome::parse(&s.expected_outcome).unwrap_or(Outcome::Success);
        plans.push((Some(s.id), s.inputs.clone(), outcome));
    }
    p.into_result()?;
    let queued = job::Entity::find()
        .filter(job::Column::OrgId.eq(org.org_id()))
        .filter(job::Column::Kind.eq(WorkflowRun::KIND))
        .filter(job::Column::Status.eq(jobs::Status::Queued.as_str()))
        .count(&tx)
        .await?;
    if queued + plans.len() as u64 > limits.org_queued_max {
        return Err(DomainError::QuotaExceeded(format!(
            "the organization has {queued} queued runs; at most {} may wait at once",
            limits.org_queued_max
        )));
    }
    let now = crate::time::now();
    let mut out = Vec::with_capacity(plans.len());
    for (scenario_id, inputs, expected) in plans {
        let id = Uuid::now_v7();
        let row = run::Model {
            id,
            org_id: org.org_id(),
            workflow_id: workflow.id,
            workflow_version: number,
            target_id: target.id,
            scenario_id,
            inputs,
            expected_outcome: expected.as_str().to_owned(),
            retry_of: None,
            screenshots: input.screenshots.as_str().to_owned(),
            created_by_type: org.actor().kind().to_owned(),
            created_by_id: org.actor().id(),
            created_at: now,
        };
        out.push(insert(&tx, row, &target, policy).await?);
    }
    audit::record(
        &tx,
        org,
        Entry {
            action: "run.launched",
            target_type: "workflow",
            target_id: Some(workflow.id),
            before: None,
            after: Some(json!({
                "version": number,
                "runs": out.iter().map(|r| r.row.id).collect::<Vec<_>>(),
            })),
        },
    )
    .await?;
    tx.commit().await?;
    jobs::relay::wake();
    Ok(out)
}

async fn insert(
    tx: &impl ConnectionTrait,
    row: run::Model,
    target: &targets::Target,
    policy: &Policy,
) -> DomainResult<Run> {
    let job = store::enqueue_in_group(
        tx,
        row.org_id,
        row.id,
        &WorkflowRun { run_id: row.id },
        policy.max_attempts,
        Some(target_group(target)),
    )
    .await?;
    run::Entity::insert(run::ActiveModel::from(row.clone()))
        .exec_without_returning(tx)
        .await?;
    Ok(Run { row, job })
}

/// Runs of one target share its concurrency cap.
pub fn target_group(target: &targets::Target) -> Group {
    Group {
        key: group_key(target.id),
        limit: target.concurrency,
    }
}

pub fn group_key(target_id: Uuid) -> String {
    format!("target:{target_id}")
}

/// Queued: cancelled at once. Running: `CANCELLING` until the worker has stopped the
/// browser (within seconds). Finished: CONFLICT.
pub async fn cancel(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Run> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let row = run::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("run"))?;
    let before = job::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("run"))?;
    let job = store::cancel(&tx, org.org_id(), id)
        .await
        .map_err(|e| match e {
            DomainError::Conflict { .. } => DomainError::conflict(format!(
                "the run has already finished ({:?})",
                RunStatus::of(&before)
            )),
            other => other,
        })?;
    if job.updated_at != before.updated_at {
        audit::record(
            &tx,
            org,
            Entry {
                action: "run.cancelled",
                target_type: "run",
                target_id: Some(id),
                before: Some(json!({ "status": format!("{:?}", RunStatus::of(&before)) })),
                after: Some(json!({ "status": format!("{:?}", RunStatus::of(&job)) })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    jobs::relay::wake();
    Ok(Run { row, job })
}

/// A new run of the same version and inputs, linked to `id` (which must have finished).
pub async fn retry(db: &Db, org: &OrgCtx, id: Uuid, policy: &Policy) -> DomainResult<Run> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let old = run::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("run"))?;
    let old_job = job::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("run"))?;
    if !RunStatus::of(&old_job).is_finished() {
        return Err(DomainError::conflict(
            "the run has not finished; cancel it first or wait",
        ));
    }
    workflows::load_active(&tx, org.org_id(), old.workflow_id).await?;
    let target = targets::load_active(&tx, org.org_id(), old.target_id).await?;
    let row = run::Model {
        id: Uuid::now_v7(),
        retry_of: Some(old.id),
        created_by_type: org.actor().kind().to_owned(),
        created_by_id: org.actor().id(),
        created_at: crate::time::now(),
        ..old
    };
    let run = insert(&tx, row, &target, policy).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "run.retried",
            target_type: "run",
            target_id: Some(run.row.id),
            before: None,
            after: Some(json!({ "retryOf": id })),
        },
    )
    .await?;
    tx.commit().await?;
    jobs::relay::wake();
    Ok(run)
}

pub async fn get(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Run> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let row = run::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("run"))?;
    let job = job::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("run"))?;
    tx.commit().await?;
    Ok(Run { row, job })
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub workflow_id: Option<Uuid>,
    pub statuses: Vec<RunStatus>,
    pub since: Option<DateTime<Utc>>,
}

/// Newest first.
pub async fn list(
    db: &Db,
    org: &OrgCtx,
    filter: &ListFilter,
    page: PageRequest,
) -> DomainResult<Page<Run>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mut q = run::Entity::find().filter(run::Column::OrgId.eq(org.org_id()));
    if let Some(w) = filter.workflow_id {
        q = q.filter(run::Column::WorkflowId.eq(w));
    }
    if let Some(since) = filter.since {
        q = q.filter(run::Column::CreatedAt.gte(since));
    }
    if !filter.statuses.is_empty() {
        let mut any = Condition::any();
        for s in &filter.statuses {
            any = any.add(s.condition());
        }
        q = q.filter(
            Expr::col((run::Entity, run::Column::Id)).in_subquery(
                Query::select()
                    .column(job::Column::Id)
                    .from(job::Entity)
                    .and_where(job::Column::OrgId.eq(org.org_id()))
                    .and_where(job::Column::Kind.eq(WorkflowRun::KIND))
                    .cond_where(any)
                    .to_owned(),
            ),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(run::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(run::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    let page = Page::from_rows(rows, page.first);
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
    let found = job::Entity::find()
        .filter(job::Column::OrgId.eq(org.org_id()))
        .filter(job::Column::Id.is_in(ids))
        .all(&tx)
        .await?;
    tx.commit().await?;
    let mut by_id: BTreeMap<Uuid, job::Model> = found.into_iter().map(|j| (j.id, j)).collect();
    Ok(Page {
        has_next_page: page.has_next_page,
        items: page
            .items
            .into_iter()
            .filter_map(|row| by_id.remove(&row.id).map(|job| Run { row, job }))
            .collect(),
    })
}

/// How an attempt ended, as a run's attempt shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Browser or network trouble, or a worker that vanished: retried.
    Infra,
    /// The site did not behave as the steps expect: not retried.
    Assertion,
    Timeout,
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub number: i32,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `CANCELLED` or `RELEASED`.
    pub status: &'static str,
    pub worker_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error_class: Option<ErrorClass>,
    pub error: Option<String>,
}

/// Every attempt, oldest first, the running one last.
pub async fn attempts(db: &Db, org: &OrgCtx, run: &Run) -> DomainResult<Vec<Attempt>> {
    let rows = jobs::service::attempts_of(db, org, &[run.row.id]).await?;
    let mut out: Vec<Attempt> = rows.into_iter().map(attempt_of).collect();
    if run.job.status == jobs::Status::Running.as_str() {
        out.push(Attempt {
            number: run.job.attempt,
            status: "RUNNING",
            worker_id: run.job.lease_owner.clone(),
            started_at: run.job.started_at,
            finished_at: None,
            error_class: None,
            error: None,
        });
    }
    Ok(out)
}

fn attempt_of(a: job_attempt::Model) -> Attempt {
    let (status, class) = match a.outcome.as_str() {
        "SUCCEEDED" => ("SUCCEEDED", None),
        "FAILED" if a.error_class.as_deref() == Some(store::ERROR_TIMEOUT) => {
            ("TIMED_OUT", Some(ErrorClass::Timeout))
        }
        "FAILED" => ("FAILED", Some(ErrorClass::Assertion)),
        "CANCELLED" => ("CANCELLED", Some(ErrorClass::Cancelled)),
        "RELEASED" => ("RELEASED", None),
        // RETRY, DEAD, LEASE_EXPIRED
        _ => ("FAILED", Some(ErrorClass::Infra)),
    };
    Attempt {
        number: a.attempt,
        status,
        worker_id: Some(a.worker),
        started_at: Some(a.started_at),
        finished_at: Some(a.finished_at),
        error_class: class,
        error: a.error,
    }
}

/// The steps of the latest attempt that recorded any, in order.
pub async fn steps(db: &Db, org: &OrgCtx, run_id: Uuid) -> DomainResult<Vec<run_step::Model>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let latest = run_step::Entity::find()
        .filter(run_step::Column::OrgId.eq(org.org_id()))
        .filter(run_step::Column::RunId.eq(run_id))
        .order_by_desc(run_step::Column::FencingToken)
        .one(&tx)
        .await?;
    let Some(latest) = latest else {
        tx.commit().await?;
        return Ok(Vec::new());
    };
    let rows = run_step::Entity::find()
        .filter(run_step::Column::OrgId.eq(org.org_id()))
        .filter(run_step::Column::RunId.eq(run_id))
        .filter(run_step::Column::FencingToken.eq(latest.fencing_token))
        .order_by_asc(run_step::Column::StepIndex)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// What the latest attempt's EXTRACT steps read, by output name.
pub fn outputs(steps: &[run_step::Model]) -> Value {
    let mut out = serde_json::Map::new();
    for s in steps {
        if let Some(Value::Object(o)) = &s.output {
            for (k, v) in o {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// Every artifact of every attempt, oldest first.
pub async fn artifacts(
    db: &Db,
    org: &OrgCtx,
    run_id: Uuid,
) -> DomainResult<Vec<run_artifact::Model>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let rows = run_artifact::Entity::find()
        .filter(run_artifact::Column::OrgId.eq(org.org_id()))
        .filter(run_artifact::Column::RunId.eq(run_id))
        .order_by_asc(run_artifact::Column::Id)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

// ---- the worker's side -------------------------------------------------------------------

/// What an attempt executes: the run, its frozen version and its target.
#[derive(Debug, Clone)]
pub struct Plan {
    pub run: run::Model,
    pub steps: Vec<Step>,
    pub schema: Vec<InputField>,
    pub target: targets::Target,
}

pub async fn plan(db: &Db, org_id: Uuid, run_id: Uuid) -> DomainResult<Plan> {
    let tx = db::begin_read(db, Scope::org(org_id)).await?;
    let run = run::Entity::find_in_org(org_id, run_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("run"))?;
    let version =
        workflows::version_row(&tx, org_id, run.workflow_id, run.workflow_version).await?;
    let target = entity::target::Entity::find_in_org(org_id, run.target_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("target"))?;
    tx.commit().await?;
    Ok(Plan {
        steps: workflows::steps_of(&version.steps),
        schema: workflows::schema_of(&version.input_schema),
        run,
        target,
    })
}

/// Holds the job row for the rest of `tx` if `lease` still owns it, else `LeaseLost`: a
/// stale attempt's step or artifact is never written.
async fn hold(tx: &impl ConnectionTrait, lease: &Lease) -> DomainResult<()> {
    let held = job::Entity::update_many()
        .col_expr(job::Column::UpdatedAt, Expr::value(crate::time::now()))
        .filter(job::Column::Id.eq(lease.job_id))
        .filter(job::Column::OrgId.eq(lease.org_id))
        .filter(job::Column::Status.eq(jobs::Status::Running.as_str()))
        .filter(job::Column::FencingToken.eq(lease.token))
        .exec(tx)
        .await?;
    if held.rows_affected == 0 {
        return Err(DomainError::LeaseLost);
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct StepRecord {
    pub index: i32,
    pub kind: &'static str,
    pub succeeded: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub screenshot_key: Option<String>,
    pub output: Option<Value>,
}

pub async fn record_step(db: &Db, lease: &Lease, step: StepRecord) -> DomainResult<()> {
    let tx = db::begin(db, Scope::org(lease.org_id)).await?;
    hold(&tx, lease).await?;
    crate::outbox::enqueue(
        &tx,
        lease.org_id,
        crate::outbox::RUN_STEP_FINISHED,
        json!({
            "runId": lease.job_id,
            "attempt": lease.attempt,
            "index": step.index,
            "kind": step.kind,
            "status": if step.succeeded { "SUCCEEDED" } else { "FAILED" },
        }),
    )
    .await?;
    run_step::Entity::insert(run_step::ActiveModel::from(run_step::Model {
        id: Uuid::now_v7(),
        org_id: lease.org_id,
        run_id: lease.job_id,
        attempt: lease.attempt,
        fencing_token: lease.token,
        step_index: step.index,
        kind: step.kind.to_owned(),
        status: if step.succeeded {
            "SUCCEEDED"
        } else {
            "FAILED"
        }
        .to_owned(),
        started_at: step.started_at,
        duration_ms: step.duration_ms,
        error: step.error,
        screenshot_key: step.screenshot_key,
        output: step.output,
    }))
    .exec_without_returning(&tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ArtifactRecord {
    pub kind: &'static str,
    pub name: String,
    pub content_type: &'static str,
    pub size_bytes: i64,
    pub object_key: String,
}

pub async fn record_artifact(db: &Db, lease: &Lease, a: ArtifactRecord) -> DomainResult<()> {
    let tx = db::begin(db, Scope::org(lease.org_id)).await?;
    hold(&tx, lease).await?;
    run_artifact::Entity::insert(run_artifact::ActiveModel::from(run_artifact::Model {
        id: Uuid::now_v7(),
        org_id: lease.org_id,
        run_id: lease.job_id,
        attempt: lease.attempt,
        fencing_token: lease.token,
        kind: a.kind.to_owned(),
        name: a.name,
        content_type: a.content_type.to_owned(),
        size_bytes: a.size_bytes,
        object_key: a.object_key,
        created_at: crate::time::now(),
    }))
    .exec_without_returning(&tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Where an attempt's files go: `org/<org>/runs/<run>/attempt-<n>/<name>`.
pub fn artifact_key(lease: &Lease, name: &str) -> String {
    format!(
        "org/{}/runs/{}/attempt-{}/{name}",
        lease.org_id, lease.job_id, lease.attempt
    )
}

/// Whether someone asked to cancel the run (the worker polls this between and during steps).
pub async fn cancel_requested(db: &Db, lease: &Lease) -> DomainResult<bool> {
    let tx = db::begin_read(db, Scope::org(lease.org_id)).await?;
    let row = job::Entity::find_in_org(lease.org_id, lease.job_id)
        .one(&tx)
        .await?;
    tx.commit().await?;
    Ok(match row {
        Some(j) => j.cancel_requested_at.is_some() || j.fencing_token != lease.token,
        None => true,
    })
}
