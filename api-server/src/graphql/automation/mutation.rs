//! Target, workflow and scenario mutations.

use async_graphql::{Context, ID, InputObject, Json, Object};
use domain::automation::{generation, scenarios, targets, workflows};

use super::definition::{InputFieldInput, StepInput, schema_into_domain, steps_into_domain};
use super::types::{ExpectedOutcome, Scenario, ScenarioKind, Target, Workflow};
use crate::auth::RequestCtx;
use crate::graphql::authz::MutationGuard;
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct AutomationMutation;

#[derive(InputObject)]
pub struct CreateTargetInput {
    pub name: String,
    /// http(s); steps' paths are resolved against it.
    pub base_url: String,
    /// Host patterns (`example.com`, `*.example.com`); default: the base URL's host.
    pub allowed_hosts: Option<Vec<String>>,
    /// Let runs reach loopback, link-local and private addresses. ADMIN only.
    pub allow_private_network: Option<bool>,
    /// Runs of this target at once (1–50, default 2).
    pub concurrency: Option<i32>,
}

#[derive(InputObject)]
pub struct UpdateTargetInput {
    pub id: ID,
    /// When given, the update is refused (CONFLICT) if the target changed since.
    pub expected_version: Option<i32>,
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub allowed_hosts: Option<Vec<String>>,
    pub allow_private_network: Option<bool>,
    pub concurrency: Option<i32>,
}

#[derive(InputObject)]
pub struct SetTargetSecretInput {
    pub target_id: ID,
    /// Letters, digits, `_` or `-`; steps use `{{secret.NAME}}`.
    pub name: String,
    /// Write-only: never returned, logged or shown in results.
    pub value: String,
}

#[derive(InputObject)]
pub struct DeleteTargetSecretInput {
    pub target_id: ID,
    pub name: String,
}

#[derive(InputObject)]
pub struct CreateWorkflowInput {
    pub name: String,
    pub target_id: ID,
    pub description: Option<String>,
    #[graphql(default)]
    pub input_schema: Vec<InputFieldInput>,
    #[graphql(default)]
    pub steps: Vec<StepInput>,
}

#[derive(InputObject)]
pub struct UpdateWorkflowDraftInput {
    pub id: ID,
    /// The draft's `version` as last read; a stale one is CONFLICT.
    pub expected_version: i32,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Replaces the whole input schema.
    pub input_schema: Option<Vec<InputFieldInput>>,
    /// Replaces the whole step list.
    pub steps: Option<Vec<StepInput>>,
}

#[derive(InputObject)]
pub struct CreateScenarioInput {
    pub workflow_id: ID,
    pub name: String,
    #[graphql(default_with = "ScenarioKind::Valid")]
    pub kind: ScenarioKind,
    /// Default: SUCCESS, or VALIDATION_ERROR for an INVALID scenario.
    pub expected_outcome: Option<ExpectedOutcome>,
    /// A JSON object: field name → value.
    pub inputs: Json<serde_json::Value>,
    #[graphql(default)]
    pub tags: Vec<String>,
}

#[derive(InputObject)]
pub struct UpdateScenarioInput {
    pub id: ID,
    pub expected_version: Option<i32>,
    pub name: Option<String>,
    pub kind: Option<ScenarioKind>,
    pub expected_outcome: Option<ExpectedOutcome>,
    /// Replaces all inputs.
    pub inputs: Option<Json<serde_json::Value>>,
    pub tags: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct GenerateScenariosInput {
    pub workflow_id: ID,
    /// Which kinds to generate (default: all three).
    #[graphql(
        default_with = "vec![ScenarioKind::Valid, ScenarioKind::Boundary, ScenarioKind::Invalid]"
    )]
    pub kinds: Vec<ScenarioKind>,
    /// Scenarios per kind, 1–1000 (BOUNDARY and INVALID stop at the edges and
    /// violations the schema has).
    #[graphql(default = 5)]
    pub count: i32,
    /// The same seed and schema give the same scenarios; default: a random seed, shown
    /// in each scenario's name and `seed:` tag.
    pub seed: Option<i32>,
}

