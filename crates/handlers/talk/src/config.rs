//! The `[talk]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// The `[talk]` section of the server configuration, as in Kapacitor's kapacitor.conf (note
/// `author_name`, with an underscore, as Kapacitor spells it).
///
/// ```toml
/// [talk]
/// enabled = true
/// url = "https://jianliao.com/v2/services/webhook/uuid"
/// author_name = "Kapacitor"
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Whether the Talk service is enabled. While it is not, talk handlers fail every delivery
    /// with "service is not enabled".
    pub enabled: bool,
    /// The incoming webhook URL of the Talk integration. Required when enabled. Secret (it
    /// grants posting): redacted by the config API and in error messages.
    pub url: String,
    /// The author name of the messages.
    pub author_name: String,
    /// How long one post to Talk may take, as a duration such as "10s". A post that takes
    /// longer fails and may be retried. (Klaxon's; Kapacitor has no timeout.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            url: String::new(),
            author_name: "Kapacitor".to_owned(),
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["url"];

    fn validate(&self) -> Result<(), Invalid> {
        if self.url.is_empty() {
            if self.enabled {
                return Err(Invalid::new(
                    "must specify url: set url to the incoming webhook URL of your Talk integration",
                ));
            }
        } else {
            // The URL is secret: the message shows only its start.
            klaxon_http::check_url("url", &self.url).map_err(|_| {
                Invalid::new(format!(
                    "url {:?}... is not an http(s) URL with a host; write the webhook URL Talk gave, like \"https://jianliao.com/v2/services/webhook/<uuid>\"",
                    self.url.chars().take(8).collect::<String>()
                ))
            })?;
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
