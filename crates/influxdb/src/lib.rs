//! Klaxon's InfluxDB 1.x client, as Kapacitor's `[[influxdb]]` clusters use InfluxDB: as a sink
//! (`|influxDBOut()` writes line protocol to `/write`), as a source (batch tasks query `/query`
//! with InfluxQL) and as the sender of subscriptions.
//!
//! [`ClusterConfig`] is one `[[influxdb]]` element with Kapacitor's keys and defaults;
//! [`Clusters`] the configured ones by name; [`Client`] talks to one cluster (its URLs tried in
//! order); [`Writer`] buffers points for one destination and writes them in batches, retrying
//! while InfluxDB is unavailable and dropping (and counting) what exceeds its bound.
//! [`SubscriptionManager`] keeps Klaxon's subscriptions on each cluster, as Kapacitor does.
//! Errors are typed ([`InfluxError`]) and name the cluster, URL and statement.

mod client;
mod config;
mod error;
pub mod line;
mod query;
mod subscriptions;
mod writer;

pub use client::{Client, Clusters};
pub use config::ClusterConfig;
pub use error::InfluxError;
pub use klaxon_core::Precision;
pub use line::LinePoint;
pub use query::{QueryResult, Series};
pub use subscriptions::{
    Listener, SubscriptionCount, SubscriptionIds, SubscriptionManager, SubscriptionTarget,
    SyncReport, quote_ident, sync_subscriptions,
};
pub use writer::{Destination, Writer, WriterOptions, WriterStats};
