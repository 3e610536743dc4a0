//! The `[foo]` configuration section.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// The `[foo]` section of the server configuration.
///
/// ```toml
/// [foo]
/// enabled = true
/// url = "http://127.0.0.1:8088/"
/// room = "alerts"
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the Foo service is enabled. While it is not, foo handlers fail every delivery.
    pub enabled: bool,
    /// The URL of the Foo server, where messages are posted (for example
    /// "http://127.0.0.1:8088/"). Required when enabled.
    pub url: String,
    /// The room for handlers that name none.
    pub room: String,
    /// How long one post to the Foo server may take, as a duration such as "10s".
    pub timeout: GoDuration,
    /// A PEM file of CA certificates trusted for an https:// URL, beside the system's roots.
    pub ssl_ca: String,
    /// Accept any certificate from an https:// Foo server (insecure; for tests only).
    pub insecure_skip_verify: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            url: String::new(),
            room: String::new(),
            timeout: GoDuration::from_secs(10),
            ssl_ca: String::new(),
            insecure_skip_verify: false,
        }
    }
}

impl Config {
    /// The HTTP client settings these keys give.
    pub(crate) fn client(&self) -> klaxon_http::ClientOptions {
        klaxon_http::ClientOptions {
            tls: klaxon_http::ClientTls {
                ca: self.ssl_ca.clone(),
                insecure_skip_verify: self.insecure_skip_verify,
                ..Default::default()
            },
        }
    }
}

impl ServiceConfig for Config {
    fn validate(&self) -> Result<(), Invalid> {
        if self.enabled && self.url.is_empty() {
            return Err(Invalid::new("must specify the Foo server URL"));
        }
        if !self.url.is_empty() {
            klaxon_http::check_url("url", &self.url)?;
        }
        if self.timeout <= GoDuration::ZERO {
            return Err(Invalid::new(format!(
                "timeout must be greater than zero, got {}",
                self.timeout
            )));
        }
        Ok(())
    }
}
