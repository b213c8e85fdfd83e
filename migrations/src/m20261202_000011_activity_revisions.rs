//! Field reports can be corrected and voided without losing anything: each correction or void
//! first copies the report as it stood into `activity_revisions`, with who changed it, when,
//! why and the phone's retry key. A voided report leaves `activities` (so every total drops it
//! through the rollup triggers) but stays readable here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &str = "CREATE TABLE activity_revisions ( id bigserial PRIMARY KEY, activity_id bigint NOT NULL, revision integer NOT NULL, action varchar(16) NOT NULL, task_id bigint NOT NULL, group_id bigint NOT NULL, unit_path varchar(400) COLLATE \"C\" NOT NULL, reported_by_user_id bigint NULL, occurred_at timestamp with time zone NOT NULL, residents_helped integer NOT NULL, outcomes text NOT NULL, note text NULL, reason text NOT NULL, idempotency_key varchar(128) NOT NULL, changed_by_user_id bigint NULL REFERENCES users (id) ON DELETE SET NULL, changed_at timestamp with time zone NOT NULL )";

const SQLITE: &str = "CREATE TABLE activity_revisions ( id integer NOT NULL PRIMARY KEY AUTOINCREMENT, activity_id integer NOT NULL, revision integer NOT NULL, action varchar(16) NOT NULL, task_id integer NOT NULL, group_id integer NOT NULL, unit_path varchar(400) NOT NULL, reported_by_user_id integer NULL, occurred_at timestamp_with_timezone_text NOT NULL, residents_helped integer NOT NULL, outcomes text NOT NULL, note text NULL, reason text NOT NULL, idempotency_key varchar(128) NOT NULL, changed_by_user_id integer NULL, changed_at timestamp_with_timezone_text NOT NULL, FOREIGN KEY (changed_by_user_id) REFERENCES users (id) ON DELETE SET NULL )";

const INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX ux_activity_revisions_revision ON activity_revisions (activity_id, revision)",
    "CREATE UNIQUE INDEX ux_activity_revisions_key ON activity_revisions (changed_by_user_id, idempotency_key)",
];

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
        for sql in INDEXES {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE activity_revisions")
            .await?;
        Ok(())
    }
}
