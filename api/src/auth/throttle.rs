//! Login throttling: repeated failures for one username or from one client address are refused
//! with `RATE_LIMITED` for a while. Kept in memory per instance: behind a load balancer each
//! instance throttles on its own, which still bounds guessing to (instances × limit) per window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        LoginThrottle {
            settings,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, address: &str) -> [(String, bool); 2] {
        [
            (format!("u:{}", username.to_lowercase()), true),
            (format!("a:{address}"), false),
        ]
    }

    /// `Err(seconds)` when the username or address must wait before trying again.
    pub fn check(&self, username: &str, address: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (key, is_user) in Self::keys(username, address) {
            let limit = if is_user {
                self.settings.max_failures_per_user
            } else {
                self.settings.max_failures_per_address
            };
            if let Some(times) = map.get_mut(&key) {
                times.retain(|t| now.duration_since(*t) < self.settings.window);
                if times.len() as u32 >= limit {
                    let oldest = times[0];
                    let wait = self
                        .settings
                        .window
                        .saturating_sub(now.duration_since(oldest));
                    return Err(wait.as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, username: &str, address: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            // Bound memory under a spray of usernames: forget the oldest window entirely.
            map.retain(|_, times| {
                times
                    .iter()
                    .any(|t| now.duration_since(*t) < self.settings.window)
            });
        }
        for (key, _) in Self::keys(username, address) {
            map.entry(key).or_default().push(now);
        }
    }

    /// A successful login clears the username's failures (not the address's).
    pub fn record_success(&self, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("u:{}", username.to_lowercase()));
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
}
