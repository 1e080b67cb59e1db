//! The API's view of jobs: read them (with their attempts), cancel, re-drive a
//! dead-lettered or failed job, and launch a fleet probe. Org-scoped like every service.

use entity::{job, job_attempt};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use super::contracts::FleetProbe;
use super::store::{self, Policy};
use super::{Status, relay};
use crate::audit::{self, Entry};
use crate::db::{self, Db, Scope};
use crate::error::{DomainError, DomainResult};
use crate::org::OrgCtx;
use crate::pagination::{Page, PageRequest};
use crate::role::Role;

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub statuses: Vec<Status>,
    pub kind: Option<String>,
}

pub async fn get(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<job::Model> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let row = job::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("job"))?;
    tx.commit().await?;
    Ok(row)
}

/// Newest first.
pub async fn list(
    db: &Db,
    org: &OrgCtx,
    filter: &ListFilter,
    page: PageRequest,
) -> DomainResult<Page<job::Model>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let mut q = job::Entity::find().filter(job::Column::OrgId.eq(org.org_id()));
    if !filter.statuses.is_empty() {
        q = q.filter(job::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(kind) = &filter.kind {
        q = q.filter(job::Column::Kind.eq(kind.as_str()));
    }
    if let Some(after) = page.after {
        q = q.filter(job::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(job::Column::Id)
        .limit(page.first + 1)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(Page::from_rows(rows, page.first))
}

/// The attempts of each of `job_ids` (one statement), oldest first.
pub async fn attempts_of(
    db: &Db,
    org: &OrgCtx,
    job_ids: &[Uuid],
) -> DomainResult<Vec<job_attempt::Model>> {
    org.require(Role::Viewer)?;
    let tx = db::begin_read(db, Scope::org(org.org_id())).await?;
    let rows = job_attempt::Entity::find()
        .filter(job_attempt::Column::OrgId.eq(org.org_id()))
        .filter(job_attempt::Column::JobId.is_in(job_ids.iter().copied()))
        .order_by_asc(job_attempt::Column::Id)
        .all(&tx)
        .await?;
    tx.commit().await?;
    Ok(rows)
}

/// ENGINEER+. See [`store::cancel`] for what each state does.
pub async fn cancel(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<job::Model> {
    org.require(Role::Engineer)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = job::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("job"))?;
    let row = store::cancel(&tx, org.org_id(), id).await?;
    if row.updated_at != before.updated_at {
        audit::record(
            &tx,
            org,
            Entry {
                action: "job.cancelled",
                target_type: "job",
                target_id: Some(id),
                before: Some(json!({ "status": before.status })),
                after: Some(
                    json!({ "status": row.status, "cancelRequestedAt": row.cancel_requested_at }),
                ),
            },
        )
        .await?;
    }
    tx.commit().await?;
    relay::wake();
    Ok(row)
}

/// MANAGER+: a dead-lettered or failed job is queued again with a fresh set of attempts.
pub async fn retry(db: &Db, org: &OrgCtx, id: Uuid) -> DomainResult<job::Model> {
    org.require(Role::Manager)?;
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let before = job::Entity::find_in_org(org.org_id(), id)
        .one(&tx)
        .await?
        .ok_or(DomainError::not_found("job"))?;
    if !matches!(
        Status::parse(&before.status),
        Some(Status::Dead | Status::Failed)
    ) {
        let mut details = serde_json::Map::new();
        details.insert("status".into(), before.status.clone().into());
        return Err(DomainError::Conflict {
            message: format!(
                "only DEAD or FAILED jobs can be retried; this one is {}",
                before.status
            ),
            details,
        });
    }
    let now = crate::time::now();
    let rows = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(Status::Queued.as_str()))
        .col_expr(job::Column::Attempt, Expr::value(0))
        .col_expr(job::Column::RunAfter, Expr::value(now))
        .col_expr(job::Column::Progress, Expr::value(0))
        .col_expr(
            job::Column::FinishedAt,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        // Its delivery is on its way in the outbox row written below.
        .col_expr(job::Column::DeliveredAt, Expr::value(now))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::OrgId.eq(org.org_id()))
        .filter(job::Column::Status.eq(before.status.as_str()))
        .exec_with_returning(&tx)
        .await?;
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| DomainError::conflict("the job changed meanwhile; try again"))?;
    crate::outbox::enqueue(
        &tx,
        org.org_id(),
        crate::outbox::JOB_ENQUEUED,
        json!({ "jobId": row.id, "kind": row.kind }),
    )
    .await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "job.retried",
            target_type: "job",
            target_id: Some(id),
            before: Some(json!({ "status": before.status, "attempt": before.attempt, "lastError": before.last_error })),
            after: Some(json!({ "status": row.status })),
        },
    )
    .await?;
    tx.commit().await?;
    relay::wake();
    Ok(row)
}

/// ADMIN: queues a [`FleetProbe`].
pub async fn probe(
    db: &Db,
    org: &OrgCtx,
    probe: FleetProbe,
    policy: &Policy,
) -> DomainResult<job::Model> {
    org.require(Role::Admin)?;
    if probe.sleep_ms > 3_600_000 {
        return Err(DomainError::invalid_field(
            "sleepMs",
            "at most 3600000 (one hour)",
        ));
    }
    let id = Uuid::now_v7();
    let tx = db::begin(db, Scope::org(org.org_id())).await?;
    let row = store::enqueue(&tx, org.org_id(), id, &probe, policy.max_attempts).await?;
    audit::record(
        &tx,
        org,
        Entry {
            action: "job.probe_requested",
            target_type: "job",
            target_id: Some(id),
            before: None,
            after: Some(json!({ "sleepMs": probe.sleep_ms, "behaviour": probe.behaviour })),
        },
    )
    .await?;
    tx.commit().await?;
    relay::wake();
    Ok(row)
}
