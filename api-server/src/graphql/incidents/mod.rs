//! Incidents in the API: queries, mutations and their types.

pub mod mutation;
pub mod query;
pub mod types;
