//! The `[[discord]]` configuration section: one or more Discord webhooks ("workspaces"), one of
//! them the default.

use klaxon_core::{ElementConfig, Elements, Global, Invalid};
use klaxon_http::{ClientOptions, ClientTls};
use serde::{Deserialize, Serialize};

use crate::handler::parse_title;

/// The `[[discord]]` section: Discord webhooks, each named by its `workspace` key. Handlers that
/// name no workspace post with the default one: the only workspace, or the one with
/// `default = true`.
///
/// Without any `[[discord]]` in the file there is one disabled, unnamed default workspace, as in
/// Kapacitor; writing `[[discord]]` tables (or a single `[discord]` table) replaces it.
///
/// ```toml
/// [[discord]]
/// enabled = true
/// default = true
/// workspace = "guild-alerts"
/// url = "https://discord.com/api/webhooks/123/abc"
/// username = "Kapacitor"
/// embed-title = "Kapacitor Alert"
/// ```
pub type Config = Elements<Workspace>;

/// One `[[discord]]` workspace: a channel's webhook and what its posts look like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Workspace {
    /// Whether posting with this workspace is enabled. While it is not, its handlers fail every
    /// delivery with "service is not enabled".
    pub enabled: bool,
    /// Whether this is the default workspace, used by handlers that name none. A single
    /// workspace is the default whatever this says; of several, exactly one must say true.
    pub default: bool,
    /// The workspace's name, which handlers give as `workspace` (any text, such as
    /// "guild-channel"). Required when there are several.
    pub workspace: String,
    /// The channel's webhook URL ("https://discord.com/api/webhooks/<id>/<token>"). Required
    /// when enabled. Secret: the config API shows only whether it is set.
    pub url: String,
    /// Whether each embed carries the alert's time.
    pub timestamp: bool,
    /// The webhook's username for handlers that name none. Empty: the webhook's own.
    pub username: String,
    /// The URL of the webhook's avatar for handlers that name none. Empty: the webhook's own.
    pub avatar_url: String,
    /// The embed title for handlers that give none: a Go template over the alert, such as
    /// "{{ .Level }}: {{ .ID }}".
    pub embed_title: String,
    /// Whether every alert of every TICKscript task posts with this workspace, even without
    /// .discord(). Only on the default workspace.
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
    const SECRETS: &'static [&'static str] = &["url"];
    const SECTION: &'static str = "discord";
    const HAS_DEFAULT: bool = true;

    fn name(&self) -> &str {
        &self.workspace
    }

    /// Kapacitor's `Config.Validate`, with the URLs and the title template checked.
    fn validate(&self) -> Result<(), Invalid> {
        if self.url.is_empty() {
            if self.enabled {
                return Err(Invalid::new(
                    "url is required when enabled: the Discord channel's webhook URL",
                ));
            }
        } else if klaxon_http::check_url("url", &self.url).is_err() {
            // The URL of a webhook is its secret, so the message does not repeat it.
            return Err(Invalid::new(
                "url is not an http or https URL with a host (its value is secret and not shown)",
            ));
        }
        if !self.avatar_url.is_empty() {
            klaxon_http::check_url("avatar-url", &self.avatar_url)?;
        }
        parse_title(&self.embed_title)
            .map(|_| ())
            .map_err(|reason| {
                Invalid::new(format!(
                    "embed-title {:?} is not a valid template: {reason}",
                    self.embed_title
                ))
            })
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

    /// Kapacitor's built-in workspace: unnamed, the default, disabled.
    fn defaults() -> Vec<Self> {
        vec![Workspace {
            default: true,
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
