//! Jobs and the reports built on them.

pub mod mutation;
pub mod query;
pub mod types;
