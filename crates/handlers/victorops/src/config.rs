//! The `[victorops]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// VictorOps' REST endpoint, Kapacitor's default `url`.
pub const DEFAULT_URL: &str = "https://alert.victorops.com/integrations/generic/20131114/alert";

/// The `[victorops]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [victorops]
/// enabled = true
/// api-key = "xxxx"
/// routing-key = "ops_team"
/// url = "https://alert.victorops.com/integrations/generic/20131114/alert"
/// json-data = false
/// global = false
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the VictorOps service is enabled. While it is not, victorops handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// The API key of the REST integration, which VictorOps takes in the URL's path. Required
    /// when enabled. Secret: redacted by the config API and in error messages.
    pub api_key: String,
    /// The routing key for handlers that name none.
    pub routing_key: String,
    /// The REST endpoint; alerts go to <url>/<api-key>/<routing-key>. Change it only to go
    /// through a proxy or to a stand-in.
    pub url: String,
    /// Whether every alert node of every TICKscript task that names no .victorOps() handler gets
    /// one with the routing key above (Kapacitor's global). Applies to tasks started afterwards.
    pub global: bool,
    /// Whether the alert's data goes out as a JSON object in the "data" field (what new
    /// installations want) rather than as a string of JSON (Kapacitor's default, kept for
    /// compatibility).
    pub json_data: bool,
    /// How long one post to VictorOps may take, as a duration such as "10s". A post that takes
    /// longer fails and may be retried. (Klaxon's; Kapacitor has no timeout.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            api_key: String::new(),
            routing_key: String::new(),
            url: DEFAULT_URL.to_owned(),
            global: false,
            json_data: false,
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["api-key"];

    fn validate(&self) -> Result<(), Invalid> {
        klaxon_http::check_url("url", &self.url)?;
        if self.enabled && self.api_key.is_empty() {
            return Err(Invalid::new(
                "api-key cannot be empty when enabled; set the API key of your VictorOps REST integration",
            ));
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
