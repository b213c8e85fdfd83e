//! Units with a history: codes that repeat across eras, and a log of where things moved.
//!
//! - **Codes are unique among current units only.** When units are merged, the statistics
//!   office gives the new unit the code of one of its predecessors (in Đà Nẵng's 2025 reform, 16
//!   codes name a different unit before and after 1 July 2025). A closed unit keeps its code, so
//!   the old `UNIQUE (code)` becomes a partial unique index over units without `valid_to`, plus a
//!   plain index for look-ups by code.
//! - **`unit_moves`** records each group and member that a merge or a re-parenting moved: the
//!   unit it left, the path it had there and the day the move took effect. Statistics read "as
//!   of" a date put a moved row back where it was on that day; everything else reads the current
//!   unit columns as before.
//! - SQLite cannot drop a column's `UNIQUE` constraint, so the table is rebuilt there (the
//!   documented rename procedure, with foreign keys off around it and checked afterwards). The
//!   script runs as one batch so every statement shares the connection whose pragma it sets.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The `admin_units` table of SQLite, with (`true`) or without the old unique code.
fn sqlite_rebuild(unique_code: bool) -> String {
    let code = if unique_code {
        "\"code\" varchar(20) NULL UNIQUE"
    } else {
        "\"code\" varchar(20) NULL"
    };
    format!(
        "PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE \"admin_units_rebuilt\" ( \"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, {code}, \"name\" varchar(200) NOT NULL, \"name_folded\" varchar(200) NOT NULL, \"kind\" varchar(24) NOT NULL, \"parent_id\" integer NULL, \"path\" varchar(400) NOT NULL UNIQUE, \"depth\" integer NOT NULL, \"valid_from\" date_text NOT NULL, \"valid_to\" date_text NULL, \"merged_into_id\" integer NULL, \"created_at\" timestamp_with_timezone_text NOT NULL, name_key text NOT NULL DEFAULT '', FOREIGN KEY (\"parent_id\") REFERENCES \"admin_units\" (\"id\") ON DELETE RESTRICT, FOREIGN KEY (\"merged_into_id\") REFERENCES \"admin_units\" (\"id\") ON DELETE RESTRICT );
INSERT INTO admin_units_rebuilt (id, code, name, name_folded, kind, parent_id, path, depth, valid_from, valid_to, merged_into_id, created_at, name_key) SELECT id, code, name, name_folded, kind, parent_id, path, depth, valid_from, valid_to, merged_into_id, created_at, name_key FROM admin_units;
DROP TABLE admin_units;
ALTER TABLE admin_units_rebuilt RENAME TO admin_units;
CREATE INDEX \"ix_admin_units_kind\" ON \"admin_units\" (\"kind\");
CREATE INDEX \"ix_admin_units_name_folded\" ON \"admin_units\" (\"name_folded\");
CREATE INDEX \"ix_admin_units_parent\" ON \"admin_units\" (\"parent_id\");
CREATE INDEX ix_admin_units_depth_name_key ON admin_units (depth, name_key);
CREATE INDEX ix_admin_units_parent_name_key ON admin_units (parent_id, name_key);
CREATE TRIGGER rollup_anchors_on_insert AFTER INSERT ON admin_units FOR EACH ROW BEGIN INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) SELECT NEW.id, a.anchor_unit_id, 0 FROM rollup_anchors a WHERE a.unit_id = NEW.parent_id AND a.own = 0; INSERT INTO rollup_anchors (unit_id, anchor_unit_id, own) VALUES (NEW.id, NEW.id, 0), (NEW.id, NEW.id, 1); END;
COMMIT;
PRAGMA foreign_keys = ON;"
    )
}

const SQLITE_MOVES: &str = "CREATE TABLE unit_moves ( id integer NOT NULL PRIMARY KEY AUTOINCREMENT, object_type varchar(16) NOT NULL, object_id integer NOT NULL, from_unit_id integer NOT NULL, to_unit_id integer NOT NULL, from_path varchar(400) NOT NULL, effective_on date_text NOT NULL, created_at timestamp_with_timezone_text NOT NULL, FOREIGN KEY (from_unit_id) REFERENCES admin_units (id) ON DELETE RESTRICT, FOREIGN KEY (to_unit_id) REFERENCES admin_units (id) ON DELETE RESTRICT )";

const POSTGRES_MOVES: &str = "CREATE TABLE unit_moves ( id bigserial PRIMARY KEY, object_type varchar(16) NOT NULL, object_id bigint NOT NULL, from_unit_id bigint NOT NULL REFERENCES admin_units (id) ON DELETE RESTRICT, to_unit_id bigint NOT NULL REFERENCES admin_units (id) ON DELETE RESTRICT, from_path varchar(400) COLLATE \"C\" NOT NULL, effective_on date NOT NULL, created_at timestamp with time zone NOT NULL )";

const COMMON_UP: [&str; 3] = [
    "CREATE UNIQUE INDEX ux_admin_units_current_code ON admin_units (code) WHERE valid_to IS NULL",
    "CREATE INDEX ix_admin_units_code ON admin_units (code)",
    "CREATE INDEX ix_unit_moves_object ON unit_moves (object_type, object_id, effective_on)",
];

async fn exec(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

/// Fails when the rebuild left a row pointing at nothing (it cannot, but foreign keys were off).
async fn check_foreign_keys(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let broken = manager
        .get_connection()
        .query_all_raw(sea_orm_migration::sea_orm::Statement::from_string(
            DatabaseBackend::Sqlite,
            "PRAGMA foreign_key_check",
        ))
        .await?;
    if broken.is_empty() {
        Ok(())
    } else {
        Err(DbErr::Migration(format!(
            "rebuilding admin_units left {} rows with broken references",
            broken.len()
        )))
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            exec(
                manager,
                "ALTER TABLE admin_units DROP CONSTRAINT admin_units_code_key",
            )
            .await?;
            exec(manager, POSTGRES_MOVES).await?;
        } else {
            exec(manager, &sqlite_rebuild(false)).await?;
            check_foreign_keys(manager).await?;
            exec(manager, SQLITE_MOVES).await?;
        }
        for sql in COMMON_UP {
            exec(manager, sql).await?;
        }
        Ok(())
    }

    /// Refused by the database when two units now share a code (after a reform): the old
    /// schema cannot hold that history.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        exec(manager, "DROP TABLE unit_moves").await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            exec(manager, "DROP INDEX ux_admin_units_current_code").await?;
            exec(manager, "DROP INDEX ix_admin_units_code").await?;
            exec(
                manager,
                "ALTER TABLE admin_units ADD CONSTRAINT admin_units_code_key UNIQUE (code)",
            )
            .await?;
        } else {
            // The rebuild drops the table's indexes, the new ones included.
            exec(manager, &sqlite_rebuild(true)).await?;
            check_foreign_keys(manager).await?;
        }
        Ok(())
    }
}
