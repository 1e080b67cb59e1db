//! Job and report types.

use async_graphql::{ComplexObject, Context, Enum, ID, Json, SimpleObject};
use chrono::{DateTime, Utc};
use domain::entity::{job, job_attempt};
use domain::jobs::Status;

use crate::auth::RequestCtx;
use crate::graphql::error::IntoGqlError;

/// A job's state. `DEAD` is the dead letter: out of attempts (or a payload no attempt can
/// read), with its last error; `retryJob` queues it again.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Dead,
}

impl From<JobStatus> for Status {
    fn from(s: JobStatus) -> Self {
        match s {
            JobStatus::Queued => Status::Queued,
            JobStatus::Running => Status::Running,
            JobStatus::Succeeded => Status::Succeeded,
            JobStatus::Failed => Status::Failed,
            JobStatus::Cancelled => Status::Cancelled,
            JobStatus::Dead => Status::Dead,
        }
    }
}

pub fn status_of(raw: &str) -> JobStatus {
    match Status::parse(raw) {
        Some(Status::Queued) => JobStatus::Queued,
        Some(Status::Running) => JobStatus::Running,
        Some(Status::Succeeded) => JobStatus::Succeeded,
        Some(Status::Failed) => JobStatus::Failed,
        Some(Status::Cancelled) => JobStatus::Cancelled,
        Some(Status::Dead) | None => JobStatus::Dead,
    }
}

/// A unit of background work. The database owns its state; attempts are recorded.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Job {
    pub id: ID,
    /// `incident_report`, `fleet_probe`, …
    pub kind: String,
    pub status: JobStatus,
    /// Attempts started so far.
    pub attempt: i32,
    pub max_attempts: i32,
    /// 0–100, as last reported by the running attempt.
    pub progress: i32,
    pub last_error: Option<String>,
    /// What the handler returned (kind-specific).
    pub result: Option<Json<serde_json::Value>>,
    /// Not started before this (a retry's backoff).
    pub run_after: DateTime<Utc>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// When the latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub uuid: uuid::Uuid,
}

impl From<job::Model> for Job {
    fn from(j: job::Model) -> Self {
        Job {
            id: ID(j.id.to_string()),
            uuid: j.id,
            status: status_of(&j.status),
            kind: j.kind,
            attempt: j.attempt,
            max_attempts: j.max_attempts,
            progress: j.progress,
            last_error: j.last_error,
            result: j.result.map(Json),
            run_after: j.run_after,
            cancel_requested_at: j.cancel_requested_at,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
        }
    }
}

#[ComplexObject]
impl Job {
    /// Every finished attempt, oldest first: how it ended, on which worker, and its error.
    async fn attempts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<JobAttempt>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = domain::jobs::service::attempts_of(rc.db(), &org, &[self.uuid])
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

/// How one attempt ended.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AttemptOutcome {
    Succeeded,
    /// Failed permanently: not retried.
    Failed,
    /// Failed and retried after a backoff.
    Retry,
    /// Failed on its last attempt: the job was dead-lettered.
    Dead,
    Cancelled,
    /// The worker stopped renewing its lease (killed, cut off); the job was reclaimed.
    LeaseExpired,
    /// The worker shut down and handed the job back; not counted against its attempts.
    Released,
}

/// Where an attempt ran.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Executor {
    /// A worker process of the fleet.
    Fleet,
    /// A one-shot cloud batch container.
    Batch,
}

#[derive(SimpleObject)]
pub struct JobAttempt {
    pub attempt: i32,
    pub executor: Executor,
    pub outcome: AttemptOutcome,
    pub error: Option<String>,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl From<job_attempt::Model> for JobAttempt {
    fn from(a: job_attempt::Model) -> Self {
        JobAttempt {
            attempt: a.attempt,
            executor: if a.executor == "BATCH" {
                Executor::Batch
            } else {
                Executor::Fleet
            },
            outcome: match a.outcome.as_str() {
                "SUCCEEDED" => AttemptOutcome::Succeeded,
                "FAILED" => AttemptOutcome::Failed,
                "RETRY" => AttemptOutcome::Retry,
                "CANCELLED" => AttemptOutcome::Cancelled,
                "LEASE_EXPIRED" => AttemptOutcome::LeaseExpired,
                "RELEASED" => AttemptOutcome::Released,
                _ => AttemptOutcome::Dead,
            },
            error: a.error,
            worker: a.worker,
            started_at: a.started_at,
            finished_at: a.finished_at,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ReportFormat {
    /// RFC 4180; cells that would start a spreadsheet formula are prefixed with `'`.
    Csv,
    Json,
    /// Title page, summary table, charts and the incident table.
    Pdf,
}

impl From<ReportFormat> for domain::reports::Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Csv => domain::reports::Format::Csv,
            ReportFormat::Json => domain::reports::Format::Json,
            ReportFormat::Pdf => domain::reports::Format::Pdf,
        }
    }
}

/// An incident report: returned at once as `QUEUED` (the GraphQL analogue of 202
/// Accepted); poll `report(id)` until `status` is `SUCCEEDED`, then fetch `downloadUrl`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Report {
    pub id: ID,
    pub format: ReportFormat,
    pub status: JobStatus,
    pub progress: i32,
    /// Incidents created in `[from, to)` (and matching `filter`).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub row_count: Option<i64>,
    pub size_bytes: Option<i64>,
    /// The file is deleted after this: `createdAt` plus the organization's `retentionDays`.
    pub expires_at: DateTime<Utc>,
    #[graphql(skip)]
    pub inner: domain::reports::Report,
}

impl From<domain::reports::Report> for Report {
    fn from(r: domain::reports::Report) -> Self {
        Report {
            id: ID(r.row.id.to_string()),
            format: match r.format() {
                domain::reports::Format::Csv => ReportFormat::Csv,
                domain::reports::Format::Json => ReportFormat::Json,
                domain::reports::Format::Pdf => ReportFormat::Pdf,
            },
            status: status_of(&r.job.status),
            progress: r.job.progress,
            from: r.row.period_from,
            to: r.row.period_to,
            created_at: r.row.created_at,
            finished_at: r.job.finished_at,
            error: r
                .job
                .last_error
                .clone()
                .filter(|_| r.job.status != "SUCCEEDED"),
            row_count: r.row.row_count,
            size_bytes: r.row.size_bytes,
            expires_at: r.expires_at(),
            inner: r,
        }
    }
}

#[ComplexObject]
impl Report {
    /// A short-lived (15 min) link to the file once the report has `SUCCEEDED`.
    async fn download_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let rc = ctx.data::<RequestCtx>()?;
        let link = domain::reports::download_url(rc.store(), &self.inner)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(link.map(|(url, _)| url))
    }

    /// The job that renders it.
    async fn job(&self) -> Job {
        self.inner.job.clone().into()
    }
}
