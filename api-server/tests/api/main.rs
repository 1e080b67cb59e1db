//! api-server integration tests: the real router and migrations on SQLite and PostgreSQL.

mod issuer;
mod support;
mod test_database;
mod test_redis;

mod analysis;
mod api_keys;
mod attachments;
mod audit;
mod automation;
mod binary;
mod form_pages;
mod generation;
mod graphql_http;
mod incident_work;
mod incidents;
mod jobs;
mod jwt;
mod llm;
mod pool;
mod reports;
mod rls;
mod roles;
mod runs;
mod schema;
mod site;
mod tenancy;
mod ws;
