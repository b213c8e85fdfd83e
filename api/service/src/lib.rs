//! `cdtg-service`: what the server does, without how it is asked. The service functions
//! (authorisation through `service::scope`, validation, transactions, audit) over the SeaORM
//! entities, with what they need: credentials (`auth`), the database connection (`db`),
//! spreadsheets (`sheets`), the task event log (`events`) and, behind the `demo` feature, the
//! demo generator (`seed`).
//!
//! This crate does not depend on async-graphql or actix-web: the compiler keeps GraphQL and
//! HTTP out of the service layer. `cdtg-api` maps [`error::ApiError`] to GraphQL errors at its
//! edge.

pub mod auth;
pub mod db;
pub mod entity;
pub mod error;
pub mod events;
pub mod ids;
pub mod memory;
pub mod principal;
pub mod progress;
pub mod ratelimit;
#[cfg(feature = "demo")]
pub mod seed;
pub mod service;
pub mod sheets;
