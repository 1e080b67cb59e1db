//! Run objects.

use async_graphql::{ComplexObject, Context, Enum, ID, Json, SimpleObject};
use chrono::{DateTime, Utc};
use domain::automation::runs::{self, ErrorClass};
use domain::entity::{run_artifact, run_step};

use crate::auth::RequestCtx;
use crate::graphql::automation::types::{ExpectedOutcome, Scenario, Workflow};
use crate::graphql::error::IntoGqlError;

/// How long artifact and screenshot links stay valid.
const LINK_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "runs::RunStatus")]
pub enum RunStatus {
    Queued,
    Running,
    /// Its outcome matched the scenario's expected outcome.
    Succeeded,
    Failed,
    TimedOut,
    /// Cancel was asked while it ran; the worker is stopping the browser.
    Cancelling,
    Cancelled,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "runs::ErrorClass")]
pub enum RunErrorClass {
    /// Browser or network trouble, or a lost worker: retried on a fresh session.
    Infra,
    /// The site did not behave as the steps expect: not retried.
    Assertion,
    Timeout,
    Cancelled,
}

/// Which screenshots a run takes besides its failure's, which it always takes.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
#[graphql(remote = "runs::Screenshots")]
pub enum Screenshots {
    /// One after every step (the default): a picture of the whole run.
    #[default]
    EveryStep,
    /// Only the SCREENSHOT steps': faster, and less to store, for large batches.
    OnFailure,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Run {
    pub id: ID,
    pub workflow_id: ID,
    /// The published version it executes (pinned at launch).
    pub version: i32,
    pub scenario_id: Option<ID>,
    /// The inputs it runs with (the scenario's, as they were at launch).
    pub inputs: Json<serde_json::Value>,
    pub expected_outcome: ExpectedOutcome,
    /// Chosen at launch; a retry keeps it.
    pub screenshots: Screenshots,
    pub status: RunStatus,
    /// What the site did, once the run succeeded: SUCCESS, or VALIDATION_ERROR when it
    /// refused the input as an INVALID scenario expects.
    pub outcome: Option<ExpectedOutcome>,
    /// The run this one retries.
    pub retry_of_id: Option<ID>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    pub error_class: Option<RunErrorClass>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cancel_requested_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub run: runs::Run,
    /// The latest attempt's steps, read once for `steps` and `outputs`.
    #[graphql(skip)]
    steps: tokio::sync::OnceCell<Vec<run_step::Model>>,
}

impl From<runs::Run> for Run {
    fn from(r: runs::Run) -> Self {
        let status = r.status();
        let error_class = match status {
            runs::RunStatus::TimedOut => Some(RunErrorClass::Timeout),
            runs::RunStatus::Cancelled => Some(RunErrorClass::Cancelled),
            runs::RunStatus::Failed if r.job.status == "DEAD" => Some(RunErrorClass::Infra),
            runs::RunStatus::Failed => Some(RunErrorClass::Assertion),
            _ => None,
        };
        Run {
            id: ID(r.row.id.to_string()),
            workflow_id: ID(r.row.workflow_id.to_string()),
            version: r.row.workflow_version,
            scenario_id: r.row.scenario_id.map(|s| ID(s.to_string())),
            inputs: Json(r.row.inputs.clone()),
            expected_outcome: domain::automation::scenarios::Outcome::parse(
                &r.row.expected_outcome,
            )
            .unwrap_or(domain::automation::scenarios::Outcome::Success)
            .into(),
            screenshots: runs::Screenshots::parse(&r.row.screenshots)
                .unwrap_or_default()
                .into(),
            status: status.into(),
            outcome: r
                .job
                .result
                .as_ref()
                .and_then(|v| v["outcome"].as_str())
                .and_then(domain::automation::scenarios::Outcome::parse)
                .map(Into::into),
            retry_of_id: r.row.retry_of.map(|s| ID(s.to_string())),
            error: if status.is_finished() && status != runs::RunStatus::Succeeded {
                r.job.last_error.clone()
            } else {
                None
            },
            error_class,
            created_at: r.row.created_at,
            started_at: r.job.started_at,
            finished_at: r.job.finished_at,
            cancel_requested_at: r.job.cancel_requested_at,
            run: r,
            steps: tokio::sync::OnceCell::new(),
        }
    }
}

#[derive(SimpleObject)]
pub struct RunAttempt {
    pub number: i32,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, CANCELLED or RELEASED (handed back by a
    /// worker shutting down; not counted).
    pub status: String,
    pub worker_id: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error_class: Option<RunErrorClass>,
    pub error: Option<String>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum StepStatus {
    Succeeded,
    Failed,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct RunStep {
    pub index: i32,
    pub kind: String,
    pub status: StepStatus,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// An EXTRACT step's value.
    pub output: Option<Json<serde_json::Value>>,
    #[graphql(skip)]
    pub screenshot_key: Option<String>,
}

impl From<run_step::Model> for RunStep {
    fn from(s: run_step::Model) -> Self {
        RunStep {
            index: s.step_index,
            kind: s.kind,
            status: if s.status == "SUCCEEDED" {
                StepStatus::Succeeded
            } else {
                StepStatus::Failed
            },
            started_at: s.started_at,
            duration_ms: s.duration_ms,
            error: s.error,
            output: s.output.map(Json),
            screenshot_key: s.screenshot_key,
        }
    }
}

async fn link(ctx: &Context<'_>, key: &str) -> async_graphql::Result<String> {
    let rc = ctx.data::<RequestCtx>()?;
    rc.store()
        .presign_get(key, LINK_TTL)
        .await
        .map_err(|e| domain::error::DomainError::Internal(e).into_gql(&rc.request_id))
}

#[ComplexObject]
impl RunStep {
    /// The screenshot taken after this step (a link valid 15 minutes).
    async fn screenshot_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        match &self.screenshot_key {
            Some(key) => Ok(Some(link(ctx, key).await?)),
            None => Ok(None),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ArtifactKind {
    Screenshot,
    /// The page's HTML when a step failed.
    Html,
    /// The browser console's messages when a step failed.
    ConsoleLog,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct RunArtifact {
    pub attempt: i32,
    pub kind: ArtifactKind,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    #[graphql(skip)]
    pub object_key: String,
}

impl From<run_artifact::Model> for RunArtifact {
    fn from(a: run_artifact::Model) -> Self {
        RunArtifact {
            attempt: a.attempt,
            kind: match a.kind.as_str() {
                "HTML" => ArtifactKind::Html,
                "CONSOLE_LOG" => ArtifactKind::ConsoleLog,
                _ => ArtifactKind::Screenshot,
            },
            name: a.name,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            object_key: a.object_key,
        }
    }
}

#[ComplexObject]
impl RunArtifact {
    /// A download link valid 15 minutes.
    async fn url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        link(ctx, &self.object_key).await
    }
}

impl Run {
    async fn latest_steps(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<&Vec<run_step::Model>> {
        self.steps
            .get_or_try_init(|| async {
                let rc = ctx.data::<RequestCtx>()?;
                let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
                runs::steps(rc.db(), &org, self.run.row.id)
                    .await
                    .map_err(|e| e.into_gql(&rc.request_id))
            })
            .await
    }
}

#[ComplexObject]
impl Run {
    async fn workflow(&self, ctx: &Context<'_>) -> async_graphql::Result<Workflow> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let w = domain::automation::workflows::get(rc.db(), &org, self.run.row.workflow_id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(w.into())
    }

    async fn scenario(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Scenario>> {
        let Some(id) = self.run.row.scenario_id else {
            return Ok(None);
        };
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let s = domain::automation::scenarios::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(Some(s.into()))
    }

    /// Every attempt, oldest first (a running one last).
    async fn attempts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RunAttempt>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = runs::attempts(rc.db(), &org, &self.run)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(rows
            .into_iter()
            .map(|a| RunAttempt {
                number: a.number,
                status: a.status.to_owned(),
                worker_id: a.worker_id,
                started_at: a.started_at,
                finished_at: a.finished_at,
                error_class: a.error_class.map(|c: ErrorClass| c.into()),
                error: a.error,
            })
            .collect())
    }

    /// The latest attempt's steps, in order, as each finished.
    async fn steps(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RunStep>> {
        Ok(self
            .latest_steps(ctx)
            .await?
            .iter()
            .cloned()
            .map(Into::into)
            .collect())
    }

    /// What the latest attempt's EXTRACT steps read, by output name.
    async fn outputs(&self, ctx: &Context<'_>) -> async_graphql::Result<Json<serde_json::Value>> {
        Ok(Json(runs::outputs(self.latest_steps(ctx).await?)))
    }

    /// Screenshots, and the page's HTML and console log on failure, of every attempt.
    async fn artifacts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RunArtifact>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = runs::artifacts(rc.db(), &org, self.run.row.id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
