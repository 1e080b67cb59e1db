//! The one migration chain for both backends. Tables are plain SQL per backend (the types
//! differ: uuid/bytea/jsonb/timestamptz on PostgreSQL, BLOB/TEXT on SQLite); row-level
//! security and its policies exist only on PostgreSQL, where they are the second guard
//! behind the domain services' org filters.

pub use sea_orm_migration::prelude::*;

mod m20261201_000001_foundation;
mod m20261201_000002_incidents;
mod m20261201_000003_incident_work;
mod m20261201_000004_incident_search;
mod m20261201_000005_incident_attachments;
mod m20261201_000006_jobs;
mod m20261201_000007_report_retention;
mod m20261201_000008_job_dispatch_index;
mod m20261201_000009_attempt_executor;
mod m20261201_000010_automation;
mod m20261201_000011_runs;
mod m20261201_000012_form_analyses;
mod m20261201_000013_llm_usage;
mod m20261201_000014_run_screenshots;
mod m20261203_000015_waiting_jobs_index;
mod m20261203_000016_reconciler_queue_index;
mod m20261203_000017_claim_function;
mod m20261206_000018_finish_function;
mod sql;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261201_000001_foundation::Migration),
            Box::new(m20261201_000002_incidents::Migration),
            Box::new(m20261201_000003_incident_work::Migration),
            Box::new(m20261201_000004_incident_search::Migration),
            Box::new(m20261201_000005_incident_attachments::Migration),
            Box::new(m20261201_000006_jobs::Migration),
            Box::new(m20261201_000007_report_retention::Migration),
            Box::new(m20261201_000008_job_dispatch_index::Migration),
            Box::new(m20261201_000009_attempt_executor::Migration),
            Box::new(m20261201_000010_automation::Migration),
            Box::new(m20261201_000011_runs::Migration),
            Box::new(m20261201_000012_form_analyses::Migration),
            Box::new(m20261201_000013_llm_usage::Migration),
            Box::new(m20261201_000014_run_screenshots::Migration),
            Box::new(m20261203_000015_waiting_jobs_index::Migration),
            Box::new(m20261203_000016_reconciler_queue_index::Migration),
            Box::new(m20261203_000017_claim_function::Migration),
            Box::new(m20261206_000018_finish_function::Migration),
        ]
    }
}

/// Tables that carry `org_id`. Each has RLS enabled and forced, and a `tenant` policy; the
/// catalog test in api-server checks this list against the live database.
pub fn tenant_tables() -> Vec<&'static str> {
    [
        m20261201_000001_foundation::TENANT_TABLES,
        m20261201_000002_incidents::TENANT_TABLES,
        m20261201_000003_incident_work::TENANT_TABLES,
        m20261201_000005_incident_attachments::TENANT_TABLES,
        m20261201_000006_jobs::TENANT_TABLES,
        m20261201_000010_automation::TENANT_TABLES,
        m20261201_000011_runs::TENANT_TABLES,
        m20261201_000012_form_analyses::TENANT_TABLES,
        m20261201_000013_llm_usage::TENANT_TABLES,
    ]
    .concat()
}
