//! `form_analysis`: reads a target's form in a real browser (behind the target's egress
//! rules) and records its fields, wizard steps and submit control as the job's result.
//! The payload only names the analysis; what to analyze is on its row.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormAnalysis {
    pub analysis_id: Uuid,
}

impl super::JobContract for FormAnalysis {
    const KIND: &'static str = "form_analysis";
    // A browser job: it runs where the browsers are.
    const QUEUE: &'static str = "runs";
}
