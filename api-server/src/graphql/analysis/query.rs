//! Form analysis queries.

use async_graphql::{Context, ID, Object, connection::Connection};
use domain::automation::analysis;

use super::types::FormAnalysis;
use crate::auth::RequestCtx;
use crate::graphql::authz::FieldGuard;
use crate::graphql::connection::{IdCursor, connection, page_request};
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct AnalysisQuery;

#[Object]
impl AnalysisQuery {
    /// One form analysis by id (VIEWER+).
    #[graphql(guard = "FieldGuard(\"Query.formAnalysis\")")]
    async fn form_analysis(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<FormAnalysis> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let found = analysis::get(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(found.into())
    }

    /// A target's form analyses, newest first (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Query.formAnalyses\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn form_analyses(
        &self,
        ctx: &Context<'_>,
        target_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<IdCursor, FormAnalysis>> {
        let rc = ctx.data::<RequestCtx>()?;
        let target_id = parse_id("targetId", &target_id)?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let rows = analysis::list(rc.db(), &org, target_id, page)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(rows, |a| a.row.id, FormAnalysis::from))
    }
}
