//! End-to-end tests: the real server, real HTTP, SQLite and PostgreSQL.

mod fixture;
mod helpers;

mod auth;
mod authorization;
mod batching;
mod demo;
mod groups;
mod members;
mod platform;
mod tasks;
mod units;
mod ws;
