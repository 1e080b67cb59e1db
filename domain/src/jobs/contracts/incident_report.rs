//! `incident_report`: render one report (its request is the `reports` row of the same id).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentReport {
    pub report_id: Uuid,
}

impl super::JobContract for IncidentReport {
    const KIND: &'static str = "incident_report";
    const QUEUE: &'static str = "reports";
}
