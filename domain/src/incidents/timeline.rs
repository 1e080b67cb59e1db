//! The incident timeline: entries are only ever inserted (a trigger refuses the rest).

use entity::incident_timeline;
use std::collections::HashMap;

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

/// The first page of each incident's timeline in one statement (a window function), so a
/// list of incidents with their timelines costs the same at any page size.
pub async fn first_pages(
    db: &Db,
    org: &OrgCtx,
    incident_ids: &[Uuid],
    first: u64,
) -> DomainResult<HashMap<Uuid, Page<TimelineEntry>>> {
    org.require(Role::Viewer)?;
    if incident_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let pages = first_pages_in(&tx, org.org_id(), incident_ids, first).await?;
    tx.commit().await?;
    Ok(pages)
}

/// [`first_pages`] inside the caller's transaction (already scoped to `org_id`).
pub(crate) async fn first_pages_in(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    incident_ids: &[Uuid],
    first: u64,
) -> DomainResult<HashMap<Uuid, Page<TimelineEntry>>> {
    if incident_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = conn.get_database_backend();
    // Numbered placeholders on both backends ($N, ?N): the values bind by number, not by
    // where they appear in the text.
    let ph = |i: usize| match backend {
        sea_orm::DbBackend::Postgres => format!("${i}"),
        _ => format!("?{i}"),
    };
    let list: Vec<String> = (0..incident_ids.len()).map(|i| ph(i + 3)).collect();
    let sql = format!(
        "SELECT id, org_id, incident_id, kind, actor_type, actor_id, body, data, created_at FROM \
         (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.incident_id ORDER BY t.id) AS rn \
          FROM incident_timeline t WHERE t.org_id = {} AND t.incident_id IN ({})) s \
         WHERE rn <= {} ORDER BY incident_id, id",
        ph(1),
        list.join(", "),
        ph(2),
    );
    let mut values: Vec<sea_orm::Value> = vec![org_id.into(), ((first + 1) as i64).into()];
    values.extend(incident_ids.iter().map(|id| sea_orm::Value::from(*id)));
    let rows = incident_timeline::Entity::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(
            backend, &sql, values,
        ))
        .all(conn)
        .await?;
    let mut by_incident: HashMap<Uuid, Vec<TimelineEntry>> =
        incident_ids.iter().map(|id| (*id, Vec::new())).collect();
    for row in rows {
        by_incident.entry(row.incident_id).or_default().push(row);
    }
    Ok(by_incident
        .into_iter()
        .map(|(id, rows)| (id, Page::from_rows(rows, first)))
        .collect())
}
