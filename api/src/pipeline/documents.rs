//! Parsed documents, remembered by their text.
//!
//! Clients send the same few operations over and over (an app has a few dozen), and parsing
//! one is a good part of what a small query costs: profiled under load, async-graphql's
//! parser took a fifth of the server's CPU for a one-group read. A parse error is never
//! remembered, and neither is a long text (it is rarely repeated). What this holds stays small
//! whoever sends what (parsing comes before authentication): at most [`CAPACITY`] documents,
//! from at most [`MAX_TOTAL_BYTES`] of text together, each from at most [`MAX_TEXT_BYTES`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::parser::{Error, parse_query};

/// How many documents are remembered; the oldest goes first once it is reached.
pub const CAPACITY: usize = 256;

/// Longer texts are parsed every time.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// The texts remembered, together: the oldest go first once it would be passed. A parsed
/// document takes some tens of times its text, so this bounds the whole at a few megabytes.
pub const MAX_TOTAL_BYTES: usize = 256 * 1024;

#[derive(Default)]
pub struct ParsedDocuments {
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    by_text: HashMap<Arc<str>, Arc<ExecutableDocument>>,
    /// Insertion order, for eviction.
    order: VecDeque<Arc<str>>,
    /// The length of the texts held.
    bytes: usize,
}

impl ParsedDocuments {
    /// The document of `text`: the one parsed before, or a new parse remembered for next time.
    pub fn parse(&self, text: &str) -> Result<Arc<ExecutableDocument>, Error> {
        if text.len() > MAX_TEXT_BYTES {
            return Ok(Arc::new(parse_query(text)?));
        }
        if let Some(doc) = self.lock().by_text.get(text) {
            return Ok(doc.clone());
        }
        // Parsed outside the lock: two requests racing on a new text both parse it, and the
        // second insert finds the first.
        let doc = Arc::new(parse_query(text)?);
        let mut cache = self.lock();
        if let Some(doc) = cache.by_text.get(text) {
            return Ok(doc.clone());
        }
        while cache.order.len() >= CAPACITY || cache.bytes + text.len() > MAX_TOTAL_BYTES {
            let Some(oldest) = cache.order.pop_front() else {
                break;
            };
            cache.bytes -= oldest.len();
            cache.by_text.remove(&oldest);
        }
        let key: Arc<str> = Arc::from(text);
        cache.bytes += key.len();
        cache.order.push_back(key.clone());
        cache.by_text.insert(key, doc.clone());
        Ok(doc)
    }

    /// How many documents are remembered.
    pub fn len(&self) -> usize {
        self.lock().by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock leaves a consistent map (every change is one call).
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_parsed_once() {
        let docs = ParsedDocuments::default();
        let a = docs.parse("{ me { username } }").unwrap();
        let b = docs.parse("{ me { username } }").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = docs.parse("{ me { id } }").unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn parse_errors_are_answered_and_not_remembered() {
        let docs = ParsedDocuments::default();
        assert!(docs.parse("{ me { ").is_err());
        assert!(docs.parse("{ me { ").is_err());
        assert!(docs.is_empty());
    }

    #[test]
    fn long_texts_are_parsed_every_time() {
        let docs = ParsedDocuments::default();
        let long = format!("{{ me {{ username }} }} # {}", "x".repeat(MAX_TEXT_BYTES));
        let a = docs.parse(&long).unwrap();
        let b = docs.parse(&long).unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(docs.is_empty());
    }

    #[test]
    fn the_texts_held_stay_under_their_bound() {
        let docs = ParsedDocuments::default();
        // Texts just under the per-text limit: only so many fit together.
        let text = |i: usize| {
            format!(
                "{{ a{i}: __typename }} # {}",
                "x".repeat(MAX_TEXT_BYTES - 40)
            )
        };
        let first = docs.parse(&text(0)).unwrap();
        for i in 1..100 {
            docs.parse(&text(i)).unwrap();
            assert!(docs.lock().bytes <= MAX_TOTAL_BYTES);
        }
        let held = docs.len();
        assert!(
            (MAX_TOTAL_BYTES / MAX_TEXT_BYTES - 1..100).contains(&held),
            "{held}"
        );
        let bytes: usize = docs.lock().by_text.keys().map(|k| k.len()).sum();
        assert_eq!(bytes, docs.lock().bytes);
        assert!(!Arc::ptr_eq(&first, &docs.parse(&text(0)).unwrap()));
    }

    #[test]
    fn the_oldest_goes_once_full() {
        let docs = ParsedDocuments::default();
        let text = |i: usize| format!("{{ a{i}: __typename }}");
        let first = docs.parse(&text(0)).unwrap();
        for i in 1..=CAPACITY {
            docs.parse(&text(i)).unwrap();
        }
        assert_eq!(docs.len(), CAPACITY);
        // The first was evicted: parsed anew. The last is still there.
        assert!(!Arc::ptr_eq(&first, &docs.parse(&text(0)).unwrap()));
        let last = docs.parse(&text(CAPACITY)).unwrap();
        assert!(Arc::ptr_eq(&last, &docs.parse(&text(CAPACITY)).unwrap()));
        assert_eq!(docs.len(), CAPACITY);
    }
}
