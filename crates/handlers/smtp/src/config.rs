//! The `[smtp]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

use crate::address;
use crate::recipients::ToTemplates;

/// The `[smtp]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [smtp]
/// enabled = true
/// host = "localhost"
/// port = 25
/// username = ""
/// password = ""
/// from = "kapacitor@example.com"
/// to = ["oncall@example.com"]
/// no-verify = false
/// idle-timeout = "30s"
/// global = false
/// state-changes-only = false
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether email is enabled. While it is not, smtp handlers fail every delivery with
    /// "service is not enabled".
    pub enabled: bool,
    /// The SMTP server's host name or address. STARTTLS checks the server's certificate against
    /// this name.
    pub host: String,
    /// The SMTP server's port. The connection starts in plain text and is upgraded with
    /// STARTTLS whenever the server offers it (also on 465: there is no implicit TLS).
    pub port: u16,
    /// The user to authenticate as, when the server offers AUTH. Empty: no authentication.
    pub username: String,
    /// The password of username. Secret: redacted by the config API, and only ever sent over an
    /// encrypted connection (or to a server on this machine).
    pub password: String,
    /// Whether to accept any certificate from the server at STARTTLS (for tests only).
    pub no_verify: bool,
    /// Whether every alert node of every TICKscript task that names no .email() handler gets one
    /// sending to the addresses in to (Kapacitor's global). Applies to tasks started afterwards.
    pub global: bool,
    /// With global, whether every alert node of every task sends only changes of state, as if it
    /// had .stateChangesOnly(). Applies to tasks started afterwards.
    pub state_changes_only: bool,
    /// The sender: the From header and the envelope sender, as "kapacitor@example.com" or
    /// "Kapacitor <kapacitor@example.com>". Required when enabled.
    pub from: String,
    /// The recipients of alerts whose handler names none (and of the service test).
    pub to: Vec<String>,
    /// Recipients of alerts whose handler names none, as Go templates over the alert's data
    /// (`{{ index .Tags "owner" }}`), added to those of to. Kapacitor reads this key but never
    /// uses it.
    #[serde(rename = "toTemplates")]
    pub to_templates: Vec<String>,
    /// How long the connection to the server stays open without mail before it is closed, as a
    /// duration such as "30s". "0s" closes it after each message.
    pub idle_timeout: GoDuration,
    /// How long connecting and sending one message may take together, as a duration such as
    /// "10s". A message that takes longer fails and may be retried. (Klaxon's; Kapacitor has a
    /// 10 s limit on connecting only.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            host: "localhost".to_owned(),
            port: 25,
            username: String::new(),
            password: String::new(),
            no_verify: false,
            global: false,
            state_changes_only: false,
            from: String::new(),
            to: Vec::new(),
            to_templates: Vec::new(),
            idle_timeout: GoDuration::from_secs(30),
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["password"];

    fn validate(&self) -> Result<(), Invalid> {
        if self.host.trim().is_empty() {
            return Err(Invalid::new(
                "host is required; write the SMTP server's name, like \"smtp.example.com\"",
            ));
        }
        if self.port == 0 {
            return Err(Invalid::new(
                "port 0 is not a port; write the SMTP server's port, like 25 or 587",
            ));
        }
        if self.idle_timeout < GoDuration::ZERO {
            return Err(Invalid::new(format!(
                "idle-timeout must not be negative, got {}",
                self.idle_timeout
            )));
        }
        if self.timeout <= GoDuration::ZERO {
            return Err(Invalid::new(format!(
                "timeout must be greater than zero, got {}",
                self.timeout
            )));
        }
        if self.enabled && self.from.is_empty() {
            return Err(Invalid::new(
                "from is required when enabled; write the sender, like \"kapacitor@example.com\"",
            ));
        }
        if !self.from.is_empty() {
            address::parse("from", &self.from)?;
        }
        for (i, to) in self.to.iter().enumerate() {
            address::parse(&format!("to[{i}]"), to)?;
        }
        ToTemplates::parse("toTemplates", &self.to_templates)?;
        Ok(())
    }
}
