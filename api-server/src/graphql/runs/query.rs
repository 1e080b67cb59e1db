//! Run queries.

use async_graphql::{Context, ID, InputObject, Object, connection::Connection};
use chrono::{DateTime, Utc};
use domain::automation::runs;

use super::types::{Run, RunStatus};
use crate::auth::RequestCtx;
use crate::graphql::authz::FieldGuard;
use crate::graphql::connection::{IdCursor, connection, page_request};
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct RunQuery;

#[derive(InputObject, Default)]
pub struct RunFilter {
    pub workflow_id: Option<ID>,
    /// Any of these statuses.
    pub status: Option<Vec<RunStatus>>,
    /// Launched at or after this instant.
    pub since: Option<DateTime<Utc>>,
}

#[Object]
impl RunQuery {
    /// The organization's runs, newest first (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Query.runs\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn runs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<RunFilter>,
    ) -> async_graphql::Result<Connection<IdCursor, Run>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let filter = filter.unwrap_or_default();
        let filter = runs::ListFilter {
            workflow_id: filter
                .workflow_id
                .as_ref()
                .map(|w| parse_id("filter.workflowId", w))
                .transpose()?,
            statuses: filter
                .status
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            since: filter.since,
        };
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = runs::list(rc.db(), &org, &filter, page)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(rows, |r| r.row.id, Run::from))
    }

    /// One run by id (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.run\")")]
    async fn run(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Run> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let run = runs::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(run.into())
    }
}
