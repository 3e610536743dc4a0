//! Delivery counters per (topic, handler, kind): delivered, failed, dropped, filtered, retried,
//! redelivered;
//! and the delivery latency per kind.
//!
//! Kept in one place so that `/metrics` and `/debug/vars` read them through [`Stats::snapshot`]
//! and [`Stats::latencies`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;

use crate::log_limit::LogLimit;

/// The bucket bounds of the delivery latency histogram, in seconds: from a loopback socket
/// (around a millisecond) to the default handler timeout and past it, for retried events.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 60.0, 120.0,
];

/// The counters of one (topic, handler) pair.
#[derive(Debug)]
pub struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    filtered: AtomicU64,
    retried: AtomicU64,
    redelivered: AtomicU64,
    /// The kind's latency histogram, shared by every pair of that kind.
    latency: Histogram,
    /// The failure-log budget of the pair.
    pub(crate) log: LogLimit,
    /// The last failed attempt's error and when it happened, for the console's Handlers page.
    last_failure: Mutex<Option<(klaxon_core::Timestamp, String)>>,
}

impl Counters {
    fn new(latency: Histogram) -> Self {
        Counters {
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            filtered: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            redelivered: AtomicU64::new(0),
            latency,
            log: LogLimit::default(),
            last_failure: Mutex::new(None),
        }
    }

    /// One delivery that took `latency` from the moment it was queued.
    pub(crate) fn delivered_after(&self, latency: Duration) {
        self.delivered();
        self.latency.observe(latency.as_secs_f64());
    }

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
    pub(crate) fn redelivered(&self) {
        self.redelivered.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn filtered(&self) {
        self.filtered.fetch_add(1, Ordering::Relaxed);
    }
    /// Remembers an attempt's error (retried or not), replacing the one before.
    pub(crate) fn attempt_failed(&self, error: String) {
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((klaxon_core::Timestamp::now(), error));
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
    /// Events delivered again after a restart: the last run left them in the outbox, maybe
    /// after delivering them.
    pub redelivered: u64,
    /// The last failed attempt (retried or given up): when, and the handler's error.
    pub last_failure: Option<(klaxon_core::Timestamp, String)>,
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
    latency: Arc<Mutex<BTreeMap<String, Histogram>>>,
}

impl Stats {
    /// The counters of (topic, handler, kind), created at zero.
    pub(crate) fn counters(&self, topic: &str, handler: &str, kind: &str) -> Arc<Counters> {
        let latency = self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind.to_owned())
            .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
            .clone();
        let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            map.entry((topic.to_owned(), handler.to_owned(), kind.to_owned()))
                .or_insert_with(|| Arc::new(Counters::new(latency))),
        )
    }

    /// The delivery latency histogram (seconds from queueing to a successful delivery, retries
    /// included) of every kind that has had a handler, sorted by kind.
    pub fn latencies(&self) -> Vec<(String, Histogram)> {
        let map = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, h)| (k.clone(), h.clone())).collect()
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
                redelivered: c.redelivered.load(Ordering::Relaxed),
                last_failure: c
                    .last_failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone(),
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
