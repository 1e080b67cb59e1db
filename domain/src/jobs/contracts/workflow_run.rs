//! `workflow_run`: executes one run of a workflow version in a fresh browser session. The
//! payload only names the run; what it runs (version, inputs) is frozen on the run row.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRun {
    pub run_id: Uuid,
}

impl super::JobContract for WorkflowRun {
    const KIND: &'static str = "workflow_run";
    const QUEUE: &'static str = "runs";
}
