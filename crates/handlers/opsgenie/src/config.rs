//! The `[opsgenie]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// OpsGenie's Alert API v1 create endpoint, Kapacitor's default `url`.
pub const DEFAULT_URL: &str = "https://api.opsgenie.com/v1/json/alert";

/// OpsGenie's Alert API v1 note endpoint, Kapacitor's default `recovery_url`.
pub const DEFAULT_RECOVERY_URL: &str = "https://api.opsgenie.com/v1/json/alert/note";

/// The `[opsgenie]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [opsgenie]
/// enabled = true
/// api-key = "mysupersecretapikey"
/// teams = ["team1", "team2"]
/// recipients = ["recipient1", "recipient2"]
/// url = "https://api.opsgenie.com/v1/json/alert"
/// recovery_url = "https://api.opsgenie.com/v1/json/alert/note"
/// global = false
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the OpsGenie service is enabled. While it is not, opsgenie handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// The OpsGenie API key, sent in each request's body. Required when enabled. Secret:
    /// redacted by the config API.
    pub api_key: String,
    /// The teams alerted by handlers that name none.
    pub teams: Vec<String>,
    /// The recipients alerted by handlers that name none.
    pub recipients: Vec<String>,
    /// Where alerts (INFO, WARNING, CRITICAL) are created: OpsGenie's Alert API v1. Change it
    /// only to go through a proxy or to a stand-in.
    pub url: String,
    /// Where recoveries (OK) go: OpsGenie's endpoint that adds a note to the alert; another
    /// endpoint gives another behaviour (".../alert/close" closes the alert).
    #[serde(rename = "recovery_url")]
    pub recovery_url: String,
    /// Whether every alert node of every TICKscript task that names no .opsGenie() handler gets
    /// one with the teams and recipients above (Kapacitor's global). Applies to tasks started
    /// afterwards.
    pub global: bool,
    /// How long one request to OpsGenie may take, as a duration such as "10s". A request that
    /// takes longer fails and may be retried. (Klaxon's; Kapacitor has no timeout.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            api_key: String::new(),
            teams: Vec::new(),
            recipients: Vec::new(),
            url: DEFAULT_URL.to_owned(),
            recovery_url: DEFAULT_RECOVERY_URL.to_owned(),
            global: false,
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["api-key"];

    fn validate(&self) -> Result<(), Invalid> {
        klaxon_http::check_url("url", &self.url)?;
        klaxon_http::check_url("recovery_url", &self.recovery_url)?;
        if self.enabled && self.api_key.is_empty() {
            return Err(Invalid::new(
                "api-key cannot be empty when enabled; set your OpsGenie API key",
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
