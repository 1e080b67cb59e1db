//! GraphQL views of the foundation's objects. They are built field by field from domain
//! models, so the schema changes only when we mean it to.

use async_graphql::{ComplexObject, Context, Enum, ID, Json, SimpleObject, connection::Connection};
use chrono::{DateTime, Utc};
use domain::entity::{api_key, audit_log, organization, user};
use domain::{api_keys, members};

use crate::auth::RequestCtx;
use crate::graphql::authz::FieldGuard;
use crate::graphql::connection::{IdCursor, connection, page_request};
use crate::graphql::error::IntoGqlError;

/// A member's or API key's role, lowest to highest.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "domain::role::Role")]
pub enum Role {
    /// Reads everything in the organization.
    Viewer,
    /// Works incidents and runs.
    Engineer,
    /// Also cancels, closes, corrects and edits policies.
    Manager,
    /// Also manages members, API keys and reads the audit log.
    Admin,
}

pub fn parse_role(raw: &str) -> Role {
    raw.parse::<domain::role::Role>()
        .unwrap_or(domain::role::Role::Viewer)
        .into()
}

/// A person, identified by their OIDC issuer and subject.
#[derive(SimpleObject)]
pub struct User {
    pub id: ID,
    /// Absent when the identity provider did not share one.
    pub email: Option<String>,
    pub display_name: Option<String>,
}

impl From<user::Model> for User {
    fn from(u: user::Model) -> Self {
        User {
            id: ID(u.id.to_string()),
            email: u.email,
            display_name: u.display_name,
        }
    }
}

/// An organization-scoped machine credential. The secret is shown only by `createApiKey`.
#[derive(SimpleObject)]
pub struct ApiKey {
    pub id: ID,
    pub name: String,
    pub role: Role,
    /// The key's first characters, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Updated at most once a minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKey {
    fn from(k: api_key::Model) -> Self {
        ApiKey {
            id: ID(k.id.to_string()),
            name: k.name,
            role: parse_role(&k.role),
            prefix: k.prefix,
            created_at: k.created_at,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A tenant: every object belongs to exactly one organization.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Organization {
    pub id: ID,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Days reports are kept before the retention sweep deletes their files.
    pub retention_days: i32,
    /// Scenario generation may ask the configured LLM endpoint.
    pub llm_enabled: bool,
    /// Its own monthly token cap, when set (else the configured default).
    pub llm_monthly_token_cap: Option<i64>,
}

impl From<organization::Model> for Organization {
    fn from(o: organization::Model) -> Self {
        Organization {
            id: ID(o.id.to_string()),
            slug: o.slug,
            name: o.name,
            created_at: o.created_at,
            retention_days: o.retention_days,
            llm_enabled: o.llm_enabled,
            llm_monthly_token_cap: o.llm_monthly_token_cap,
        }
    }
}

#[ComplexObject]
impl Organization {
    /// Members of the organization, oldest first (VIEWER+).
    #[graphql(
        guard = "FieldGuard(\"Organization.members\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<IdCursor, Member>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let page = members::list(rc.db(), &org, page)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(page, |m| m.membership.id, Member::from))
    }

    /// API keys of the organization, oldest first, revoked ones included (ADMIN).
    #[graphql(
        guard = "FieldGuard(\"Organization.apiKeys\")",
        complexity = "first.unwrap_or(20).max(0) as usize * child_complexity + 1"
    )]
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<IdCursor, ApiKey>> {
        let rc = ctx.data::<RequestCtx>()?;
        let page = page_request(first, after, rc.limits().max_page_size)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let page = api_keys::list(rc.db(), &org, page)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(connection(page, |k| k.id, ApiKey::from))
    }
}

/// A user's membership in an organization.
#[derive(SimpleObject)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

impl From<members::Member> for Member {
    fn from(m: members::Member) -> Self {
        Member {
            role: parse_role(&m.membership.role),
            joined_at: m.membership.created_at,
            user: m.user.into(),
        }
    }
}

/// One of the viewer's memberships.
#[derive(SimpleObject)]
pub struct Membership {
    pub role: Role,
    pub organization: Organization,
}

/// Who is asking: a signed-in user (with their memberships) or an API key.
#[derive(SimpleObject)]
pub struct Viewer {
    pub user: Option<User>,
    pub api_key: Option<ApiKey>,
    pub memberships: Vec<Membership>,
}

/// One mutation as recorded in the organization's audit log.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub id: ID,
    pub action: String,
    /// `user`, `api_key` or `system`.
    pub actor_type: String,
    pub actor_id: Option<ID>,
    pub target_type: String,
    pub target_id: Option<ID>,
    /// The object before the change (secrets removed).
    pub before: Option<Json<serde_json::Value>>,
    /// The object after the change (secrets removed).
    pub after: Option<Json<serde_json::Value>>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<audit_log::Model> for AuditEntry {
    fn from(a: audit_log::Model) -> Self {
        AuditEntry {
            id: ID(a.id.to_string()),
            action: a.action,
            actor_type: a.actor_type,
            actor_id: a.actor_id.map(|i| ID(i.to_string())),
            target_type: a.target_type,
            target_id: a.target_id.map(|i| ID(i.to_string())),
            before: a.before.map(Json),
            after: a.after.map(Json),
            request_id: a.request_id,
            created_at: a.created_at,
        }
    }
}

/// An organization's use of the LLM in one calendar month (UTC).
#[derive(SimpleObject)]
pub struct LlmUsage {
    /// `YYYY-MM`.
    pub month: String,
    pub calls: i64,
    /// Calls that timed out, failed or answered unreadably (generation went on without).
    pub failures: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// Generation that needs the model is QUOTA_EXCEEDED once `totalTokens` reaches it.
    pub token_cap: i64,
    /// The organization lets generation ask the model (`updateOrganization`).
    pub enabled: bool,
    /// An endpoint is configured (`OPSDECK_LLM_BASE_URL`).
    pub configured: bool,
}

impl From<domain::llm::usage::Usage> for LlmUsage {
    fn from(u: domain::llm::usage::Usage) -> Self {
        LlmUsage {
            total_tokens: u.tokens(),
            month: u.month,
            calls: u.calls,
            failures: u.failures,
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            token_cap: u.token_cap,
            enabled: u.enabled,
            configured: u.configured,
        }
    }
}
