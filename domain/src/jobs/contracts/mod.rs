//! Job contracts: one file per job kind, each a typed payload with its kind name and queue,
//! registered in [`KINDS`]. Handlers live in the worker and are idempotent.

mod fleet_probe;
mod form_analysis;
mod incident_report;
mod workflow_run;

pub use fleet_probe::{FleetProbe, ProbeBehaviour};
pub use form_analysis::FormAnalysis;
pub use incident_report::IncidentReport;
pub use workflow_run::WorkflowRun;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub trait JobContract: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Stored in `jobs.kind`; never renamed once released.
    const KIND: &'static str;
    /// One of [`super::QUEUES`].
    const QUEUE: &'static str;
}

#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    pub kind: &'static str,
    pub queue: &'static str,
}

impl KindInfo {
    pub const fn of<C: JobContract>() -> Self {
        KindInfo {
            kind: C::KIND,
            queue: C::QUEUE,
        }
    }
}

/// Every job kind. A kind missing here has no queue and cannot be enqueued.
pub const KINDS: &[KindInfo] = &[
    KindInfo::of::<IncidentReport>(),
    KindInfo::of::<FleetProbe>(),
    KindInfo::of::<WorkflowRun>(),
    KindInfo::of::<FormAnalysis>(),
];

pub fn queue_of(kind: &str) -> Option<&'static str> {
    KINDS.iter().find(|k| k.kind == kind).map(|k| k.queue)
}
