//! `audit_events.unit_path` in the "C" collation, like every other materialised path.
//!
//! Scope filters read audit events with a range over the path (`>= path AND < path + '~'`).
//! Under a locale collation PostgreSQL cannot use the index for that range, and the ordering
//! of punctuation differs from byte order, so the range could even miss or include the wrong
//! rows. SQLite compares bytes already: nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // Changing the collation rebuilds ix_audit_events_unit_path with it.
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE audit_events ALTER COLUMN unit_path TYPE varchar(400) COLLATE \"C\"",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE audit_events ALTER COLUMN unit_path TYPE varchar(400) COLLATE \"default\"",
                )
                .await?;
        }
        Ok(())
    }
}
