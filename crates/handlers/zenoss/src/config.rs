//! The `[zenoss]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, Level, ServiceConfig};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Kapacitor's default `url`: the JSON router of a Zenoss Cloud tenant named "tenant".
pub const DEFAULT_URL: &str = "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router";

/// The `[zenoss]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [zenoss]
/// enabled = true
/// url = "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router"
/// username = "kapacitor"
/// password = "secret"
/// action = "EventsRouter"
/// method = "add_event"
/// type = "rpc"
/// tid = 1
/// collector = "Kapacitor"
/// severity-map = { OK = "Clear", Info = "Info", Warning = "Warning", Critical = "Critical" }
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the Zenoss service is enabled. While it is not, zenoss handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// The Zenoss JSON router (…/zport/dmd/evconsole_router) events are posted to.
    pub url: String,
    /// The user for HTTP Basic authentication; sent only with a password.
    pub username: String,
    /// The password for HTTP Basic authentication. Secret: redacted by the config API.
    pub password: String,
    /// The router (the request's "action") of handlers that name none.
    pub action: String,
    /// The router method of handlers that name none.
    pub method: String,
    /// The request type of handlers that name none.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The request's transaction ID (tid) of handlers that name none.
    pub tid: i64,
    /// The collector of handlers that name none.
    pub collector: String,
    /// The Zenoss severity of each alert level, a name or a number: { OK = "Clear", Info =
    /// "Info", Warning = "Warning", Critical = "Critical" }.
    pub severity_map: SeverityMap,
    /// Whether every alert node of every TICKscript task that names no .zenoss() handler gets
    /// one with the defaults here (Kapacitor's global). Applies to tasks started afterwards.
    pub global: bool,
    /// With global, whether every alert node of every TICKscript task sends only changes of
    /// state, as .stateChangesOnly() does.
    pub state_changes_only: bool,
    /// How long one post to Zenoss may take, as a duration such as "10s". A post that takes
    /// longer fails and may be retried. (Klaxon's; Kapacitor has no timeout.)
    pub timeout: GoDuration,
}

/// The Zenoss severity of each alert level: Zenoss' names ("Clear", "Info", "Warning",
/// "Critical"...) or numbers (0 to 5), sent as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SeverityMap {
    /// The severity of OK (recoveries).
    #[serde(rename = "OK", alias = "ok")]
    pub ok: Value,
    /// The severity of INFO.
    #[serde(rename = "Info", alias = "info")]
    pub info: Value,
    /// The severity of WARNING.
    #[serde(rename = "Warning", alias = "warning")]
    pub warning: Value,
    /// The severity of CRITICAL.
    #[serde(rename = "Critical", alias = "critical")]
    pub critical: Value,
}

impl Default for SeverityMap {
    fn default() -> Self {
        SeverityMap {
            ok: Value::from("Clear"),
            info: Value::from("Info"),
            warning: Value::from("Warning"),
            critical: Value::from("Critical"),
        }
    }
}

impl SeverityMap {
    /// The severity for `level`.
    pub(crate) fn value_for(&self, level: Level) -> &Value {
        match level {
            Level::Ok => &self.ok,
            Level::Info => &self.info,
            Level::Warning => &self.warning,
            Level::Critical => &self.critical,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            url: DEFAULT_URL.to_owned(),
            username: String::new(),
            password: String::new(),
            action: "EventsRouter".to_owned(),
            method: "add_event".to_owned(),
            event_type: "rpc".to_owned(),
            tid: 1,
            collector: "Kapacitor".to_owned(),
            severity_map: SeverityMap::default(),
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
                    "must specify events URL: set url to your Zenoss JSON router, such as \"{DEFAULT_URL}\""
                )));
            }
        } else {
            klaxon_http::check_url("url", &self.url)?;
        }
        let map = &self.severity_map;
        for (level, value) in [
            ("OK", &map.ok),
            ("Info", &map.info),
            ("Warning", &map.warning),
            ("Critical", &map.critical),
        ] {
            if !(value.is_string() || value.is_number()) {
                return Err(Invalid::new(format!(
                    "invalid severity mapping: severity-map {level} is {value}; write a Zenoss severity name such as \"Critical\" or a number from 0 to 5"
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
