//! One incident as every report format shows it: its timestamps and the durations
//! `incidentMetrics` is computed from (same definitions, in seconds).

use chrono::{DateTime, Utc};
use domain::entity::incident;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRow {
    pub number: i64,
    pub key: String,
    pub id: String,
    pub title: String,
    pub severity: String,
    pub status: String,
    pub service: Option<String>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub impact_started_at: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// `impactStartedAt → detectedAt`.
    pub time_to_detect_seconds: Option<f64>,
    /// `detectedAt → acknowledgedAt`.
    pub time_to_acknowledge_seconds: Option<f64>,
    /// `detectedAt → mitigatedAt`.
    pub time_to_mitigate_seconds: Option<f64>,
    /// `detectedAt → resolvedAt`.
    pub time_to_resolve_seconds: Option<f64>,
}

fn secs(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<f64> {
    to.map(|t| (t - from).num_microseconds().unwrap_or(0) as f64 / 1e6)
}

impl ReportRow {
    pub fn of(i: &incident::Model) -> Self {
        ReportRow {
            number: i.number,
            key: format!("INC-{}", i.number),
            id: i.id.to_string(),
            title: i.title.clone(),
            severity: i.severity.clone(),
            status: i.status.clone(),
            service: i.service.clone(),
            tags: serde_json::from_value(i.tags.clone()).unwrap_or_default(),
            created_at: i.created_at,
            impact_started_at: i.impact_started_at,
            detected_at: i.detected_at,
            acknowledged_at: i.acknowledged_at,
            mitigated_at: i.mitigated_at,
            resolved_at: i.resolved_at,
            closed_at: i.closed_at,
            time_to_detect_seconds: i
                .impact_started_at
                .and_then(|s| secs(s, Some(i.detected_at))),
            time_to_acknowledge_seconds: secs(i.detected_at, i.acknowledged_at),
            time_to_mitigate_seconds: secs(i.detected_at, i.mitigated_at),
            time_to_resolve_seconds: secs(i.detected_at, i.resolved_at),
        }
    }
}
