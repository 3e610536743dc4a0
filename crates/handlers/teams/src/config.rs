//! The `[teams]` configuration section.

use klaxon_core::{Global, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// The `[teams]` section of the server configuration.
///
/// ```toml
/// [teams]
/// enabled = true
/// channel-url = "https://outlook.office.com/webhook/..."
/// global = false
/// state-changes-only = false
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the Teams service is enabled. While it is not, teams handlers fail every delivery
    /// with "service is not enabled".
    pub enabled: bool,
    /// The incoming-webhook URL of the Teams channel, for handlers that name none. Required when
    /// enabled. Secret: the config API shows only whether it is set.
    pub channel_url: String,
    /// Whether every alert of every TICKscript task posts to Teams, even without .teams().
    pub global: bool,
    /// With global, every alert node emits only state changes.
    pub state_changes_only: bool,
    /// Ignored: Teams has one channel URL, not a list with a default. Kapacitor's documentation
    /// shows this key and Kapacitor ignores it, so a section copied from there loads as it is.
    #[serde(skip_serializing)]
    pub default: bool,
}

impl Config {
    /// `global` and `state-changes-only`, while the service is enabled.
    pub(crate) fn global(&self) -> Global {
        Global::from_keys(self.enabled && self.global, self.state_changes_only)
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["channel-url"];

    fn validate(&self) -> Result<(), Invalid> {
        if self.channel_url.is_empty() {
            if self.enabled {
                return Err(Invalid::new(
                    "channel-url is required when enabled: the incoming-webhook URL of the Teams \
                     channel",
                ));
            }
        } else if klaxon_http::check_url("channel-url", &self.channel_url).is_err() {
            // A webhook URL is its own secret, so the message does not repeat it.
            return Err(Invalid::new(
                "channel-url is not an http or https URL with a host (its value is secret and \
                 not shown)",
            ));
        }
        Ok(())
    }
}
