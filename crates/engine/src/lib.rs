//! Klaxon's alert service: topics, topic handlers, delivery workers and their storage.
//!
//! Events are collected into topics; every handler on a topic receives them through its own
//! delivery worker (a tokio task with a bounded queue). Handler specs, non-OK event states and
//! configuration overrides live in `data-dir/klaxon.db` (redb) and survive restarts.
//!
//! - [`AlertService`]: the handle to all of it: `collect`, handler-spec CRUD, topic queries,
//!   and the task hooks `register_anonymous`, `close_topic`, `delete_topic`, `stored_state`.
//! - [`Services`]: the per-kind handler services built from the registry.
//! - [`Store`]: the database.
//! - [`Stats`]: delivered, failed and dropped counters per (topic, handler, kind).
//!
//! The engine names no handler kind except its internal `publish` and `aggregate`, and knows
//! nothing of HTTP.

mod delivery;
mod error;
mod internal;
mod limits;
mod log_limit;
mod retry;
mod service;
mod services;
mod spec;
mod stats;
mod store;
pub mod tasks;

pub use error::{EngineError, StoreError};
pub use internal::{AGGREGATE, INTERNAL_KINDS, PUBLISH};
pub use limits::{LimitError, Limits};
pub use retry::{RetryPolicy, RetrySpec};
pub use service::{
    AlertService, Batch, Collected, DrainReport, EngineConfig, InlineHandler, QueueDepth,
    QueueFull, TopicInfo,
};
pub use services::Services;
pub use spec::{HandlerSpec, is_valid_handler_id, is_valid_topic};
pub use stats::{HandlerStats, LATENCY_BUCKETS, Stats};
pub use store::{SCHEMA_VERSION, Store};

#[cfg(test)]
mod tests;
