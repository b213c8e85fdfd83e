//! A field report's activity rollups from one look-up, on PostgreSQL.
//!
//! Each report added itself to `rollup_activities` and `rollup_activity_totals` through two
//! triggers, each joining the report's group, task and unit anchors again. One trigger now reads
//! the unit, task kind and local day once and updates both (see
//! `rollups::report_insert_on_postgres`). The rows written are the same; nothing is rebuilt.
//! SQLite's triggers cannot hold variables, so its snapshot is empty in both directions.
//!
//! The SQL is frozen in `sql/m20261205_000014_report_rollups_one_lookup/`.

use sea_orm_migration::prelude::*;

use crate::snapshot;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run(
            manager,
            &snapshot!("m20261205_000014_report_rollups_one_lookup", "up"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run(
            manager,
            &snapshot!("m20261205_000014_report_rollups_one_lookup", "down"),
        )
        .await
    }
}
