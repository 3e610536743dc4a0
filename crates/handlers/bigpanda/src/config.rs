//! The `[bigpanda]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// BigPanda's alerts API, Kapacitor's default `url`.
pub const DEFAULT_URL: &str = "https://api.bigpanda.io/data/v2/alerts";

/// The `[bigpanda]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [bigpanda]
/// enabled = true
/// app-key = "my-app-key"
/// token = "my-token"
/// url = "https://api.bigpanda.io/data/v2/alerts"
/// auto-attributes = "tags,fields"
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the BigPanda service is enabled. While it is not, bigpanda handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// Whether every alert node of every TICKscript task that names no .bigPanda() handler gets
    /// one with the defaults here (Kapacitor's global). Applies to tasks started afterwards.
    pub global: bool,
    /// The app key of the BigPanda integration, for handlers that name none. Required when
    /// enabled.
    pub app_key: String,
    /// The bearer token of BigPanda's REST API. Required when enabled. Secret: redacted by the
    /// config API.
    pub token: String,
    /// With global, whether every alert node of every TICKscript task sends only changes of
    /// state, as .stateChangesOnly() does.
    pub state_changes_only: bool,
    /// Accept any certificate from the BigPanda URL (insecure; for tests only).
    pub insecure_skip_verify: bool,
    /// BigPanda's alerts API; change it only for a proxy or a stand-in. Handlers may name
    /// another.
    pub url: String,
    /// Which of the alert's data go out as BigPanda attributes: "tags", "fields", both
    /// ("tags,fields") or neither ("").
    pub auto_attributes: String,
    /// How long one post to BigPanda may take, as a duration such as "10s". A post that takes
    /// longer fails and may be retried. (Klaxon's; Kapacitor waits 30s.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            global: false,
            app_key: String::new(),
            token: String::new(),
            state_changes_only: false,
            insecure_skip_verify: false,
            url: DEFAULT_URL.to_owned(),
            auto_attributes: "tags,fields".to_owned(),
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl Config {
    /// The HTTP client settings these keys give.
    pub(crate) fn client(&self) -> klaxon_http::ClientOptions {
        klaxon_http::ClientOptions {
            tls: klaxon_http::ClientTls {
                insecure_skip_verify: self.insecure_skip_verify,
                ..Default::default()
            },
        }
    }

    /// Whether `auto-attributes` names `what` ("tags" or "fields"), in any case.
    pub(crate) fn auto(&self, what: &str) -> bool {
        self.auto_attributes.to_lowercase().contains(what)
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["token"];

    fn validate(&self) -> Result<(), Invalid> {
        if self.enabled && self.url.is_empty() {
            return Err(Invalid::new(format!(
                "must specify the BigPanda webhook URL: set url, normally \"{DEFAULT_URL}\""
            )));
        }
        if self.enabled && self.app_key.is_empty() {
            return Err(Invalid::new(
                "must specify BigPanda app-key: set app-key to the app key of your BigPanda integration",
            ));
        }
        if !self.url.is_empty() {
            klaxon_http::check_url("url", &self.url)?;
        }
        if self.enabled && self.token.is_empty() {
            return Err(Invalid::new(
                "must specify BigPanda token: set token to a bearer token of BigPanda's REST API",
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
