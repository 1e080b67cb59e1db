//! One delivery, start to end: claim the job, run its handler while renewing the lease,
//! and record the outcome with the attempt's fencing token. A handler's own database
//! writes ([`Effect`]) commit in the same transaction as the outcome, so they happen
//! exactly once however many times the job is delivered or its worker dies.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use domain::db::{self, Scope};
use domain::error::DomainError;
use domain::jobs::store::{self, Claim, Lease, Outcome};
use domain::jobs::{Delivery, JobFailure};
use tokio::sync::watch;
use tracing::Instrument;

use crate::handlers;
use crate::runtime::Runtime;

/// What a successful handler leaves behind, written with its outcome.
#[derive(Debug)]
pub enum Effect {
    None,
    ReportFile {
        report_id: uuid::Uuid,
        object_key: String,
        size_bytes: u64,
        row_count: u64,
    },
}

#[derive(Debug)]
pub struct Completion {
    pub result: Option<serde_json::Value>,
    pub effect: Effect,
}

/// The handler's progress (0–100), sent with the next heartbeat.
#[derive(Clone, Default)]
pub struct Progress(Arc<AtomicI32>);

impl Progress {
    pub fn set(&self, percent: i32) {
        self.0.store(percent.clamp(0, 100), Ordering::Relaxed);
    }
    fn get(&self) -> i32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The context a handler runs with.
#[derive(Clone)]
pub struct JobCtx {
    pub rt: Runtime,
    pub lease: Lease,
    pub progress: Progress,
}

pub async fn execute(rt: Runtime, delivery: Delivery, grace_over: watch::Receiver<bool>) {
    let claim = match store::claim(&rt.db, &delivery, &rt.worker_id, &rt.policy).await {
        Ok(c) => c,
        Err(e) => {
            // The delivery is dropped; the reconciler delivers the job again.
            tracing::warn!(job_id = %delivery.job_id, org_id = %delivery.org_id, error = %e, "claim failed");
            return;
        }
    };
    let lease = match claim {
        Claim::Claimed(lease) => lease,
        Claim::Skipped(why) => {
            metrics::counter!("opsdeck_jobs_skipped_total", "reason" => why.as_str()).increment(1);
            tracing::debug!(job_id = %delivery.job_id, reason = why.as_str(), "delivery skipped");
            return;
        }
    };
    let kind = lease.kind.clone();
    metrics::histogram!("opsdeck_jobs_pickup_seconds", "kind" => kind.clone())
        .record(lease.waited.as_secs_f64());
    metrics::gauge!("opsdeck_jobs_running", "kind" => kind.clone()).increment(1.0);
    let started = Instant::now();
    let span = tracing::info_span!("job", job_id = %lease.job_id, org_id = %lease.org_id,
        kind = %kind, attempt = lease.attempt);
    span.in_scope(|| tracing::info!(waited_ms = lease.waited.as_millis() as u64, "job started"));
    let outcome = supervise(&rt, lease.clone(), grace_over)
        .instrument(span.clone())
        .await;
    metrics::gauge!("opsdeck_jobs_running", "kind" => kind.clone()).decrement(1.0);
    let _enter = span.enter();
    let label = match &outcome {
        Ok(Finished::Recorded(status)) => status.clone(),
        Ok(Finished::LeaseLost) => "LEASE_LOST".to_owned(),
        Err(_) => "ERROR".to_owned(),
    };
    metrics::counter!("opsdeck_jobs_finished_total", "kind" => kind, "outcome" => label.clone())
        .increment(1);
    match outcome {
        Ok(Finished::Recorded(_)) => tracing::info!(
            status = %label,
            duration_ms = started.elapsed().as_millis() as u64,
            "job finished"
        ),
        Ok(Finished::LeaseLost) => {
            tracing::warn!("lease lost; this attempt's result was discarded")
        }
        Err(e) => {
            tracing::error!(error = %e, "recording the job's outcome failed; its lease will expire")
        }
    }
}

enum Finished {
    Recorded(String),
    LeaseLost,
}

/// Runs the handler in its own task (a panic fails the attempt, not the worker) and
/// renews the lease until it ends, the job is cancelled, or shutdown's grace runs out.
async fn supervise(
    rt: &Runtime,
    lease: Lease,
    grace_over: watch::Receiver<bool>,
) -> Result<Finished, DomainError> {
    let progress = Progress::default();
    let ctx = JobCtx {
        rt: rt.clone(),
        lease: lease.clone(),
        progress: progress.clone(),
    };
    let mut handle = match handlers::start(ctx) {
        Ok(h) => h,
        Err(unreadable) => {
            let tx = db::begin(&rt.db, Scope::org(lease.org_id)).await?;
            return match store::dead_letter_unreadable(&tx, &lease, unreadable).await {
                Ok(row) => {
                    tx.commit().await?;
                    Ok(Finished::Recorded(row.status))
                }
                Err(DomainError::LeaseLost) => Ok(Finished::LeaseLost),
                Err(e) => Err(e),
            };
        }
    };
    let beat_every = (rt.policy.lease / 6).max(Duration::from_millis(200));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + beat_every, beat_every);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let grace_over = crate::runtime::set(grace_over);
    tokio::pin!(grace_over);
    let joined = loop {
        tokio::select! {
            joined = &mut handle => break joined,
            _ = beat.tick() => {
                match store::heartbeat(&rt.db, &lease, &rt.policy, Some(progress.get())).await {
                    Ok(b) if b.cancel_requested => {
                        handle.abort();
                        return record(rt, &lease, Outcome::Cancelled, None).await;
                    }
                    Ok(_) => {}
                    Err(DomainError::LeaseLost) => {
                        handle.abort();
                        return Ok(Finished::LeaseLost);
                    }
                    // The database is unreachable: keep working; if it stays away the
                    // lease expires and the job is reclaimed, and our writes are refused.
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                }
            }
            _ = &mut grace_over => {
                handle.abort();
                return record(rt, &lease, Outcome::Released, None).await;
            }
        }
    };
    match joined {
        Ok(Ok(done)) => {
            let effect = done.effect;
            record(rt, &lease, Outcome::Succeeded(done.result), Some(effect)).await
        }
        Ok(Err(JobFailure::Retryable(e))) => record(rt, &lease, Outcome::Retry(e), None).await,
        Ok(Err(JobFailure::Permanent(e))) => record(rt, &lease, Outcome::Failed(e), None).await,
        Ok(Err(JobFailure::TimedOut(e))) => record(rt, &lease, Outcome::TimedOut(e), None).await,
        Ok(Err(JobFailure::Cancelled)) => record(rt, &lease, Outcome::Cancelled, None).await,
        Err(join) if join.is_panic() => {
            let msg = panic_message(join.into_panic());
            record(
                rt,
                &lease,
                Outcome::Retry(format!("handler panicked: {msg}")),
                None,
            )
            .await
        }
        Err(_) => record(rt, &lease, Outcome::Released, None).await,
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}

async fn record(
    rt: &Runtime,
    lease: &Lease,
    outcome: Outcome,
    effect: Option<Effect>,
) -> Result<Finished, DomainError> {
    let recorded = match effect {
        Some(Effect::ReportFile {
            report_id,
            object_key,
            size_bytes,
            row_count,
        }) => {
            let tx = db::begin(&rt.db, Scope::org(lease.org_id)).await?;
            domain::reports::record_file(
                &tx,
                lease.org_id,
                report_id,
                &object_key,
                size_bytes,
                row_count,
            )
            .await?;
            let recorded = store::finish(&tx, lease, outcome, &rt.policy).await;
            if recorded.is_ok() {
                tx.commit().await?;
            }
            recorded
        }
        Some(Effect::None) | None => store::record(&rt.db, lease, outcome, &rt.policy).await,
    };
    match recorded {
        Ok(recorded) => {
            if recorded.promoted {
                // The freed slot went to a waiting job: deliver it now, not at the next poll.
                domain::jobs::relay::wake();
            }
            Ok(Finished::Recorded(recorded.job.status))
        }
        Err(DomainError::LeaseLost) => Ok(Finished::LeaseLost),
        Err(e) => Err(e),
    }
}
