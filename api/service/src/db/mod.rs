//! Connecting to the database: SQLite (embedded default) or PostgreSQL, chosen by the URL.
//!
//! SQLite gets WAL (readers never block the writer), enforced foreign keys and a busy timeout;
//! write transactions on SQLite begin `IMMEDIATE` (see [`write_txn`]) so two writers never
//! deadlock on a read-to-write lock upgrade, and a process's writers queue for the file in
//! order of arrival before they ask SQLite for its lock. Every statement is counted, which the
//! tests use to prove batching and `/metrics` exposes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, ExecResult, QueryResult, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::OwnedMutexGuard;

pub mod nodelay;

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

impl PoolSettings {
    /// For migrations, seeding and other maintenance: no statement timeout (a long back-fill is
    /// not a slow request), and on SQLite a single connection, so that every statement of a
    /// migration runs on the same one; on PostgreSQL two, since migrations hold the advisory
    /// lock on one while running on the other.
    pub fn maintenance(database_url: &str) -> Self {
        Self::maintenance_with_timeout(database_url, Duration::ZERO)
    }

    /// [`PoolSettings::maintenance`] with a limit on each statement (`ZERO`: none), for an
    /// operator who wants one (`cdtg --statement-timeout`).
    pub fn maintenance_with_timeout(database_url: &str, statement_timeout: Duration) -> Self {
        PoolSettings {
            max_connections: if database_url.starts_with("postgres") {
                2
            } else {
                1
            },
            statement_timeout,
            ..PoolSettings::default()
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

/// How long a pooled connection may sit unused before it is pinged again on its way out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Opens the pool and installs the statement counter.
pub async fn connect(
    url: &str,
    settings: &PoolSettings,
) -> Result<(DatabaseConnection, StatementCounter), DbErr> {
    if url.starts_with("sqlite:") {
        sqlite_without_memory_statistics();
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(settings.max_connections)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        .sqlx_logging(false)
        // sqlx pings a connection when it comes back to the pool (hard-wired) and, by default,
        // again when it is handed out: three round trips per statement outside a transaction.
        // The second ping is kept only for a connection that sat unused for a while, the one
        // that may have been dropped since its release was checked. One that broke within the
        // second fails its statement as `Unavailable` (503, retryable) and is discarded.
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
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
        .map_sqlx_postgres_pool_opts({
            // sqlx 0.9.0 leaves Nagle's algorithm on (see `nodelay`): each new connection
            // switches it off on its socket.
            let port = postgres_port(url);
            move |o| {
                o.after_connect(move |_, _| {
                    Box::pin(async move {
                        nodelay::set_on_connections_to(port);
                        Ok(())
                    })
                })
            }
        })
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(WRITERS_TURN_PATIENCE)
        });
    let mut db = connect_when_free(opts).await?;
    let counter = StatementCounter::default();
    let inner = counter.0.clone();
    db.set_metric_callback(move |info| {
        inner.fetch_add(1, Ordering::Relaxed);
        tracing::trace!(target: "cdtg::sql", elapsed_us = info.elapsed.as_micros() as u64, sql = %info.statement.sql);
    });
    Ok((db, counter))
}

/// The TCP port a PostgreSQL URL connects to (the URL's, else `PGPORT`, else 5432).
fn postgres_port(url: &str) -> u16 {
    use std::str::FromStr;
    // Only a PostgreSQL URL is parsed: sqlx warns about a SQLite URL's parameters (`mode=rwc`).
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return 5432;
    }
    sea_orm::sqlx::postgres::PgConnectOptions::from_str(url)
        .map(|o| o.get_port())
        .unwrap_or(5432)
}

/// Connects, waiting out another instance's long write on the same SQLite file: opening a
/// connection sets the journal mode, which SQLite can refuse with "database is locked" while
/// another connection migrates the file, busy timeout or not (seen under load with several
/// instances starting together). They then come up one after the other instead of failing.
async fn connect_when_free(opts: ConnectOptions) -> Result<DatabaseConnection, DbErr> {
    const ATTEMPTS: u32 = 60;
    let mut attempt = 0;
    loop {
        match Database::connect(opts.clone()).await {
            Err(e) if attempt < ATTEMPTS && e.to_string().contains("database is locked") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

/// Applies pending migrations.
///
/// Several instances starting at once take turns: on PostgreSQL a session-level advisory lock,
/// held on a connection of its own while the migrations run on another, serialises them (the
/// first migrates, the others then find nothing pending). The pool needs two connections.
///
/// A database that records migrations this binary does not know was migrated by a newer
/// version: it is refused, since serving it with older code could corrupt what the newer code
/// relies on.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let mut sqlite_guard = None;
    let lock = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let mut conn = db
                .get_postgres_connection_pool()
                .acquire()
                .await
                .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
            sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK)
                .execute(&mut *conn)
                .await
                .map_err(|e| DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e.into())))?;
            Some(conn)
        }
        // SQLite has no advisory locks; one process serves one SQLite file, and within it the
        // instances (tests start several) take turns here.
        _ => {
            sqlite_guard = Some(SQLITE_MIGRATIONS.lock().await);
            None
        }
    };
    let result = async {
        refuse_newer_schema(db).await?;
        cdtg_migrations::Migrator::up(db, None).await
    }
    .await;
    if let Some(mut conn) = lock {
        // Unlocking can only fail with the connection, which releases the lock anyway.
        let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await;
    }
    drop(sqlite_guard);
    result
}

