//! Request rate limits per signed-in user and per client address: GCRA token buckets from the
//! maintained `governor` crate, in memory per instance. Each check touches one sharded map
//! entry, so its cost does not grow with the number of clients; idle entries (their buckets full
//! again) are forgotten by a background sweep, never on a request's path. A refused operation
//! gets `RATE_LIMITED` with `retryAfter` (over HTTP: 429 and `Retry-After`).

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
}

impl RateLimiter {
    pub fn new(per_user: Limit, per_address: Limit) -> Self {
        RateLimiter {
            per_user: per_user.quota().map(DefaultKeyedRateLimiter::dashmap),
            per_address: per_address.quota().map(DefaultKeyedRateLimiter::dashmap),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when either the address's or the user's (or key's) bucket is
    /// empty.
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
