//! Foundation mutations. Each is guarded by its row in `authz::MUTATION_ROLES` and calls
//! one domain service, which writes the change and its audit row in one transaction.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use domain::api_keys::{self, NewApiKey};
use domain::members;
use domain::organizations::{self, NewOrganization};

use super::types::{ApiKey, Member, Organization, Role};
use crate::auth::RequestCtx;
use crate::graphql::authz::MutationGuard;
use crate::graphql::error::IntoGqlError;
use crate::graphql::ids::parse_id;

#[derive(Default)]
pub struct FoundationMutation;

#[derive(InputObject)]
pub struct CreateOrganizationInput {
    /// 2–63 characters of a-z, 0-9 and '-'; unique; used in `X-Opsdeck-Org`.
    pub slug: String,
    /// Display name, 1–200 characters.
    pub name: String,
}

#[derive(InputObject)]
pub struct AddMemberInput {
    /// The person's email; someone who has not signed in yet is invited.
    pub email: String,
    pub role: Role,
}

#[derive(InputObject)]
pub struct SetMemberRoleInput {
    pub user_id: ID,
    pub role: Role,
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// What the key is for, 1–100 characters.
    pub name: String,
    /// At most the creator's own role.
    pub role: Role,
    /// When the key stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new API key and its secret. The secret is shown only here, once.
#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: ApiKey,
    /// Send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    /// 1–100 characters.
    pub name: Option<String>,
    /// Days reports are kept, 1–3650 (default 30).
    pub retention_days: Option<i32>,
    /// Let scenario generation ask the configured LLM endpoint (`OPSDECK_LLM_BASE_URL`)
    /// about fields its rules cannot decide. Off by default.
    pub llm_enabled: Option<bool>,
    /// Tokens per calendar month (default `OPSDECK_LLM_MONTHLY_TOKEN_CAP`).
    pub llm_monthly_token_cap: Option<i64>,
}

#[Object]
impl FoundationMutation {
    /// Renames the organization, changes its retention, or its use of the LLM (ADMIN).
    #[graphql(guard = "MutationGuard(\"updateOrganization\")")]
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationInput,
    ) -> async_graphql::Result<Organization> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let updated = organizations::update(
            rc.db(),
            &org,
            organizations::OrganizationChanges {
                name: input.name,
                retention_days: input.retention_days,
                llm_enabled: input.llm_enabled,
                llm_monthly_token_cap: input.llm_monthly_token_cap,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(updated.into())
    }

    /// Creates an organization; the signed-in user becomes its ADMIN.
    #[graphql(guard = "MutationGuard(\"createOrganization\")")]
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> async_graphql::Result<Organization> {
        let rc = ctx.data::<RequestCtx>()?;
        let user = rc.require_user().map_err(|e| e.into_gql(&rc.request_id))?;
        let org = organizations::create(
            rc.db(),
            user,
            NewOrganization {
                slug: input.slug,
                name: input.name,
            },
            Some(rc.request_id.clone()),
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        rc.forget_memberships(user.id);
        Ok(org.into())
    }

    /// Adds a member by email (ADMIN).
    #[graphql(guard = "MutationGuard(\"addMember\")")]
    async fn add_member(
        &self,
        ctx: &Context<'_>,
        input: AddMemberInput,
    ) -> async_graphql::Result<Member> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let member = members::add(rc.db(), &org, &input.email, input.role.into())
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        rc.forget_memberships(member.user.id);
        Ok(member.into())
    }

    /// Changes a member's role (ADMIN). Demoting the last ADMIN is `CONFLICT`.
    #[graphql(guard = "MutationGuard(\"setMemberRole\")")]
    async fn set_member_role(
        &self,
        ctx: &Context<'_>,
        input: SetMemberRoleInput,
    ) -> async_graphql::Result<Member> {
        let rc = ctx.data::<RequestCtx>()?;
        let user_id = parse_id("input.userId", &input.user_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let member = members::set_role(rc.db(), &org, user_id, input.role.into())
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        rc.forget_memberships(member.user.id);
        Ok(member.into())
    }

    /// Removes a member (ADMIN) and returns them. Removing the last ADMIN is `CONFLICT`.
    #[graphql(guard = "MutationGuard(\"removeMember\")")]
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<Member> {
        let rc = ctx.data::<RequestCtx>()?;
        let user_id = parse_id("userId", &user_id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let member = members::remove(rc.db(), &org, user_id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        rc.forget_memberships(member.user.id);
        Ok(member.into())
    }

    /// Creates an API key (ADMIN). The secret is in the payload and never shown again.
    #[graphql(guard = "MutationGuard(\"createApiKey\")")]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        let rc = ctx.data::<RequestCtx>()?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let created = api_keys::create(
            rc.db(),
            &org,
            NewApiKey {
                name: input.name,
                role: input.role.into(),
                expires_at: input.expires_at,
            },
        )
        .await
        .map_err(|e| e.into_gql(&rc.request_id))?;
        Ok(CreateApiKeyPayload {
            api_key: created.key.into(),
            secret: created.secret,
        })
    }

    /// Revokes an API key (ADMIN); it stops working at once. Idempotent.
    #[graphql(guard = "MutationGuard(\"revokeApiKey\")")]
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKey> {
        let rc = ctx.data::<RequestCtx>()?;
        let id = parse_id("id", &id)?;
        let org = rc.org().await.map_err(|e| e.into_gql(&rc.request_id))?;
        let key = api_keys::revoke(rc.db(), &org, id)
            .await
            .map_err(|e| e.into_gql(&rc.request_id))?;
        rc.forget_api_key(key.id);
        Ok(key.into())
    }
}
