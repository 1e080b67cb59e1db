//! Run mutations.

use async_graphql::{Context, ID, InputObject, Object};
use domain::automation::runs;
use domain::jobs::store::Policy;

use super::types::{Run, Screenshots};
use crate::auth::RequestCtx;
use crate::graphql::authz::MutationGuard;
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct RunMutation;

#[derive(InputObject)]
pub struct LaunchRunInput {
    pub workflow_id: ID,
    /// Omitted: the workflow runs without inputs.
    pub scenario_id: Option<ID>,
    /// A published version; default the latest.
    pub version: Option<i32>,
    #[graphql(default)]
    pub screenshots: Screenshots,
}

#[derive(InputObject)]
pub struct LaunchRunsInput {
    pub workflow_id: ID,
    /// One run per scenario, at most 1000, all queued in one transaction (or none).
    pub scenario_ids: Vec<ID>,
    pub version: Option<i32>,
    #[graphql(default)]
    pub screenshots: Screenshots,
}

#[Object]
impl RunMutation {
    /// Queues a run of a published version (ENGINEER+); it returns at once, `QUEUED`.
    #[graphql(guard = "MutationGuard(\"launchRun\")")]
    async fn launch_run(
        &self,
        ctx: &Context<'_>,
        input: LaunchRunInput,
    ) -> async_graphql::Result<Run> {
        let rc = ctx.data::<RequestCtx>()?;
        let workflow_id = parse_id("input.workflowId", &input.workflow_id)?;
        let scenario = input
            .scenario_id
            .as_ref()
            .map(|s| parse_id("input.scenarioId", s))
            .transpose()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let mut launched = runs::launch(
            rc.db(),
            &org,
            runs::Launch {
                workflow_id,
                scenario_ids: vec![scenario],
                version: input.version,
                screenshots: input.screenshots.into(),
            },
            &Policy::from(&rc.config().jobs),
            &rc.config().runs,
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(launched.remove(0).into())
    }

    /// Queues one run per scenario (ENGINEER+), all or none.
    #[graphql(guard = "MutationGuard(\"launchRuns\")")]
    async fn launch_runs(
        &self,
        ctx: &Context<'_>,
        input: LaunchRunsInput,
    ) -> async_graphql::Result<Vec<Run>> {
        let rc = ctx.data::<RequestCtx>()?;
        let workflow_id = parse_id("input.workflowId", &input.workflow_id)?;
        if input.scenario_ids.len() > runs::MAX_BATCH {
            return Err(crate::graphql::error::bad_input(format!(
                "input.scenarioIds: at most {} per call",
                runs::MAX_BATCH
            )));
        }
        let scenario_ids = input
            .scenario_ids
            .iter()
            .enumerate()
            .map(|(i, s)| parse_id(&format!("input.scenarioIds[{i}]"), s).map(Some))
            .collect::<async_graphql::Result<Vec<_>>>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let launched = runs::launch(
            rc.db(),
            &org,
            runs::Launch {
                workflow_id,
                scenario_ids,
                version: input.version,
                screenshots: input.screenshots.into(),
            },
            &Policy::from(&rc.config().jobs),
            &rc.config().runs,
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(launched.into_iter().map(Into::into).collect())
    }

    /// Cancels a run (ENGINEER+): a queued one at once; a running one is CANCELLING until
    /// its worker has killed the browser, within seconds. CONFLICT once finished.
    #[graphql(guard = "MutationGuard(\"cancelRun\")")]
    async fn cancel_run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Run> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let run = runs::cancel(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(run.into())
    }

    /// A new run of the same version and inputs, linked by `retryOfId` (ENGINEER+; the
    /// old run must have finished).
    #[graphql(guard = "MutationGuard(\"retryRun\")")]
    async fn retry_run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Run> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let run = runs::retry(rc.db(), &org, id, &Policy::from(&rc.config().jobs))
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(run.into())
    }
}
