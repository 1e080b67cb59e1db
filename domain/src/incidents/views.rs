//! Saved views: a named incident filter and order. Private views are visible to their owner
//! only; shared ones to the whole organization.

use entity::saved_view;
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::role::Role;

pub type SavedView = saved_view::Model;

pub async fn create(
    db: &Db,
    org: &OrgCtx,
    name: &str,
    filter: Value,
    order_by: Option<Value>,
    shared: bool,
) -> DomainResult<SavedView> {
    org.require(Role::Viewer)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::invalid_field("name", "1 to 100 characters"));
    }
    let view = saved_view::Model {
        id: Uuid::now_v7(),
        org_id: org.org_id(),
        owner_type: org.actor().kind().to_owned(),
        owner_id: org.actor().id(),
        name: name.to_owned(),
        filter,
        order_by,
        shared,
        created_at: crate::time::now(),
    };
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    saved_view::Entity::insert(saved_view::ActiveModel::from(view.clone()).reset_all())
        .exec_without_returning(&tx)
        .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "saved_view.created",
            target_type: "saved_view",
            target_id: Some(view.id),
            before: None,
            after: Some(json!({ "id": view.id, "name": view.name, "shared": view.shared })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(view)
}

/// The caller's own views and the organization's shared ones, oldest first.
pub async fn list(db: &Db, org: &OrgCtx) -> DomainResult<Vec<SavedView>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mine = match org.actor().id() {
        Some(id) => Condition::all()
            .add(saved_view::Column::OwnerType.eq(org.actor().kind()))
            .add(saved_view::Column::OwnerId.eq(id)),
        None => Condition::all().add(saved_view::Column::OwnerId.is_null()),
    };
    let views = saved_view::Entity::find()
        .filter(saved_view::Column::OrgId.eq(org.org_id()))
        .filter(
            Condition::any()
                .add(saved_view::Column::Shared.eq(true))
                .add(mine),
        )
        .order_by_asc(saved_view::Column::Id)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(views)
}
