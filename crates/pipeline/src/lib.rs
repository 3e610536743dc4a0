//! Klaxon's stream-task logic, pure: points in, alert events out. No IO, no async.
//!
//! A TICKscript is compiled into a [`Task`]: its nodes (`from`, `where`, `eval`, `window`, the
//! aggregates such as `count` and `mean`, `alert`, `httpOut`) are checked property by property, and handler properties (`.exec(...)`, `.tcp(...)`,
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
mod batch;
mod error;
mod http_out;
pub mod ingest;
mod limits;
mod nodes;
mod point;
mod props;
mod stats;
mod task;
mod window;

pub use alert::{AlertEmission, AlertNode, InlineHandler, ServerInfo};
pub use batch::{Batch, Group, Message};
pub use error::DefineError;
pub use limits::Limits;
pub use point::{GroupId, Point};
pub use task::{Context, Task};
