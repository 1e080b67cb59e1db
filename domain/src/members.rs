//! Memberships: who belongs to an organization and with which role. An organization always
//! keeps at least one ADMIN.

use entity::{membership, organization, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, IntoActiveModel, ModelTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult, is_unique_violation};
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;
use crate::users::normalize_email;

#[derive(Debug, Clone)]
pub struct Member {
    pub membership: membership::Model,
    pub user: user::Model,
}

impl Member {
    pub fn role(&self) -> Role {
        self.membership.role.parse().unwrap_or(Role::Viewer)
    }
}

fn snapshot(m: &membership::Model) -> serde_json::Value {
    json!({ "userId": m.user_id, "role": m.role })
}

async fn with_users(
    conn: &impl ConnectionTrait,
    rows: Vec<membership::Model>,
) -> DomainResult<Vec<Member>> {
    let ids: Vec<Uuid> = rows.iter().map(|m| m.user_id).collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|membership| {
            let user = users
                .iter()
                .find(|u| u.id == membership.user_id)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("membership {} has no user", membership.id))?;
            Ok(Member { membership, user })
        })
        .collect()
}

pub async fn list(db: &Db, org: &OrgCtx, page: PageRequest) -> DomainResult<Page<Member>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mut q = membership::Entity::find_in_org(org.org_id());
    if let Some(after) = page.after {
        q = q.filter(membership::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(membership::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    let page = Page::from_rows(rows, page.first);
    let items = with_users(&tx, page.items).await?;
    tx.commit().await?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
    })
}

/// Adds the user with `email` (inviting them when they have never signed in).
pub async fn add(db: &Db, org: &OrgCtx, email: &str, role: Role) -> DomainResult<Member> {
    org.require(Role::Admin)?;
    let email = normalize_email(email);
    if !looks_like_email(&email) {
        return Err(DomainError::invalid_field("email", "not an email address"));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let user = match user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(&tx)
        .await?
    {
        Some(u) => u,
        None => {
            user::ActiveModel {
                id: Set(Uuid::now_v7()),
                issuer: Set(None),
                subject: Set(None),
                email: Set(Some(email.clone())),
                display_name: Set(None),
                created_at: Set(crate::time::now()),
            }
            .insert(&tx)
            .await?
        }
    };
    let membership = membership::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org.org_id()),
        user_id: Set(user.id),
        role: Set(role.as_str().to_owned()),
        created_at: Set(crate::time::now()),
    }
    .insert(&tx)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            DomainError::conflict("this user is already a member")
        } else {
            e.into()
        }
    })?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "member.added",
            target_type: "user",
            target_id: Some(user.id),
            before: None,
            after: Some(snapshot(&membership)),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Member { membership, user })
}

fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && email.len() <= 254
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

async fn find_member(
    tx: &DatabaseTransaction,
    org: &OrgCtx,
    user_id: Uuid,
) -> DomainResult<membership::Model> {
    membership::Entity::find_in_org(org.org_id())
        .filter(membership::Column::UserId.eq(user_id))
        .one(tx)
        .await?
        .ok_or(DomainError::not_found("member"))
}

/// Refuses a change that would leave the org without an ADMIN. On PostgreSQL the ADMIN rows
/// are locked, so two concurrent demotions cannot both pass; SQLite has one writer anyway.
async fn ensure_other_admin(
    tx: &DatabaseTransaction,
    org: &OrgCtx,
    leaving: &membership::Model,
) -> DomainResult<()> {
    if leaving.role != Role::Admin.as_str() {
        return Ok(());
    }
    let mut q = membership::Entity::find_in_org(org.org_id())
        .filter(membership::Column::Role.eq(Role::Admin.as_str()));
    if tx.get_database_backend() == DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    let admins = q.count(tx).await?;
    if admins <= 1 {
        return Err(DomainError::conflict(
            "an organization must keep at least one ADMIN",
        ));
    }
    Ok(())
}

pub async fn set_role(db: &Db, org: &OrgCtx, user_id: Uuid, role: Role) -> DomainResult<Member> {
    org.require(Role::Admin)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let current = find_member(&tx, org, user_id).await?;
    if role != Role::Admin {
        ensure_other_admin(&tx, org, &current).await?;
    }
    let before = snapshot(&current);
    let mut change = current.into_active_model();
    change.role = Set(role.as_str().to_owned());
    let updated = change.update(&tx).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "member.role_changed",
            target_type: "user",
            target_id: Some(user_id),
            before: Some(before),
            after: Some(snapshot(&updated)),
        },
    )
    .await?;
    let member = with_users(&tx, vec![updated]).await?.remove(0);
    tx.commit().await?;
    Ok(member)
}

pub async fn remove(db: &Db, org: &OrgCtx, user_id: Uuid) -> DomainResult<Member> {
    org.require(Role::Admin)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let current = find_member(&tx, org, user_id).await?;
    ensure_other_admin(&tx, org, &current).await?;
    let member = with_users(&tx, vec![current.clone()]).await?.remove(0);
    current.clone().delete(&tx).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "member.removed",
            target_type: "user",
            target_id: Some(user_id),
            before: Some(snapshot(&current)),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(member)
}

/// All of a user's memberships, across organizations (the `viewer` query).
pub async fn of_user(
    db: &Db,
    user_id: Uuid,
) -> DomainResult<Vec<(membership::Model, organization::Model)>> {
    let tx = db::begin_read(
        db,
        Scope {
            user_id: Some(user_id),
            ..Default::default()
        },
    )
    .await?;
    let rows = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_asc(membership::Column::Id)
        .all(&tx)
        .await?;
    let orgs = organization::Entity::find()
        .filter(organization::Column::Id.is_in(rows.iter().map(|m| m.org_id)))
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|m| {
            let org = orgs.iter().find(|o| o.id == m.org_id)?.clone();
            Some((m, org))
        })
        .collect())
}
