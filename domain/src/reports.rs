//! Incident reports: a request is a `reports` row and an `incident_report` job of the same
//! id, committed together; the worker renders the file into the object store under
//! `org/<org id>/reports/<report id>.<ext>` and records it in the job's finishing
//! transaction. Status, progress and error are the job's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{job, report};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::incidents::query::ListFilter;
use crate::incidents::{Severity, Status};
use crate::jobs::{self, contracts::IncidentReport};
use crate::object_store::ObjectStore;
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

/// How long a download link stays valid.
pub const DOWNLOAD_TTL: Duration = Duration::from_secs(15 * 60);
/// The longest period one report may cover.
pub const MAX_PERIOD_DAYS: i64 = 3660;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Pdf,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Json => "JSON",
            Format::Pdf => "PDF",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "CSV" => Format::Csv,
            "JSON" => Format::Json,
            "PDF" => Format::Pdf,
            _ => return None,
        })
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Pdf => "pdf",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Pdf => "application/pdf",
        }
    }
}

/// A report with its job (status, progress, error) and its organization's retention.
#[derive(Debug, Clone)]
pub struct Report {
    pub row: report::Model,
    pub job: job::Model,
    pub retention_days: i32,
}

impl Report {
    pub fn format(&self) -> Format {
        Format::parse(&self.row.format).unwrap_or(Format::Json)
    }

    /// The retention sweep deletes the file after this.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.row.created_at + chrono::Duration::days(i64::from(self.retention_days))
    }
}

async fn retention_days(tx: &impl sea_orm::ConnectionTrait, org_id: Uuid) -> DomainResult<i32> {
    Ok(entity::organization::Entity::find_by_id(org_id)
        .one(tx)
        .await?
        .map(|o| o.retention_days)
        .unwrap_or(30))
}

pub fn object_key(org_id: Uuid, report_id: Uuid, format: Format) -> String {
    format!("org/{org_id}/reports/{report_id}.{}", format.extension())
}

pub struct NewReport {
    pub format: Format,
    pub filter: ListFilter,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Queues a report: returns at once with the `QUEUED` report.
pub async fn request(
    db: &Db,
    org: &OrgCtx,
    input: NewReport,
    policy: &jobs::store::Policy,
) -> DomainResult<Report> {
    org.require(Role::Viewer)?;
    if input.from >= input.to {
        return Err(DomainError::invalid_field("to", "must be after `from`"));
    }
    if input.to - input.from > chrono::Duration::days(MAX_PERIOD_DAYS) {
        return Err(DomainError::invalid_field(
            "to",
            format!("a report covers at most {MAX_PERIOD_DAYS} days"),
        ));
    }
    let id = Uuid::now_v7();
    let now = crate::time::now();
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let retention_days = retention_days(&tx, org.org_id()).await?;
    let job = jobs::store::enqueue(
        &tx,
        org.org_id(),
        id,
        &IncidentReport { report_id: id },
        policy.max_attempts,
    )
    .await?;
    let row = report::Model {
        id,
        org_id: org.org_id(),
        format: input.format.as_str().to_owned(),
        filter: filter_to_json(&input.filter),
        period_from: input.from,
        period_to: input.to,
        object_key: None,
        size_bytes: None,
        row_count: None,
        created_by_type: org.actor().kind().to_owned(),
        created_by_id: org.actor().id(),
        created_at: now,
    };
    report::Entity::insert(report::ActiveModel::from(row.clone()))
        .exec_without_returning(&tx)
        .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "report.requested",
            target_type: "report",
            target_id: Some(id),
            before: None,
            after: Some(json!({ "format": row.format, "from": row.period_from, "to": row.period_to, "filter": row.filter })),
        },
    )
    .await?;
    tx.commit().await?;
    jobs::relay::wake();
    Ok(Report {
        row,
        job,
        retention_days,
    })
}

pub async fn get(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<Report> {
    org.require(Role::Viewer)?;
    // One snapshot: the job's `SUCCEEDED` and the report's file commit together, and two
    // snapshots could show the one without the other (a finished report with no link).
    let tx = db::begin_snapshot(db, Scope::org(org.org_id())).await?;
    let row = report::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("report"))?;
    let job = job::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("report"))?;
    let retention_days = retention_days(&tx, org.org_id()).await?;
    tx.commit().await?;
    Ok(Report {
        row,
        job,
        retention_days,
    })
}

