//! The `[servicenow]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// Kapacitor's default `url`: the events web service of an instance named "instance".
pub const DEFAULT_URL: &str = "https://instance.service-now.com/api/global/em/jsonv2";

/// The `[servicenow]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [servicenow]
/// enabled = true
/// url = "https://dev12345.service-now.com/api/global/em/jsonv2"
/// source = "Kapacitor"
/// username = "kapacitor"
/// password = "secret"
/// global = false
/// state-changes-only = false
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the ServiceNow service is enabled. While it is not, servicenow handlers fail
    /// every delivery with "service is not enabled".
    pub enabled: bool,
    /// The events web service URL (Event Management's jsonv2 endpoint); replace "instance" with
    /// your instance's name. Handlers may name another.
    pub url: String,
    /// The event source of handlers that name none.
    pub source: String,
    /// The user for HTTP Basic authentication; sent only with a password.
    pub username: String,
    /// The password for HTTP Basic authentication. Secret: redacted by the config API.
    pub password: String,
    /// Whether every alert node of every TICKscript task that names no .serviceNow() handler
    /// gets one with the defaults above (Kapacitor's global). Applies to tasks started
    /// afterwards.
    pub global: bool,
    /// With global, whether every alert node of every TICKscript task sends only changes of
    /// state, as .stateChangesOnly() does.
    pub state_changes_only: bool,
    /// How long one post to ServiceNow may take, as a duration such as "10s". A post that takes
    /// longer fails and may be retried. (Klaxon's; Kapacitor has no timeout.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            url: DEFAULT_URL.to_owned(),
            source: "Kapacitor".to_owned(),
            username: String::new(),
            password: String::new(),
            global: false,
            state_changes_only: false,
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["password"];

    fn validate(&self) -> Result<(), Invalid> {
        if self.url.is_empty() {
            if self.enabled {
                return Err(Invalid::new(format!(
                    "must specify events URL: set url to your instance's events web service, such as \"{DEFAULT_URL}\""
                )));
            }
        } else {
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
