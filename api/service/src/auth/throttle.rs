//! Login throttling that slows guessing without letting anyone lock a colleague out.
//!
//! Failures are counted per (username, client address) and per client address:
//!
//! - After `free_failures_per_pair` failures the pair is locked for `base_lock`; each failure
//!   after the lock doubles it, up to `max_lock`. A guesser on one address
//!   never stops the real user signing in from another.
//! - The address budget (`free_failures_per_address`, then the same backoff) stops one address
//!   spraying many usernames. A pair that signed in successfully from that address within
//!   [`KNOWN_PAIR_DAYS`] days is not held by it, so colleagues behind one office proxy keep
//!   working while a stranger there guesses.
//! - A success clears the pair (not the address). Failures are forgotten `forget_after` the last
//!   one.
//!
//! Checking and counting are one step: [`LoginThrottle::begin`] reserves an attempt under one
//! lock, and reservations in flight count against the budget, so parallel attempts cannot
//! exceed it. An attempt that finds the budget taken by attempts still in flight waits for them
//! (at most [`MAX_WAIT`]) rather than being refused: of 25 parallel guesses at most the free
//! failures are verified and the rest are refused once those fail, while a user signing in on
//! six devices at once is merely queued. Logins are rare and cost an argon2 run each, so one
//! mutex is plenty.
//!
//! The budgets live in memory for one process ([`MemoryThrottle`]), or in PostgreSQL where
//! several instances share them ([`crate::auth::shared_throttle`]): a client spreading guesses
//! over the instances behind a load balancer then has the budget it would have with one.
//! [`LoginThrottle`] is the one the server uses, whichever it is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a successful (username, address) pair is remembered as the user's own.
pub const KNOWN_PAIR_DAYS: u64 = 30;

/// The longest an attempt waits for attempts in flight before it is refused.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// Why an attempt cannot start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Locked after failures: wait this many seconds.
    Locked(u64),
    /// The budget is taken by attempts still in flight.
    Busy,
}

#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    /// Failures of one username from one address before the backoff starts.
    pub free_failures_per_pair: u32,
    /// Failures from one address, across usernames, before the backoff starts.
    pub free_failures_per_address: u32,
    /// The first lock; each further failure doubles it.
    pub base_lock: Duration,
    /// The longest lock.
    pub max_lock: Duration,
    /// Failures are forgotten this long after the last one.
    pub forget_after: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            free_failures_per_pair: 5,
            free_failures_per_address: 50,
            base_lock: Duration::from_secs(30),
            max_lock: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(24 * 60 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, String),
    Address(String),
}

#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) failures: u32,
    pub(crate) in_flight: u32,
    pub(crate) last_failure: Instant,
    pub(crate) locked_until: Option<Instant>,
}

impl Budget {
    pub(crate) fn new(now: Instant) -> Self {
        Budget {
            failures: 0,
            in_flight: 0,
            last_failure: now,
            locked_until: None,
        }
    }

    /// Whether an attempt may start now under `free` free failures.
    pub(crate) fn admits(&self, free: u32, now: Instant) -> Result<(), Refused> {
        if let Some(until) = self.locked_until
            && until > now
        {
            return Err(Refused::Locked(until.duration_since(now).as_secs().max(1)));
        }
        // Within the free failures, as many attempts as remain; past them, one at a time.
        let capacity = free.saturating_sub(self.failures).max(1);
        if self.in_flight >= capacity {
            return Err(Refused::Busy);
        }
        Ok(())
    }
}

#[derive(Default)]
struct State {
    budgets: HashMap<Key, Budget>,
    /// (username, address) pairs that signed in, and when.
    known: HashMap<(String, String), Instant>,
}

#[derive(Default)]
pub struct MemoryThrottle {
    settings: ThrottleSettings,
    state: Mutex<State>,
    /// Woken whenever an attempt ends, for attempts waiting on a busy budget.
    ended: tokio::sync::Notify,
}

/// A login attempt that was admitted: report how it went with [`Attempt::failed`] or
/// [`Attempt::succeeded`]. Dropped without either (the database failed), it only frees its place.
pub struct MemoryAttempt<'a> {
    throttle: &'a MemoryThrottle,
    pair: Key,
    /// `None` when the pair is known from this address and the address budget does not apply.
    address: Option<Key>,
    concluded: bool,
}

