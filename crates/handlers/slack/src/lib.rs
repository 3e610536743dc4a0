//! The `slack` alert handler: posts each alert to Slack, through an incoming webhook or
//! `chat.postMessage` with a token.
//!
//! For every event the handler posts, as Kapacitor does,
//!
//! ```text
//! POST <workspace url>
//! Content-Type: application/json
//! Authorization: Bearer <workspace token>          (only when the workspace has a token)
//!
//! {"attachments":[{"fallback":"cpu:nil is CRITICAL","color":"danger","text":"cpu:nil is CRITICAL","mrkdwn_in":["text"]}],"channel":"#alerts","icon_emoji":"","text":"","username":"kapacitor"}
//! ```
//!
//! followed by a newline. The attachment's text is the alert's rendered `.message()`; its color
//! is `danger` for CRITICAL, `warning` for WARNING and `good` for INFO and OK. `channel`,
//! `username` and `icon_emoji` are the handler's own, or the workspace's where the handler has
//! none; every key is always sent, empty or not. The same body goes to an incoming-webhook URL
//! (`https://hooks.slack.com/services/...`, no token) and to a Slack app's
//! `https://slack.com/api/chat.postMessage` (with the app's token as a bearer token): what the
//! workspace's `url` and `token` say decides, as in Kapacitor.
//!
//! # Options
//!
//! | option       | type   | meaning                                                       |
//! |--------------|--------|---------------------------------------------------------------|
//! | `workspace`  | string | The `[[slack]]` workspace to post with. Empty: the default one. |
//! | `channel`    | string | `#channel` or `@user`. Empty: the workspace's `channel`.      |
//! | `username`   | string | The bot's name. Empty: the workspace's `username`.            |
//! | `icon-emoji` | string | An emoji for the bot's icon, `:smile:`. Empty: the workspace's. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: handler-id
//! topic: topic-name
//! kind: slack
//! options:
//!   workspace: 'workspace.slack.com'
//!   channel: '#alerts'
//!   username: 'kapacitor'
//!   icon-emoji: ':smile:'
//! ```
//!
//! # In TICKscript
//!
//! `.slack()` takes no argument; the options are chained properties, spelled as in Kapacitor:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .warn(lambda: "usage_idle" < 20)
//!     .stateChangesOnly()
//!     .message('Hey, check your CPU')
//!     .slack()
//!       .workspace('workspace.slack.com')
//!       .channel('#alerts')
//!       .username('kapacitor')
//!       .iconEmoji(':exclamation:')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[[slack]]` section, pasted as it is: a list of workspaces (a single `[slack]`
//! table is one workspace).
//!
//! ```toml
//! [[slack]]
//!   enabled = true
//!   # The default workspace serves handlers that name none. A single workspace is the default.
//!   default = true
//!   workspace = "example.slack.com"
//!   # An incoming-webhook URL, or chat.postMessage with a token. Secret.
//!   url = "https://slack.com/api/chat.postMessage"
//!   # The Slack app's OAuth token; empty for an incoming webhook. Secret.
//!   token = "mY5uP3Rs3CrE7t0keN"
//!   channel = "#alerts"
//!   username = "kapacitor"
//!   icon-emoji = ""
//!   # Post every alert of every task with this workspace, even without .slack(); with
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
//! Without a `[[slack]]` section there is Kapacitor's built-in workspace: unnamed, the default,
//! disabled, username `kapacitor`. A workspace written in the file starts from empty values (so
//! without `username` it sends `"username":""`, as Kapacitor does). `url` and `token` are
//! secret: `klaxond config` and the config API show only whether they are set, and no message
//! repeats them.
//!
//! These are refused at start and through the config API, with messages naming the workspace:
//! an enabled workspace without `url` (`slack: workspace "ops": url is required when
//! enabled: ...`), a `url` that is not http(s) with a host, several workspaces of which one has
//! no name, none or more than one is the default, `global` on a workspace that is not the
//! default, `state-changes-only` without `global` on the default workspace, and TLS files that
//! cannot be used. Configuration changes apply to the next alert of every slack handler.
//!
//! # Failures
//!
//! A handler naming a workspace that does not exist is refused where it is defined:
//! `slack: unknown workspace "other"; the [[slack]] workspaces are: "example.slack.com"`.
//! At delivery, each of these fails it; the engine logs it and, where marked, retries:
//!
//! - the workspace is disabled: `service is not enabled`;
//! - Slack answers an error status: the message carries Slack's own text, the `error` of a JSON
//!   answer or the text of an incoming webhook's
//!   (`POST https://hooks.slack.com/[redacted]: 404 Not Found: channel_not_found`); retried for
//!   5xx and 429, after the `Retry-After` Slack gives;
//! - chat.postMessage answers 200 with `{"ok":false,"error":...}`:
//!   `POST https://slack.com/[redacted]: 200 OK: not_in_channel`; retried only for Slack's
//!   transient errors (`internal_error`, `fatal_error`, `service_unavailable`,
//!   `request_timeout`, `ratelimited`);
//! - Slack cannot be reached, or does not answer within 30 seconds (retried);
//! - the TLS handshake fails, naming the host (not retried).
//!
//! # Service test
//!
//! `klaxon service-tests slack` (or `POST /kapacitor/v1/service-tests/slack`) posts
//! `test slack message` at CRITICAL with Kapacitor's options and defaults:
//! `{"workspace": <default workspace>, "channel": <its channel>, "message": "test slack message",
//! "level": "CRITICAL", "username": "", "icon-emoji": ""}`.
//!
//! # Differences from Kapacitor
//!
//! - A handler naming an unknown workspace is refused when it is defined; Kapacitor accepts it
//!   and logs `workspace id not found` at every alert.
//! - Any 2xx answer is a success (Kapacitor: only 200), except chat.postMessage's 200 with
//!   `"ok":false`, which Kapacitor counts as delivered although Slack posted nothing.
//! - Failures go back to the engine, which retries 5xx, 429 and Slack's transient errors;
//!   Kapacitor logs every failure and drops the alert.
//! - A single `[[slack]]` workspace is the default for the checks of `global` too (Kapacitor
//!   refuses `global = true` on a lone workspace without `default = true`), and two workspaces
//!   with `default = true` are refused (Kapacitor silently uses the last one).
//! - `global` attaches a handler only while the default workspace is enabled; Kapacitor attaches
//!   one to every alert node even when disabled, and each fails with `service is not enabled`.
//! - A `url` must be http or https with a host; Kapacitor accepts any text and fails at the
//!   first alert. No message shows the URL or the token; Kapacitor's transport errors show the
//!   URL.

mod config;
mod handler;

pub use config::{Config, DEFAULT_USERNAME, Workspace};
pub use handler::{Options, SlackService, TestOptions};

klaxon_core::register_service!(SlackService);

#[cfg(test)]
mod tests;
