//! The CDTG database schema. This crate is the only place the schema changes: every change is a
//! new migration with both `up` and `down`, and the server runs pending migrations at start-up.
//!
//! A migration never changes once it is on main: databases that ran it must hold the schema it
//! made. Migrations built from generated SQL (the rollups) are frozen as SQL snapshots under
//! `sql/`; `schema/` holds the schema after every migration on both backends, and a test
//! fails when running the migrations no longer reproduces them.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_schema;
mod m20261128_000002_unit_targets;
mod m20261201_000003_stats_rollups;
mod m20261201_000004_all_time_totals;
mod m20261202_000005_activity_keys_per_user;
mod m20261202_000006_audit_path_collation;
mod m20261202_000007_name_sort_keys;
mod m20261202_000008_unit_history;
mod m20261202_000009_accounts;
mod m20261202_000010_group_targets;
mod m20261202_000011_activity_revisions;
mod m20261202_000012_walk_ins_and_archives;
mod m20261202_000013_event_log_and_shared_budgets;
mod m20261205_000014_report_rollups_one_lookup;
pub mod rollups;
pub mod sql;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_schema::Migration),
            Box::new(m20261128_000002_unit_targets::Migration),
            Box::new(m20261201_000003_stats_rollups::Migration),
            Box::new(m20261201_000004_all_time_totals::Migration),
            Box::new(m20261202_000005_activity_keys_per_user::Migration),
            Box::new(m20261202_000006_audit_path_collation::Migration),
            Box::new(m20261202_000007_name_sort_keys::Migration),
            Box::new(m20261202_000008_unit_history::Migration),
            Box::new(m20261202_000009_accounts::Migration),
            Box::new(m20261202_000010_group_targets::Migration),
            Box::new(m20261202_000011_activity_revisions::Migration),
            Box::new(m20261202_000012_walk_ins_and_archives::Migration),
            Box::new(m20261202_000013_event_log_and_shared_budgets::Migration),
            Box::new(m20261205_000014_report_rollups_one_lookup::Migration),
        ]
    }
}