/// Newest first.
pub async fn list(db: &Db, org: &OrgCtx, page: PageRequest) -> DomainResult<Page<Report>> {
    org.require(Role::Viewer)?;
    // One snapshot, as in `get`.
    let tx = db::begin_snapshot(db, Scope::org(org.org_id())).await?;
    let mut q = report::Entity::find().filter(report::Column::OrgId.eq(org.org_id()));
    if let Some(after) = page.after {
        q = q.filter(report::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(report::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    let page = Page::from_rows(rows, page.first);
    let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
    let jobs = job::Entity::find()
        .filter(job::Column::OrgId.eq(org.org_id()))
        .filter(job::Column::Id.is_in(ids))
        .all(&tx)
        .await?;
    let retention_days = retention_days(&tx, org.org_id()).await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(page.items.len());
    for row in page.items {
        let Some(job) = jobs.iter().find(|j| j.id == row.id).cloned() else {
            continue;
        };
        out.push(Report {
            row,
            job,
            retention_days,
        });
    }
    Ok(Page {
        items: out,
        has_next_page: page.has_next_page,
    })
}

/// A short-lived link to the finished file; `None` until it exists.
pub async fn download_url(
    store: &ObjectStore,
    report: &Report,
) -> DomainResult<Option<(String, DateTime<Utc>)>> {
    let Some(key) = &report.row.object_key else {
        return Ok(None);
    };
    if report.job.status != jobs::Status::Succeeded.as_str() {
        return Ok(None);
    }
    let url = store.presign_get(key, DOWNLOAD_TTL).await?;
    Ok(Some((
        url,
        crate::time::now() + chrono::Duration::from_std(DOWNLOAD_TTL).unwrap_or_default(),
    )))
}

/// The retention sweep: deletes the files of reports older than their organization's
/// retention and forgets their keys (the report rows stay, as history). Returns how many.
pub async fn purge_expired(db: &Db, store: &ObjectStore) -> DomainResult<usize> {
    let orgs = entity::organization::Entity::find().all(db).await?;
    let now = crate::time::now();
    let mut purged = 0;
    for org in orgs {
        let cutoff = now - chrono::Duration::days(i64::from(org.retention_days));
        let tx = db::begin(db, Scope::org(org.id)).await?;
        let expired = report::Entity::find()
            .filter(report::Column::OrgId.eq(org.id))
            .filter(report::Column::CreatedAt.lt(cutoff))
            .filter(report::Column::ObjectKey.is_not_null())
            .limit(500)
            .all(&tx)
            .await?;
        let mut gone = Vec::with_capacity(expired.len());
        for r in &expired {
            let Some(key) = &r.object_key else { continue };
            match store.delete(key).await {
                Ok(()) => gone.push(r.id),
                Err(e) => {
                    tracing::warn!(report_id = %r.id, error = %e, "cannot delete an expired report; retrying later")
                }
            }
        }
        if !gone.is_empty() {
            report::Entity::update_many()
                .col_expr(
                    report::Column::ObjectKey,
                    sea_orm::sea_query::Expr::value(Option::<String>::None),
                )
                .filter(report::Column::OrgId.eq(org.id))
                .filter(report::Column::Id.is_in(gone.iter().copied()))
                .exec(&tx)
                .await?;
        }
        tx.commit().await?;
        purged += gone.len();
    }
    Ok(purged)
}

/// The worker's read of the request it renders (the job's own org transaction).
pub async fn load_for_job(db: &Db, org_id: Uuid, id: Uuid) -> DomainResult<report::Model> {
    let tx = db::begin_read(db, Scope::org(org_id)).await?;
    let row = report::Entity::find_in_org(org_id, id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("report"))?;
    tx.commit().await?;
    Ok(row)
}

/// Records the rendered file, in the job's finishing transaction.
pub async fn record_file(
    tx: &impl sea_orm::ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
    object_key: &str,
    size_bytes: u64,
    row_count: u64,
) -> DomainResult<()> {
    report::Entity::update_many()
        .col_expr(
            report::Column::ObjectKey,
            sea_orm::sea_query::Expr::value(object_key),
        )
        .col_expr(
            report::Column::SizeBytes,
            sea_orm::sea_query::Expr::value(size_bytes as i64),
        )
        .col_expr(
            report::Column::RowCount,
            sea_orm::sea_query::Expr::value(row_count as i64),
        )
        .filter(report::Column::Id.eq(id))
        .filter(report::Column::OrgId.eq(org_id))
        .exec(tx)
        .await?;
    Ok(())
}

/// The filter as stored with the report (the API's field names).
pub fn filter_to_json(f: &ListFilter) -> Value {
    json!({
        "status": f.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "severity": f.severities.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "tags": f.tags,
        "service": f.service,
        "assigneeId": f.assignee_id,
        "search": f.search,
        "createdAfter": f.created_after,
        "createdBefore": f.created_before,
    })
}

pub fn filter_from_json(v: &Value) -> DomainResult<ListFilter> {
    let bad = || DomainError::Internal(anyhow::anyhow!("unreadable stored report filter"));
    let strings = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let time = |key: &str| -> DomainResult<Option<DateTime<Utc>>> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => serde_json::from_value(x.clone())
                .map(Some)
                .map_err(|_| bad()),
        }
    };
    Ok(ListFilter {
        statuses: strings("status")
            .iter()
            .map(|s| s.parse::<Status>().map_err(|_| bad()))
            .collect::<DomainResult<_>>()?,
        severities: strings("severity")
            .iter()
            .map(|s| s.parse::<Severity>().map_err(|_| bad()))
            .collect::<DomainResult<_>>()?,
        tags: strings("tags"),
        service: v.get("service").and_then(Value::as_str).map(str::to_owned),
        assignee_id: v
            .get("assigneeId")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok()),
        search: v.get("search").and_then(Value::as_str).map(str::to_owned),
        created_after: time("createdAfter")?,
        created_before: time("createdBefore")?,
    })
}
