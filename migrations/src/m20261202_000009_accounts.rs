//! Accounts that can be administered, sessions that really end, and keys for machines.
//!
//! - `sessions`: one row per signed-in device. Access tokens carry its id (`sid`) and every
//!   request checks the row, so signing out, a password change, a reset or disabling the
//!   account ends the session at once. A session is what the refresh tokens' `family_id` already
//!   named, so the existing families become sessions (revoked when every token in the family
//!   is; otherwise live until the newest token expires).
//! - `users` gains a display name, an accent-folded search key (back-filled from the username,
//!   the only text existing accounts have), and the one-time-password state of an
//!   administrator's reset: `must_change_password` until the user picks a new one, and
//!   `one_time_password_used_at` once the one-time password has been used to sign in.
//! - `api_keys`: an integrator's credential. Only the SHA-256 of the secret is stored (the
//!   secret has 256 random bits, so a fast hash is enough and lookups are by that hash).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE sessions ( id varchar(36) PRIMARY KEY, user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE, device varchar(200) NULL, address varchar(64) NULL, created_at timestamp with time zone NOT NULL, last_used_at timestamp with time zone NOT NULL, expires_at timestamp with time zone NOT NULL, revoked_at timestamp with time zone NULL, revoked_reason varchar(32) NULL )",
    "CREATE TABLE api_keys ( id bigserial PRIMARY KEY, name varchar(100) NOT NULL, prefix varchar(16) NOT NULL, secret_hash varchar(64) NOT NULL UNIQUE, role varchar(24) NOT NULL, scope_unit_id bigint NOT NULL REFERENCES admin_units (id) ON DELETE RESTRICT, can_write boolean NOT NULL, created_by_user_id bigint NOT NULL REFERENCES users (id) ON DELETE RESTRICT, created_at timestamp with time zone NOT NULL, expires_at timestamp with time zone NOT NULL, last_used_at timestamp with time zone NULL, revoked_at timestamp with time zone NULL )",
    "ALTER TABLE users ADD COLUMN display_name varchar(200) NULL",
    "ALTER TABLE users ADD COLUMN search_key varchar(300) NOT NULL DEFAULT ''",
    "ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false",
    "ALTER TABLE users ADD COLUMN one_time_password_used_at timestamp with time zone NULL",
];

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE sessions ( id varchar(36) NOT NULL PRIMARY KEY, user_id integer NOT NULL, device varchar(200) NULL, address varchar(64) NULL, created_at timestamp_with_timezone_text NOT NULL, last_used_at timestamp_with_timezone_text NOT NULL, expires_at timestamp_with_timezone_text NOT NULL, revoked_at timestamp_with_timezone_text NULL, revoked_reason varchar(32) NULL, FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE )",
    "CREATE TABLE api_keys ( id integer NOT NULL PRIMARY KEY AUTOINCREMENT, name varchar(100) NOT NULL, prefix varchar(16) NOT NULL, secret_hash varchar(64) NOT NULL UNIQUE, role varchar(24) NOT NULL, scope_unit_id integer NOT NULL, can_write boolean NOT NULL, created_by_user_id integer NOT NULL, created_at timestamp_with_timezone_text NOT NULL, expires_at timestamp_with_timezone_text NOT NULL, last_used_at timestamp_with_timezone_text NULL, revoked_at timestamp_with_timezone_text NULL, FOREIGN KEY (scope_unit_id) REFERENCES admin_units (id) ON DELETE RESTRICT, FOREIGN KEY (created_by_user_id) REFERENCES users (id) ON DELETE RESTRICT )",
    "ALTER TABLE users ADD COLUMN display_name varchar(200) NULL",
    "ALTER TABLE users ADD COLUMN search_key varchar(300) NOT NULL DEFAULT ''",
    "ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT FALSE",
    "ALTER TABLE users ADD COLUMN one_time_password_used_at timestamp_with_timezone_text NULL",
];

const COMMON_UP: &[&str] = &[
    "CREATE INDEX ix_sessions_user ON sessions (user_id)",
    "CREATE INDEX ix_api_keys_scope_unit ON api_keys (scope_unit_id)",
    "CREATE INDEX ix_api_keys_created_by ON api_keys (created_by_user_id)",
    // Usernames are lower-case ASCII: folding them is lowering them.
    "UPDATE users SET search_key = lower(username)",
    "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at) \
     SELECT family_id, MIN(user_id), MIN(created_at), MAX(created_at), MAX(expires_at), \
     CASE WHEN COUNT(*) = COUNT(revoked_at) THEN MAX(revoked_at) END \
     FROM refresh_tokens GROUP BY family_id",
];

async fn exec(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend_up = if manager.get_database_backend() == DatabaseBackend::Postgres {
            POSTGRES_UP
        } else {
            SQLITE_UP
        };
        for sql in backend_up.iter().chain(COMMON_UP) {
            exec(manager, sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in [
            "DROP TABLE api_keys",
            "DROP TABLE sessions",
            "ALTER TABLE users DROP COLUMN one_time_password_used_at",
            "ALTER TABLE users DROP COLUMN must_change_password",
            "ALTER TABLE users DROP COLUMN search_key",
            "ALTER TABLE users DROP COLUMN display_name",
        ] {
            exec(manager, sql).await?;
        }
        Ok(())
    }
}
