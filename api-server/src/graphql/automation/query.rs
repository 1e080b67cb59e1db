//! Target, workflow and scenario queries.

use async_graphql::{Context, ID, Object, connection::Connection};
use domain::automation::{scenarios, targets, workflows};

use super::types::{Scenario, Target, Workflow};
use crate::auth::RequestCtx;
use crate::graphql::authz::FieldGuard;
use crate::graphql::connection::{IdCursor, connection, page_request};
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct AutomationQuery;

#[Object]
impl AutomationQuery {
    /// The organization's targets, oldest first; archived ones with `includeArchived`
    /// (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Query.targets\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn targets(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] include_archived: bool,
    ) -> async_graphql::Result<Connection<IdCursor, Target>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = targets::list(rc.db(), &org, page, include_archived)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(rows, |t| t.id, Target::from))
    }

    /// One target by id (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.target\")")]
    async fn target(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Target> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = targets::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// The organization's workflows (of one target with `targetId`), oldest first
    /// (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Query.workflows\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        target_id: Option<ID>,
        #[graphql(default)] include_archived: bool,
    ) -> async_graphql::Result<Connection<IdCursor, Workflow>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let target_id = target_id
            .as_ref()
            .map(|t| parse_id("targetId", t))
            .transpose()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = workflows::list(rc.db(), &org, page, target_id, include_archived)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(rows, |w| w.id, Workflow::from))
    }

    /// One workflow by id, with its draft and versions (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.workflow\")")]
    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Workflow> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = workflows::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// A workflow's scenarios, oldest first (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Query.scenarios\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn scenarios(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<IdCursor, Scenario>> {
        let rc = ctx.data::<RequestCtx>()?;
        let workflow_id = parse_id("workflowId", &workflow_id)?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = scenarios::list(rc.db(), &org, workflow_id, page)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(rows, |s| s.id, Scenario::from))
    }

    /// One scenario by id, deleted ones included (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.scenario\")")]
    async fn scenario(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Scenario> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = scenarios::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }
}