impl MemoryThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        MemoryThrottle {
            settings,
            state: Mutex::new(State::default()),
            ended: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits an attempt for `username` from `address`, or says how many seconds to wait.
    /// While attempts in flight hold the budget, it waits for them to end (up to [`MAX_WAIT`]).
    pub async fn begin(&self, username: &str, address: &str) -> Result<MemoryAttempt<'_>, u64> {
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            // Registered before looking, so an attempt ending in between still wakes us.
            let ended = self.ended.notified();
            match self.try_begin(username, address) {
                Ok(attempt) => return Ok(attempt),
                Err(Refused::Locked(secs)) => return Err(secs),
                Err(Refused::Busy) => {
                    if tokio::time::timeout_at(deadline, ended).await.is_err() {
                        return Err(1);
                    }
                }
            }
        }
    }

    /// [`Self::begin`] without waiting.
    fn try_begin(&self, username: &str, address: &str) -> Result<MemoryAttempt<'_>, Refused> {
        let name = username.trim().to_lowercase();
        let addr = crate::ratelimit::address_key(address);
        let now = Instant::now();
        let mut state = self.lock();
        let known = state
            .known
            .get(&(name.clone(), addr.clone()))
            .is_some_and(|at| now.duration_since(*at) < known_for());
        let pair = Key::Pair(name, addr.clone());
        let address = (!known).then_some(Key::Address(addr));
        let checks = [
            Some((&pair, self.settings.free_failures_per_pair)),
            address
                .as_ref()
                .map(|k| (k, self.settings.free_failures_per_address)),
        ];
        for (key, free) in checks.into_iter().flatten() {
            if let Some(b) = state.budgets.get_mut(key) {
                if b.in_flight == 0
                    && now.duration_since(b.last_failure) >= self.settings.forget_after
                {
                    *b = Budget::new(now);
                }
                b.admits(free, now)?;
            }
        }
        for key in std::iter::once(&pair).chain(address.as_ref()) {
            state
                .budgets
                .entry(key.clone())
                .or_insert_with(|| Budget::new(now))
                .in_flight += 1;
        }
        Ok(MemoryAttempt {
            throttle: self,
            pair,
            address,
            concluded: false,
        })
    }

    pub(crate) fn lock_for(&self, failures: u32, free: u32) -> Option<Duration> {
        lock_for(&self.settings, failures, free)
    }
}

/// How long a key is locked after `failures` failures with `free` free ones, if at all.
pub(crate) fn lock_for(settings: &ThrottleSettings, failures: u32, free: u32) -> Option<Duration> {
    let over = failures.checked_sub(free)?;
    let doubled = settings
        .base_lock
        .saturating_mul(2u32.saturating_pow(over.min(20)));
    Some(doubled.min(settings.max_lock))
}

impl MemoryThrottle {
    fn conclude(&self, attempt: &MemoryAttempt<'_>, success: bool) {
        let now = Instant::now();
        let mut state = self.lock();
        for key in std::iter::once(&attempt.pair).chain(attempt.address.as_ref()) {
            let free = match key {
                Key::Pair(..) => self.settings.free_failures_per_pair,
                Key::Address(_) => self.settings.free_failures_per_address,
            };
            let Some(b) = state.budgets.get_mut(key) else {
                continue;
            };
            b.in_flight = b.in_flight.saturating_sub(1);
            if success {
                continue;
            }
            b.failures = b.failures.saturating_add(1);
            b.last_failure = now;
            if let Some(lock) = self.lock_for(b.failures, free) {
                b.locked_until = Some(now + lock);
            }
        }
        if success && let Key::Pair(name, addr) = &attempt.pair {
            let pair = (name.clone(), addr.clone());
            if state
                .budgets
                .get(&attempt.pair)
                .is_some_and(|b| b.in_flight == 0)
            {
                state.budgets.remove(&attempt.pair);
            } else if let Some(b) = state.budgets.get_mut(&attempt.pair) {
                // Other attempts of the pair are still in flight: keep their places.
                b.failures = 0;
                b.locked_until = None;
            }
            state.known.insert(pair, now);
        }
        drop(state);
        self.ended.notify_waiters();
    }

    fn release(&self, attempt: &MemoryAttempt<'_>) {
        let mut state = self.lock();
        for key in std::iter::once(&attempt.pair).chain(attempt.address.as_ref()) {
            if let Some(b) = state.budgets.get_mut(key) {
                b.in_flight = b.in_flight.saturating_sub(1);
            }
        }
        drop(state);
        self.ended.notify_waiters();
    }

