//! Foundation queries.

use async_graphql::{Context, InputObject, Object, connection::Connection};
use chrono::{DateTime, Utc};
use domain::llm::usage;
use domain::{audit, organizations};

use super::types::{AuditEntry, LlmUsage, Membership, Organization, Viewer, parse_role};
use crate::auth::RequestCtx;
use crate::graphql::authz::FieldGuard;
use crate::graphql::connection::{IdCursor, connection, page_request};
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct FoundationQuery;

/// Narrows `auditLog`; all given conditions must hold.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Exact action name, e.g. `api_key.created`.
    pub action: Option<String>,
    /// The user or API key that acted.
    pub actor_id: Option<async_graphql::ID>,
    /// Inclusive lower bound on the time of the entry.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the time of the entry.
    pub until: Option<DateTime<Utc>>,
}

#[Object]
impl FoundationQuery {
    /// Who is asking. Anonymous requests get an empty viewer.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let rc = ctx.data::<RequestCtx>()?;
        let mut viewer = Viewer {
            user: None,
            api_key: None,
            memberships: Vec::new(),
        };
        match rc.principal() {
            domain::auth::Principal::Anonymous => {}
            domain::auth::Principal::ApiKey(auth) => {
                viewer.api_key = Some(auth.key.clone().into());
            }
            domain::auth::Principal::User(user) => {
                let rows = rc
                    .memberships(user.id)
                    .await
                    .map_err(|e| e.into_gql(&rc.request_id))?;
                viewer.memberships = rows
                    .iter()
                    .map(|(m, org)| Membership {
                        role: parse_role(&m.role),
                        organization: org.clone().into(),
                    })
                    .collect();
                viewer.user = Some(user.clone().into());
            }
        }
        Ok(viewer)
    }

    /// The organization this request acts in (the API key's, or `X-Opsdeck-Org`).
    #[graphql(guard = "FieldGuard(\"Query.organization\")")]
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<Organization> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let model = organizations::get(rc.db(), &org)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(model.into())
    }

    /// The organization's LLM usage in a calendar month (UTC, `YYYY-MM`; default the
    /// current one), with its cap (ADMIN).
    #[graphql(guard = "FieldGuard(\"Query.usage\")")]
    async fn usage(
        &self,
        ctx: &Context<'_>,
        month: Option<String>,
    ) -> async_graphql::Result<LlmUsage> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let month = month.unwrap_or_else(|| usage::month_of(domain::time::now()));
        let u = usage::get(rc.db(), &org, &month, &rc.config().llm)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(u.into())
    }

    /// The organization's audit log, newest first (ADMIN).
    #[graphql(
        guard = "FieldGuard(\"Query.auditLog\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AuditLogFilter>,
    ) -> async_graphql::Result<Connection<IdCursor, AuditEntry>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let f = filter.unwrap_or_default();
        let filter = audit::Filter {
            action: f.action,
            actor_id: f
                .actor_id
                .as_ref()
                .map(|id| parse_id("filter.actorId", id))
                .transpose()?,
            since: f.since,
            until: f.until,
        };
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let page = audit::list(rc.db(), &org, &filter, page)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(page, |a| a.id, AuditEntry::from))
    }
}
