//! Delivery counters per (topic, handler, kind): delivered, failed, dropped.
//!
//! Kept in one place so that metrics (a later issue) read them through [`Stats::snapshot`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The counters of one (topic, handler) pair.
#[derive(Debug, Default)]
pub struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    filtered: AtomicU64,
    retried: AtomicU64,
}

impl Counters {
    pub(crate) fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn filtered(&self) {
        self.filtered.fetch_add(1, Ordering::Relaxed);
    }
}

/// A copy of one pair's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandlerStats {
    /// The topic.
    pub topic: String,
    /// The handler ID (or the inline handler's label on an anonymous topic).
    pub handler: String,
    /// The handler kind.
    pub kind: String,
    /// Events the handler accepted.
    pub delivered: u64,
    /// Events the handler failed on or timed out with.
    pub failed: u64,
    /// Events dropped because the handler's queue was full.
    pub dropped: u64,
    /// Events the match expression filtered out (or could not evaluate).
    pub filtered: u64,
    /// Retries after retryable failures.
    pub retried: u64,
}

type Key = (String, String, String);

/// Every pair's counters since the process started.
///
/// ```
/// let stats = klaxon_engine::Stats::default();
/// assert!(stats.snapshot().is_empty());
/// ```
#[derive(Debug, Default, Clone)]
pub struct Stats {
    by_key: Arc<Mutex<BTreeMap<Key, Arc<Counters>>>>,
}

impl Stats {
    /// The counters of (topic, handler, kind), created at zero.
    pub(crate) fn counters(&self, topic: &str, handler: &str, kind: &str) -> Arc<Counters> {
        let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            map.entry((topic.to_owned(), handler.to_owned(), kind.to_owned()))
                .or_default(),
        )
    }

    /// All counters, sorted by topic, handler and kind.
    pub fn snapshot(&self) -> Vec<HandlerStats> {
        let map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|((topic, handler, kind), c)| HandlerStats {
                topic: topic.clone(),
                handler: handler.clone(),
                kind: kind.clone(),
                delivered: c.delivered.load(Ordering::Relaxed),
                failed: c.failed.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                filtered: c.filtered.load(Ordering::Relaxed),
                retried: c.retried.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// The counters of one pair, if it has any.
    pub fn get(&self, topic: &str, handler: &str) -> Option<HandlerStats> {
        self.snapshot()
            .into_iter()
            .find(|s| s.topic == topic && s.handler == handler)
    }
}
