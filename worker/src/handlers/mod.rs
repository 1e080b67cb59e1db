//! Job handlers: one file per job contract of `domain::jobs::contracts`, dispatched by
//! kind here. Each is idempotent: it may run again after a lost lease, and only the
//! attempt that holds the token records its result.

mod browser_job;
mod fleet_probe;
mod form_analysis;
mod incident_report;
mod workflow_run;

use domain::jobs::contracts::{FleetProbe, FormAnalysis, IncidentReport, WorkflowRun};
use domain::jobs::{JobContract, JobFailure};
use tokio::task::JoinHandle;

use crate::execute::{Completion, JobCtx};

pub type Running = JoinHandle<Result<Completion, JobFailure>>;

/// Starts the handler of the job's kind; `Err` when its payload cannot be read (or the
/// kind is unknown to this build), which no retry can fix.
pub fn start(ctx: JobCtx) -> Result<Running, String> {
    let payload = ctx.lease.payload.clone();
    match ctx.lease.kind.as_str() {
        IncidentReport::KIND => {
            let job: IncidentReport = decode(payload)?;
            Ok(tokio::spawn(incident_report::run(ctx, job)))
        }
        FleetProbe::KIND => {
            let job: FleetProbe = decode(payload)?;
            Ok(tokio::spawn(fleet_probe::run(ctx, job)))
        }
        WorkflowRun::KIND => {
            let job: WorkflowRun = decode(payload)?;
            Ok(tokio::spawn(workflow_run::run(ctx, job)))
        }
        FormAnalysis::KIND => {
            let job: FormAnalysis = decode(payload)?;
            Ok(tokio::spawn(form_analysis::run(ctx, job)))
        }
        other => Err(format!("no handler for job kind {other:?}")),
    }
}

fn decode<C: JobContract>(payload: serde_json::Value) -> Result<C, String> {
    serde_json::from_value(payload).map_err(|e| format!("unreadable {} payload: {e}", C::KIND))
}
