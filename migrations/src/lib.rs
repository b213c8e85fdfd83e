//! The CDTG database schema. This crate is the only place the schema changes: every change is a
//! new migration with both `up` and `down`, and the server runs pending migrations at start-up.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_schema;
mod m20261128_000002_unit_targets;
mod m20261201_000003_stats_rollups;
mod m20261202_000004_activity_keys_per_user;
pub mod rollups;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_schema::Migration),
            Box::new(m20261128_000002_unit_targets::Migration),
            Box::new(m20261201_000003_stats_rollups::Migration),
            Box::new(m20261202_000004_activity_keys_per_user::Migration),
        ]
    }
}
