//! Workflow runs: launch, watch (attempts, steps, outputs, artifacts), cancel, retry.

pub mod mutation;
pub mod query;
pub mod types;
