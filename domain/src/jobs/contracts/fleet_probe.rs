//! `fleet_probe`: an operator's end-to-end check of the worker fleet. It waits `sleep_ms`
//! (heart-beating like any job), then behaves as asked, so pickup latency, retries,
//! dead-lettering, cancellation and lease recovery can be exercised on a live fleet.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProbeBehaviour {
    Succeed,
    /// Fails with a retryable error on every attempt (ends dead-lettered).
    FailRetryable,
    /// Fails permanently on the first attempt.
    FailPermanent,
    /// Panics in the handler on every attempt.
    Panic,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetProbe {
    pub sleep_ms: u64,
    pub behaviour: ProbeBehaviour,
}

impl super::JobContract for FleetProbe {
    const KIND: &'static str = "fleet_probe";
    const QUEUE: &'static str = "probes";
}
