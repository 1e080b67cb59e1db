//! The outbox relay: moves pending outbox rows out of the database at least once. A
//! `job.enqueued` row becomes a queue delivery; other events have no consumer yet and are
//! marked delivered (subscriptions and webhooks will read them here).
//!
//! Every process runs a relay. The api-server's is woken by [`wake`] right after a commit
//! that enqueued a job, so a job reaches the queue within milliseconds; a short poll
//! catches rows written by other processes. On PostgreSQL concurrent relays skip each
//! other's rows (`FOR UPDATE SKIP LOCKED`); a row delivered twice is harmless.

use std::sync::OnceLock;
use std::time::Duration;

use entity::outbox;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::Notify;
use uuid::Uuid;

use super::Delivery;
use super::queue::Queue;
use crate::db::{self, Db, Scope};
use crate::error::DomainResult;

const BATCH: u64 = 200;

fn notify() -> &'static Notify {
    static WAKE: OnceLock<Notify> = OnceLock::new();
    WAKE.get_or_init(Notify::new)
}

/// Call after committing a transaction that wrote outbox rows: the relay runs at once.
pub fn wake() {
    notify().notify_waiters();
    notify().notify_one();
}

/// Relays until `shutdown`, on [`wake`] or every `poll`. A wake takes every pending row; a
/// poll only rows older than `poll`, which their writer's own relay should have taken: the
/// poll is the fallback for a writer that died after its commit, and leaving fresh rows to
/// their writer keeps two relays from contending for them.
pub async fn run(db: Db, queue: Queue, poll: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut min_age = Duration::ZERO;
    loop {
        loop {
            match relay_once(&db, &queue, min_age).await {
                Ok(n) if n as u64 == BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay failed; retrying");
                    break;
                }
            }
        }
        min_age = tokio::select! {
            _ = &mut shutdown => return,
            _ = notify().notified() => Duration::ZERO,
            _ = tokio::time::sleep(poll) => poll,
        };
    }
}

/// One batch of rows at least `min_age` old: deliver, then mark delivered. Returns the
/// number of rows handled.
pub async fn relay_once(db: &Db, queue: &Queue, min_age: Duration) -> DomainResult<usize> {
    let started = std::time::Instant::now();
    let tx = db::begin(db, Scope::system()).await?;
    let begun = started.elapsed();
    let born_before = crate::time::now() - chrono::Duration::from_std(min_age).unwrap_or_default();
    let mut pending = outbox::Entity::find()
        .filter(outbox::Column::DeliveredAt.is_null())
        .filter(outbox::Column::CreatedAt.lte(born_before))
        .order_by_asc(outbox::Column::CreatedAt)
        .limit(BATCH);
    if db.get_database_backend() == DbBackend::Postgres {
        pending = pending.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = pending.all(&tx).await?;
    let selected = started.elapsed();
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let mut jobs = Vec::new();
    for row in &rows {
        if row.event != crate::outbox::JOB_ENQUEUED {
            continue;
        }
        let job_id = row
            .payload
            .get("jobId")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<Uuid>().ok());
        let (Some(job_id), Some(kind)) = (job_id, row.payload.get("kind").and_then(|v| v.as_str()))
        else {
            tracing::error!(outbox_id = %row.id, payload = %row.payload, "unreadable job.enqueued row; skipped");
            continue;
        };
        jobs.push((
            kind,
            Delivery {
                job_id,
                org_id: row.org_id,
                kind: kind.to_owned(),
            },
        ));
    }
    // The jobs were marked as on their way when their outbox rows were written: their rows
    // are not written here, so a worker's claim never waits for this transaction.
    let (woken, delivered_jobs) = queue
        .deliver(jobs)
        .await
        .map_err(crate::error::DomainError::Internal)?;
    let pushed = started.elapsed();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    outbox::Entity::update_many()
        .col_expr(outbox::Column::DeliveredAt, Expr::value(crate::time::now()))
        .filter(outbox::Column::Id.is_in(ids))
        .exec(&tx)
        .await?;
    let marked = started.elapsed();
    tx.commit().await?;
    queue.wake(&woken).await;
    tracing::debug!(
        rows = rows.len(),
        deliveries = delivered_jobs.len(),
        begin_ms = begun.as_secs_f64() * 1e3,
        select_ms = (selected - begun).as_secs_f64() * 1e3,
        push_ms = (pushed - selected).as_secs_f64() * 1e3,
        mark_ms = (marked - pushed).as_secs_f64() * 1e3,
        commit_and_wake_ms = (started.elapsed() - marked).as_secs_f64() * 1e3,
        "outbox relayed"
    );
    metrics::counter!("opsdeck_outbox_relayed_total").increment(rows.len() as u64);
    Ok(rows.len())
}
