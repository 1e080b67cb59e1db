//! Job and report queries.

use async_graphql::{Context, ID, Object, connection::Connection};
use domain::jobs::service::{self, ListFilter};

use super::types::{Job, JobStatus, Report};
use crate::auth::RequestCtx;
use crate::graphql::authz::FieldGuard;
use crate::graphql::connection::{IdCursor, connection, page_request};
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct JobQuery;

#[Object]
impl JobQuery {
    /// One job by id (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.job\")")]
    async fn job(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Job> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let row = service::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(row.into())
    }

    /// The organization's jobs, newest first; `status: [DEAD]` lists the dead letters
    /// (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Query.jobs\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<Vec<JobStatus>>,
        kind: Option<String>,
    ) -> async_graphql::Result<Connection<IdCursor, Job>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let filter = ListFilter {
            statuses: status
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            kind,
        };
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = service::list(rc.db(), &org, &filter, page)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(rows, |j| j.id, Job::from))
    }

    /// One report by id (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.report\")")]
    async fn report(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Report> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let found = domain::reports::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(found.into())
    }

    /// The organization's reports, newest first (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Query.reports\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn reports(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<IdCursor, Report>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = domain::reports::list(rc.db(), &org, page)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(rows, |r| r.row.id, <Report as From<_>>::from))
    }
}
