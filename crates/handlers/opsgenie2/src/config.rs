//! The `[opsgenie2]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// OpsGenie's Alert API v2 endpoint, Kapacitor's default `url`.
pub const DEFAULT_URL: &str = "https://api.opsgenie.com/v2/alerts";

/// The `[opsgenie2]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [opsgenie2]
/// enabled = true
/// api-key = "mysupersecretapikey"
/// teams = ["team1", "team2"]
/// recipients = ["recipient1", "recipient2"]
/// url = "https://api.opsgenie.com/v2/alerts"
/// recovery_action = "notes"
/// details = false
/// global = false
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the OpsGenie v2 service is enabled. While it is not, opsgenie2 handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// The OpsGenie API key, sent as "Authorization: GenieKey <key>". Required when enabled.
    /// Secret: redacted by the config API.
    pub api_key: String,
    /// The teams alerted by handlers that name none.
    pub teams: Vec<String>,
    /// The users (recipients) alerted by handlers that name none.
    pub recipients: Vec<String>,
    /// Where alerts are created: OpsGenie's Alert API v2. A recovery goes to
    /// <url>/<alias>/<recovery_action>?identifierType=alias. Change it only to go through a
    /// proxy or to a stand-in.
    pub url: String,
    /// What a recovery (an OK event) does to the alert, for handlers that say nothing: "notes"
    /// adds the recovery message as a note, "close" closes the alert.
    #[serde(rename = "recovery_action")]
    pub recovery_action: String,
    /// Whether the alert's details (.details()) become the OpsGenie description instead of the
    /// alert's data as JSON.
    pub details: bool,
    /// Whether every alert node of every TICKscript task that names no .opsGenie2() handler gets
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
            recovery_action: "notes".to_owned(),
            details: false,
            global: false,
            timeout: GoDuration::from_secs(10),
        }
    }
}

/// The recovery actions OpsGenie's API has for an alert: `<url>/<alias>/<action>`.
pub(crate) const RECOVERY_ACTIONS: [&str; 2] = ["notes", "close"];

/// Refuses a recovery action OpsGenie does not have, naming `field` and the value.
pub(crate) fn check_recovery_action(field: &str, action: &str) -> Result<(), Invalid> {
    if RECOVERY_ACTIONS.contains(&action) {
        return Ok(());
    }
    Err(Invalid::new(format!(
        "{field} {action:?} is not a recovery action; use \"notes\" (add a note) or \"close\" (close the alert)"
    )))
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["api-key"];

    fn validate(&self) -> Result<(), Invalid> {
        klaxon_http::check_url("url", &self.url)?;
        check_recovery_action("recovery_action", &self.recovery_action)?;
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
