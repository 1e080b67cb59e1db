//! Target, workflow and scenario objects.

use async_graphql::{ComplexObject, Context, Enum, ID, Json, SimpleObject};
use chrono::{DateTime, Utc};
use domain::automation::{scenarios, targets, workflows};
use uuid::Uuid;

use super::definition::{InputField, Step};
use crate::auth::RequestCtx;
use crate::graphql::error::IntoGqlError;

/// A site automated against, and where its browsers may go.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Target {
    pub id: ID,
    pub name: String,
    pub base_url: String,
    /// Host patterns a run may reach (`example.com`, `*.example.com`); every navigation,
    /// redirect and sub-request is checked against them.
    pub allowed_hosts: Vec<String>,
    /// Whether runs may reach loopback, link-local and private addresses (ADMIN sets it).
    pub allow_private_network: bool,
    /// Runs of this target executing at once.
    pub concurrency: i32,
    pub version: i32,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub uuid: Uuid,
}

impl From<targets::Target> for Target {
    fn from(t: targets::Target) -> Self {
        Target {
            id: ID(t.id.to_string()),
            uuid: t.id,
            allowed_hosts: targets::hosts_of(&t),
            name: t.name,
            base_url: t.base_url,
            allow_private_network: t.allow_private_network,
            concurrency: t.concurrency,
            version: t.version,
            archived_at: t.archived_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A secret's name; its value is write-only (`setTargetSecret`) and only runs read it.
#[derive(SimpleObject)]
pub struct TargetSecret {
    /// Referenced in steps as `{{secret.NAME}}`.
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[ComplexObject]
impl Target {
    async fn secrets(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TargetSecret>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = targets::secrets(rc.db(), &org, self.uuid)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(rows
            .into_iter()
            .map(|s| TargetSecret {
                name: s.name,
                created_at: s.created_at,
                updated_at: s.updated_at,
            })
            .collect())
    }
}

/// A form workflow: an editable draft and immutable published versions.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Workflow {
    pub id: ID,
    pub name: String,
    pub description: String,
    pub target_id: ID,
    /// The newest published version; 0 before the first `publishWorkflow`.
    pub latest_version: i32,
    pub archived_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What `updateWorkflowDraft` edits.
    pub draft: WorkflowDraft,
    #[graphql(skip)]
    pub uuid: Uuid,
    #[graphql(skip)]
    pub target_uuid: Uuid,
}

#[derive(SimpleObject)]
pub struct WorkflowDraft {
    /// Pass it as `expectedVersion` to `updateWorkflowDraft`.
    pub version: i32,
    pub input_schema: Vec<InputField>,
    pub steps: Vec<Step>,
    pub updated_at: DateTime<Utc>,
}

/// A published version: frozen; runs pin one.
#[derive(SimpleObject)]
pub struct WorkflowVersion {
    pub number: i32,
    pub input_schema: Vec<InputField>,
    pub steps: Vec<Step>,
    pub published_at: DateTime<Utc>,
}

impl From<workflows::Version> for WorkflowVersion {
    fn from(v: workflows::Version) -> Self {
        WorkflowVersion {
            number: v.number,
            input_schema: workflows::schema_of(&v.input_schema)
                .into_iter()
                .map(Into::into)
                .collect(),
            steps: workflows::steps_of(&v.steps)
                .into_iter()
                .map(Into::into)
                .collect(),
            published_at: v.published_at,
        }
    }
}

impl From<workflows::Workflow> for Workflow {
    fn from(w: workflows::Workflow) -> Self {
        Workflow {
            id: ID(w.id.to_string()),
            uuid: w.id,
            target_id: ID(w.target_id.to_string()),
            target_uuid: w.target_id,
            draft: WorkflowDraft {
                version: w.version,
                input_schema: workflows::schema_of(&w.input_schema)
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                steps: workflows::steps_of(&w.steps)
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                updated_at: w.updated_at,
            },
            name: w.name,
            description: w.description,
            latest_version: w.latest_version,
            archived_at: w.archived_at,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[ComplexObject]
impl Workflow {
    async fn target(&self, ctx: &Context<'_>) -> async_graphql::Result<Target> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let t = targets::get(rc.db(), &org, self.target_uuid)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(t.into())
    }

    /// Every published version, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<WorkflowVersion>> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = workflows::versions(rc.db(), &org, self.uuid)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "scenarios::Kind")]
pub enum ScenarioKind {
    /// Satisfies every constraint.
    Valid,
    /// At the edge of a constraint, still valid.
    Boundary,
    /// Breaks a constraint on purpose.
    Invalid,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "scenarios::Outcome")]
pub enum ExpectedOutcome {
    /// Every step passes.
    Success,
    /// The site refuses the input (the browser blocks the submission, or a check after
    /// submitting fails).
    ValidationError,
}

#[derive(SimpleObject)]
pub struct Scenario {
    pub id: ID,
    pub workflow_id: ID,
    pub name: String,
    pub kind: ScenarioKind,
    pub expected_outcome: ExpectedOutcome,
    /// Field name → value.
    pub inputs: Json<serde_json::Value>,
    pub tags: Vec<String>,
    /// Pass it as `expectedVersion` to `updateScenario`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<scenarios::Scenario> for Scenario {
    fn from(s: scenarios::Scenario) -> Self {
        Scenario {
            id: ID(s.id.to_string()),
            workflow_id: ID(s.workflow_id.to_string()),
            kind: scenarios::Kind::parse(&s.kind)
                .unwrap_or(scenarios::Kind::Valid)
                .into(),
            expected_outcome: scenarios::Outcome::parse(&s.expected_outcome)
                .unwrap_or(scenarios::Outcome::Success)
                .into(),
            tags: serde_json::from_value(s.tags).unwrap_or_default(),
            name: s.name,
            inputs: Json(s.inputs),
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
            deleted_at: s.deleted_at,
        }
    }
}
