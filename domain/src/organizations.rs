//! Organizations: creation (by a signed-in user, who becomes its ADMIN, or by the operator's
//! CLI) and lookup by id or slug.

use entity::{membership, organization, user};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult, is_unique_violation};
use crate::org::{Actor, OrgCtx};
use crate::role::Role;

pub struct NewOrganization {
    pub slug: String,
    pub name: String,
}

impl NewOrganization {
    fn validate(self) -> DomainResult<Self> {
        let slug = self.slug.trim().to_owned();
        let name = self.name.trim().to_owned();
        let slug_ok = (2..=63).contains(&slug.len())
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !slug.starts_with('-')
            && !slug.ends_with('-');
        if !slug_ok {
            return Err(DomainError::invalid_field(
                "slug",
                "2 to 63 characters from a-z, 0-9 and '-', not starting or ending with '-'",
            ));
        }
        // X-Opsdeck-Org accepts an id or a slug, so a slug must never read as an id.
        if Uuid::parse_str(&slug).is_ok() {
            return Err(DomainError::invalid_field("slug", "must not be a UUID"));
        }
        if name.is_empty() || name.chars().count() > 200 {
            return Err(DomainError::invalid_field("name", "1 to 200 characters"));
        }
        Ok(NewOrganization { slug, name })
    }
}

fn snapshot(org: &organization::Model) -> serde_json::Value {
    json!({ "id": org.id, "slug": org.slug, "name": org.name })
}

/// Creates an organization whose first ADMIN is `creator`.
pub async fn create(
    db: &Db,
    creator: &user::Model,
    input: NewOrganization,
    request_id: Option<String>,
) -> DomainResult<organization::Model> {
    create_inner(db, Some(creator.id), input, request_id).await
}

/// The operator's path (CLI, embedded bootstrap): no first member.
pub async fn create_system(db: &Db, input: NewOrganization) -> DomainResult<organization::Model> {
    create_inner(db, None, input, None).await
}

async fn create_inner(
    db: &Db,
    creator: Option<Uuid>,
    input: NewOrganization,
    request_id: Option<String>,
) -> DomainResult<organization::Model> {
    let input = input.validate()?;
    let org_id = Uuid::now_v7();
    let tx = db::begin(db, Scope::org(org_id)).await?;
    let org = organization::ActiveModel {
        id: Set(org_id),
        slug: Set(input.slug.clone()),
        name: Set(input.name),
        created_at: Set(crate::time::now()),
        retention_days: Set(30),
        llm_enabled: Set(false),
        llm_monthly_token_cap: Set(None),
    }
    .insert(&tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            DomainError::Conflict {
                message: format!("slug {:?} is already taken", input.slug),
                details: [("field".to_owned(), json!("slug"))].into_iter().collect(),
            }
        } else {
            e.into()
        }
    })?;
    let ctx = match creator {
        Some(user_id) => {
            membership::ActiveModel {
                id: Set(Uuid::now_v7()),
                org_id: Set(org_id),
                user_id: Set(user_id),
                role: Set(Role::Admin.as_str().to_owned()),
                created_at: Set(crate::time::now()),
            }
            .insert(&tx)
            .await?;
            OrgCtx::new(org_id, Role::Admin, Actor::User(user_id), request_id)
        }
        None => OrgCtx::system(org_id),
    };
    audit::record(
        &tx,
        &ctx,
        Entry {
            action: "organization.created",
            target_type: "organization",
            target_id: Some(org_id),
            before: None,
            after: Some(snapshot(&org)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

/// By id or slug (the `X-Opsdeck-Org` header and the CLI accept either).
pub async fn find_by_id_or_slug(db: &Db, key: &str) -> DomainResult<Option<organization::Model>> {
    let q = match Uuid::parse_str(key) {
        Ok(id) => organization::Entity::find_by_id(id),
        Err(_) => organization::Entity::find().filter(organization::Column::Slug.eq(key)),
    };
    Ok(q.one(db).await?)
}

pub async fn get(db: &Db, org: &OrgCtx) -> DomainResult<organization::Model> {
    organization::Entity::find_by_id(org.org_id())
        .one(db)
        .await?
        .ok_or(DomainError::not_found("organization"))
}

pub struct OrganizationChanges {
    pub name: Option<String>,
    /// Days reports (and, later, run artifacts) are kept: 1–3650.
    pub retention_days: Option<i32>,
    /// Let scenario generation ask the configured LLM endpoint.
    pub llm_enabled: Option<bool>,
    /// This organization's monthly token cap (instead of the configured default).
    pub llm_monthly_token_cap: Option<i64>,
}

/// ADMIN: renames the organization or changes its retention.
pub async fn update(
    db: &Db,
    org: &OrgCtx,
    changes: OrganizationChanges,
) -> DomainResult<organization::Model> {
    org.require(Role::Admin)?;
    if let Some(name) = &changes.name {
        let n = name.trim().chars().count();
        if n == 0 || n > 100 {
            return Err(DomainError::invalid_field("name", "1 to 100 characters"));
        }
    }
    if let Some(days) = changes.retention_days
        && !(1..=3650).contains(&days)
    {
        return Err(DomainError::invalid_field(
            "retentionDays",
            "between 1 and 3650",
        ));
    }
    if let Some(cap) = changes.llm_monthly_token_cap
        && !(0..=1_000_000_000).contains(&cap)
    {
        return Err(DomainError::invalid_field(
            "llmMonthlyTokenCap",
            "between 0 and 1000000000",
        ));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = organization::Entity::find_by_id(org.org_id())
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("organization"))?;
    let mut active: organization::ActiveModel = before.clone().into();
    if let Some(name) = changes.name {
        active.name = Set(name.trim().to_owned());
    }
    if let Some(days) = changes.retention_days {
        active.retention_days = Set(days);
    }
    if let Some(on) = changes.llm_enabled {
        active.llm_enabled = Set(on);
    }
    if let Some(cap) = changes.llm_monthly_token_cap {
        active.llm_monthly_token_cap = Set(Some(cap));
    }
    let after = active.update(&tx).await?;
    crate::audit::record(
        &tx,
        org,
        crate::audit::Entry {
            action: "organization.updated",
            target_type: "organization",
            target_id: Some(org.org_id()),
            before: Some(
                serde_json::json!({ "name": before.name, "retentionDays": before.retention_days, "llmEnabled": before.llm_enabled, "llmMonthlyTokenCap": before.llm_monthly_token_cap }),
            ),
            after: Some(
                serde_json::json!({ "name": after.name, "retentionDays": after.retention_days, "llmEnabled": after.llm_enabled, "llmMonthlyTokenCap": after.llm_monthly_token_cap }),
            ),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
