//! The foundation's part of the API: viewer, organizations, members, API keys, audit log.

pub mod mutation;
pub mod query;
pub mod types;
