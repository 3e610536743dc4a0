//! The `opsgenie` alert handler: creates OpsGenie alerts and posts their recoveries through
//! OpsGenie's Alert API v1, as Kapacitor's `opsgenie` service does. OpsGenie has retired its v1
//! API; new configurations should use `opsgenie2`. This kind keeps existing setups (and
//! endpoints that still speak v1) working.
//!
//! An INFO, WARNING or CRITICAL event is posted to `<url>/`, an OK event to
//! `<recovery_url>/`, with the same body (its `note` set for a recovery):
//!
//! ```text
//! POST https://api.opsgenie.com/v1/json/alert/
//! Content-Type: application/json
//!
//! {"alias":"kapacitor/cpu/serverA","apiKey":"<api-key>","description":"{\"series\":[...]}",
//!  "details":{"Level":"CRITICAL","Monitoring Tool":"Kapacitor"},"entity":"kapacitor/cpu/serverA",
//!  "message":"kapacitor/cpu/serverA is CRITICAL","monitoring_tool":"kapacitor","note":"",
//!  "recipients":["jane"],"teams":["ops"]}
//! ```
//!
//! (one line, keys sorted, ending with a newline), field by field what Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `alias`, `entity` | the alert's ID (`.id()`) |
//! | `apiKey` | `[opsgenie] api-key` |
//! | `description` | the alert's data (`{"series":[...]}`) as a JSON string |
//! | `details` | `Level`: `INFO`, `WARNING`, `CRITICAL` or `RECOVERY` (for OK); `Monitoring Tool`: `Kapacitor` |
//! | `message` | the alert's message (`.message()`) |
//! | `monitoring_tool` | `kapacitor` |
//! | `note` | `""`, or the message for a recovery |
//! | `recipients`, `teams` | the handler's lists, else the configured ones; absent when empty |
//!
//! Any 2xx answer is a delivery.
//!
//! # Options
//!
//! | option            | type   | meaning |
//! |-------------------|--------|---------|
//! | `teams-list`      | list of strings | The teams. Empty or absent: `[opsgenie] teams`. |
//! | `recipients-list` | list of strings | The recipients. Empty or absent: `[opsgenie] recipients`. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: opsgenie-cpu-alert
//! topic: cpu
//! kind: opsgenie
//! options:
//!   teams-list:
//!     - 'engineering'
//!     - 'support'
//! ```
//!
//! # In TICKscript
//!
//! `.opsGenie()` takes no argument; `.teams()` and `.recipients()` may follow it:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .opsGenie()
//!       .teams('engineering', 'support')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[opsgenie]` section, plus `timeout`:
//!
//! ```toml
//! [opsgenie]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The OpsGenie API key. Required when enabled. Secret: redacted by the config API.
//! api-key = "mysupersecretapikey"
//! # Teams and recipients for handlers that name none.
//! teams = ["team1", "team2"]
//! recipients = ["recipient1", "recipient2"]
//! # Where alerts are created, and where recoveries go (here: a note on the alert).
//! url = "https://api.opsgenie.com/v1/json/alert"
//! recovery_url = "https://api.opsgenie.com/v1/json/alert/note"
//! # Every TICKscript alert node without .opsGenie() gets one.
//! global = false
//! # How long one request may take.
//! timeout = "10s"
//! ```
//!
//! Refused, naming the key: enabling without `api-key` (`opsgenie: api-key cannot be empty when
//! enabled; set your OpsGenie API key`), a `url` or `recovery_url` that is not http(s) with a
//! host, a zero `timeout`. Changes through the config API reach existing handlers at their next
//! alert; `global` applies to tasks started afterwards.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - OpsGenie refuses the request (4xx), with its explanation: `POST
//!   https://api.opsgenie.com/v1/json/alert/: 401 Unauthorized: Could not authenticate`;
//! - OpsGenie limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - OpsGenie cannot be reached, or the request outlasts `timeout`: retryable.
//!
//! # Service test
//!
//! `klaxon service-tests opsgenie` (or `POST /kapacitor/v1/service-tests/opsgenie`) sends one
//! alert with Kapacitor's test options: `{"teams": <[opsgenie] teams>, "recipients":
//! <[opsgenie] recipients>, "message-type": "CRITICAL", "message": "test opsgenie message",
//! "entity-id": "testEntityID"}`. The message type is sent as given; `RECOVERY` goes to the
//! recovery URL.
//!
//! # Differences from Kapacitor
//!
//! - `.teams()` and `.recipients()` called twice on one handler add to the list; in Kapacitor
//!   the second call replaces the first (klaxon-core's chained lists append).
//! - Kapacitor has no timeout and only logs failures; Klaxon bounds each request by `timeout`
//!   and returns failures to the engine, which retries 429 and 5xx answers.
//! - Any 2xx is success (Kapacitor: only 200).
//! - A `url` or `recovery_url` ending in `/` is posted to as it is; Kapacitor adds a second `/`.
//! - A bad `recovery_url` is reported with its own value (Kapacitor's message shows `url`'s).

mod api;
mod config;
mod handler;

pub use config::{Config, DEFAULT_RECOVERY_URL, DEFAULT_URL};
pub use handler::{Options, TestOptions};
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::OpsgenieService;

klaxon_core::register_service!(OpsgenieService);

#[cfg(test)]
mod tests;
