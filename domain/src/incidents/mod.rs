//! Incidents: a strict lifecycle, optimistic concurrency, an append-only timeline, SLA
//! clocks. Every change writes the incident, its timeline entry, the org audit row and an
//! outbox event in one transaction.

pub mod action_items;
pub mod attachments;
pub mod metrics;
pub mod query;
pub mod service;
pub mod sla;
pub mod state_machine;
mod timeline;
pub mod views;

use entity::incident;
use uuid::Uuid;

pub use state_machine::{Severity, Status};
pub use timeline::{TimelineEntry, first_pages as timeline_first_pages, list as timeline};

/// An incident with what lives beside its row.
#[derive(Debug, Clone)]
pub struct Incident {
    pub row: incident::Model,
    /// `None` when not loaded with the row (lists load them on demand, batched).
    pub assignee_ids: Option<Vec<Uuid>>,
}

impl Incident {
    pub fn status(&self) -> Status {
        self.row.status.parse().unwrap_or(Status::Detected)
    }
    pub fn severity(&self) -> Severity {
        self.row.severity.parse().unwrap_or(Severity::Sev4)
    }
    /// `INC-<n>`, as people say it.
    pub fn key(&self) -> String {
        format!("INC-{}", self.row.number)
    }
    pub fn tags(&self) -> Vec<String> {
        serde_json::from_value(self.row.tags.clone()).unwrap_or_default()
    }
}
