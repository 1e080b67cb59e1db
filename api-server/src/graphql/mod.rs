//! The GraphQL schema: one module per domain area, merged here, with every limit set.

pub mod analysis;
pub mod authz;
pub mod automation;
pub mod connection;
pub mod error;
pub mod foundation;
pub mod ids;
pub mod incidents;
pub mod jobs;
pub mod limits;
pub mod loaders;
pub mod runs;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use domain::config::GraphqlLimits;

use analysis::{mutation::AnalysisMutation, query::AnalysisQuery};
use automation::{mutation::AutomationMutation, query::AutomationQuery};
use foundation::{mutation::FoundationMutation, query::FoundationQuery};
use incidents::{mutation::IncidentMutation, query::IncidentQuery};
use jobs::{mutation::JobMutation, query::JobQuery};
use runs::{mutation::RunMutation, query::RunQuery};

#[derive(MergedObject, Default)]
pub struct Query(
    FoundationQuery,
    IncidentQuery,
    JobQuery,
    AutomationQuery,
    AnalysisQuery,
    RunQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    FoundationMutation,
    IncidentMutation,
    JobMutation,
    AutomationMutation,
    AnalysisMutation,
    RunMutation,
);

pub type OpsdeckSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema, and the document limits every transport applies before executing on it.
pub fn build_schema(limits: &GraphqlLimits) -> (OpsdeckSchema, limits::DocumentLimits) {
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_directives(5)
        .limit_recursive_depth(32)
        .disable_suggestions();
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    let schema = builder.finish();
    let document = limits::DocumentLimits {
        max_aliases: limits.max_aliases,
        max_root_fields: limits.max_root_fields,
        root_fields: Arc::new(limits::root_field_names(&schema.sdl())),
        introspection: limits.introspection,
    };
    (schema, document)
}

/// The SDL the server serves (`api-server print-schema`, and `schema.graphql`).
pub fn sdl() -> String {
    let limits = domain::config::Config::from_env_map(Default::default())
        .expect("default configuration")
        .graphql;
    build_schema(&limits).0.sdl()
}
