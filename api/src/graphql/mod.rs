//! The GraphQL schema: query, mutation and subscription roots over the service layer.

pub mod breakdown_export;
pub mod connection;
pub mod context;
pub mod enums;
pub mod errors;
pub mod loaders;
pub mod mutation;
pub mod node;
pub mod objects;
pub mod plain;
pub mod query;
pub mod scalars;
pub mod sheets;
pub mod stats;
pub mod subscription;

use async_graphql::Schema;

use crate::state::AppState;

pub type CdtgSchema =
    Schema<query::QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot>;

/// Limits on query shape that protect the server from hostile documents.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            max_depth: 15,
            max_complexity: 20_000,
            max_aliases: 100,
            max_directives: 50,
        }
    }
}

/// Builds the schema around the application state. It registers no extension: the nodes of a
/// page are answered without per-field hooks (`plain`), so an extension that must see every
/// field would first have to send `PlainList` down async-graphql's own path.
pub fn build_schema(state: Option<AppState>, limits: &QueryLimits) -> CdtgSchema {
    let mut builder = Schema::build(
        query::QueryRoot,
        mutation::MutationRoot,
        subscription::SubscriptionRoot,
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(64);
    if let Some(state) = state {
        let demo = state.settings.demo;
        builder = builder.data(state);
        if !demo {
            builder = builder.disable_suggestions();
        }
    }
    builder.finish()
}

/// The SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(None, &QueryLimits::default())
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}
