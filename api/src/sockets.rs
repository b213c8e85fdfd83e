//! The open WebSocket connections of this instance, and who they act for.
//!
//! Every operation on a socket is authenticated afresh by the pipeline, but a subscription that
//! is already running has nobody asking. So the registry watches the accounts behind open
//! sockets: twice a second, one statement reads every such account (one more which of their
//! scope units have closed, and one each which of their sessions and API keys are still live),
//! and a socket whose account was disabled, deleted, given another role or scope, held because
//! its unit was merged away, or whose session or key ended is told to close (the client
//! reconnects and signs in again). That catches every path that changes an account — the API, the command
//! line, another instance, a hand-written SQL fix — at a cost of one small query per instance
//! per tick, only while sockets are open.
//!
//! The registry also caps the connections one account may hold.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cdtg_core::policy::Role;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::watch;

use crate::entity::{admin_unit, api_key, session, user};
use crate::principal::{Credential, Principal, Scope};
use crate::state::BackgroundWork;

/// How often the accounts behind open sockets are re-read.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// Why a socket must close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The account is disabled or gone.
    Disabled,
    /// Its role or scope changed: the socket's operations would run with stale rights.
    Changed,
    /// Its scope unit closed (merged away): held until an administrator reassigns it.
    Held,
    /// Its session ended (sign-out, password change or reset) or its API key was revoked or
    /// expired.
    Ended,
}

/// What the account looked like when the socket authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    role: Role,
    scope_unit_id: Option<i64>,
    scope_group_id: Option<i64>,
}

impl Fingerprint {
    fn of(p: &Principal) -> Self {
        let (scope_unit_id, scope_group_id) = match &p.scope {
            Scope::Unit { unit_id, .. } => (Some(*unit_id), None),
            Scope::Group { group_id, .. } => (None, Some(*group_id)),
            Scope::Everything => (None, None),
        };
        Fingerprint {
            role: p.role,
            scope_unit_id,
            scope_group_id,
        }
    }

    /// Whether the row still grants what the socket was opened with.
    fn matches(&self, row: &AccountRow) -> bool {
        row.role == self.role.as_str()
            && match (self.scope_unit_id, self.scope_group_id) {
                (Some(unit), _) => row.scope_unit_id == Some(unit),
                (None, Some(group)) => row.scope_group_id == Some(group),
                (None, None) => true,
            }
    }
}

struct Entry {
    user_id: i64,
    credential: Credential,
    fingerprint: Fingerprint,
    revoke: watch::Sender<Option<Revoked>>,
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<u64, Entry>,
    per_user: HashMap<i64, usize>,
}

/// The open sockets of this instance.
pub struct Sockets {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
}

/// A socket's place in the registry; leaving it (drop) frees the place.
pub struct Registration {
    id: u64,
    user_id: i64,
    sockets: Arc<Sockets>,
    /// Becomes `Some` when the socket must close.
    pub revoked: watch::Receiver<Option<Revoked>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut inner = self.sockets.lock();
        inner.sockets.remove(&self.id);
        if let Some(n) = inner.per_user.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                inner.per_user.remove(&self.user_id);
            }
        }
    }
}

#[derive(sea_orm::FromQueryResult)]
struct AccountRow {
    id: i64,
    /// The stored text, not [`Role`]: one row with a role this version does not know must not
    /// fail the statement that watches every socket. It matches no fingerprint, so that
    /// account's sockets close as changed.
    role: String,
    scope_unit_id: Option<i64>,
    scope_group_id: Option<i64>,
    disabled: bool,
}

/// A snapshot of the open sockets: which ones, and the accounts, sessions and keys behind them.
#[derive(Default)]
pub struct Watched {
    sockets: HashSet<u64>,
    users: Vec<i64>,
    sessions: Vec<String>,
    keys: Vec<i64>,
}

/// What the database says now about the accounts of a [`Watched`] snapshot.
#[derive(Default)]
pub struct Accounts {
    rows: HashMap<i64, AccountRow>,
    /// The sessions and keys that are still live; any other socket's credential ended.
    live_sessions: HashSet<String>,
    live_keys: HashSet<i64>,
    /// Scope units that closed before today: their accounts are held.
    closed: HashSet<i64>,
}

impl Watched {
    /// Reads the accounts, sessions, keys and scope units behind the snapshot.
    pub async fn read(&self, db: &DatabaseConnection) -> Result<Accounts, sea_orm::DbErr> {
        let mut accounts = Accounts::default();
        if self.users.is_empty() {
            return Ok(accounts);
        }
        let now = chrono::Utc::now();
        for chunk in self.sessions.chunks(500) {
            let found: Vec<String> = session::Entity::find()
                .select_only()
                .column(session::Column::Id)
                .filter(session::Column::Id.is_in(chunk.iter().cloned()))
                .filter(session::Column::RevokedAt.is_null())
                .filter(session::Column::ExpiresAt.gt(now))
                .into_tuple()
                .all(db)
                .await?;
            accounts.live_sessions.extend(found);
        }
        for chunk in self.keys.chunks(500) {
            let found: Vec<i64> = api_key::Entity::find()
                .select_only()
                .column(api_key::Column::Id)
                .filter(api_key::Column::Id.is_in(chunk.iter().copied()))
                .filter(api_key::Column::RevokedAt.is_null())
                .filter(api_key::Column::ExpiresAt.gt(now))
                .into_tuple()
                .all(db)
                .await?;
            accounts.live_keys.extend(found);
        }
        for chunk in self.users.chunks(500) {
            let found = user::Entity::find()
                .select_only()
                .columns([
                    user::Column::Id,
                    user::Column::Role,
                    user::Column::ScopeUnitId,
                    user::Column::ScopeGroupId,
                    user::Column::Disabled,
                ])
                .filter(user::Column::Id.is_in(chunk.iter().copied()))
                .into_model::<AccountRow>()
                .all(db)
                .await?;
            accounts.rows.extend(found.into_iter().map(|r| (r.id, r)));
        }
        let scope_units: Vec<i64> = accounts
            .rows
            .values()
            .filter_map(|r| r.scope_unit_id)
            .collect::<HashSet<i64>>()
            .into_iter()
            .collect();
        if !scope_units.is_empty() {
            let today = crate::service::today_in_vietnam();
            for chunk in scope_units.chunks(500) {
                let found: Vec<i64> = admin_unit::Entity::find()
                    .select_only()
                    .column(admin_unit::Column::Id)
                    .filter(admin_unit::Column::Id.is_in(chunk.iter().copied()))
                    .filter(admin_unit::Column::ValidTo.lt(today))
                    .into_tuple()
                    .all(db)
                    .await?;
                accounts.closed.extend(found);
            }
        }
        Ok(accounts)
    }
}

