//! The `[pagerduty]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// PagerDuty's Events API v1 endpoint, Kapacitor's default `url`.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/generic/2010-04-15/create_event.json";

/// The `[pagerduty]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [pagerduty]
/// enabled = true
/// service-key = "0123456789abcdef0123456789abcdef"
/// url = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
/// global = false
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the PagerDuty service is enabled. While it is not, pagerduty handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// The PagerDuty service key (the integration key of an Events API v1 integration), for
    /// handlers that name none. Secret: redacted by the config API.
    pub service_key: String,
    /// Where events are posted: PagerDuty's Events API v1 endpoint. Change it only to go through
    /// a proxy or to a stand-in.
    pub url: String,
    /// Whether every alert node of every TICKscript task that names no .pagerDuty() handler gets
    /// one with the service key above (Kapacitor's global). Applies to tasks started afterwards.
    pub global: bool,
    /// How long one post to PagerDuty may take, as a duration such as "10s". A post that takes
    /// longer fails and may be retried. (Klaxon's; Kapacitor has no timeout.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            service_key: String::new(),
            url: DEFAULT_URL.to_owned(),
            global: false,
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["service-key"];

    fn validate(&self) -> Result<(), Invalid> {
        klaxon_http::check_url("url", &self.url)?;
        if self.timeout <= GoDuration::ZERO {
            return Err(Invalid::new(format!(
                "timeout must be greater than zero, got {}",
                self.timeout
            )));
        }
        Ok(())
    }
}
