//! The `[foo]` configuration section.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use reqwest::Url;
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            url: String::new(),
            room: String::new(),
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    fn validate(&self) -> Result<(), Invalid> {
        if self.enabled && self.url.is_empty() {
            return Err(Invalid::new("must specify the Foo server URL"));
        }
        if !self.url.is_empty() {
            let url = Url::parse(&self.url)
                .map_err(|e| Invalid::new(format!("url {:?} is not a valid URL: {e}", self.url)))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(Invalid::new(format!(
                    "url {:?} must be an http:// or https:// URL",
                    self.url
                )));
            }
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
