//! The `discord` alert handler: posts each alert to a Discord channel's webhook as one embed
//! colored by level.
//!
//! For every event the handler posts, as Kapacitor does,
//!
//! ```text
//! POST <workspace url>
//! Content-Type: application/json
//!
//! {"avatar_url":"","embeds":[{"color":16342867,"title":"Kapacitor Alert","description":"cpu:nil is CRITICAL","timestamp":""}],"username":"Kapacitor"}
//! ```
//!
//! followed by a newline. The embed's description is the alert's rendered `.message()`; its
//! color is 16342867 (`#F95F53`) for CRITICAL, 16026936 (`#F48D38`) for WARNING and 8021490
//! (`#7A65F2`) for INFO and OK; its title is the handler's `embed-title` (else the workspace's),
//! a Go template over the alert (`.ID`, `.Message`, `.Level`, `.Time`, `.Duration`, `.Details`,
//! `.Name`, `.TaskName`, `.Group`, `.Tags`, `.Fields`); its timestamp is the alert's time in
//! whole seconds (`1971-01-01T00:00:10Z`) when the workspace has `timestamp = true`, else empty.
//! `username` and `avatar_url` are the handler's, or the workspace's. Every key is always sent.
//!
//! # Options
//!
//! | option        | type   | meaning                                                             |
//! |---------------|--------|---------------------------------------------------------------------|
//! | `workspace`   | string | The `[[discord]]` workspace to post with. Empty: the default one.   |
//! | `username`    | string | The webhook's name. Empty: the workspace's `username`.              |
//! | `avatar-url`  | string | The webhook's avatar (http or https URL). Empty: the workspace's.   |
//! | `embed-title` | string | The embed title, a Go template. Empty: the workspace's `embed-title`. |
//!
//! Kapacitor's documentation also shows a `timestamp` option; no version of Kapacitor has it
//! (`timestamp` is a workspace key), and neither does Klaxon.
//!
//! # In a handler file
//!
//! ```yaml
//! id: discord-cpu-alert
//! topic: cpu
//! kind: discord
//! options:
//!   workspace: 'guild-alerts'
//!   embed-title: 'Hey, Listen!'
//! ```
//!
//! # In TICKscript
//!
//! `.discord()` takes no argument; the options are chained properties with Kapacitor's
//! spelling, `.avatarURL()` (its documentation's `.avatarUrl()` and `.timestamp()` do not exist
//! in Kapacitor):
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .warn(lambda: "usage_idle" < 20)
//!     .stateChangesOnly()
//!     .message('Hey, check your CPU')
//!     .discord()
//!       .workspace('guild-channel')
//!       .username('Kapacitor')
//!       .avatarURL('https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png')
//!       .embedTitle('Uh Oh!')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[[discord]]` section, pasted as it is: a list of webhooks, called workspaces
//! (a single `[discord]` table is one workspace).
//!
//! ```toml
//! [[discord]]
//!   enabled = true
//!   # The default workspace serves handlers that name none. A single workspace is the default.
//!   default = true
//!   url = "https://discordapp.com/api/webhooks/xxxxxxxxxxxxxxxxxx/xxxxxxxx"
//!   workspace = "guild-channel"
//!   # Whether embeds carry the alert's time.
//!   timestamp = true
//!   username = "Kapacitor"
//!   avatar-url = "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png"
//!   # The title of handlers that give none (a Go template).
//!   embed-title = "Kapacitor Alert"
//!   # Post every alert of every task with this workspace, even without .discord(); with
//!   # state-changes-only, every alert node emits only state changes. Default workspace only.
//!   global = false
//!   state-changes-only = false
//!   # TLS for an https:// url: a CA trusted beside the system's, a client certificate and key.
//!   ssl-ca = "/path/to/ca.crt"
//!   ssl-cert = "/path/to/cert.crt"
//!   ssl-key = "/path/to/private-key.key"
//!   insecure-skip-verify = false
//! ```
//!
//! Without a `[[discord]]` section there is Kapacitor's built-in workspace: unnamed, the
//! default, disabled. The webhook URL holds the webhook's token, so `url` is secret:
//! `klaxond config` and the config API show only whether it is set, and no message repeats it.
//!
//! Refused at start and through the config API, with messages naming the workspace: an enabled
//! workspace without `url`, a `url` or `avatar-url` that is not http(s) with a host, an
//! `embed-title` that is not a template, several workspaces of which one has no name, none or
//! more than one is the default, `global` on a workspace that is not the default,
//! `state-changes-only` without `global` on the default workspace, and TLS files that cannot be
//! used. Configuration changes apply to the next alert of every discord handler.
//!
//! # Failures
//!
//! A handler naming a workspace that does not exist, with an avatar URL that is not http(s) or a
//! title that is not a template, is refused where it is defined
//! (`discord: unknown workspace "guild"; the [[discord]] workspaces are: "guild-channel"`). At
//! delivery, each of these fails it; the engine logs it and, where marked, retries:
//!
//! - the workspace is disabled: `service is not enabled`;
//! - the title cannot be rendered for the alert: `cannot render the embed title: ...`;
//! - Discord answers an error status, with its message:
//!   `POST https://discord.com/[redacted]: 404 Not Found: Unknown Webhook`; retried for 5xx and
//!   429, after the `Retry-After` header or Discord's own `retry_after`;
//! - Discord cannot be reached, or does not answer within 30 seconds (retried);
//! - the TLS handshake fails, naming the host (not retried).
//!
//! # Service test
//!
//! `klaxon service-tests discord` (or `POST /kapacitor/v1/service-tests/discord`) posts an embed
//! with Kapacitor's options and defaults: `{"workspace": <default workspace>, "message": "test
//! discord message", "level": "INFO", "username": "Kapacitor", "avatar-url": <InfluxData's
//! logo>, "embed-title": "Kapacitor Alert", "time-val": "1970-01-01T00:00:01Z"}`. Its title is
//! used as it is, not as a template, and its time shows only when the workspace has
//! `timestamp = true`, as in Kapacitor.
//!
//! # Differences from Kapacitor
//!
//! - The workspace's `embed-title` is the title of handlers that give none, as Kapacitor's
//!   documentation says; Kapacitor never uses it and sends an empty title.
//! - `state-changes-only` means itself; Kapacitor's Discord service reads `global` in its place,
//!   so `global = true` alone made every alert node state-changes-only.
//! - Any 2xx answer is a success; Kapacitor counts only 204, so a webhook called with
//!   `?wait=true` (200) failed every alert. The error text is Discord's `message` (Kapacitor
//!   reads an `error` key, which Discord does not send).
//! - Failures go back to the engine, which retries 5xx and 429; Kapacitor logs them and drops
//!   the alert.
//! - A handler naming an unknown workspace is refused when it is defined; Kapacitor accepts it
//!   and logs `workspace id not found` at every alert.
//! - `url` is secret (Kapacitor shows it in the config API), and no message shows it.
//! - As for Slack: a single workspace is the default for the checks of `global` too, two
//!   defaults are refused, and `global` attaches a handler only while the default workspace is
//!   enabled. URLs are checked where they are written.

mod config;
mod handler;

pub use config::{Config, Workspace};
pub use handler::{DiscordService, Options, TestOptions};

klaxon_core::register_service!(DiscordService);

#[cfg(test)]
mod tests;
