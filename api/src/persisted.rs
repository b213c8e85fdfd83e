//! Persisted operations, for the mobile app and locked-down deployments.
//!
//! Automatic persisted queries (the Apollo protocol): a client first sends only
//! `extensions.persistedQuery.sha256Hash`; if the server does not know it, the answer is the
//! error `PersistedQueryNotFound` and the client retries with the full query, which the server
//! then remembers (bounded cache). Allow-list mode: only operations registered at start-up (a
//! JSON object of `sha256 → query`) run at all; anything else is refused before parsing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The outcome of resolving a request's query text.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Run this query text.
    Query(String),
    /// The hash is unknown: the client should resend with the query (APQ).
    NotFound,
    /// The hash does not match the query sent with it.
    HashMismatch,
    /// Allow-list mode, and this operation is not registered.
    NotAllowed,
}

/// Lower-case hex of the SHA-256, as the Apollo protocol sends it.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Remembered queries, oldest evicted first once `capacity` is reached.
pub struct PersistedQueries {
    allow_list: Option<HashMap<String, String>>,
    capacity: usize,
    cache: Mutex<(HashMap<String, String>, VecDeque<String>)>,
}

impl PersistedQueries {
    pub fn new(capacity: usize, allow_list: Option<HashMap<String, String>>) -> Self {
        PersistedQueries {
            allow_list,
            capacity,
            cache: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// Loads an allow-list file: a JSON object mapping sha256 hex to query text. Every hash is
    /// checked against its query, so a typo cannot smuggle in an operation.
    pub fn load_allow_list(path: &std::path::Path) -> Result<HashMap<String, String>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let map: HashMap<String, String> =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (hash, query) in &map {
            if sha256_hex(query) != hash.to_lowercase() {
                return Err(format!(
                    "{}: the hash {hash} does not match its query",
                    path.display()
                ));
            }
        }
        Ok(map
            .into_iter()
            .map(|(h, q)| (h.to_lowercase(), q))
            .collect())
    }

    pub fn allow_list_mode(&self) -> bool {
        self.allow_list.is_some()
    }

    /// Decides which query text runs, given the text and/or hash the client sent.
    pub fn resolve(&self, query: Option<&str>, hash: Option<&str>) -> Resolved {
        let hash = hash.map(str::to_lowercase);
        let query = query.filter(|q| !q.trim().is_empty());
        if let Some(list) = &self.allow_list {
            let key = match (query, &hash) {
                (Some(q), Some(h)) if sha256_hex(q) != *h => return Resolved::HashMismatch,
                (Some(q), _) => sha256_hex(q),
                (None, Some(h)) => h.clone(),
                (None, None) => return Resolved::NotAllowed,
            };
            return match list.get(&key) {
                Some(q) => Resolved::Query(q.clone()),
                None => Resolved::NotAllowed,
            };
        }
        match (query, hash) {
            (Some(q), None) => Resolved::Query(q.to_owned()),
            (Some(q), Some(h)) => {
                if sha256_hex(q) != h {
                    return Resolved::HashMismatch;
                }
                self.remember(h, q);
                Resolved::Query(q.to_owned())
            }
            (None, Some(h)) => {
                let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                cache
                    .0
                    .get(&h)
                    .cloned()
                    .map_or(Resolved::NotFound, Resolved::Query)
            }
            (None, None) => Resolved::Query(String::new()),
        }
    }

    fn remember(&self, hash: String, query: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0.contains_key(&hash) {
            return;
        }
        if cache.1.len() >= self.capacity
            && let Some(oldest) = cache.1.pop_front()
        {
            cache.0.remove(&oldest);
        }
        cache.1.push_back(hash.clone());
        cache.0.insert(hash, query.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_persisted_queries() {
        let pq = PersistedQueries::new(2, None);
        let q = "{ me { username } }";
        let h = sha256_hex(q);
        assert_eq!(pq.resolve(None, Some(&h)), Resolved::NotFound);
        assert_eq!(pq.resolve(Some(q), Some(&h)), Resolved::Query(q.into()));
        assert_eq!(pq.resolve(None, Some(&h)), Resolved::Query(q.into()));
        assert_eq!(pq.resolve(Some(q), Some("00")), Resolved::HashMismatch);
        // Bounded: two more queries evict the first.
        for other in ["{ a }", "{ b }"] {
            pq.resolve(Some(other), Some(&sha256_hex(other)));
        }
        assert_eq!(pq.resolve(None, Some(&h)), Resolved::NotFound);
    }

    #[test]
    fn allow_list_runs_only_registered_operations() {
        let q = "{ me { username } }";
        let list = HashMap::from([(sha256_hex(q), q.to_owned())]);
        let pq = PersistedQueries::new(10, Some(list));
        assert_eq!(
            pq.resolve(None, Some(&sha256_hex(q))),
            Resolved::Query(q.into())
        );
        assert_eq!(pq.resolve(Some(q), None), Resolved::Query(q.into()));
        assert_eq!(
            pq.resolve(Some("{ groups { totalCount } }"), None),
            Resolved::NotAllowed
        );
        assert_eq!(pq.resolve(None, None), Resolved::NotAllowed);
    }
}
