//! Walk-in reports, the programme's outcomes in the rollups, and products and listings that can
//! be updated and archived.
//!
//! - **Walk-in reports.** Much field work is help given at the cultural house, outside any task:
//!   `activities.task_id` (and the copy kept in `activity_revisions`) may be `NULL`; the report
//!   still belongs to a group. PostgreSQL drops the `NOT NULL`; SQLite cannot, so both tables are
//!   rebuilt there as migration 5 did (rows copied with their ids, the `AUTOINCREMENT` counter
//!   carried over, the outcomes set aside because dropping the old table cascades to them, the
//!   indexes recreated), with every rollup trigger dropped first so none fires while rows move.
//! - **Outcomes in the rollups.** `rollup_outcomes` (per indicator, task kind and local day) and
//!   `rollup_outcome_totals` keep what `activity_outcomes` records, so every indicator is read
//!   from a few rows per unit like the other statistics. Activities and outcomes of walk-in
//!   reports are kept under the task kind `WALK_IN`.
//! - **Products and listings.** Products get a price (whole đồng) and a description; products
//!   and listings get `archived_at`: an archived one leaves the default lists and every count.
//! - **Memberships** get `updated_at`, for incremental sync (back-filled with `created_at`).
//! - Every rollup trigger is dropped and created again from the generator as it now is, and
//!   every rollup is rebuilt from the facts, in the same transaction.
//!
//! The SQL is frozen in `sql/m20261202_000012_walk_ins_and_archives/`. Down fails, changing
//! nothing, while walk-in reports exist (their task cannot be made up).

use sea_orm_migration::prelude::*;

use crate::snapshot;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on every backend: on SQLite the table rebuilds must be all or nothing.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run(
            manager,
            &snapshot!("m20261202_000012_walk_ins_and_archives", "up"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::sql::run(
            manager,
            &snapshot!("m20261202_000012_walk_ins_and_archives", "down"),
        )
        .await
    }
}
