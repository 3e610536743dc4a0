//! The `[alerta]` configuration section: Kapacitor's keys.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// The `[alerta]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [alerta]
/// enabled = true
/// url = "http://127.0.0.1"
/// token = "mysupersecretauthtoken"
/// token-prefix = "Bearer"
/// environment = "production"
/// origin = "kapacitor"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the Alerta service is enabled. While it is not, alerta handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// The Alerta API's URL; alerts are posted to its path joined with "alert". Required when
    /// enabled.
    pub url: String,
    /// Whether to accept any certificate from the Alerta server (for tests only).
    pub insecure_skip_verify: bool,
    /// The API token for handlers that name none. Secret: redacted by the config API.
    pub token: String,
    /// The word before the token in the Authorization header, for handlers that name none.
    /// Empty: "Bearer" ("Key" for older versions of Alerta).
    pub token_prefix: String,
    /// The environment of alerts whose handler's environment renders empty.
    pub environment: String,
    /// The origin of alerts whose handler names none.
    pub origin: String,
    /// How long Alerta keeps an alert open without an update, for handlers that name no
    /// timeout, as a duration such as "24h". "0s": 24 hours. (Kapacitor reads this key but never
    /// uses it: its handlers always default to 24 hours.)
    pub timeout: GoDuration,
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["token"];

    fn validate(&self) -> Result<(), Invalid> {
        if self.enabled && self.url.is_empty() {
            return Err(Invalid::new(
                "url is required when enabled; write the Alerta API's URL, like \"http://alerta.example.com/api\"",
            ));
        }
        if !self.url.is_empty() {
            klaxon_http::check_url("url", &self.url)?;
        }
        if self.timeout < GoDuration::ZERO {
            return Err(Invalid::new(format!(
                "timeout must not be negative, got {}",
                self.timeout
            )));
        }
        Ok(())
    }
}
