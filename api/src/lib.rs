//! `cdtg-api`: the CDTG server. HTTP (actix-web) → GraphQL resolvers (thin) → service layer
//! (authorisation + SeaORM) → SQLite or PostgreSQL. Domain rules come from `cdtg-core`.

pub mod auth;
pub mod cli;
pub mod client_addr;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod downloads;
pub mod entity;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod ops;
pub mod persisted;
pub mod pipeline;
pub mod principal;
pub mod progress;
pub mod ratelimit;
pub mod replica;
pub mod request_log;
#[cfg(feature = "demo")]
pub mod seed;
pub mod service;
pub mod sheets;
pub mod sockets;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod transport;
pub mod ws;
