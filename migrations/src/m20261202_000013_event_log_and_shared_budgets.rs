//! What several instances behind one load balancer must share, kept in the database.
//!
//! - **`task_events`**, on both backends: every task event is written in the transaction of the
//!   change it reports, with an increasing id. A subscriber that lost its socket (an instance
//!   died, the phone changed networks) resumes from the last id it received on any instance and
//!   misses nothing that was committed. Old events are pruned by the server.
//! - **`rate_budgets`**, **`login_budgets`** and **`login_known`**, on PostgreSQL only: request
//!   rate limits and the login throttle of every instance, so a client spreading requests or
//!   password guesses over the instances has the budget it would have with one. The tables are
//!   `UNLOGGED`: no WAL, so a check costs one cheap write, and after a crash they start empty
//!   (budgets reset — acceptable for counters that expire in minutes anyway). They are not
//!   replicated, and the server reads them only on the primary. SQLite serves one process, which
//!   keeps these budgets in memory.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE task_events ( id bigserial PRIMARY KEY, kind varchar(32) NOT NULL, task_id bigint NOT NULL, group_id bigint NOT NULL, unit_path varchar(400) COLLATE \"C\" NOT NULL, occurred_at timestamp with time zone NOT NULL )",
    "CREATE INDEX ix_task_events_occurred_at ON task_events (occurred_at)",
    "CREATE UNLOGGED TABLE rate_budgets ( key text COLLATE \"C\" PRIMARY KEY, tat timestamp with time zone NOT NULL )",
    "CREATE UNLOGGED TABLE login_budgets ( key text COLLATE \"C\" PRIMARY KEY, failures integer NOT NULL DEFAULT 0, in_flight integer NOT NULL DEFAULT 0, in_flight_since timestamp with time zone NULL, last_failure timestamp with time zone NULL, locked_until timestamp with time zone NULL )",
    "CREATE UNLOGGED TABLE login_known ( username text COLLATE \"C\" NOT NULL, address text COLLATE \"C\" NOT NULL, signed_in_at timestamp with time zone NOT NULL, PRIMARY KEY (username, address) )",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TABLE login_known",
    "DROP TABLE login_budgets",
    "DROP TABLE rate_budgets",
    "DROP TABLE task_events",
];

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE task_events ( id integer NOT NULL PRIMARY KEY AUTOINCREMENT, kind varchar(32) NOT NULL, task_id integer NOT NULL, group_id integer NOT NULL, unit_path varchar(400) NOT NULL, occurred_at timestamp_with_timezone_text NOT NULL )",
    "CREATE INDEX ix_task_events_occurred_at ON task_events (occurred_at)",
];

const SQLITE_DOWN: &[&str] = &["DROP TABLE task_events"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
