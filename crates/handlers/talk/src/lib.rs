//! The `talk` alert handler: posts each alert to a Talk (jianliao.com) incoming webhook, as
//! Kapacitor's `talk` service does. (Kapacitor's documentation calls Talk deprecated since 1.5;
//! its service is still wired, and so is this one.)
//!
//! For every event the handler posts one message to the configured webhook `url`:
//!
//! ```text
//! POST https://jianliao.com/v2/services/webhook/<uuid>
//! Content-Type: application/json
//!
//! {"authorName":"Kapacitor","text":"Hey, check your CPU","title":"cpu:nil"}
//! ```
//!
//! (one line, keys sorted, ending with a newline), field by field what Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `title` | the handler's title, else the alert's ID (`.id()`) |
//! | `text` | the handler's text, else the alert's message (`.message()`) |
//! | `authorName` | `[talk] author_name` |
//!
//! Any 2xx answer is a delivery.
//!
//! # Options
//!
//! | option  | type   | meaning |
//! |---------|--------|---------|
//! | `title` | string | The message title. Empty or absent: the alert's ID. |
//! | `text`  | string | The message text. Empty or absent: the alert's message. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: talk-cpu-alert
//! topic: cpu
//! kind: talk
//! options:
//!   title: Alert from Kapacitor
//! ```
//!
//! # In TICKscript
//!
//! `.talk()` takes no argument; `.title()` and `.text()` may follow it:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .talk()
//!       .title('Alert from Kapacitor')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[talk]` section, plus `timeout`:
//!
//! ```toml
//! [talk]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The incoming webhook URL. Required when enabled. Secret: redacted by the config API and in
//! # error messages.
//! url = "https://jianliao.com/v2/services/webhook/uuid"
//! # The author name of the messages.
//! author_name = "Kapacitor"
//! # How long one post may take.
//! timeout = "10s"
//! ```
//!
//! Refused: enabling without `url` (`talk: must specify url: set url to the incoming webhook
//! URL of your Talk integration`), a `url` that is not http(s) with a host (the message shows
//! only its first characters), a zero `timeout`. Changes through the config API reach existing
//! handlers at their next alert.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry. The
//! webhook's path, which is its secret, never appears in a message: it reads `<secret path>`.
//!
//! - the service is disabled: `service is not enabled`;
//! - Talk refuses the message (4xx), with its explanation: `POST https://jianliao.com/<secret
//!   path>: 404 Not Found: ...`;
//! - Talk limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - Talk cannot be reached, or the post outlasts `timeout`: retryable.
//!
//! # Service test
//!
//! `klaxon service-tests talk` (or `POST /kapacitor/v1/service-tests/talk`) posts one message
//! with Kapacitor's test options, `{"title": "testTitle", "text": "test talk text"}`, unless
//! given others.
//!
//! # Differences from Kapacitor
//!
//! - The documented `title` and `text` work, as handler-file options and as `.title()` and
//!   `.text()` in TICKscript: Kapacitor ignores every handler-file option of talk and refuses
//!   those properties. Klaxon refuses other options, where Kapacitor ignores them.
//! - Kapacitor has no timeout and only logs failures; Klaxon bounds each post by `timeout` and
//!   returns failures to the engine, which retries 429 and 5xx answers.
//! - Any 2xx is success (Kapacitor: only 200); a refusal's message is Talk's `error` (Kapacitor
//!   means to read it but never does).
//! - Error messages hide the webhook's path.
//! - `author_name` defaults to "Kapacitor", the value of Kapacitor's kapacitor.conf (its
//!   built-in default is empty).

mod config;
mod handler;

pub use config::Config;
pub use handler::{Options, TalkService, TestOptions};

klaxon_core::register_service!(TalkService);

#[cfg(test)]
mod tests;
