//! `fleet_probe`: waits, then behaves as asked (see the contract).

use std::time::Duration;

use domain::jobs::JobFailure;
use domain::jobs::contracts::{FleetProbe, ProbeBehaviour};
use serde_json::json;

use crate::execute::{Completion, Effect, JobCtx};

pub async fn run(ctx: JobCtx, job: FleetProbe) -> Result<Completion, JobFailure> {
    let total = Duration::from_millis(job.sleep_ms.min(3_600_000));
    let step = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    while waited < total {
        let d = step.min(total - waited);
        tokio::time::sleep(d).await;
        waited += d;
        ctx.progress
            .set((waited.as_millis() * 100 / total.as_millis().max(1)) as i32);
    }
    match job.behaviour {
        ProbeBehaviour::Succeed => Ok(Completion {
            result: Some(json!({
                "worker": ctx.lease.worker,
                "attempt": ctx.lease.attempt,
                "waitedMs": ctx.lease.waited.as_millis() as u64,
            })),
            effect: Effect::None,
        }),
        ProbeBehaviour::FailRetryable => Err(JobFailure::Retryable(format!(
            "probe asked to fail (attempt {})",
            ctx.lease.attempt
        ))),
        ProbeBehaviour::FailPermanent => Err(JobFailure::Permanent(
            "probe asked to fail permanently".into(),
        )),
        ProbeBehaviour::Panic => panic!("probe asked to panic (attempt {})", ctx.lease.attempt),
    }
}
