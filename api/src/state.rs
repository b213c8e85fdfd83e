//! Application state shared by every request: the pools, keys and settings. Nothing here is
//! per-user; the server is stateless apart from the database (and, per instance, its open
//! sockets, its APQ cache, and — on SQLite only — its rate limits and login throttle).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::DatabaseConnection;

use crate::auth::jwt::JwtKeys;
use crate::auth::throttle::LoginThrottle;
use crate::db::StatementCounter;
use crate::events::EventBus;

/// Tunables that shape API behaviour (limits that are not transport limits).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The most residents one field session may report (absurd numbers are refused).
    pub max_residents_per_session: i64,
    /// Demo mode: friendlier errors (field suggestions) and generated secrets.
    pub demo: bool,
    /// What a spreadsheet import may hold.
    pub sheets: crate::sheets::read::SheetLimits,
    /// How long a signed export link stays valid, in seconds.
    pub export_link_ttl_secs: i64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            max_residents_per_session: cdtg_core::activity::DEFAULT_MAX_RESIDENTS_PER_SESSION,
            demo: false,
            sheets: crate::sheets::read::SheetLimits::default(),
            export_link_ttl_secs: 300,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub statements: StatementCounter,
    pub keys: Arc<JwtKeys>,
    /// Principals read in the last second, per credential (see `auth::cache` for the bound).
    pub principals: Arc<crate::auth::cache::PrincipalCache>,
    pub throttle: Arc<LoginThrottle>,
    pub settings: Arc<ApiSettings>,
    pub events: EventBus,
    pub transport: Arc<crate::limits::TransportLimits>,
    pub limits: Arc<crate::limits::PipelineLimits>,
    pub socket_limits: Arc<crate::limits::SocketLimits>,
    pub sockets: Arc<crate::sockets::Sockets>,
    pub proxies: Arc<crate::client_addr::TrustedProxies>,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Arc<str>>,
    pub persisted: Arc<crate::persisted::PersistedQueries>,
    /// Documents parsed before, by their text (see `pipeline::documents`).
    pub documents: Arc<crate::pipeline::documents::ParsedDocuments>,
    pub rate_limiter: Arc<crate::ratelimit::RateLimiter>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The streaming replica read-only operations may use, if one is configured.
    pub replica: Option<Arc<crate::replica::Replica>>,
    /// What the instance does on the primary off the request path.
    pub background: Arc<BackgroundWork>,
}

/// Database work the instance does on its own, off the request path: the minute's sweep and
/// the open sockets' account checks. Each run is counted as it starts and as it ends, so that a
/// count of statements taken around one request (`statements` is the whole pool's) can tell
/// whether background work ran meanwhile.
#[derive(Debug, Default)]
pub struct BackgroundWork {
    started: AtomicU64,
    finished: AtomicU64,
}

impl BackgroundWork {
    /// Counts a run that lasts as long as the guard.
    pub fn run(&self) -> BackgroundRun<'_> {
        self.started.fetch_add(1, Ordering::SeqCst);
        BackgroundRun(self)
    }

    /// Runs started and runs finished so far.
    pub fn runs(&self) -> (u64, u64) {
        // Finished first: a run that ends between the two loads still reads as in progress.
        let finished = self.finished.load(Ordering::SeqCst);
        (self.started.load(Ordering::SeqCst), finished)
    }
}

/// One run of [`BackgroundWork`], counted as finished when dropped.
pub struct BackgroundRun<'a>(&'a BackgroundWork);

impl Drop for BackgroundRun<'_> {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl AppState {
    /// The connection a read-only operation of `subject` uses: the replica when it may serve
    /// it (see `replica`), else the primary. Counted in `/metrics`.
    pub fn read_db(&self, subject: Option<crate::ratelimit::Subject>) -> &DatabaseConnection {
        self.read_route(subject).0
    }

    /// [`Self::read_db`], and whether it is the replica.
    pub fn read_route(
        &self,
        subject: Option<crate::ratelimit::Subject>,
    ) -> (&DatabaseConnection, bool) {
        let replica = self.replica.as_ref().and_then(|r| r.for_read(subject));
        self.metrics.read_routed(replica.is_some());
        match replica {
            Some(db) => (db, true),
            None => (&self.db, false),
        }
    }
}
