//! Principals recently read for a credential, so that a client sending many requests with one
//! token reads its account once a second instead of once per request.
//!
//! **The staleness bound.** An entry answers for at most [`PRINCIPAL_TTL`] (one second),
//! counted from before the read it came from. So a change made anywhere else — another
//! instance, the command line, SQL by hand — is in force on every instance within one second:
//! a disabled account, a revoked session or API key, a changed role or scope is refused from
//! then on. A change made through this process is in force at once: the writes that can change
//! a principal (users, sessions, API keys, units, groups) call [`accounts_changed`], which
//! makes every entry stale.
//!
//! What is never cached: refusals (each is read again), and the signature and expiry of an
//! access token, which are checked on every request before the cache is consulted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use super::{api_key, jwt};
use crate::error::ApiResult;
use crate::principal::Principal;

/// How long a principal read from the database may answer for its credential.
pub const PRINCIPAL_TTL: Duration = Duration::from_secs(1);

/// Entries kept at most; past this the cache starts over (a burst of distinct tokens costs
/// reads, never memory).
const MAX_ENTRIES: usize = 10_000;

/// Bumped by every write that can change a principal, in this process.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Makes every cached principal of this process stale: called by writes to accounts, sessions,
/// API keys, units and groups (see the module's bound).
pub fn accounts_changed() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// How many principal-changing writes this process has seen. Every change makes every entry
/// stale, so a caller counting account reads (a test sharing its process with other servers)
/// allows one read per change it saw.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

struct Entry {
    principal: Principal,
    read_at: Instant,
    generation: u64,
}

/// One instance's cache of principals, keyed by a digest of the credential.
#[derive(Default)]
pub struct PrincipalCache {
    entries: DashMap<[u8; 32], Entry>,
    /// Credentials checked against the database (misses and refusals), for `/metrics`: how
    /// well the cache serves, and what a statement count includes besides a request's own work.
    reads: AtomicU64,
}

impl PrincipalCache {
    /// How many times this instance has read an account for a credential.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// [`super::authenticate`], answered from the cache within the bound.
    pub async fn authenticate(
        &self,
        db: &DatabaseConnection,
        keys: &jwt::JwtKeys,
        token: &str,
    ) -> ApiResult<Principal> {
        if !token.starts_with(api_key::SECRET_PREFIX) {
            // A forged or expired token is refused whatever the cache holds.
            keys.verify_access(token)?;
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let generation = GENERATION.load(Ordering::Acquire);
        if let Some(hit) = self.entries.get(&key)
            && hit.generation == generation
            && hit.read_at.elapsed() < PRINCIPAL_TTL
        {
            return Ok(hit.principal.clone());
        }
        let read_at = Instant::now();
        self.reads.fetch_add(1, Ordering::Relaxed);
        let principal = super::authenticate(db, keys, token).await?;
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(
            key,
            Entry {
                principal: principal.clone(),
                read_at,
                generation,
            },
        );
        Ok(principal)
    }
}
