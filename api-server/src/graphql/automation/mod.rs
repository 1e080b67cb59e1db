//! Browser automation: targets, workflows (draft and versions), scenarios.

pub mod definition;
pub mod mutation;
pub mod query;
pub mod types;
