//! Request rate limits per signed-in user and per client address, as GCRA token buckets.
//!
//! - In one process (SQLite, or `CDTG_SHARED_BUDGETS=memory`): the maintained `governor`
//!   crate. Each check touches one sharded map entry, so its cost does not grow with the number
//!   of clients; idle entries (their buckets full again) are forgotten by a background sweep,
//!   never on a request's path.
//! - Shared by every instance on one PostgreSQL database ([`SharedRates`]): the same algorithm
//!   on rows of the unlogged table `rate_budgets`, one `INSERT … ON CONFLICT DO UPDATE`
//!   statement per request for both buckets. A client spreading requests over the instances
//!   behind a load balancer then has the budget it would have with one.
//!
//! A refused operation gets `RATE_LIMITED` with `retryAfter` (over HTTP: 429 and
//! `Retry-After`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// `rate` requests per second on average, bursts up to `burst`; `rate <= 0` disables.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

impl Limit {
    fn quota(self) -> Option<Quota> {
        if self.rate <= 0.0 || !self.rate.is_finite() {
            return None;
        }
        let burst = NonZeroU32::new(self.burst.max(1.0).min(u32::MAX as f64) as u32)?;
        Quota::with_period(Duration::from_secs_f64(1.0 / self.rate)).map(|q| q.allow_burst(burst))
    }
}

/// Whose request budget an operation spends: a person's, or an API key's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    User(i64),
    ApiKey(i64),
}

pub struct RateLimiter {
    per_user: Option<DefaultKeyedRateLimiter<Subject>>,
    per_address: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
    shared: Option<SharedRates>,
}

/// The GCRA parameters of one bucket, in seconds: one request per `period`, and `tolerance`
/// (`(burst - 1) × period`) of credit.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    period: f64,
    tolerance: f64,
}

impl Limit {
    fn gcra(self) -> Option<Gcra> {
        if self.rate <= 0.0 || !self.rate.is_finite() {
            return None;
        }
        let period = 1.0 / self.rate;
        Some(Gcra {
            period,
            tolerance: (self.burst.max(1.0) - 1.0) * period,
        })
    }
}

/// The buckets in PostgreSQL, shared by every instance.
pub struct SharedRates {
    pool: sea_orm::sqlx::PgPool,
    per_user: Option<Gcra>,
    per_address: Option<Gcra>,
}

impl SharedRates {
    /// Spends one request from each bucket that applies; `Err(seconds)` when one is empty.
    /// Each bucket row stores its theoretical arrival time (`tat`); a request is admitted when
    /// `max(tat, now) - now <= tolerance`, and then moves it one period on. A row is only
    /// written when the request is admitted, so refused requests cost no credit.
    async fn check(
        &self,
        user: Option<Subject>,
        address: &str,
    ) -> Result<Result<(), u64>, sea_orm::sqlx::Error> {
        let mut keys = Vec::with_capacity(2);
        let mut periods = Vec::with_capacity(2);
        let mut tolerances = Vec::with_capacity(2);
        if let Some(g) = self.per_address {
            keys.push(format!("a:{}", address_key(address)));
            periods.push(g.period);
            tolerances.push(g.tolerance);
        }
        if let (Some(g), Some(user)) = (self.per_user, user) {
            keys.push(match user {
                Subject::User(id) => format!("u:{id}"),
                Subject::ApiKey(id) => format!("k:{id}"),
            });
            periods.push(g.period);
            tolerances.push(g.tolerance);
        }
        if keys.is_empty() {
            return Ok(Ok(()));
        }
        // The refused keys come back with how long until their bucket admits one request.
        let refused: Vec<(String, f64)> = sea_orm::sqlx::query_as(
            "WITH r(key, period, tolerance) AS (SELECT * FROM unnest($1::text[], $2::float8[], $3::float8[])),              spent AS (INSERT INTO rate_budgets AS b (key, tat)                SELECT key, now() + make_interval(secs => period) FROM r                ON CONFLICT (key) DO UPDATE SET tat = greatest(b.tat, now()) + (excluded.tat - now())                WHERE greatest(b.tat, now()) - now() <= make_interval(secs =>                  (SELECT tolerance FROM r WHERE r.key = b.key))                RETURNING b.key)              SELECT r.key, (EXTRACT(EPOCH FROM b.tat - now()) - r.tolerance)::float8              FROM r JOIN rate_budgets b ON b.key = r.key              WHERE NOT EXISTS (SELECT 1 FROM spent WHERE spent.key = r.key)",
        )
        .bind(&keys)
        .bind(&periods)
        .bind(&tolerances)
        .fetch_all(&self.pool)
        .await?;
        match refused.iter().map(|(_, wait)| *wait).reduce(f64::max) {
            None => Ok(Ok(())),
            Some(wait) => Ok(Err(wait.ceil().max(1.0) as u64)),
        }
    }

