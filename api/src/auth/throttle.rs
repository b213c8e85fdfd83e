//! Login throttling: repeated failures for one username or from one client address are refused
//! with `RATE_LIMITED` for a while. Kept in memory per instance: behind a load balancer each
//! instance throttles on its own, which still bounds guessing to (instances × limit) per window.
//!
//! Each key keeps at most `limit` failure times, in a sharded map: a check or a failure costs
//! one entry whatever the number of clients, and expired keys are dropped by a background sweep
//! rather than on a request's path.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dashmap::DashMap;

#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    pub max_failures_per_user: u32,
    pub max_failures_per_address: u32,
    pub window: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            max_failures_per_user: 5,
            max_failures_per_address: 30,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Default)]
pub struct LoginThrottle {
    settings: ThrottleSettings,
    failures: DashMap<String, VecDeque<Instant>>,
}

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        LoginThrottle {
            settings,
            failures: DashMap::new(),
        }
    }

    fn keys(&self, username: &str, address: &str) -> [(String, u32); 2] {
        [
            (
                format!("u:{}", username.to_lowercase()),
                self.settings.max_failures_per_user,
            ),
            (
                format!("a:{}", crate::ratelimit::address_key(address)),
                self.settings.max_failures_per_address,
            ),
        ]
    }

    /// `Err(seconds)` when the username or address must wait before trying again.
    pub fn check(&self, username: &str, address: &str) -> Result<(), u64> {
        let now = Instant::now();
        for (key, limit) in self.keys(username, address) {
            if let Some(mut times) = self.failures.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.settings.window)
                {
                    times.pop_front();
                }
                if times.len() as u32 >= limit
                    && let Some(oldest) = times.front()
                {
                    let wait = self
                        .settings
                        .window
                        .saturating_sub(now.duration_since(*oldest));
                    return Err(wait.as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, username: &str, address: &str) {
        let now = Instant::now();
        for (key, limit) in self.keys(username, address) {
            let mut times = self.failures.entry(key).or_default();
            times.push_back(now);
            // Only the newest `limit` failures decide anything.
            while times.len() > limit.max(1) as usize {
                times.pop_front();
            }
        }
    }

    /// A successful login clears the username's failures (not the address's).
    pub fn record_success(&self, username: &str) {
        self.failures
            .remove(&format!("u:{}", username.to_lowercase()));
    }

    /// Drops keys whose failures have all left the window (called by a background task).
    pub fn sweep(&self) {
        let now = Instant::now();
        self.failures.retain(|_, times| {
            times
                .back()
                .is_some_and(|t| now.duration_since(*t) < self.settings.window)
        });
        self.failures.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_success_resets_the_user() {
        let t = LoginThrottle::new(ThrottleSettings {
            max_failures_per_user: 2,
            max_failures_per_address: 10,
            window: Duration::from_secs(60),
        });
        assert!(t.check("ana", "1.1.1.1").is_ok());
        t.record_failure("ana", "1.1.1.1");
        t.record_failure("ANA", "1.1.1.1");
        assert!(
            t.check("ana", "2.2.2.2").is_err(),
            "per-user limit applies from any address"
        );
        assert!(t.check("bob", "1.1.1.1").is_ok());
        t.record_success("ana");
        assert!(t.check("ana", "1.1.1.1").is_ok());
    }

    #[test]
    fn each_key_keeps_at_most_its_limit_and_the_sweep_forgets_expired_keys() {
        let t = LoginThrottle::new(ThrottleSettings {
            max_failures_per_user: 3,
            max_failures_per_address: 3,
            window: Duration::from_millis(50),
        });
        for _ in 0..100 {
            t.record_failure("ana", "1.1.1.1");
        }
        assert!(t.failures.iter().all(|e| e.value().len() == 3));
        assert!(t.check("ana", "1.1.1.1").is_err());
        std::thread::sleep(Duration::from_millis(60));
        t.sweep();
        assert!(t.failures.is_empty());
        assert!(t.check("ana", "1.1.1.1").is_ok());
    }
}
