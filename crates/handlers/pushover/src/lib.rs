//! The `pushover` alert handler: sends each alert as a [Pushover](https://pushover.net)
//! notification, as Kapacitor's `pushover` service does.
//!
//! For every event the handler posts one message to the configured `url`, as a form:
//!
//! ```text
//! POST https://api.pushover.net/1/messages.json
//! Content-Type: application/x-www-form-urlencoded
//!
//! message=Hey%2C+check+your+CPU&priority=1&sound=siren&title=Alert+from+Kapacitor&token=<token>&user=<user-key>
//! ```
//!
//! field by field what Kapacitor sends, keys sorted:
//!
//! | field | value |
//! |---|---|
//! | `device`, `title`, `url`, `url_title`, `sound` | the handler's options, each only when set |
//! | `message` | the alert's message (`.message()`) |
//! | `priority` | from the level: OK `-2` (no notification), INFO `-1` (quiet), WARNING `0` (normal), CRITICAL `1` (high) |
//! | `token` | `[pushover] token` |
//! | `user` | the handler's `user-key`, else `[pushover] user-key` |
//!
//! Any 2xx answer is a delivery.
//!
//! # Options
//!
//! | option      | type   | meaning |
//! |-------------|--------|---------|
//! | `user-key`  | string | The user or group key to notify. Empty: `[pushover] user-key`. |
//! | `device`    | string | The devices to notify, by name, separated by commas. Empty: all of the user's. |
//! | `title`     | string | The message's title. Empty: the application's name. |
//! | `url`       | string | A supplementary URL shown with the message. |
//! | `url-title` | string | The supplementary URL's title. |
//! | `sound`     | string | One of Pushover's sounds, instead of the user's default. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: pushover-cpu-alert
//! topic: cpu
//! kind: pushover
//! options:
//!   title: Alert from Kapacitor
//!   sound: siren
//! ```
//!
//! # In TICKscript
//!
//! `.pushover()` takes no argument; `.userKey()`, `.device()`, `.title()`, `.URL()` (or
//! `.uRL()`), `.URLTitle()` (or `.uRLTitle()`) and `.sound()` may follow it:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .pushover()
//!       .title('Alert from Kapacitor')
//!       .URL('http://example.com')
//!       .URLTitle('This is an example title')
//!       .sound('siren')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[pushover]` section, plus `timeout`:
//!
//! ```toml
//! [pushover]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The application's API token, required when enabled. Secret.
//! token = "mysupersecrettoken"
//! # The user or group key of handlers that name none, required when enabled. Secret.
//! user-key = "myuserkey"
//! # Pushover's message API; change it only for a proxy or a stand-in.
//! url = "https://api.pushover.net/1/messages.json"
//! # How long one post may take.
//! timeout = "10s"
//! ```
//!
//! A `url` that is not http(s) with a host is refused, and so is a zero `timeout`. Changes
//! through the config API reach existing handlers at their next alert.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - Pushover refuses the message (4xx), with its explanation: `POST https://api.pushover.net/
//!   1/messages.json: 400 Bad Request: user identifier is invalid`;
//! - Pushover limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - Pushover cannot be reached, or the post outlasts `timeout`: retryable.
//!
//! # Service test
//!
//! `klaxon service-tests pushover` (or `POST /kapacitor/v1/service-tests/pushover`) sends one
//! message from Kapacitor's test options: `{"user-key": "", "message": "test pushover message",
//! "device": "", "title": "", "url": "", "url-title": "", "sound": "", "level": "CRITICAL"}`; an
//! empty `user-key` is the configured one.
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor has no timeout and only logs failures; Klaxon bounds each post by `timeout` and
//!   returns failures to the engine, which retries 429 and 5xx answers. Any 2xx is success
//!   (Kapacitor: only 200).
//! - Pushover's `errors` explain a refusal; Kapacitor looks for an `error` key Pushover does not
//!   send, and without a JSON body reports only a JSON decoding error.
//! - The service test's listed options show an empty `user-key` (meaning the configured one);
//!   Kapacitor lists the configured key, a secret, in clear.
//! - The form escapes `*` and `~` as the url crate does (`*` kept, `~` as `%7E`), where Go
//!   keeps `~` and escapes `*`; Pushover decodes both alike.

mod config;
mod handler;

pub use config::{Config, DEFAULT_URL};
pub use handler::{Options, TestOptions};
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::PushoverService;

klaxon_core::register_service!(PushoverService);

#[cfg(test)]
mod tests;
