//! The `teams` alert handler: posts each alert to a Microsoft Teams channel as a MessageCard,
//! through the channel's incoming webhook.
//!
//! For every event the handler posts, as Kapacitor does,
//!
//! ```text
//! POST <channel-url>
//! Content-Type: application/json
//!
//! {"@type":"MessageCard","@context":"http://schema.org/extensions","title":"CRITICAL: [cpu:nil]","text":"cpu:nil is CRITICAL","summary":"CRITICAL: [cpu:nil] - cpu:nil is CRITICAL...","themeColor":"CC4A31"}
//! ```
//!
//! with no trailing newline. The title is the level and the alert's ID in brackets (or, for an
//! alert without an ID, its topic); the text is the alert's rendered `.message()`; the summary is
//! `<title> - <message>` cut to 70 bytes, always followed by `...`; the theme color is `CC4A31`
//! for CRITICAL, `FFA533` for WARNING and `34CC25` for INFO and OK. The URL is the handler's own
//! `channel-url`, or `[teams] channel-url` when it has none.
//!
//! # Options
//!
//! | option        | type   | meaning                                                                  |
//! |---------------|--------|--------------------------------------------------------------------------|
//! | `channel-url` | string | The channel's incoming-webhook URL. Empty: `[teams] channel-url` at each alert. |
//!
//! Kapacitor's documentation also shows `team` and `channel` options and a `channelurl` key; no
//! version of Kapacitor has them, and neither does Klaxon (`teams: unknown option "team",
//! expected one of: channel-url`).
//!
//! # In a handler file
//!
//! ```yaml
//! id: teams-cpu-alert
//! topic: cpu
//! kind: teams
//! options:
//!   channel-url: 'https://outlook.office.com/webhook/...'
//! ```
//!
//! # In TICKscript
//!
//! `.teams()` takes no argument; `.channelURL(...)` (Kapacitor's spelling) chooses the channel:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .warn(lambda: "usage_idle" < 20)
//!     .stateChangesOnly()
//!     .message('Hey, check your CPU')
//!     .teams()
//!       .channelURL('https://outlook.office.com/webhook/...')
//! ```
//!
//! # Configuration
//!
//! ```toml
//! [teams]
//!   enabled = true
//!   # The channel's incoming-webhook URL, for handlers that name none. Secret.
//!   channel-url = "https://outlook.office.com/webhook/..."
//!   # Post every alert of every task to Teams, even without .teams(); with
//!   # state-changes-only, every alert node emits only state changes.
//!   global = false
//!   state-changes-only = false
//! ```
//!
//! Enabling the service without a `channel-url` is refused
//! (`teams: channel-url is required when enabled: ...`), and so is a `channel-url` that is not
//! http(s) with a host; neither message repeats the URL, which is secret: `klaxond config` and
//! the config API show only whether it is set. Configuration changes apply to the next alert of
//! every teams handler. The `default = true` of Kapacitor's documented section means nothing
//! to Kapacitor (it ignores the key) and is accepted and ignored here too, so the section loads
//! as it is documented; other unknown keys are refused, naming the known ones.
//!
//! # Failures
//!
//! A handler `channel-url` that is not http(s) with a host is refused where it is defined. At
//! delivery, each of these fails it; the engine logs it and, where marked, retries:
//!
//! - the service is disabled: `service is not enabled`;
//! - Teams answers an error status, with its text:
//!   `POST https://outlook.office.com/[redacted]: 400 Bad Request: Summary or Text is required.`;
//!   retried for 5xx and 429, after the `Retry-After` Teams gives;
//! - Teams cannot be reached, or does not answer within 30 seconds (retried);
//! - the TLS handshake fails, naming the host (not retried).
//!
//! # Service test
//!
//! `klaxon service-tests teams` (or `POST /kapacitor/v1/service-tests/teams`) posts a card with
//! Kapacitor's options and defaults: `{"channel_url": "", "alert_topic": "test kapacitor alert
//! topic", "alert_id": "foo/bar/bat", "message": "test teams message", "level": "CRITICAL"}`,
//! which gives the title `CRITICAL: [foo/bar/bat]`. An empty `channel_url` posts to
//! `[teams] channel-url`.
//!
//! # Differences from Kapacitor
//!
//! - The summary is cut before a character that byte 70 would split; Kapacitor splits it.
//! - Any 2xx answer is a success (Kapacitor: 200 and 204).
//! - Failures go back to the engine, which retries 5xx and 429; Kapacitor logs them and drops
//!   the alert. Each post is bounded by 30 seconds; Kapacitor's has no limit.
//! - `channel-url` is secret (Kapacitor shows it in the config API and in the service test's
//!   defaults), and the service test's `channel_url` is used when given (Kapacitor ignores it).
//! - `global` attaches a handler only while the service is enabled; Kapacitor attaches one to
//!   every alert node even when disabled, and each fails with `service is not enabled`.
//! - URLs must be http or https with a host, checked where they are written; Kapacitor fails at
//!   the first alert.

mod config;
mod handler;

pub use config::Config;
pub use handler::{Options, TeamsService, TestOptions};

klaxon_core::register_service!(TeamsService);

#[cfg(test)]
mod tests;
