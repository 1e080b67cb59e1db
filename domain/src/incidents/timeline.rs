//! The incident timeline: entries are only ever inserted (a trigger refuses the rest).

use entity::incident_timeline;
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

pub type TimelineEntry = incident_timeline::Model;

pub(crate) async fn append(
    conn: &impl ConnectionTrait,
    org: &OrgCtx,
    incident_id: Uuid,
    kind: &'static str,
    body: Option<String>,
    data: Value,
) -> DomainResult<TimelineEntry> {
    let entry = incident_timeline::Model {
        id: Uuid::now_v7(),
        org_id: org.org_id(),
        incident_id,
        kind: kind.to_owned(),
        actor_type: org.actor().kind().to_owned(),
        actor_id: org.actor().id(),
        body,
        data,
        created_at: crate::time::now(),
    };
    let row = incident_timeline::ActiveModel {
        id: Set(entry.id),
        org_id: Set(entry.org_id),
        incident_id: Set(entry.incident_id),
        kind: Set(entry.kind.clone()),
        actor_type: Set(entry.actor_type.clone()),
        actor_id: Set(entry.actor_id),
        body: Set(entry.body.clone()),
        data: Set(entry.data.clone()),
        created_at: Set(entry.created_at),
    };
    incident_timeline::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(entry)
}

/// Oldest first, as the story happened.
pub async fn list(
    db: &Db,
    org: &OrgCtx,
    incident_id: Uuid,
    page: PageRequest,
) -> DomainResult<Page<TimelineEntry>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mut q = incident_timeline::Entity::find()
        .filter(incident_timeline::Column::OrgId.eq(org.org_id()))
        .filter(incident_timeline::Column::IncidentId.eq(incident_id));
    if let Some(after) = page.after {
        q = q.filter(incident_timeline::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(incident_timeline::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, page.first))
}
