//! Targets for a group, like those of a unit: one numeric target per group, indicator and
//! period, replaced when set again for the same period.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &str = "CREATE TABLE group_targets ( id bigserial PRIMARY KEY, group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE, indicator varchar(40) NOT NULL, period_start date NOT NULL, period_end date NOT NULL, target_value double precision NOT NULL, created_at timestamp with time zone NOT NULL, updated_at timestamp with time zone NOT NULL )";

const SQLITE: &str = "CREATE TABLE group_targets ( id integer NOT NULL PRIMARY KEY AUTOINCREMENT, group_id integer NOT NULL, indicator varchar(40) NOT NULL, period_start date_text NOT NULL, period_end date_text NOT NULL, target_value double NOT NULL, created_at timestamp_with_timezone_text NOT NULL, updated_at timestamp_with_timezone_text NOT NULL, FOREIGN KEY (group_id) REFERENCES groups (id) ON DELETE CASCADE )";

const INDEX: &str = "CREATE UNIQUE INDEX ux_group_targets_period ON group_targets (group_id, indicator, period_start, period_end)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let create = if manager.get_database_backend() == DatabaseBackend::Postgres {
            POSTGRES
        } else {
            SQLITE
        };
        let conn = manager.get_connection();
        conn.execute_unprepared(create).await?;
        conn.execute_unprepared(INDEX).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE group_targets")
            .await?;
        Ok(())
    }
}
