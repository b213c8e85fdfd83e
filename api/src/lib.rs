//! `cdtg-api`: the CDTG server. HTTP and WebSocket transports (actix-web) → the execution
//! pipeline → GraphQL resolvers (thin) → the service layer of `cdtg-service` (authorisation +
//! SeaORM) → SQLite or PostgreSQL. Domain rules come from `cdtg-core`.
//!
//! The service layer's modules are re-exported under their own names, so a path such as
//! `cdtg_api::service::members` reads the same from the resolvers, the command line and the
//! tests.

#[cfg(feature = "demo")]
pub use cdtg_service::seed;
pub use cdtg_service::{
    auth, db, entity, error, events, memory, principal, progress, ratelimit, service, sheets,
};

pub mod cli;
pub mod client_addr;
pub mod config;
pub mod dashboard;
pub mod downloads;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod limits;
pub mod metrics;
pub mod ops;
pub mod persisted;
pub mod pipeline;
pub mod replica;
pub mod request_log;
pub mod sockets;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod transport;
pub mod ws;