    /// Deletes buckets that are full again (their arrival time has passed).
    async fn sweep(&self) -> Result<(), sea_orm::sqlx::Error> {
        sea_orm::sqlx::query("DELETE FROM rate_budgets WHERE tat < now()")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

impl RateLimiter {
    pub fn new(per_user: Limit, per_address: Limit) -> Self {
        RateLimiter {
            per_user: per_user.quota().map(DefaultKeyedRateLimiter::dashmap),
            per_address: per_address.quota().map(DefaultKeyedRateLimiter::dashmap),
            clock: DefaultClock::default(),
            shared: None,
        }
    }

    /// Buckets in PostgreSQL, shared by every instance on the database. When a check cannot
    /// reach the database, this instance's own buckets decide (the request would most likely
    /// fail on the same database anyway).
    pub fn shared(per_user: Limit, per_address: Limit, pool: sea_orm::sqlx::PgPool) -> Self {
        RateLimiter {
            shared: Some(SharedRates {
                pool,
                per_user: per_user.gcra(),
                per_address: per_address.gcra(),
            }),
            ..RateLimiter::new(per_user, per_address)
        }
    }

    /// `Err(seconds to wait)` when the address's or the user's (or key's) bucket is empty.
    pub async fn admit(&self, user: Option<Subject>, address: &str) -> Result<(), u64> {
        if let Some(shared) = &self.shared {
            match shared.check(user, address).await {
                Ok(verdict) => return verdict,
                Err(e) => {
                    tracing::warn!(error = %e, "shared rate budget unavailable; using this instance's");
                }
            }
        }
        self.check(user, address)
    }

    /// [`Self::sweep`], and the shared buckets that are full again.
    pub async fn sweep_all(&self) {
        self.sweep();
        if let Some(shared) = &self.shared
            && let Err(e) = shared.sweep().await
        {
            tracing::warn!(error = %e, "sweeping the shared rate budgets failed");
        }
    }

    /// This instance's own buckets: `Err(seconds to wait)` when either the address's or the
    /// user's (or key's) bucket is empty.
    pub fn check(&self, user: Option<Subject>, address: &str) -> Result<(), u64> {
        let wait = |not_until: governor::NotUntil<_>| {
            not_until
                .wait_time_from(self.clock.now())
                .as_secs_f64()
                .ceil()
                .max(1.0) as u64
        };
        if let Some(limiter) = &self.per_address {
            // IPv6 clients get a /64 each from their provider: one budget per /64, or a single
            // client could rotate through billions of addresses.
            limiter.check_key(&address_key(address)).map_err(wait)?;
        }
        if let (Some(limiter), Some(user)) = (&self.per_user, user) {
            limiter.check_key(&user).map_err(wait)?;
        }
        Ok(())
    }

    /// Forgets buckets that are full again (indistinguishable from new ones). Called by a
    /// background task, so that a spray of addresses cannot grow memory without bound.
    pub fn sweep(&self) {
        if let Some(l) = &self.per_user {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.per_address {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Buckets held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.per_user.as_ref().map_or(0, |l| l.len())
            + self.per_address.as_ref().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The budget key of a client address: IPv4 as is, IPv6 by its /64 network.
pub fn address_key(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => address.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_independent_and_refusals_say_when_to_retry() {
        let rl = RateLimiter::new(
            Limit {
                rate: 1.0,
                burst: 2.0,
            },
            Limit {
                rate: 0.0,
                burst: 0.0,
            },
        );
        let one = Some(Subject::User(1));
        assert!(rl.check(one, "a").is_ok());
        assert!(rl.check(one, "a").is_ok());
        assert_eq!(rl.check(one, "a"), Err(1));
        assert!(
            rl.check(Some(Subject::User(2)), "a").is_ok(),
            "another user has their own bucket"
        );
        assert!(
            rl.check(Some(Subject::ApiKey(1)), "a").is_ok(),
            "a key has its own bucket, apart from user 1's"
        );
        assert!(rl.check(None, "a").is_ok(), "the address limit is off");
    }

    #[test]
    fn an_ipv6_client_has_one_budget_per_64() {
        let rl = RateLimiter::new(
            Limit {
                rate: 0.0,
                burst: 0.0,
            },
            Limit {
                rate: 0.001,
                burst: 1.0,
            },
        );
        assert!(rl.check(None, "2001:db8:1:2::1").is_ok());
        assert!(rl.check(None, "2001:db8:1:2::ffff").is_err());
        assert!(rl.check(None, "2001:db8:1:3::1").is_ok());
        assert!(rl.check(None, "192.0.2.1").is_ok());
        assert!(rl.check(None, "192.0.2.2").is_ok());
        assert_eq!(rl.len(), 4, "two /64s and two IPv4 addresses");
    }
}
