//! Read-only work on a PostgreSQL streaming replica (`CDTG_DATABASE_READ_URL`).
//!
//! Queries, statistics and exports may read from the replica; mutations, and everything a
//! mutation reads, use the primary. Three rules keep that invisible to users:
//!
//! - **Read your writes.** After a mutation, the caller's (user's or API key's) reads go to the
//!   primary until the replica has replayed past the primary's WAL position at the end of that
//!   mutation. The position is also sent to every other instance (`NOTIFY cdtg_writes`), so the
//!   rule holds whichever instance the load balancer picks next.
//! - **A lagging or stopped replica is skipped.** A monitor asks both servers for their WAL
//!   positions every [`POLL`]; the lag is how long ago the primary was at a position the replica
//!   has not replayed yet. Above `--read-max-lag-ms`, or when the replica does not answer, reads
//!   go to the primary until it has caught up again. `/readyz` and `/metrics` show which.
//! - **Only a replica of our primary.** At start the URL must answer, be in recovery, and
//!   belong to the primary's cluster; otherwise the server refuses to start.
//!
//! The principal is still read from the primary (see `auth`), so a disabled account is refused
//! at once whatever the replica's lag.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::sqlx::{self, PgPool};
use sea_orm::{DatabaseBackend, DatabaseConnection};

use crate::db::{self, PoolSettings};
use crate::ratelimit::Subject;

/// How often the monitor looks at both servers.
pub const POLL: Duration = Duration::from_millis(250);

/// The channel on which instances tell each other who wrote, and up to which WAL position.
const WRITES_CHANNEL: &str = "cdtg_writes";

/// A writer's position is forgotten after this long even if the replica never reached it (it
/// was down): by then the replica is caught up or skipped anyway.
const FORGET_WRITES_AFTER: Duration = Duration::from_secs(600);

/// Why a read URL is refused at start.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("CDTG_DATABASE_READ_URL needs a PostgreSQL primary in DATABASE_URL")]
    NotPostgres,
    #[error("the read replica does not answer: {0}")]
    Unreachable(String),
    #[error(
        "CDTG_DATABASE_READ_URL is not a replica (pg_is_in_recovery() is false): reads there would \
         miss every write; point it at a streaming standby of the primary"
    )]
    NotAReplica,
    #[error(
        "CDTG_DATABASE_READ_URL is a replica of another cluster (system identifier {replica}, \
         the primary's is {primary})"
    )]
    OtherCluster { primary: i64, replica: i64 },
}

/// What the monitor last saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Answering and within the lag bound: reads go there.
    InUse,
    /// Answering, but further behind than the bound.
    Lagging,
    /// Not answering (or no longer in recovery).
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::InUse => "in use",
            Health::Lagging => "lagging",
            Health::Down => "down",
        }
    }
}

pub struct Replica {
    db: DatabaseConnection,
    primary: PgPool,
    max_lag: Duration,
    /// `Health` as a number (see [`Replica::health`]).
    health: std::sync::atomic::AtomicU8,
    replayed: AtomicU64,
    lag_micros: AtomicU64,
    /// Writers whose last write the replica may not have replayed yet: subject → position.
    writes: Mutex<HashMap<String, (u64, Instant)>>,
    /// Positions the primary was seen at, oldest first, until the replica replays them.
    samples: Mutex<VecDeque<(Instant, u64)>>,
    started: AtomicBool,
}

/// Reads a WAL position (`16/B374D848`).
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

fn subject_key(s: Subject) -> String {
    match s {
        Subject::User(id) => format!("u:{id}"),
        Subject::ApiKey(id) => format!("k:{id}"),
    }
}

impl Replica {
    /// Connects to the read URL and checks it is a streaming replica of `primary`.
    pub async fn connect(
        url: &str,
        primary: &DatabaseConnection,
        settings: &PoolSettings,
        max_lag: Duration,
    ) -> Result<Replica, ReplicaError> {
        if primary.get_database_backend() != DatabaseBackend::Postgres
            || !url.starts_with("postgres")
        {
            return Err(ReplicaError::NotPostgres);
        }
        let (conn, _) = db::connect(url, settings)
            .await
            .map_err(|e| ReplicaError::Unreachable(e.to_string()))?;
        let pool = conn.get_postgres_connection_pool();
        let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(pool)
            .await
            .map_err(|e| ReplicaError::Unreachable(e.to_string()))?;
        if !in_recovery {
            return Err(ReplicaError::NotAReplica);
        }
        let primary_pool = primary.get_postgres_connection_pool().clone();
        // Reading the control file needs pg_monitor (or superuser); without it the check is
        // skipped with a warning rather than refusing a correct set-up.
        let id = "SELECT system_identifier FROM pg_control_system()";
        let ids = (
            sqlx::query_scalar::<_, i64>(id)
                .fetch_one(&primary_pool)
                .await,
            sqlx::query_scalar::<_, i64>(id).fetch_one(pool).await,
        );
        match ids {
            (Ok(primary), Ok(replica)) if primary != replica => {
                return Err(ReplicaError::OtherCluster { primary, replica });
            }
            (Ok(_), Ok(_)) => {}
            _ => tracing::warn!(
                "could not compare the replica's cluster with the primary's (grant pg_monitor \
                 to check it)"
            ),
        }
        Ok(Replica {
            db: conn,
            primary: primary_pool,
            max_lag,
            // Down until the monitor has looked.
            health: std::sync::atomic::AtomicU8::new(2),
            replayed: AtomicU64::new(0),
            lag_micros: AtomicU64::new(0),
            writes: Mutex::new(HashMap::new()),
            samples: Mutex::new(VecDeque::new()),
            started: AtomicBool::new(false),
        })
    }

