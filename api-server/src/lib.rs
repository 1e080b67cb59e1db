//! Opsdeck's API server: HTTP routes, the GraphQL schema and the request context. Thin: it
//! parses, authorizes and calls `domain`.

pub mod app;
pub mod auth;
pub mod cli;
pub mod graphql;
pub mod http;
pub mod serve;
pub mod telemetry;
