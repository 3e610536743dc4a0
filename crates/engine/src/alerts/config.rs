//! How the alert service behaves: [`EngineConfig`], which the server fills from `[alert]`.

use std::time::Duration;

use crate::{Limits, RetryPolicy};

/// How the alert service behaves; the server fills it from `[alert]`.
///
/// ```
/// let config = klaxon_engine::EngineConfig::default();
/// assert_eq!(config.topic_buffer_length, 5000);
/// assert_eq!(config.queue_full, klaxon_engine::QueueFull::Drop);
/// assert_eq!(config.retry.attempts, 5);
/// assert!(config.durable_delivery);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Capacity of each (topic, handler) queue. At least 1.
    pub topic_buffer_length: usize,
    /// What collecting into a full queue does.
    pub queue_full: QueueFull,
    /// Whether non-OK event states are written to the database and restored at start.
    pub persist_topics: bool,
    /// The longest one handler call may take before the engine gives up on it. Handler crates
    /// enforce their own, shorter, timeouts; this is the backstop for every kind.
    pub handler_timeout: Duration,
    /// The retry policy of handlers whose spec has no `retry` object (and the base that one
    /// overrides).
    pub retry: RetryPolicy,
    /// How many tasks and topic handlers may be defined, and how large their definitions may be.
    pub limits: Limits,
    /// The most level changes each topic's history keeps (the oldest go first). At least 1.
    pub history_max_events: usize,
    /// How long a topic's history keeps a level change.
    pub history_max_age: Duration,
    /// How long an expired silence stays listed before it is removed.
    pub silence_retention: Duration,
    /// Whether every event accepted for delivery is written to the outbox in klaxon.db with
    /// the state that produced it, and removed once delivered or failed for good, so that a
    /// crash or a restart loses none (at-least-once). Off, events wait in memory only.
    pub durable_delivery: bool,
    /// The most the outbox may hold, in bytes of stored events; past it, `queue_full` decides
    /// (drop: the newest events are dropped, counted and logged; block: writers wait for room).
    pub outbox_max_bytes: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            topic_buffer_length: 5000,
            queue_full: QueueFull::Drop,
            persist_topics: true,
            handler_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            limits: Limits::default(),
            history_max_events: 1000,
            history_max_age: Duration::from_secs(7 * 24 * 3600),
            silence_retention: Duration::from_secs(5 * 24 * 3600),
            durable_delivery: true,
            outbox_max_bytes: 256 << 20,
        }
    }
}

/// What happens to an event whose handler's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueFull {
    /// The event is dropped for that handler, counted and logged (Kapacitor's behaviour).
    #[default]
    Drop,
    /// The collector waits for room. Writers check [`crate::AlertService::wait_for_room`] first,
    /// so a write that would wait too long is refused before any of it is processed.
    Block,
}
