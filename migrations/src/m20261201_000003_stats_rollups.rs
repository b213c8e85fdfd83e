//! Statistics rollups: the per-unit counters described in [`crate::rollups`], their triggers,
//! and a back-fill from the facts already in the database — as first released, without the
//! all-time totals (those came with the next migration). A frozen SQL snapshot, so that a later
//! change of the rollup generator can never change what this migration did.

use sea_orm_migration::prelude::*;

use crate::snapshot;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run(manager, &snapshot!("m20261201_000003_stats_rollups", "up")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run(
            manager,
            &snapshot!("m20261201_000003_stats_rollups", "down"),
        )
        .await
    }
}
