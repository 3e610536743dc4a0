//! The `[pushover]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// Pushover's message API, Kapacitor's default `url`.
pub const DEFAULT_URL: &str = "https://api.pushover.net/1/messages.json";

/// The `[pushover]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [pushover]
/// enabled = true
/// token = "mysupersecrettoken"
/// user-key = "myuserkey"
/// url = "https://api.pushover.net/1/messages.json"
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the Pushover service is enabled. While it is not, pushover handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// The application's API token. Required when enabled. Secret: redacted by the config API.
    pub token: String,
    /// The user or group key notified by handlers that name none. Required when enabled.
    /// Secret: redacted by the config API.
    pub user_key: String,
    /// Where messages are posted: Pushover's message API. Change it only to go through a proxy or
    /// to a stand-in.
    pub url: String,
    /// How long one post to Pushover may take, as a duration such as "10s". A post that takes
    /// longer fails and may be retried. (Klaxon's; Kapacitor has no timeout.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            token: String::new(),
            user_key: String::new(),
            url: DEFAULT_URL.to_owned(),
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["token", "user-key"];

    fn validate(&self) -> Result<(), Invalid> {
        if self.enabled {
            if self.token.is_empty() {
                return Err(Invalid::new(
                    "token is required when enabled; set your Pushover application's API token",
                ));
            }
            if self.user_key.is_empty() {
                return Err(Invalid::new(
                    "user-key is required when enabled; set the Pushover user or group key to notify",
                ));
            }
        }
        // As Kapacitor, a disabled section may leave the URL empty.
        if self.enabled || !self.url.is_empty() {
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
