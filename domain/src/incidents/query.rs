//! Reading incidents: by id, by number, and filtered lists with keyset pagination on the
//! chosen order (stable while incidents are being created).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{incident, incident_assignee};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::{Incident, Severity, Status, TimelineEntry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::pagination::Page;
use crate::role::Role;

pub async fn get(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Incident> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let row = incident::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("incident"))?;
    let incident = with_assignees(&tx, row).await?;
    tx.commit().await?;
    Ok(incident)
}

pub async fn by_number(db: &Db, org: &OrgCtx, number: i64) -> DomainResult<Incident> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let row = incident::Entity::find()
        .filter(incident::Column::OrgId.eq(org.org_id()))
        .filter(incident::Column::Number.eq(number))
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("incident"))?;
    let incident = with_assignees(&tx, row).await?;
    tx.commit().await?;
    Ok(incident)
}

pub(crate) async fn with_assignees(
    conn: &impl ConnectionTrait,
    row: incident::Model,
) -> DomainResult<Incident> {
    Ok(attach_assignees(conn, vec![row]).await?.remove(0))
}

/// One query for the assignees of all `rows`.
async fn attach_assignees(
    conn: &impl ConnectionTrait,
    rows: Vec<incident::Model>,
) -> DomainResult<Vec<Incident>> {
    let links = if rows.is_empty() {
        vec![]
    } else {
        incident_assignee::Entity::find()
            .filter(incident_assignee::Column::IncidentId.is_in(rows.iter().map(|r| r.id)))
            .all(conn)
            .await?
    };
    Ok(rows
        .into_iter()
        .map(|row| Incident {
            assignee_ids: Some(
                links
                    .iter()
                    .filter(|l| l.incident_id == row.id)
                    .map(|l| l.user_id)
                    .collect(),
            ),
            row,
        })
        .collect())
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub statuses: Vec<Status>,
    pub severities: Vec<Severity>,
    /// Every tag listed must be present.
    pub tags: Vec<String>,
    pub service: Option<String>,
    /// Assigned to, or commanding, the incident.
    pub assignee_id: Option<Uuid>,
    /// Full text over title and description (English stemming, all words required).
    pub search: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderField {
    #[default]
    CreatedAt,
    UpdatedAt,
    Severity,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Order {
    pub field: OrderField,
    pub descending: bool,
}

/// Where a page ends: the order key of its last incident and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub key: String,
    pub id: Uuid,
}

impl Cursor {
    pub fn of(incident: &Incident, field: OrderField) -> Cursor {
        let key = match field {
            OrderField::CreatedAt => incident.row.created_at.to_rfc3339(),
            OrderField::UpdatedAt => incident.row.updated_at.to_rfc3339(),
            OrderField::Severity => incident.row.severity.clone(),
        };
        Cursor {
            key,
            id: incident.row.id,
        }
    }
}

/// The words of `search` as an FTS5 query: each one quoted (so no input is FTS5 syntax),
/// all required. `None` when there is no word to look for.
fn fts5_query(search: &str) -> Option<String> {
    let words: Vec<String> = search
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(32)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

pub async fn list(
    db: &Db,
    org: &OrgCtx,
    filter: &ListFilter,
    order: Order,
    first: u64,
    after: Option<Cursor>,
) -> DomainResult<Page<Incident>> {
    let include = Include {
        assignees: true,
        timeline_first: None,
    };
    Ok(list_with(db, org, filter, order, first, after, include)
        .await?
        .page)
}

/// What a page of incidents brings along, read in the page's own transaction: a client
/// that asks for a page with its timelines costs one transaction, not one per kind of data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Include {
    /// Each incident's assignees; without, `assignee_ids` is `None` (for a batch loader).
    pub assignees: bool,
    /// The first page of each incident's timeline, of this size.
    pub timeline_first: Option<u64>,
}

pub struct Listed {
    pub page: Page<Incident>,
    /// By incident, when [`Include::timeline_first`] was set.
    pub timelines: HashMap<Uuid, Page<TimelineEntry>>,
}

/// [`list`], with what `include` names.
pub async fn list_with(
    db: &Db,
    org: &OrgCtx,
    filter: &ListFilter,
    order: Order,
    first: u64,
    after: Option<Cursor>,
    include: Include,
) -> DomainResult<Listed> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let backend = tx.get_database_backend();
    let mut q = incident::Entity::find().filter(incident::Column::OrgId.eq(org.org_id()));
    if !filter.statuses.is_empty() {
        q = q.filter(incident::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if !filter.severities.is_empty() {
        q = q
            .filter(incident::Column::Severity.is_in(filter.severities.iter().map(|s| s.as_str())));
    }
    for tag in &filter.tags {
        let cond = match backend {
            DbBackend::Postgres => Expr::cust_with_values(
                "incidents.tags @> $1::jsonb",
                [serde_json::json!([tag]).to_string()],
            ),
            _ => Expr::cust_with_values(
                "EXISTS (SELECT 1 FROM json_each(incidents.tags) WHERE value = ?)",
                [tag.clone()],
            ),
        };
        q = q.filter(cond);
    }
    if let Some(service) = &filter.service {
        q = q.filter(incident::Column::Service.eq(service.as_str()));
    }
    if let Some(user) = filter.assignee_id {
        let assigned = match backend {
            DbBackend::Postgres => Expr::cust_with_values(
                "incidents.id IN (SELECT incident_id FROM incident_assignees WHERE user_id = $1)",
                [user],
            ),
            _ => Expr::cust_with_values(
                "incidents.id IN (SELECT incident_id FROM incident_assignees WHERE user_id = ?)",
                [user],
            ),
        };
        q = q.filter(
            Condition::any()
                .add(assigned)
                .add(incident::Column::CommanderId.eq(user)),
        );
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        q = q.filter(match backend {
            // websearch syntax is safe for any input: quotes, OR and -negation, no errors.
            DbBackend::Postgres => Expr::cust_with_values(
                "incidents.search @@ websearch_to_tsquery('english', $1)",
                [search.to_owned()],
            ),
            _ => match fts5_query(search) {
                Some(m) => Expr::cust_with_values(
                    "incidents.rowid IN (SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH ?)",
                    [m],
                ),
                None => Expr::cust("1 = 0"),
            },
        });
    }
    if let Some(t) = filter.created_after {
        q = q.filter(incident::Column::CreatedAt.gte(t));
    }
    if let Some(t) = filter.created_before {
        q = q.filter(incident::Column::CreatedAt.lt(t));
    }
    let column = match order.field {
        OrderField::CreatedAt => incident::Column::CreatedAt,
        OrderField::UpdatedAt => incident::Column::UpdatedAt,
        OrderField::Severity => incident::Column::Severity,
    };
    if let Some(c) = after {
        let key: sea_orm::Value = match order.field {
            OrderField::Severity => c.key.clone().into(),
            _ => DateTime::parse_from_rfc3339(&c.key)
                .map_err(|_| DomainError::invalid_field("after", "not a cursor from this API"))?
                .with_timezone(&Utc)
                .into(),
        };
        let (beyond, beyond_id) = if order.descending {
            (column.lt(key.clone()), incident::Column::Id.lt(c.id))
        } else {
            (column.gt(key.clone()), incident::Column::Id.gt(c.id))
        };
        q = q.filter(
            Condition::any()
                .add(beyond)
                .add(Condition::all().add(column.eq(key)).add(beyond_id)),
        );
    }
    q = if order.descending {
        q.order_by_desc(column).order_by_desc(incident::Column::Id)
    } else {
        q.order_by_asc(column).order_by_asc(incident::Column::Id)
    };
    let rows = q.limit(first + 1).all(&tx).await?;
    let page = Page::from_rows(rows, first);
    let timelines = match include.timeline_first {
        Some(n) => {
            let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
            super::timeline::first_pages_in(&tx, org.org_id(), &ids, n).await?
        }
        None => HashMap::new(),
    };
    let items = if include.assignees {
        attach_assignees(&tx, page.items).await?
    } else {
        page.items
            .into_iter()
            .map(|row| Incident {
                row,
                assignee_ids: None,
            })
            .collect()
    };
    tx.commit().await?;
    Ok(Listed {
        page: Page {
            items,
            has_next_page: page.has_next_page,
        },
        timelines,
    })
}

/// The assignees of each of `incident_ids`, in one statement.
pub async fn assignees_of(
    db: &Db,
    org: &OrgCtx,
    incident_ids: &[Uuid],
) -> DomainResult<std::collections::HashMap<Uuid, Vec<Uuid>>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let links = incident_assignee::Entity::find()
        .filter(incident_assignee::Column::OrgId.eq(org.org_id()))
        .filter(incident_assignee::Column::IncidentId.is_in(incident_ids.iter().copied()))
        .all(&tx)
        .await?;
    tx.commit().await?;
    let mut out: std::collections::HashMap<Uuid, Vec<Uuid>> =
        incident_ids.iter().map(|id| (*id, Vec::new())).collect();
    for l in links {
        out.entry(l.incident_id).or_default().push(l.user_id);
    }
    Ok(out)
}
