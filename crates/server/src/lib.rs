//! Klaxon's server: configuration, the HTTP API, and the lifecycle.
//!
//! A server binary is a list of handler crates and a call to [`main`]; see the `klaxond` crate.
//! Tests and embedders use [`Server`] directly:
//!
//! ```no_run
//! # async fn demo() {
//! let registry = klaxon_core::Registry::linked().unwrap();
//! let mut config = klaxon_server::Config::default();
//! config.server.http.bind_address = "127.0.0.1:0".into();
//! let server = klaxon_server::Server::new(config, registry).start().await.unwrap();
//! let url = format!("http://{}/kapacitor/v1/ping", server.local_addr());
//! # let _ = url;
//! server.shutdown().await;
//! # }
//! ```
//!
//! The server names no handler kind: it builds whatever services the binary's registry holds,
//! discovers their configuration sections, and serves their service tests.

mod allocator;
mod cli;
pub mod config;
pub mod http;
pub mod kafka;
pub mod load;
pub mod logging;
mod password;
mod poster;
pub mod redact;
/// Go's `path.Match` globs, for the `pattern=` parameters (kept in `klaxon-core`, which the
/// engine's silences share).
pub use klaxon_core::pattern;
mod server;

pub use cli::main;
pub use config::{Config, ConfigError};
pub use klaxon_engine::Services;
pub use server::{RunningServer, Server, StartError, shutdown_signal};