/// Serialises start-up migrations of SQLite databases within this process.
static SQLITE_MIGRATIONS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The advisory lock key of start-up migrations ("CDTGMIGR" in ASCII).
const MIGRATION_LOCK: i64 = 0x4344_5447_4d49_4752;

/// Fails when the database has applied migrations this binary does not contain.
pub async fn refuse_newer_schema(db: &DatabaseConnection) -> Result<(), DbErr> {
    let known: std::collections::HashSet<String> = cdtg_migrations::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let manager = sea_orm_migration::SchemaManager::new(db);
    if !manager.has_table("seaql_migrations").await? {
        // A new database: nothing applied yet.
        return Ok(());
    }
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        ))
        .await?;
    let mut unknown = Vec::new();
    for row in rows {
        let version: String = row.try_get_by_index(0)?;
        if !known.contains(&version) {
            unknown.push(version);
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(DbErr::Custom(format!(
            "the database was migrated by a newer version of cdtg (it has {}, which this binary \
             does not know): run that version or newer",
            unknown.join(", ")
        )))
    }
}

/// A write transaction (see [`write_txn`]): the transaction itself, through `Deref`, and on
/// SQLite this process's turn to write to the file, held until the transaction ends.
pub struct WriteTxn {
    // Declared first, so it is dropped first: a transaction dropped without commit or rollback
    // has its rollback under way before the turn passes on (the next writer, should it still
    // find SQLite's lock taken, waits in the busy handler for the moment that takes).
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// Statements run in the transaction: a `&WriteTxn` goes wherever a connection does.
#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

/// Begins a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`),
/// so concurrent writers never deadlock on a lock upgrade halfway through.
///
/// On SQLite the writers of this process also queue for the file first, in order of arrival
/// ([`sqlite_writers_turn`]). Waiting for SQLite's lock itself is unfair: a writer that finds
/// it taken sleeps in SQLite's busy handler, 1 ms at first and then up to 100 ms at a time, while
/// one that arrives just as the lock is released takes it at once. Under steady writes the
/// sleepers kept losing: eight clients filing reports saw a p99 of 0.4–0.9 s for a transaction
/// of half a millisecond (`bench/README.md`). Other processes on the same file (the CLI) still
/// meet at SQLite's lock and its busy timeout.
pub async fn write_txn(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    let mut options = TransactionOptions::default();
    let mut turn = None;
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        turn = sqlite_writers_turn(db).await;
    }
    let txn = db.begin_with_options(options).await?;
    Ok(WriteTxn { txn, _turn: turn })
}

/// Waits for this process's turn to write to `db`'s SQLite file (first come, first served).
///
/// The queue is keyed by the file's name as the pool was given it (sqlx names each in-memory
/// database uniquely, so those get a queue each); a queue stays for the life of the process,
/// which opens few files. `None` after [`WRITERS_TURN_PATIENCE`]: the writer then goes on to
/// SQLite's lock and busy timeout, as it would without the queue, so a writer that somehow
/// waits on itself fails as before rather than hangs.
async fn sqlite_writers_turn(db: &DatabaseConnection) -> Option<OwnedMutexGuard<()>> {
    static QUEUES: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    let queue = {
        let mut queues = QUEUES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        queues.entry(file.to_path_buf()).or_default().clone()
    };
    tokio::time::timeout(WRITERS_TURN_PATIENCE, queue.lock_owned())
        .await
        .ok()
}

