//! Request rate limits per token (user) and per client address: token buckets, in memory per
//! instance. A refused request gets `RATE_LIMITED`, HTTP 429 and `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// `rate` requests per second on average, bursts up to `burst`; `rate == 0` disables.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct RateLimiter {
    per_user: Limit,
    per_address: Limit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_user: Limit, per_address: Limit) -> Self {
        RateLimiter {
            per_user,
            per_address,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn take(
        map: &mut HashMap<String, Bucket>,
        key: String,
        limit: Limit,
        now: Instant,
    ) -> Result<(), u64> {
        if limit.rate <= 0.0 {
            return Ok(());
        }
        let bucket = map.entry(key).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * limit.rate)
            .min(limit.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / limit.rate).ceil().max(1.0) as u64)
        }
    }

    /// `Err(seconds to wait)` when either the user's or the address's bucket is empty.
    pub fn check(&self, user: Option<i64>, address: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            // Forget idle buckets (full again by now) so a spray of addresses cannot grow memory.
            map.retain(|_, b| now.duration_since(b.at).as_secs() < 60);
        }
        Self::take(&mut map, format!("a:{address}"), self.per_address, now)?;
        if let Some(u) = user {
            Self::take(&mut map, format!("u:{u}"), self.per_user, now)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_and_limits_are_independent() {
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
        assert!(rl.check(Some(1), "a").is_ok());
        assert!(rl.check(Some(1), "a").is_ok());
        assert!(rl.check(Some(1), "a").is_err());
        assert!(
            rl.check(Some(2), "a").is_ok(),
            "another user has their own bucket"
        );
        assert!(rl.check(None, "a").is_ok(), "the address limit is off");
    }
}
