//! End-to-end tests: the real server, real HTTP, SQLite and PostgreSQL.

mod fixture;
mod helpers;

mod accounts;
mod android;
mod auth;
mod authorization;
mod batching;
mod cli;
mod corrections;
mod dashboard;
mod demo;
mod field_reports;
mod going_live;
mod graphiql;
mod group_work;
mod groups;
mod http;
mod input_limits;
mod keyset;
mod leaks;
mod members;
mod migrations;
mod names;
mod ordering;
mod pipeline;
mod platform;
mod products;
mod reference_clients;
mod sheets;
mod stats;
mod tasks;
mod unit_admin;
mod units;
mod walk_ins;
mod ws;
