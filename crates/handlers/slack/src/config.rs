//! The `[[slack]]` configuration section: one or more Slack workspaces, one of them the default.

use klaxon_core::{ElementConfig, Elements, Global, Invalid};
use klaxon_http::{ClientOptions, ClientTls};
use serde::{Deserialize, Serialize};

/// Kapacitor's username for the built-in workspace.
pub const DEFAULT_USERNAME: &str = "kapacitor";

/// The `[[slack]]` section: Slack workspaces, each named by its `workspace` key. Handlers that
/// name no workspace post with the default one: the only workspace, or the one with
/// `default = true`.
///
/// Without any `[[slack]]` in the file there is one disabled, unnamed default workspace whose
/// username is `kapacitor`, as in Kapacitor; writing `[[slack]]` tables (or a single `[slack]`
/// table) replaces it.
///
/// ```toml
/// [[slack]]
/// enabled = true
/// default = true
/// workspace = "example.slack.com"
/// url = "https://slack.com/api/chat.postMessage"
/// token = "xoxb-..."
/// channel = "#alerts"
///
/// [[slack]]
/// enabled = true
/// workspace = "ops.slack.com"
/// url = "https://hooks.slack.com/services/T000/B000/XXXX"
/// ```
pub type Config = Elements<Workspace>;

/// One `[[slack]]` workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Workspace {
    /// Whether posting with this workspace is enabled. While it is not, its handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// Whether this is the default workspace, used by handlers that name none. A single
    /// workspace is the default whatever this says; of several, exactly one must say true.
    pub default: bool,
    /// The workspace's name, which handlers give as `workspace` (any text; the Slack workspace's
    /// domain, such as "example.slack.com", is a good choice). Required when there are several.
    pub workspace: String,
    /// Where messages are posted: an incoming-webhook URL
    /// ("https://hooks.slack.com/services/..."), or "https://slack.com/api/chat.postMessage"
    /// for a Slack app, with `token`. Required when enabled. Secret: the config API shows only
    /// whether it is set.
    pub url: String,
    /// The Slack app's OAuth token ("xoxb-..."), sent as "Authorization: Bearer <token>" when set
    /// (the app needs the chat:write and chat:write.public scopes). Leave empty for an
    /// incoming webhook. Secret.
    pub token: String,
    /// The channel for handlers that name none ("#alerts", "@someone"). Empty: the webhook's own
    /// channel.
    pub channel: String,
    /// The bot's username for handlers that name none ("kapacitor" in the built-in workspace;
    /// empty in a written one unless set, as in Kapacitor).
    pub username: String,
    /// An emoji shown instead of the bot's icon for handlers that name none, such as
    /// ":chart_with_upwards_trend:".
    pub icon_emoji: String,
    /// Whether every alert of every TICKscript task posts with this workspace, even without
    /// .slack(). Only on the default workspace.
    pub global: bool,
    /// With global, every alert node emits only state changes. Only on the default workspace.
    pub state_changes_only: bool,
    /// A PEM file of CA certificates trusted for an https:// URL, beside the system's roots.
    pub ssl_ca: String,
    /// A PEM client certificate, sent when the server asks for one (with ssl-key).
    pub ssl_cert: String,
    /// The PEM private key of ssl-cert.
    pub ssl_key: String,
    /// Accept any certificate from an https:// server (insecure; for tests only).
    pub insecure_skip_verify: bool,
}

impl ElementConfig for Workspace {
    const ELEMENT_KEY: &'static str = "workspace";
    const SECRETS: &'static [&'static str] = &["url", "token"];
    const SECTION: &'static str = "slack";
    const HAS_DEFAULT: bool = true;

    fn name(&self) -> &str {
        &self.workspace
    }

    /// Kapacitor's `Config.Validate`, with the URL checked.
    fn validate(&self) -> Result<(), Invalid> {
        if self.url.is_empty() {
            if self.enabled {
                return Err(Invalid::new(
                    "url is required when enabled: an incoming-webhook URL, or \
                     \"https://slack.com/api/chat.postMessage\" with a token",
                ));
            }
        } else if klaxon_http::check_url("url", &self.url).is_err() {
            // The URL of a webhook is its secret, so the message does not repeat it.
            return Err(Invalid::new(
                "url is not an http or https URL with a host (its value is secret and not shown)",
            ));
        }
        Ok(())
    }

    fn is_default(&self) -> bool {
        self.default
    }

    fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn global(&self) -> Global {
        Global {
            handler: self.global,
            state_changes_only: self.state_changes_only,
        }
    }

    /// Kapacitor's built-in workspace: unnamed, the default, disabled, username `kapacitor`.
    fn defaults() -> Vec<Self> {
        vec![Workspace {
            default: true,
            username: DEFAULT_USERNAME.to_owned(),
            ..Workspace::default()
        }]
    }
}

impl Workspace {
    /// The HTTP client settings of the workspace: its TLS keys.
    pub(crate) fn client_options(&self) -> ClientOptions {
        ClientOptions {
            tls: ClientTls {
                ca: self.ssl_ca.clone(),
                cert: self.ssl_cert.clone(),
                key: self.ssl_key.clone(),
                insecure_skip_verify: self.insecure_skip_verify,
            },
        }
    }
}
