//! Connecting to the database: SQLite (embedded default) or PostgreSQL, chosen by the URL.
//!
//! SQLite gets WAL (readers never block the writer), enforced foreign keys and a busy timeout;
//! write transactions on SQLite begin `IMMEDIATE` (see [`write_txn`]) so two writers never
//! deadlock on a read-to-write lock upgrade. Every statement is counted, which the tests use to
//! prove batching and `/metrics` exposes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, Database, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

/// Counts SQL statements sent through the pool.
#[derive(Debug, Default, Clone)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Pool settings that matter in production.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a connection before failing fast (503 when the DB is down).
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels a statement running longer than this (the request deadline); zero
    /// means no limit.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// The pool size when none is configured. SQLite runs one writer at a time and its readers on
/// this process's cores, so a few connections serve as much as many; each one costs a page
/// cache and a worker thread (with its own allocator arena), which took a 16-connection SQLite
/// server past 150 MB under load. PostgreSQL connections are cheap for us and wait on I/O.
pub fn default_pool_size(database_url: &str) -> u32 {
    if database_url.starts_with("sqlite:") {
        4
    } else {
        16
    }
}

/// Opens the pool and installs the statement counter.
pub async fn connect(
    url: &str,
    settings: &PoolSettings,
) -> Result<(DatabaseConnection, StatementCounter), DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts({
            // 0 is PostgreSQL's "no timeout".
            let timeout = format!("{}ms", settings.statement_timeout.as_millis());
            // PostgreSQL's default random_page_cost (4) models spinning disks: it made the planner
            // scan all 13,000 members rather than probe the primary key 223 times for a page of
            // groups' members (12 ms instead of 2 ms). Our working set is cached or on SSD, where
            // the PostgreSQL documentation suggests a value near 1.
            move |o| {
                o.options([
                    ("statement_timeout", timeout.as_str()),
                    ("random_page_cost", "1.1"),
                ])
            }
        })
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    let mut db = Database::connect(opts).await?;
    let counter = StatementCounter::default();
    let inner = counter.0.clone();
    db.set_metric_callback(move |info| {
        inner.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(target: "cdtg::sql", elapsed_us = info.elapsed.as_micros() as u64, sql = %info.statement.sql);
    });
    Ok((db, counter))
}

/// Applies pending migrations.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    cdtg_migrations::Migrator::up(db, None).await
}

/// Begins a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`),
/// so concurrent writers queue on the busy timeout instead of failing with a lock-upgrade
/// deadlock halfway through.
pub async fn write_txn(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let mut options = TransactionOptions::default();
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
    }
    db.begin_with_options(options).await
}
