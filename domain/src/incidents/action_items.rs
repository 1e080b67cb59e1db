//! Action items: follow-up work tracked on an incident. Overdue = open and past `due_at`.

use chrono::{DateTime, Utc};
use entity::{action_item, incident, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;
use uuid::Uuid;

use super::timeline;
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::outbox;
use crate::role::Role;

pub type ActionItem = action_item::Model;

pub fn is_overdue(item: &ActionItem, now: DateTime<Utc>) -> bool {
    item.completed_at.is_none() && item.due_at.is_some_and(|d| d < now)
}

fn snapshot(a: &ActionItem) -> serde_json::Value {
    json!({ "id": a.id, "incidentId": a.incident_id, "title": a.title, "assigneeId": a.assignee_id, "dueAt": a.due_at, "completedAt": a.completed_at })
}

pub async fn create(
    db: &Db,
    org: &OrgCtx,
    incident_id: Uuid,
    title: &str,
    assignee_id: Option<Uuid>,
    due_at: Option<DateTime<Utc>>,
) -> DomainResult<ActionItem> {
    org.require(Role::Engineer)?;
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(DomainError::invalid_field("title", "1 to 200 characters"));
    }
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    incident::Entity::find_in_org(org.org_id(), incident_id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("incident"))?;
    if let Some(user) = assignee_id {
        let member = membership::Entity::find_in_org(org.org_id())
            .filter(membership::Column::UserId.eq(user))
            .count(&tx)
            .await?;
        if member == 0 {
            return Err(DomainError::not_found("user"));
        }
    }
    let item = action_item::Model {
        id: Uuid::now_v7(),
        org_id: org.org_id(),
        incident_id,
        title: title.to_owned(),
        assignee_id,
        due_at,
        completed_at: None,
        created_by_type: org.actor().kind().to_owned(),
        created_by_id: org.actor().id(),
        created_at: crate::time::now(),
    };
    action_item::Entity::insert(action_item::ActiveModel::from(item.clone()).reset_all())
        .exec_without_returning(&tx)
        .await?;
    timeline::append(
        &tx,
        org,
        incident_id,
        "action_item_added",
        None,
        json!({ "actionItemId": item.id, "title": item.title }),
    )
    .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "action_item.created",
            target_type: "action_item",
            target_id: Some(item.id),
            before: None,
            after: Some(snapshot(&item)),
        },
    )
    .await?;
    outbox::enqueue(&tx, org.org_id(), "action_item.created", snapshot(&item)).await?;
    tx.commit().await?;
    Ok(item)
}

/// Completing a completed item changes nothing and is not an error.
pub async fn complete(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<ActionItem> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let item = action_item::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("action item"))?;
    if item.completed_at.is_some() {
        tx.commit().await?;
        return Ok(item);
    }
    let before = snapshot(&item);
    let mut change = item.into_active_model();
    change.completed_at = Set(Some(crate::time::now()));
    let item = change.update(&tx).await?;
    timeline::append(
        &tx,
        org,
        item.incident_id,
        "action_item_completed",
        None,
        json!({ "actionItemId": item.id }),
    )
    .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "action_item.completed",
            target_type: "action_item",
            target_id: Some(item.id),
            before: Some(before),
            after: Some(snapshot(&item)),
        },
    )
    .await?;
    outbox::enqueue(&tx, org.org_id(), "action_item.completed", snapshot(&item)).await?;
    tx.commit().await?;
    Ok(item)
}

pub async fn of_incident(
    db: &Db,
    org: &OrgCtx,
    incident_id: Uuid,
) -> DomainResult<Vec<ActionItem>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let items = action_item::Entity::find()
        .filter(action_item::Column::OrgId.eq(org.org_id()))
        .filter(action_item::Column::IncidentId.eq(incident_id))
        .order_by_asc(action_item::Column::Id)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(items)
}
