//! All-time task and activity totals (`rollup_task_totals`, `rollup_activity_totals`): the
//! tables, the triggers that now keep them too, and their back-fill. Requests that name no
//! period and no month or week read a few rows per unit from them instead of one per day.
//!
//! Databases migrated while the previous migration still created these tables itself already
//! have them: `IF NOT EXISTS`, re-created triggers and a fresh back-fill make both paths end in
//! the same schema and the same counts.

use sea_orm_migration::prelude::*;

use crate::snapshot;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run(
            manager,
            &snapshot!("m20261201_000004_all_time_totals", "up"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run(
            manager,
            &snapshot!("m20261201_000004_all_time_totals", "down"),
        )
        .await
    }
}
