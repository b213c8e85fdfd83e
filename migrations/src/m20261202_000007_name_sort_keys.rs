//! Sort keys beside the names that lists are ordered by, so that names sort as a Vietnamese
//! reader expects ("An Hải Bắc" < "An Hải Đông" < "An Hải Tây", "Tổ dân phố 2" < "Tổ dân phố 10")
//! and identically on both databases.
//!
//! - `admin_units.name_key`, `groups.name_key` and `products.name_key` hold
//!   [`cdtg_core::text::sort_key`] of the name; `members.name_key` holds
//!   [`cdtg_core::text::person_sort_key`] (given name, then family name, then middle name).
//! - The keys are ASCII whose byte order is the Vietnamese order, so the columns are
//!   `COLLATE "C"` on PostgreSQL (SQLite compares text as bytes already): neither the server's
//!   locale nor the database's default collation can change an order.
//! - The keys are computed in Rust, so existing rows are back-filled here, reading ids and names
//!   in id order and writing the keys in batches of [`BATCH`] rows with one `UPDATE … CASE`
//!   statement per batch. The update touches only the new column, so no rollup trigger fires
//!   (they are all `AFTER UPDATE OF` other columns). The key function is part of this
//!   migration's meaning: if it ever changes, a new migration must rebuild the keys.
//! - The columns are added with the default `''` (SQLite cannot add a `NOT NULL` column without
//!   one). PostgreSQL drops the default after the back-fill, so a write path that forgets the
//!   key fails there instead of sorting the row first; SQLite cannot drop a default without
//!   rebuilding the table and keeps it.
//! - Indexes follow the orders that use the keys: units by depth then key (the `adminUnits`
//!   list) and by parent then key (`children`); groups, members and products by key.

use cdtg_core::text::{person_sort_key, sort_key};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows read and updated per statement: 500 rows are 1,500 bound values, far below both
/// databases' limits, and few statements even for a city's members.
const BATCH: u64 = 500;

/// An index: its name and columns.
type IndexDef = (&'static str, &'static [&'static str]);

/// The tables that get a key, with the indexes on it.
const TABLES: [(&str, &[IndexDef]); 4] = [
    (
        "admin_units",
        &[
            ("ix_admin_units_depth_name_key", &["depth", "name_key"]),
            ("ix_admin_units_parent_name_key", &["parent_id", "name_key"]),
        ],
    ),
    ("groups", &[("ix_groups_name_key", &["name_key"])]),
    ("members", &[("ix_members_name_key", &["name_key"])]),
    ("products", &[("ix_products_name_key", &["name_key"])]),
];

async fn exec(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    manager.get_connection().execute_unprepared(sql).await?;
    Ok(())
}

/// The key of one row from the columns [`name_columns`] reads.
fn row_key(table: &str, row: &sea_orm_migration::sea_orm::QueryResult) -> Result<String, DbErr> {
    if table == "members" {
        let family: String = row.try_get_by_index(1)?;
        let middle: Option<String> = row.try_get_by_index(2)?;
        let given: String = row.try_get_by_index(3)?;
        Ok(person_sort_key(&family, middle.as_deref(), &given))
    } else {
        let name: String = row.try_get_by_index(1)?;
        Ok(sort_key(&name))
    }
}

/// The columns a table's key is computed from (after `id`).
fn name_columns(table: &str) -> &'static [&'static str] {
    if table == "members" {
        &["family_name", "middle_name", "given_name"]
    } else {
        &["name"]
    }
}

/// Computes and stores the key of every row of `table`.
async fn backfill(manager: &SchemaManager<'_>, table: &'static str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let mut last_id = 0i64;
    loop {
        let mut select = Query::select();
        select
            .column(Alias::new("id"))
            .columns(name_columns(table).iter().map(|c| Alias::new(*c)))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("id")).gt(last_id))
            .order_by(Alias::new("id"), Order::Asc)
            .limit(BATCH);
        let rows = db.query_all_raw(backend.build(&select)).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut case = CaseStatement::new();
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get_by_index(0)?;
            case = case.case(Expr::col(Alias::new("id")).eq(id), row_key(table, row)?);
            ids.push(id);
        }
        last_id = *ids.last().expect("a non-empty batch");
        let update = Query::update()
            .table(Alias::new(table))
            .value(Alias::new("name_key"), case.finally(""))
            .and_where(Expr::col(Alias::new("id")).is_in(ids))
            .to_owned();
        db.execute_raw(backend.build(&update)).await?;
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction: a database never holds some keys and not others.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        for (table, indexes) in TABLES {
            let collate = if postgres { " COLLATE \"C\"" } else { "" };
            exec(
                manager,
                &format!(
                    "ALTER TABLE {table} ADD COLUMN name_key text{collate} NOT NULL DEFAULT ''"
                ),
            )
            .await?;
            backfill(manager, table).await?;
            if postgres {
                exec(
                    manager,
                    &format!("ALTER TABLE {table} ALTER COLUMN name_key DROP DEFAULT"),
                )
                .await?;
            }
            for (name, columns) in indexes {
                exec(
                    manager,
                    &format!("CREATE INDEX {name} ON {table} ({})", columns.join(", ")),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, indexes) in TABLES {
            for (name, _) in indexes {
                exec(manager, &format!("DROP INDEX {name}")).await?;
            }
            exec(
                manager,
                &format!("ALTER TABLE {table} DROP COLUMN name_key"),
            )
            .await?;
        }
        Ok(())
    }
}