#[Object]
impl AutomationMutation {
    /// Creates a target (MANAGER+; `allowPrivateNetwork: true` needs ADMIN).
    #[graphql(guard = "MutationGuard(\"createTarget\")")]
    async fn create_target(
        &self,
        ctx: &Context<'_>,
        input: CreateTargetInput,
    ) -> async_graphql::Result<Target> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = targets::create(
            rc.db(),
            &org,
            targets::TargetInput {
                name: Some(input.name),
                base_url: Some(input.base_url),
                allowed_hosts: input.allowed_hosts,
                allow_private_network: input.allow_private_network,
                concurrency: input.concurrency,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Changes what is given (MANAGER+; `allowPrivateNetwork: true` needs ADMIN).
    #[graphql(guard = "MutationGuard(\"updateTarget\")")]
    async fn update_target(
        &self,
        ctx: &Context<'_>,
        input: UpdateTargetInput,
    ) -> async_graphql::Result<Target> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.id", &input.id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = targets::update(
            rc.db(),
            &org,
            id,
            input.expected_version,
            targets::TargetInput {
                name: input.name,
                base_url: input.base_url,
                allowed_hosts: input.allowed_hosts,
                allow_private_network: input.allow_private_network,
                concurrency: input.concurrency,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Archives a target: kept for history, its workflows no longer run (MANAGER+).
    #[graphql(guard = "MutationGuard(\"archiveTarget\")")]
    async fn archive_target(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Target> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = targets::archive(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Creates or replaces a secret, sealed at rest (MANAGER+).
    #[graphql(guard = "MutationGuard(\"setTargetSecret\")")]
    async fn set_target_secret(
        &self,
        ctx: &Context<'_>,
        input: SetTargetSecretInput,
    ) -> async_graphql::Result<Target> {
        let rc = ctx.data::<RequestCtx>()?;
        let target_id = parse_id("input.targetId", &input.target_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = targets::set_secret(
            rc.db(),
            rc.sealer(),
            &org,
            target_id,
            &input.name,
            &input.value,
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Deletes a secret (MANAGER+).
    #[graphql(guard = "MutationGuard(\"deleteTargetSecret\")")]
    async fn delete_target_secret(
        &self,
        ctx: &Context<'_>,
        input: DeleteTargetSecretInput,
    ) -> async_graphql::Result<Target> {
        let rc = ctx.data::<RequestCtx>()?;
        let target_id = parse_id("input.targetId", &input.target_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = targets::delete_secret(rc.db(), &org, target_id, &input.name)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Creates a workflow with its first draft (ENGINEER+). Every problem of the input
    /// schema and steps is listed in `extensions.fields`.
    #[graphql(guard = "MutationGuard(\"createWorkflow\")")]
    async fn create_workflow(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkflowInput,
    ) -> async_graphql::Result<Workflow> {
        let rc = ctx.data::<RequestCtx>()?;
        let target_id = parse_id("input.targetId", &input.target_id)?;
        let input_schema = schema_into_domain(input.input_schema);
        let steps = steps_into_domain(input.steps);
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = workflows::create(
            rc.db(),
            &org,
            workflows::NewWorkflow {
                name: input.name,
                target_id,
                description: input.description,
                input_schema,
                steps,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Edits the draft (ENGINEER+); published versions and the runs pinned to them are
    /// unaffected.
    #[graphql(guard = "MutationGuard(\"updateWorkflowDraft\")")]
    async fn update_workflow_draft(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkflowDraftInput,
    ) -> async_graphql::Result<Workflow> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.id", &input.id)?;
        let input_schema = input.input_schema.map(schema_into_domain);
        let steps = input.steps.map(steps_into_domain);
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = workflows::update_draft(
            rc.db(),
            &org,
            id,
            input.expected_version,
            workflows::DraftPatch {
                name: input.name,
                description: input.description,
                input_schema,
                steps,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Freezes the draft as version `latestVersion + 1` (ENGINEER+). An unchanged draft
    /// publishes nothing new.
    #[graphql(guard = "MutationGuard(\"publishWorkflow\")")]
    async fn publish_workflow(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Workflow> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = workflows::publish(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Archives a workflow: kept with its runs, no longer edited or launched (MANAGER+).
    #[graphql(guard = "MutationGuard(\"archiveWorkflow\")")]
    async fn archive_workflow(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Workflow> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = workflows::archive(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Creates a scenario; VALID and BOUNDARY inputs must satisfy the draft's input schema
    /// (ENGINEER+).
    #[graphql(guard = "MutationGuard(\"createScenario\")")]
    async fn create_scenario(
        &self,
        ctx: &Context<'_>,
        input: CreateScenarioInput,
    ) -> async_graphql::Result<Scenario> {
        let rc = ctx.data::<RequestCtx>()?;
        let workflow_id = parse_id("input.workflowId", &input.workflow_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = scenarios::create(
            rc.db(),
            &org,
            workflow_id,
            scenarios::ScenarioInput {
                name: input.name,
                kind: input.kind.into(),
                expected_outcome: input.expected_outcome.map(Into::into),
                inputs: input.inputs.0,
                tags: input.tags,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    #[graphql(guard = "MutationGuard(\"updateScenario\")")]
    async fn update_scenario(
        &self,
        ctx: &Context<'_>,
        input: UpdateScenarioInput,
    ) -> async_graphql::Result<Scenario> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("input.id", &input.id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = scenarios::update(
            rc.db(),
            &org,
            id,
            input.expected_version,
            scenarios::ScenarioPatch {
                name: input.name,
                kind: input.kind.map(Into::into),
                expected_outcome: input.expected_outcome.map(Into::into),
                inputs: input.inputs.map(|j| j.0),
                tags: input.tags,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Deletes a scenario (runs keep their copy of its inputs) (ENGINEER+).
    #[graphql(guard = "MutationGuard(\"deleteScenario\")")]
    async fn delete_scenario(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Scenario> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = scenarios::delete(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// Generates scenarios from the draft's input schema and saves them (ENGINEER+):
    /// VALID ones satisfy every constraint, BOUNDARY ones put one field at an edge (min,
    /// max, min/max length, first/last option), INVALID ones break exactly one constraint
    /// (named in the scenario and its `violates:FIELD:CONSTRAINT` tag) and expect
    /// VALIDATION_ERROR. A required field no value satisfies is refused with
    /// BAD_USER_INPUT naming it. Generating again with a seed returns the same scenarios.
    #[graphql(guard = "MutationGuard(\"generateScenarios\")")]
    async fn generate_scenarios(
        &self,
        ctx: &Context<'_>,
        input: GenerateScenariosInput,
    ) -> async_graphql::Result<Vec<Scenario>> {
        let rc = ctx.data::<RequestCtx>()?;
        let workflow_id = parse_id("workflowId", &input.workflow_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let saved = generation::generate_and_save(
            rc.db(),
            &org,
            workflow_id,
            generation::Request {
                kinds: input.kinds.into_iter().map(Into::into).collect(),
                count: usize::try_from(input.count).unwrap_or(0),
                seed: input.seed.map_or_else(generation::random_seed, i64::from),
                suggestions: Default::default(),
            },
            &rc.config().llm,
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(saved.scenarios.into_iter().map(Into::into).collect())
    }

    /// Creates one scenario per CSV row, all or nothing (ENGINEER+). The header names the
    /// fields, plus optional `_name`, `_kind`, `_expectedOutcome` and `_tags` (split on
    /// `|`) columns; problems are listed per row as `rows[N].column`. At most 1000 rows.
    #[graphql(guard = "MutationGuard(\"importScenarios\")")]
    async fn import_scenarios(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        csv: String,
    ) -> async_graphql::Result<Vec<Scenario>> {
        let rc = ctx.data::<RequestCtx>()?;
        let workflow_id = parse_id("workflowId", &workflow_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = scenarios::import_csv(rc.db(), &org, workflow_id, &csv)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
