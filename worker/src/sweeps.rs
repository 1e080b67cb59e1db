//! Scheduled sweeps run by every worker process (and in-process in the embedded
//! deployment). One process sweeps per tick (an advisory try-lock), and a sweep would be
//! safe even without it: the SLA sweep records each event once by a unique constraint.

use std::time::Duration;

use domain::db::Db;

/// Runs the SLA sweep every `every` until `shutdown` resolves.
pub async fn sla_sweep(db: Db, every: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        let start = std::time::Instant::now();
        // A sweep in progress gives way to shutdown: its open transaction rolls back, and
        // the next sweep (here or elsewhere) records what it had not.
        let result = tokio::select! {
            _ = &mut shutdown => return,
            r = domain::db::exclusively(&db, "sla-sweep", domain::incidents::sla::evaluate(&db, domain::time::now())) => r,
        };
        match result {
            // Another worker is sweeping this tick.
            Ok(None) => {}
            Ok(Some(recorded)) => {
                metrics::counter!("opsdeck_sla_events_recorded_total").increment(recorded as u64);
                tracing::debug!(
                    recorded,
                    duration_ms = start.elapsed().as_millis() as u64,
                    "sla sweep"
                );
            }
            Err(e) => tracing::error!(error = ?e, "sla sweep failed"),
        }
    }
}