/// How long a SQLite writer queues in this process before trying SQLite's lock regardless: the
/// busy timeout the connections are opened with.
const WRITERS_TURN_PATIENCE: Duration = Duration::from_secs(10);

/// Turns SQLite's memory statistics off, process-wide, before its first connection.
///
/// With them on (the bundled library's default) every `sqlite3_malloc` and `sqlite3_free` takes
/// one global mutex to keep the counters, so the pool's connections, each on its own worker
/// thread, queue on it: under eight concurrent nested reads the server spent much of its time
/// in futex waits and task switches. Off, the same load ran 1.5–1.7× faster (`bench/README.md`).
/// Nothing here reads the counters (`sqlite3_memory_used`, soft heap limits).
fn sqlite_without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int. Once SQLite is initialised it refuses
        // the call (SQLITE_MISUSE) and changes nothing.
        let status = unsafe {
            libsqlite3_sys::sqlite3_config(
                libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            )
        };
        if status != libsqlite3_sys::SQLITE_OK {
            tracing::warn!(
                status,
                "SQLite was initialised before the pool: its memory statistics stay on"
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    /// Every SQLite connection of this test binary is opened through [`super::connect`], so the
    /// statistics are off before SQLite initialises: the counter of memory in use stays at zero
    /// however much SQLite allocates.
    #[tokio::test]
    async fn sqlite_keeps_no_memory_statistics() {
        let url = "sqlite::memory:";
        let (db, _) = super::connect(url, &super::PoolSettings::maintenance(url))
            .await
            .expect("connects");
        db.execute_unprepared(
            "CREATE TABLE t (v TEXT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) \
             INSERT INTO t SELECT printf('%0200d', i) FROM n",
        )
        .await
        .expect("fills a table");
        // SAFETY: reads a counter.
        let in_use = unsafe { libsqlite3_sys::sqlite3_memory_used() };
        assert_eq!(in_use, 0, "SQLite counted {in_use} bytes in use");
    }

    /// A process's SQLite writers take the write lock in the order they asked for it, even
    /// against a writer that arrives just as the lock is released. In SQLite's busy handler the
    /// writers that had waited longest slept longest, and the newcomer went first.
    #[tokio::test]
    async fn sqlite_writers_take_turns_in_order_of_arrival() {
        use std::time::Duration;

        let file = std::env::temp_dir().join(format!("cdtg-turns-{}.db", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let settings = super::PoolSettings {
            max_connections: 4,
            ..Default::default()
        };
        let (db, _) = super::connect(&url, &settings).await.expect("connects");
        db.execute_unprepared("CREATE TABLE turns (writer TEXT NOT NULL)")
            .await
            .expect("creates the table");
        let write = |name: &'static str| {
            let db = db.clone();
            tokio::spawn(async move {
                let txn = super::write_txn(&db).await.expect("begins");
                txn.execute_unprepared(&format!("INSERT INTO turns VALUES ('{name}')"))
                    .await
                    .expect("inserts");
                txn.commit().await.expect("commits");
            })
        };

        let first = super::write_txn(&db).await.expect("begins");
        first
            .execute_unprepared("INSERT INTO turns VALUES ('first')")
            .await
            .expect("inserts");
        let mut writers = Vec::new();
        for name in ["second", "third", "fourth"] {
            writers.push(write(name));
            // Long enough for this writer to be waiting before the next one asks.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        first.commit().await.expect("commits");
        writers.push(write("newcomer"));
        for writer in writers {
            writer.await.expect("writer finished");
        }

        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                "SELECT writer FROM turns ORDER BY rowid",
            ))
            .await
            .expect("reads the turns");
        let order: Vec<String> = rows
            .iter()
            .map(|r| r.try_get_by_index(0).expect("a name"))
            .collect();
        db.close().await.expect("closes");
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        assert_eq!(order, ["first", "second", "third", "fourth", "newcomer"]);
    }
}
