//! Klaxon's vocabulary and its handler plugin contract.
//!
//! Klaxon is an alert engine compatible with InfluxData Kapacitor. This crate holds what every
//! other crate and every handler crate shares:
//!
//! - the vocabulary: [`Level`], [`Event`] and the alert JSON it encodes byte for byte as Kapacitor
//!   does ([`Event::alert_json`], [`json`]), [`Timestamp`] and [`GoDuration`] with Go's text forms;
//! - the handler contract: [`Handler`] (deliver one event) and [`Service`] (a handler kind: its
//!   configuration section, options, service test and TICKscript form, [`TickShape`]);
//! - the link-time [`Registry`], filled by [`register_service!`] in each handler crate;
//! - [`template`]: handler options that are Go templates over an event, as Kapacitor runs them.
//!
//! It knows nothing of HTTP, storage, TICKscript parsing or the tokio runtime.
//!
//! # Writing a handler crate
//!
//! A handler crate implements [`Service`] and [`Handler`] and registers the service:
//!
//! ```ignore
//! klaxon_core::register_service!(FooService);
//! ```
//!
//! A server binary links it by naming it (`use klaxon_handler_foo as _;`); nothing else in the
//! workspace changes. See `docs/writing-a-handler.md`.

pub mod decode;
mod delivery;
mod elements;
mod event;
pub mod go_flags;
mod handler;
mod init;
pub mod json;
mod level;
pub mod naming;
pub mod pattern;
mod post_endpoint;
mod precision;
pub mod registry;
mod service;
pub mod template;
#[cfg(feature = "testing")]
pub mod testing;
mod tick_shape;
mod time;

pub use decode::Invalid;
pub use delivery::{
    DeliveryInfo, IDEMPOTENCY_KEY_HEADER, REDELIVERY_HEADER, WithDelivery, current_delivery,
    with_delivery,
};
pub use elements::{ElementConfig, Elements};
pub use event::{AlertData, AlertResult, Event, EventData, EventState, FieldValue, Row, RowValue};
pub use handler::{Handler, HandlerError};
pub use init::{Derived, Init, Live, ServerUrl};
pub use level::{Level, UnknownLevel};
pub use post_endpoint::PostEndpoint;
pub use precision::{InvalidPrecision, Precision};
pub use registry::{
    DisabledKind, DynService, Registration, Registry, RegistryError, RegistryProblem,
    ServerContext, ServiceError, TestError,
};
pub use service::{Global, Service, ServiceConfig, sample_test};
pub use tick_shape::{Chained, ChainedForm, TickShape};
pub use time::{DurationParseError, GoDuration, TimeParseError, Timestamp};

// Handler crates use these through `register_service!` and their trait impls, so they need no
// dependency of their own on the exact versions.
pub use async_trait::async_trait;
#[doc(hidden)]
pub use inventory;
pub use schemars;
pub use serde_json;