    /// Drops budgets whose failures are forgotten and pairs no longer known (called by a
    /// background task, never on a request's path).
    pub fn sweep(&self) {
        let now = Instant::now();
        let forget = self.settings.forget_after;
        let mut state = self.lock();
        state.budgets.retain(|_, b| {
            b.in_flight > 0
                || now.duration_since(b.last_failure) < forget
                || b.locked_until.is_some_and(|t| t > now)
        });
        state
            .known
            .retain(|_, at| now.duration_since(*at) < known_for());
        state.budgets.shrink_to_fit();
        state.known.shrink_to_fit();
    }
}

pub(crate) fn known_for() -> Duration {
    Duration::from_secs(KNOWN_PAIR_DAYS * 24 * 60 * 60)
}

impl MemoryAttempt<'_> {
    /// The password was wrong (or the account unknown or disabled).
    pub fn failed(mut self) {
        self.concluded = true;
        self.throttle.conclude(&self, false);
    }

    /// The password was right.
    pub fn succeeded(mut self) {
        self.concluded = true;
        self.throttle.conclude(&self, true);
    }
}

impl Drop for MemoryAttempt<'_> {
    fn drop(&mut self) {
        if !self.concluded {
            self.throttle.release(self);
        }
    }
}

/// The login throttle the server uses: shared through PostgreSQL when instances share one, else
/// in this process's memory. When the shared store cannot be reached, attempts are still held
/// by this instance's memory budget (the login then fails on the same database anyway).
pub struct LoginThrottle {
    memory: MemoryThrottle,
    shared: Option<super::shared_throttle::SharedThrottle>,
}

/// An admitted login attempt: report how it went with [`Attempt::failed`] or
/// [`Attempt::succeeded`]; dropped without either (the database failed), it only frees its place.
pub enum Attempt<'a> {
    Memory(MemoryAttempt<'a>),
    Shared(super::shared_throttle::SharedAttempt),
}

impl LoginThrottle {
    /// Budgets in this process's memory.
    pub fn in_memory(settings: ThrottleSettings) -> Self {
        LoginThrottle {
            memory: MemoryThrottle::new(settings),
            shared: None,
        }
    }

    /// Budgets in PostgreSQL, shared by every instance on the same database.
    pub fn shared(settings: ThrottleSettings, pool: sea_orm::sqlx::PgPool) -> Self {
        LoginThrottle {
            shared: Some(super::shared_throttle::SharedThrottle::new(
                settings.clone(),
                pool,
            )),
            memory: MemoryThrottle::new(settings),
        }
    }

    /// Admits an attempt for `username` from `address`, or says how many seconds to wait.
    pub async fn begin(&self, username: &str, address: &str) -> Result<Attempt<'_>, u64> {
        if let Some(shared) = &self.shared {
            match shared.begin(username, address).await {
                Ok(Ok(a)) => return Ok(Attempt::Shared(a)),
                Ok(Err(wait)) => return Err(wait),
                Err(e) => {
                    tracing::warn!(error = %e, "shared login budget unavailable; using this instance's");
                }
            }
        }
        self.memory
            .begin(username, address)
            .await
            .map(Attempt::Memory)
    }

    /// Forgets expired budgets (a background task calls this once a minute).
    pub async fn sweep(&self) {
        self.memory.sweep();
        if let Some(shared) = &self.shared
            && let Err(e) = shared.sweep().await
        {
            tracing::warn!(error = %e, "sweeping the shared login budgets failed");
        }
    }
}

