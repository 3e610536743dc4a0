//! Klaxon's stream-task logic, pure: points in, alert events out. No IO, no async.
//!
//! A TICKscript is compiled into a [`Task`]: its nodes (`from`, `where`, `eval`, `window`, the
//! aggregates such as `count` and `mean`, `alert`, `httpOut`, `httpPost`) are checked property by property, and handler properties (`.exec(...)`, `.tcp(...)`,
//! `.foo().room(...)`) are resolved through the handler [`klaxon_core::Registry`] into kinds and
//! JSON options, so this crate names no handler kind. The engine pushes [`Point`]s through the
//! task and receives [`AlertEmission`]s through a [`Context`], which also restores alert state
//! after a restart. Between nodes flow [`Message`]s: points, or the [`Batch`]es a window emits
//! (driven by point time, so the pipeline stays free of clocks).
//!
//! The alert node follows Kapacitor's level and emission rules exactly (reference sections 6.3 and
//! 6.4): level determination with resets, history and flapping, `stateChangesOnly`,
//! `noRecoveries`, durations, and the `.id()`/`.message()`/`.details()` templates.

mod aggregate;
pub mod alert;
mod barrier;
mod batch;
mod cardinality;
mod change_detect;
mod combine;
mod counters;
mod default;
mod delete;
mod derivative;
mod error;
mod flatten;
mod group_by;
mod group_map;
mod http_out;
mod http_post;
mod influxdb_out;
mod influxql;
pub mod ingest;
mod join;
mod joining;
mod kapacitor_loopback;
mod limits;
mod log;
mod nodes;
mod per_group;
mod point;
mod props;
mod query;
mod sample;
mod shift;
mod sideload;
mod state_count;
mod state_duration;
mod stats;
mod task;
mod time_sets;
mod top;
mod transform;
mod union;
mod window;

pub use alert::{AlertEmission, AlertNode, InlineHandler, ServerInfo};
pub use batch::{Batch, Group, Message};
pub use counters::{NodeCount, NodeCounters};
pub use error::DefineError;
pub use http_post::PostRequest;
pub use influxdb_out::{InfluxDbOutSettings, InfluxDbWrite};
pub use influxql::{Bounds, SelectStatement};
pub use limits::Limits;
pub use log::{LogLevel, LogRecord};
pub use point::{GroupId, Point};
pub use query::{Query, QueryRun, series_points};
pub use sideload::SideloadFiles;
pub use task::{Context, Task};