impl Default for Sockets {
    fn default() -> Self {
        Self::new()
    }
}

impl Sockets {
    pub fn new() -> Self {
        Sockets {
            inner: Mutex::new(Inner::default()),
            next_id: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a socket that authenticated as `p`; `None` when the account already holds
    /// `max_per_user` connections.
    pub fn register(self: &Arc<Self>, p: &Principal, max_per_user: usize) -> Option<Registration> {
        let mut inner = self.lock();
        let count = inner.per_user.entry(p.user_id).or_default();
        if *count >= max_per_user {
            return None;
        }
        *count += 1;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (revoke, revoked) = watch::channel(None);
        inner.sockets.insert(
            id,
            Entry {
                user_id: p.user_id,
                credential: p.credential.clone(),
                fingerprint: Fingerprint::of(p),
                revoke,
            },
        );
        Some(Registration {
            id,
            user_id: p.user_id,
            sockets: self.clone(),
            revoked,
        })
    }

    /// Open sockets now.
    pub fn len(&self) -> usize {
        self.lock().sockets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads the accounts behind open sockets (one statement per 500 of them) and revokes
    /// the sockets whose account no longer grants what they were opened with.
    pub async fn check_accounts(&self, db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        let watched = self.watched();
        let accounts = watched.read(db).await?;
        self.revoke_stale(&watched, &accounts);
        Ok(())
    }

    /// The sockets open now and what they were opened with: the only sockets a check may judge.
    pub fn watched(&self) -> Watched {
        let inner = self.lock();
        let mut watched = Watched::default();
        let mut users = HashSet::new();
        let mut sessions = HashSet::new();
        let mut keys = HashSet::new();
        for (id, e) in &inner.sockets {
            watched.sockets.insert(*id);
            users.insert(e.user_id);
            match &e.credential {
                Credential::Session { id } => {
                    sessions.insert(id.clone());
                }
                Credential::ApiKey { id, .. } => {
                    keys.insert(*id);
                }
                Credential::System => {}
            }
        }
        watched.users = users.into_iter().collect();
        watched.sessions = sessions.into_iter().collect();
        watched.keys = keys.into_iter().collect();
        watched
    }

    /// Tells every socket of `watched` whose account no longer grants what it was opened with
    /// to close. A socket registered since `watched` was taken is left to the next check: its
    /// account was not read, and absent from `accounts` it would look deleted.
    pub fn revoke_stale(&self, watched: &Watched, accounts: &Accounts) {
        let inner = self.lock();
        for (id, entry) in &inner.sockets {
            if !watched.sockets.contains(id) {
                continue;
            }
            let credential_live = match &entry.credential {
                Credential::Session { id } => accounts.live_sessions.contains(id),
                Credential::ApiKey { id, .. } => accounts.live_keys.contains(id),
                Credential::System => true,
            };
            // The most specific reason first: disabling an account also ends its sessions.
            let verdict = match accounts.rows.get(&entry.user_id) {
                None => Some(Revoked::Disabled),
                Some(row) if row.disabled => Some(Revoked::Disabled),
                _ if !credential_live => Some(Revoked::Ended),
                // A key acts with its own role and unit, not its creator's: only the creator
                // being disabled (above) and the key ending concern it.
                Some(_) if matches!(entry.credential, Credential::ApiKey { .. }) => None,
                Some(row) if !entry.fingerprint.matches(row) => Some(Revoked::Changed),
                Some(row)
                    if row
                        .scope_unit_id
                        .is_some_and(|u| accounts.closed.contains(&u)) =>
                {
                    Some(Revoked::Held)
                }
                Some(_) => None,
            };
            if let Some(v) = verdict
                && entry.revoke.borrow().is_none()
            {
                let _ = entry.revoke.send(Some(v));
            }
        }
    }

    /// Runs [`Self::check_accounts`] every [`WATCH_INTERVAL`] for as long as the process lives.
    pub fn watch(self: Arc<Self>, db: DatabaseConnection, background: Arc<BackgroundWork>) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if self.is_empty() {
                    continue;
                }
                let _run = background.run();
                if let Err(e) = self.check_accounts(&db).await {
                    // The database is down: operations fail on their own; keep watching.
                    tracing::debug!(error = %e, "socket account check failed");
                }
            }
        });
    }
}
