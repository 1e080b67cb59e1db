//! Background jobs. The database owns every job's state; a queue only delivers job ids.
//!
//! A job's life: [`store::enqueue`] inserts it `QUEUED` with a `job.enqueued` outbox row in
//! the caller's transaction → the [`relay`] hands the id to the queue → a worker
//! [`store::claim`]s it (a conditional update that increments the fencing token and takes a
//! lease) → the handler runs while [`store::heartbeat`] renews the lease → [`store::finish`]
//! (or [`store::record`], for an outcome without writes of its own) records the outcome,
//! refused if the token has moved on. The [`reconciler`] redelivers
//! what the queue lost and reclaims what a dead worker held.

pub mod contracts;
pub mod queue;
pub mod reconciler;
pub mod relay;
pub mod service;
pub mod store;

pub use contracts::{JobContract, KINDS, KindInfo};

/// The queues workers consume, one per job family.
pub const QUEUES: &[&str] = &["reports", "probes", "runs"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Dead-lettered: out of attempts, or a payload no attempt can read.
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "QUEUED",
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
            Status::Dead => "DEAD",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "QUEUED" => Status::Queued,
            "RUNNING" => Status::Running,
            "SUCCEEDED" => Status::Succeeded,
            "FAILED" => Status::Failed,
            "CANCELLED" => Status::Cancelled,
            "DEAD" => Status::Dead,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Queued | Status::Running)
    }
}

/// How a handler's attempt failed. Only `Retryable` failures are tried again.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// Infrastructure trouble (a store or browser that did not answer): try again later.
    #[error("{0}")]
    Retryable(String),
    /// The job cannot succeed as asked (bad input, a rule refused it): fail now.
    #[error("{0}")]
    Permanent(String),
    /// The attempt ran out of time: fail now, with error class `TIMEOUT`.
    #[error("{0}")]
    TimedOut(String),
    /// The handler saw the job's cancellation and stopped.
    #[error("cancelled")]
    Cancelled,
}

impl From<crate::error::DomainError> for JobFailure {
    fn from(e: crate::error::DomainError) -> Self {
        match e.code() {
            crate::error::ErrorCode::Internal => JobFailure::Retryable(format!("{e:#}")),
            _ => JobFailure::Permanent(e.to_string()),
        }
    }
}

/// The message the queue carries: which job, in which org and of which kind (so the claim
/// opens the org's transaction without a cross-org look-up, and takes the cap's lock and the
/// job in one statement). Redelivery of the same job is harmless.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    pub job_id: uuid::Uuid,
    pub org_id: uuid::Uuid,
    /// Empty in a message written before deliveries named their kind: such a claim is
    /// skipped as not matching its job, and the reconciler delivers the job again.
    #[serde(default)]
    pub kind: String,
}
