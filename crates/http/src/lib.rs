//! Klaxon's outbound HTTP and its TLS, shared by every handler crate that speaks HTTP, the
//! `klaxon` CLI and the server's HTTPS listener.
//!
//! - [`Client`]: one `reqwest` client per service (one connection pool, HTTP/1.1 and HTTP/2,
//!   proxies from `HTTPS_PROXY`/`NO_PROXY`), trusting the platform's CA roots plus an optional
//!   CA file, with Kapacitor's per-section TLS keys ([`ClientTls`]: `ssl-ca`, `ssl-cert`,
//!   `ssl-key`, `insecure-skip-verify`).
//! - [`server_tls`]: the rustls configuration of an HTTPS listener from PEM files, with errors
//!   that name the file and say what is wrong with it.
//! - [`check_url`]: a handler URL must be `http` or `https` with a host, refused where it is
//!   defined, naming the field and the value.
//! - [`failure`]: how a request that failed, or a response that is not a success, becomes a
//!   [`klaxon_core::HandlerError`]: network failures, timeouts, 5xx and 429 are retryable (a
//!   `Retry-After` is passed on); TLS failures and other 4xx are not, and TLS failures name the
//!   host and the TLS error.
//!
//! TLS is rustls with the `ring` crypto provider, installed once for the process
//! ([`install_crypto_provider`]).

mod client;
pub mod failure;
mod rustls_client;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod url;

pub use client::{Client, ClientOptions, Clients};
pub use rustls_client::rustls_client;
pub use tls::{ClientTls, TlsError, install_crypto_provider, server_tls};
pub use url::{append_segments, check_url};

// Handler crates name these types through this crate, so that they need no reqwest dependency
// of their own at a possibly different version.
pub use reqwest::{Method, RequestBuilder, Response, StatusCode, Url, header};
