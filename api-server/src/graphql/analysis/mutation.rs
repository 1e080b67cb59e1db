//! Form analysis mutations.

use async_graphql::{Context, ID, InputObject, Object};
use domain::automation::analysis;
use domain::jobs::store::Policy;

use super::types::FormAnalysis;
use crate::auth::RequestCtx;
use crate::graphql::authz::MutationGuard;
use crate::graphql::automation::types::Workflow;
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct AnalysisMutation;

#[derive(InputObject)]
pub struct AnalyzeFormInput {
    pub target_id: ID,
    /// A path on the target's base URL, or an absolute URL on one of its allowed hosts.
    pub url: String,
    /// Also submit the form once, filled with generated valid values, to learn what
    /// success looks like (the workflow then waits for it). Default false: a workflow
    /// built without it waits for the form to go away.
    #[graphql(default)]
    pub submit: bool,
}

#[derive(InputObject)]
pub struct CreateWorkflowFromAnalysisInput {
    pub analysis_id: ID,
    pub name: String,
}

#[Object]
impl AnalysisMutation {
    /// Queues a form analysis in a real browser under the target's egress rules
    /// (ENGINEER+); returns at once with status QUEUED. Poll `formAnalysis(id)`.
    #[graphql(guard = "MutationGuard(\"analyzeForm\")")]
    async fn analyze_form(
        &self,
        ctx: &Context<'_>,
        input: AnalyzeFormInput,
    ) -> async_graphql::Result<FormAnalysis> {
        let rc = ctx.data::<RequestCtx>()?;
        let target_id = parse_id("targetId", &input.target_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let found = analysis::request(
            rc.db(),
            &org,
            analysis::Request {
                target_id,
                url: input.url,
                submit: input.submit,
            },
            &Policy::from(&rc.config().jobs),
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(found.into())
    }

    /// A workflow draft from a SUCCEEDED analysis (ENGINEER+): the shown fields become
    /// its input schema; its steps fill them, move through the wizard, submit and wait for
    /// the outcome. Hidden and honeypot fields are left out.
    #[graphql(guard = "MutationGuard(\"createWorkflowFromAnalysis\")")]
    async fn create_workflow_from_analysis(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkflowFromAnalysisInput,
    ) -> async_graphql::Result<Workflow> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("analysisId", &input.analysis_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let w = analysis::create_workflow(rc.db(), &org, id, input.name)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(w.into())
    }
}
