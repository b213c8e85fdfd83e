//! Field reports' idempotency keys become unique per reporting user instead of globally.
//!
//! A globally unique key let one user's report stand in the way of another's: a key claimed in
//! one ward blocked the same key everywhere, and the uniqueness check answered before the scope
//! check, so a key revealed that someone, somewhere, had used it. Keys are the phone's own
//! retry tokens; they only need to be unique among the reports of the user who sends them.
//!
//! - **PostgreSQL** drops the column's unique constraint and adds a unique index on
//!   `(reported_by_user_id, idempotency_key)`.
//! - **SQLite** cannot drop a column's inline `UNIQUE` (its automatic index cannot be dropped),
//!   so the table is rebuilt: the same `CREATE TABLE` text without that `UNIQUE`, the rows copied
//!   with their ids, the old table dropped and the new one renamed. Everything that hangs off
//!   the table is preserved by hand: its indexes and every trigger are read from
//!   `sqlite_master` and recreated (the rollup triggers must not fire while rows move, and
//!   renaming checks every trigger's references), the `AUTOINCREMENT` counter is carried over,
//!   and the outcomes are set aside and put back, because dropping the old table cascades to
//!   them. All of it runs in one transaction.
//! - The system actor (command line, seeding) reports with a `NULL` user; NULLs are distinct in
//!   a unique index on both databases, so its rows never collide (it never retries).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The new unique index.
const INDEX: &str = "ux_activities_reporter_key";

/// The key column as the first migration created it on SQLite, with and without `UNIQUE`.
const SQLITE_UNIQUE_KEY: &str = "\"idempotency_key\" varchar(128) NOT NULL UNIQUE";
const SQLITE_PLAIN_KEY: &str = "\"idempotency_key\" varchar(128) NOT NULL";

async fn exec(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

/// Every row's `column` of a query on `sqlite_master` (or any one-column query).
async fn strings(manager: &SchemaManager<'_>, sql: &str) -> Result<Vec<String>, DbErr> {
    let rows = manager
        .get_connection()
        .query_all_raw(Statement::from_string(DatabaseBackend::Sqlite, sql))
        .await?;
    rows.iter().map(|r| r.try_get_by_index(0)).collect()
}

/// Rebuilds `activities` on SQLite with the key column changed from `from` to `to`.
async fn rebuild_sqlite(manager: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    let table = strings(
        manager,
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'activities'",
    )
    .await?
    .pop()
    .ok_or_else(|| DbErr::Migration("no activities table".into()))?;
    // The plain text is a prefix of the unique one: it occurs once either way, and whether
    // `UNIQUE` follows must match the direction of the change.
    let is_unique = table.contains(SQLITE_UNIQUE_KEY);
    if table.matches(SQLITE_PLAIN_KEY).count() != 1 || is_unique != (from == SQLITE_UNIQUE_KEY) {
        return Err(DbErr::Migration(format!(
            "unexpected definition of activities (looked for {from}): {table}"
        )));
    }
    let new_table = table
        .replacen(from, to, 1)
        .replacen("\"activities\"", "\"activities_new\"", 1);
    if new_table == table || !new_table.contains("\"activities_new\"") {
        return Err(DbErr::Migration(format!(
            "could not rewrite the definition of activities: {table}"
        )));
    }
    let indexes = strings(
        manager,
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'activities' \
         AND sql IS NOT NULL AND name <> 'ux_activities_reporter_key'",
    )
    .await?;
    let triggers = strings(
        manager,
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL",
    )
    .await?;
    let trigger_names = strings(
        manager,
        "SELECT name FROM sqlite_master WHERE type = 'trigger'",
    )
    .await?;
    for name in &trigger_names {
        exec(manager, &format!("DROP TRIGGER \"{name}\"")).await?;
    }
    exec(
        manager,
        "CREATE TEMP TABLE keep_activity_outcomes AS SELECT * FROM activity_outcomes",
    )
    .await?;
    exec(manager, &new_table).await?;
    exec(
        manager,
        "INSERT INTO activities_new SELECT * FROM activities",
    )
    .await?;
    let seq = strings(
        manager,
        "SELECT CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = 'activities'",
    )
    .await?
    .pop();
    exec(manager, "DROP TABLE activities").await?;
    exec(manager, "ALTER TABLE activities_new RENAME TO activities").await?;
    if let Some(seq) = seq.and_then(|s| s.parse::<i64>().ok()) {
        exec(
            manager,
            &format!(
                "UPDATE sqlite_sequence SET seq = {seq} WHERE name = 'activities' AND seq < {seq}"
            ),
        )
        .await?;
    }
    exec(
        manager,
        "INSERT INTO activity_outcomes SELECT * FROM keep_activity_outcomes",
    )
    .await?;
    exec(manager, "DROP TABLE keep_activity_outcomes").await?;
    for sql in indexes.iter().chain(&triggers) {
        exec(manager, sql).await?;
    }
    Ok(())
}

/// The name of the unique constraint PostgreSQL gave the key column.
async fn postgres_key_constraint(manager: &SchemaManager<'_>) -> Result<Option<String>, DbErr> {
    let rows = manager
        .get_connection()
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT c.conname::text FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             WHERE c.conrelid = 'activities'::regclass AND c.contype = 'u' \
             AND a.attname = 'idempotency_key' AND array_length(c.conkey, 1) = 1",
        ))
        .await?;
    rows.first().map(|r| r.try_get_by_index(0)).transpose()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on every backend: on SQLite the table rebuild must be all or nothing.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                let name = postgres_key_constraint(manager).await?.ok_or_else(|| {
                    DbErr::Migration("no unique constraint on activities.idempotency_key".into())
                })?;
                exec(
                    manager,
                    &format!("ALTER TABLE activities DROP CONSTRAINT \"{name}\""),
                )
                .await?;
            }
            _ => rebuild_sqlite(manager, SQLITE_UNIQUE_KEY, SQLITE_PLAIN_KEY).await?,
        }
        exec(
            manager,
            &format!(
                "CREATE UNIQUE INDEX {INDEX} ON activities (reported_by_user_id, idempotency_key)"
            ),
        )
        .await
    }

    /// Back to globally unique keys; fails (changing nothing) if two users now share a key.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        exec(manager, &format!("DROP INDEX {INDEX}")).await?;
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                exec(
                    manager,
                    "ALTER TABLE activities ADD CONSTRAINT activities_idempotency_key_key \
                     UNIQUE (idempotency_key)",
                )
                .await
            }
            _ => rebuild_sqlite(manager, SQLITE_PLAIN_KEY, SQLITE_UNIQUE_KEY).await,
        }
    }
}
