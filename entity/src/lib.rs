//! sea-orm entities, one file per table. Tenant tables carry `org_id`; their lookups by id
//! go through `find_in_org` so another org's row is simply absent.

pub mod action_item;
pub mod api_key;
pub mod audit_log;
pub mod form_analysis;
pub mod incident;
pub mod incident_assignee;
pub mod incident_attachment;
pub mod incident_timeline;
pub mod job;
pub mod job_attempt;
pub mod llm_usage;
pub mod membership;
pub mod organization;
pub mod outbox;
pub mod report;
pub mod run;
pub mod run_artifact;
pub mod run_step;
pub mod saved_view;
pub mod scenario;
pub mod sla_event;
pub mod sla_policy;
pub mod target;
pub mod target_secret;
pub mod user;
pub mod workflow;
pub mod workflow_version;
