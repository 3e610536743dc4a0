//! Klaxon's alert service: topics, topic handlers, delivery workers and their storage.
//!
//! Events are collected into topics; every handler on a topic receives them through its own
//! delivery worker (a tokio task with a bounded queue). Handler specs, non-OK event states and
//! configuration overrides live in `data-dir/klaxon.db` (redb) and survive restarts.
//!
//! - [`AlertService`]: the handle to all of it: `collect`, handler-spec CRUD, topic queries,
//!   and the task hooks `register_anonymous`, `close_topic`, `delete_topic`, `stored_state`.
//! - [`tasks::TaskManager`]: stream tasks, defined from TICKscript and fed with points.
//! - [`Services`]: the per-kind handler services built from the registry.
//! - [`Store`]: the database.
//! - [`Stats`]: delivered, failed and dropped counters per (topic, handler, kind).
//! - [`Silence`]: silences, which keep matching alerts from the handlers for a while.
//!
//! The engine names no handler kind except its internal `publish` and `aggregate`, and knows
//! nothing of HTTP.

mod alerts;
mod delivery;
mod error;
mod internal;
mod limits;
mod log_limit;
pub mod recordings;
mod retry;
mod server_ids;
mod services;
mod silences;
mod spec;
mod stats;
mod store;
pub mod tasks;

pub use alerts::{
    Adopted, AlertService, Batch, Collected, DrainReport, EngineConfig, HistoryEntry, HistoryPage,
    HistoryQuery, LastState, QueueDepth, QueueFull, StateJournal, TaskHandler, TopicInfo,
};
pub use delivery::outbox::OutboxStats;
pub use error::EngineError;
pub use internal::{
    AGGREGATE, AggregateMessageError, INTERNAL_KINDS, InternalOptionsError, PUBLISH,
};
pub use limits::{LimitError, Limits};
pub use log_limit::LogLimit;
pub use retry::{RetryError, RetryPolicy, RetrySpec};
pub use server_ids::{ServerIds, server_ids};
pub use services::Services;
pub use silences::{Silence, SilenceError, SilenceSpec, SilenceState, TagMatcher};
pub use spec::{HandlerSpec, SpecError, is_valid_handler_id, is_valid_topic};
pub use stats::{HandlerStats, LATENCY_BUCKETS, Stats};
pub use store::{IoSource, OpenError, SCHEMA_VERSION, Salvage, Store, StoreError, TableSalvage};

#[cfg(test)]
mod tests;