impl Attempt<'_> {
    /// The password was wrong (or the account unknown or disabled).
    pub async fn failed(self) {
        match self {
            Attempt::Memory(a) => a.failed(),
            Attempt::Shared(a) => a.conclude(false).await,
        }
    }

    /// The password was right.
    pub async fn succeeded(self) {
        match self {
            Attempt::Memory(a) => a.succeeded(),
            Attempt::Shared(a) => a.conclude(true).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(pair: u32, address: u32) -> MemoryThrottle {
        MemoryThrottle::new(ThrottleSettings {
            free_failures_per_pair: pair,
            free_failures_per_address: address,
            base_lock: Duration::from_secs(30),
            max_lock: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(3600),
        })
    }

    #[test]
    fn a_guesser_is_locked_but_the_user_elsewhere_is_not() {
        let t = throttle(2, 100);
        t.try_begin("ana", "1.1.1.1").unwrap().failed();
        t.try_begin("ANA", "1.1.1.1").unwrap().failed();
        let Some(Refused::Locked(wait)) = t.try_begin("ana", "1.1.1.1").err() else {
            panic!("locked after two failures");
        };
        assert!((29..=30).contains(&wait), "{wait}");
        assert!(
            t.try_begin("ana", "2.2.2.2").is_ok(),
            "another address is fine"
        );
        assert!(
            t.try_begin("bob", "1.1.1.1").is_ok(),
            "another user is fine"
        );
    }

    #[test]
    fn parallel_attempts_cannot_exceed_the_budget() {
        let t = throttle(5, 100);
        let admitted: Vec<_> = (0..25)
            .filter_map(|_| t.try_begin("ana", "1.1.1.1").ok())
            .collect();
        assert_eq!(admitted.len(), 5, "in-flight attempts count");
        assert_eq!(t.try_begin("ana", "1.1.1.1").err(), Some(Refused::Busy));
        for a in admitted {
            a.failed();
        }
        assert!(matches!(
            t.try_begin("ana", "1.1.1.1"),
            Err(Refused::Locked(_))
        ));
    }

    #[tokio::test]
    async fn a_busy_budget_makes_attempts_wait_not_fail() {
        let t = std::sync::Arc::new(throttle(1, 100));
        let first = t.try_begin("ana", "1.1.1.1").unwrap();
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.begin("ana", "1.1.1.1").await.map(|a| a.succeeded()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "it waits while the first is in flight"
        );
        first.succeeded();
        assert_eq!(waiter.await.unwrap(), Ok(()), "a success frees the place");

        let first = t.try_begin("bob", "1.1.1.1").unwrap();
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.begin("bob", "1.1.1.1").await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        first.failed();
        assert!(
            matches!(waiter.await.unwrap(), Err(29 | 30)),
            "a failure that locks the pair refuses those waiting"
        );
    }

    #[test]
    fn the_backoff_doubles_and_is_capped() {
        let t = throttle(1, 100);
        assert_eq!(t.lock_for(0, 1), None);
        assert_eq!(t.lock_for(1, 1), Some(Duration::from_secs(30)));
        assert_eq!(t.lock_for(2, 1), Some(Duration::from_secs(60)));
        assert_eq!(t.lock_for(4, 1), Some(Duration::from_secs(240)));
        assert_eq!(t.lock_for(9, 1), Some(Duration::from_secs(900)));
        assert_eq!(t.lock_for(500, 1), Some(Duration::from_secs(900)));
    }

    #[test]
    fn known_pairs_pass_an_address_that_is_guessing() {
        let t = throttle(5, 3);
        t.try_begin("ana", "1.1.1.1").unwrap().succeeded();
        for name in ["x1", "x2", "x3"] {
            t.try_begin(name, "1.1.1.1").unwrap().failed();
        }
        assert!(t.try_begin("x4", "1.1.1.1").is_err(), "the address is held");
        assert!(t.try_begin("ana", "1.1.1.1").is_ok(), "a known pair is not");
    }

    #[test]
    fn success_clears_the_pair_and_a_dropped_attempt_frees_its_place() {
        let t = throttle(2, 100);
        t.try_begin("ana", "1.1.1.1").unwrap().failed();
        t.try_begin("ana", "1.1.1.1").unwrap().succeeded();
        t.try_begin("ana", "1.1.1.1").unwrap().failed();
        assert!(
            t.try_begin("ana", "1.1.1.1").is_ok(),
            "one failure since the success"
        );
        {
            let _a = t.try_begin("bob", "1.1.1.1").unwrap();
            let _b = t.try_begin("bob", "1.1.1.1").unwrap();
            assert!(t.try_begin("bob", "1.1.1.1").is_err(), "two in flight");
        }
        assert!(
            t.try_begin("bob", "1.1.1.1").is_ok(),
            "dropped attempts free their places"
        );
    }

    #[test]
    fn the_sweep_forgets_old_failures() {
        let t = MemoryThrottle::new(ThrottleSettings {
            free_failures_per_pair: 1,
            free_failures_per_address: 100,
            base_lock: Duration::from_millis(10),
            max_lock: Duration::from_millis(10),
            forget_after: Duration::from_millis(30),
        });
        t.try_begin("ana", "1.1.1.1").unwrap().failed();
        std::thread::sleep(Duration::from_millis(40));
        t.sweep();
        assert!(t.lock().budgets.is_empty());
    }
}
