//! Klaxon's stream-task logic, pure: points in, alert events out. No IO, no async.
//!
//! A TICKscript is compiled into a [`Task`]: its nodes (`from`, `where`, `eval`, `alert`) are
//! checked property by property, and handler properties (`.exec(...)`, `.tcp(...)`,
//! `.foo().room(...)`) are resolved through the handler [`klaxon_core::Registry`] into kinds and
//! JSON options, so this crate names no handler kind. The engine pushes [`Point`]s through the
//! task and receives [`AlertEmission`]s through a [`Context`], which also restores alert state
//! after a restart.
//!
//! The alert node follows Kapacitor's level and emission rules exactly (reference sections 6.3 and
//! 6.4): level determination with resets, history and flapping, `stateChangesOnly`,
//! `noRecoveries`, durations, and the `.id()`/`.message()`/`.details()` templates.

pub mod alert;
mod error;
pub mod ingest;
mod nodes;
mod point;
mod props;
mod task;

pub use alert::{AlertEmission, AlertNode, InlineHandler, ServerInfo};
pub use error::DefineError;
pub use point::{GroupId, Point};
pub use task::{Context, Task};
