//! The org audit log: one row per mutation, written in the mutation's own transaction.
//! Rows are never updated or deleted (a trigger refuses it on both backends).

use chrono::{DateTime, Utc};
use entity::audit_log;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use crate::db::{self, Db, Scope};
use crate::error::DomainResult;
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

/// What one mutation did. `before`/`after` must not contain secrets.
pub struct Entry {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub async fn record(conn: &impl ConnectionTrait, org: &OrgCtx, entry: Entry) -> DomainResult<()> {
    let row = audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org.org_id()),
        actor_type: Set(org.actor().kind().to_owned()),
        actor_id: Set(org.actor().id()),
        action: Set(entry.action.to_owned()),
        target_type: Set(entry.target_type.to_owned()),
        target_id: Set(entry.target_id),
        before: Set(entry.before),
        after: Set(entry.after),
        request_id: Set(org.request_id().map(str::to_owned)),
        created_at: Set(crate::time::now()),
    };
    // Without RETURNING: nothing needs the row back.
    audit_log::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub action: Option<String>,
    pub actor_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Newest first. ADMIN only: the log shows every member's actions.
pub async fn list(
    db: &Db,
    org: &OrgCtx,
    filter: &Filter,
    page: PageRequest,
) -> DomainResult<Page<audit_log::Model>> {
    org.require(Role::Admin)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mut q = audit_log::Entity::find().filter(audit_log::Column::OrgId.eq(org.org_id()));
    if let Some(action) = &filter.action {
        q = q.filter(audit_log::Column::Action.eq(action.as_str()));
    }
    if let Some(actor) = filter.actor_id {
        q = q.filter(audit_log::Column::ActorId.eq(actor));
    }
    if let Some(since) = filter.since {
        q = q.filter(audit_log::Column::CreatedAt.gte(since));
    }
    if let Some(until) = filter.until {
        q = q.filter(audit_log::Column::CreatedAt.lt(until));
    }
    if let Some(after) = page.after {
        q = q.filter(audit_log::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(audit_log::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, page.first))
}
