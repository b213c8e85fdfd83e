//! Migrations written as SQL snapshots: once a migration is on main its text never changes, so
//! every database that ran it holds the same schema. The statements of a snapshot are separated
//! by `-- statement` lines (trigger bodies contain semicolons), one file per backend and
//! direction, embedded at build time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// One migration's SQL for both backends.
pub struct Snapshot {
    pub postgres: &'static str,
    pub sqlite: &'static str,
}

impl Snapshot {
    pub fn for_backend(&self, backend: DatabaseBackend) -> &'static str {
        match backend {
            DatabaseBackend::Postgres => self.postgres,
            _ => self.sqlite,
        }
    }
}

/// The statements of a snapshot, in order.
pub fn statements(text: &str) -> impl Iterator<Item = &str> {
    text.split("-- statement\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Runs a snapshot's statements (inside the migration's transaction where the backend has one).
pub async fn run(manager: &SchemaManager<'_>, snapshot: &Snapshot) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in statements(snapshot.for_backend(manager.get_database_backend())) {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

/// Embeds `sql/<migration>/{postgres,sqlite}.<direction>.sql`.
#[macro_export]
macro_rules! snapshot {
    ($dir:literal, $direction:literal) => {
        $crate::sql::Snapshot {
            postgres: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/sql/",
                $dir,
                "/postgres.",
                $direction,
                ".sql"
            )),
            sqlite: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/sql/",
                $dir,
                "/sqlite.",
                $direction,
                ".sql"
            )),
        }
    };
}