    /// Starts the monitor and the listener for other instances' writes.
    pub fn start(self: &std::sync::Arc<Self>) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                this.observe().await;
            }
        });
        let this = self.clone();
        tokio::spawn(async move { this.listen_for_writes().await });
    }

    pub fn health(&self) -> Health {
        match self.health.load(Ordering::Relaxed) {
            0 => Health::InUse,
            1 => Health::Lagging,
            _ => Health::Down,
        }
    }

    fn set_health(&self, h: Health) {
        let n = match h {
            Health::InUse => 0,
            Health::Lagging => 1,
            Health::Down => 2,
        };
        let before = self.health.swap(n, Ordering::Relaxed);
        if before != n {
            match h {
                Health::InUse => tracing::info!("read replica in use"),
                Health::Lagging => tracing::warn!(
                    lag_ms = self.lag().as_millis() as u64,
                    "read replica lags; reading from the primary"
                ),
                Health::Down => {
                    tracing::warn!("read replica does not answer; reading from the primary")
                }
            }
        }
    }

    /// A query failed on the replica: take it out of use now rather than at the next look,
    /// which puts it back if it answers.
    pub fn mark_down(&self) {
        self.set_health(Health::Down);
    }

    /// How far behind the replica was at the last look.
    pub fn lag(&self) -> Duration {
        Duration::from_micros(self.lag_micros.load(Ordering::Relaxed))
    }

    /// The connection a read-only operation of `subject` should use, if the replica may serve
    /// it now.
    pub fn for_read(&self, subject: Option<Subject>) -> Option<&DatabaseConnection> {
        if self.health() != Health::InUse {
            return None;
        }
        if let Some(s) = subject {
            let writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((lsn, _)) = writes.get(&subject_key(s))
                && *lsn > self.replayed.load(Ordering::Relaxed)
            {
                return None;
            }
        }
        Some(&self.db)
    }

    /// After a mutation by `subject`: its reads stay on the primary until the replica replays
    /// what the primary has written so far, here and on every other instance.
    pub async fn wrote(&self, subject: Subject) {
        let key = subject_key(subject);
        let lsn: Result<String, _> = sqlx::query_scalar(
            "WITH w AS (SELECT pg_current_wal_lsn()::text AS l), \
             n AS (SELECT pg_notify($1, $2 || ' ' || l) FROM w) SELECT l FROM w, n",
        )
        .bind(WRITES_CHANNEL)
        .bind(&key)
        .fetch_one(&self.primary)
        .await;
        match lsn.ok().as_deref().and_then(parse_lsn) {
            Some(lsn) => self.remember(key, lsn),
            // The position is unknown: the writer's reads stay on the primary for a while.
            None => self.remember(key, u64::MAX),
        }
    }

    fn remember(&self, key: String, lsn: u64) {
        let mut writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        let entry = writes.entry(key).or_insert((0, Instant::now()));
        if lsn > entry.0 || lsn == u64::MAX {
            *entry = (lsn, Instant::now());
        }
    }

    async fn observe(&self) {
        let timeout = Duration::from_secs(1);
        let primary = tokio::time::timeout(
            timeout,
            sqlx::query_scalar::<_, String>("SELECT pg_current_wal_lsn()::text")
                .fetch_one(&self.primary),
        )
        .await;
        let now = Instant::now();
        if let Ok(Ok(text)) = primary
            && let Some(lsn) = parse_lsn(&text)
        {
            let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
            if samples.back().is_none_or(|(_, last)| *last < lsn) {
                samples.push_back((now, lsn));
            }
            // Bounded: one sample per poll while the replica is away.
            while samples.len() > 4096 {
                samples.pop_front();
            }
        }
        let replica = tokio::time::timeout(
            timeout,
            sqlx::query_as::<_, (bool, Option<String>)>(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text",
            )
            .fetch_one(self.db.get_postgres_connection_pool()),
        )
        .await;
        let replayed = match replica {
            Ok(Ok((true, Some(text)))) => parse_lsn(&text),
            _ => None,
        };
        let Some(replayed) = replayed else {
            self.set_health(Health::Down);
            return;
        };
        self.replayed.store(replayed, Ordering::Relaxed);
        let lag = {
            let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
            while samples.front().is_some_and(|(_, lsn)| *lsn <= replayed) {
                samples.pop_front();
            }
            samples
                .front()
                .map_or(Duration::ZERO, |(at, _)| now.duration_since(*at))
        };
        self.lag_micros
            .store(lag.as_micros() as u64, Ordering::Relaxed);
        {
            let mut writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
            writes.retain(|_, (lsn, at)| {
                *lsn > replayed && now.duration_since(*at) < FORGET_WRITES_AFTER
            });
        }
        self.set_health(if lag > self.max_lag {
            Health::Lagging
        } else {
            Health::InUse
        });
    }

    async fn listen_for_writes(&self) {
        use sqlx::postgres::PgListener;
        loop {
            let mut listener = match PgListener::connect_with(&self.primary).await {
                Ok(l) => l,
                Err(_) => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if listener.listen(WRITES_CHANNEL).await.is_err() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            while let Ok(Some(n)) = listener.try_recv().await {
                if let Some((key, lsn)) = n.payload().split_once(' ')
                    && let Some(lsn) = parse_lsn(lsn)
                {
                    self.remember(key.to_owned(), lsn);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_positions_read_as_numbers_in_order() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert!(parse_lsn("1/0") > parse_lsn("0/FFFFFFFF"));
        assert_eq!(parse_lsn("nonsense"), None);
        assert_eq!(parse_lsn("G/0"), None);
    }
}
