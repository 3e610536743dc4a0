//! The `opsgenie2` alert handler: creates OpsGenie alerts and, when they recover, adds a note to
//! them or closes them, through OpsGenie's Alert API v2, as Kapacitor's `opsgenie2` service does.
//!
//! The alert's ID is the OpsGenie alert's `entity`, and base64url (with `=` padding) its
//! `alias`, OpsGenie's key for "the same alert": `kapacitor/cpu/serverA` is
//! `a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB`.
//!
//! An INFO, WARNING or CRITICAL event creates the alert (OpsGenie folds a create with an open
//! alert's alias into it):
//!
//! ```text
//! POST https://api.opsgenie.com/v2/alerts
//! Content-Type: application/json
//! Authorization: GenieKey <api-key>
//!
//! {"alias":"a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB","description":"{\"series\":[...]}",
//!  "details":{"Kapacitor Task Name":"cpu","Level":"CRITICAL","Monitoring Tool":"Kapacitor","host":"serverA"},
//!  "entity":"kapacitor/cpu/serverA","message":"kapacitor/cpu/serverA is CRITICAL","note":"",
//!  "priority":"P1","responders":[{"name":"ops","type":"team"},{"type":"user","username":"jane"}]}
//! ```
//!
//! (one line, keys sorted, ending with a newline), field by field what Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `alias`, `entity` | the alert's ID, base64url, and as it is |
//! | `description` | the alert's data (`{"series":[...]}`) as a JSON string; the alert's details (`.details()`) instead with `[opsgenie2] details = true` (or the handler's `details`) when they are not empty |
//! | `details` | `Monitoring Tool: Kapacitor`, `Level`, the first series' tags, and `Kapacitor Task Name`: the first series' name (the measurement) |
//! | `message` | the alert's message (`.message()`) |
//! | `note` | `""` |
//! | `priority` | `P1` for CRITICAL, `P3` for WARNING, `P5` for INFO |
//! | `responders` | the teams (`{"name","type":"team"}`), then the recipients (`{"type":"user","username"}`); absent when there are none |
//!
//! An OK event acts on the alert by its alias, `notes` (the default) or `close`:
//!
//! ```text
//! POST https://api.opsgenie.com/v2/alerts/a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB/notes?identifierType=alias
//!
//! {"note":"kapacitor/cpu/serverA is OK"}
//! ```
//!
//! Any 2xx answer is a delivery (OpsGenie answers 202).
//!
//! # Options
//!
//! | option            | type   | meaning |
//! |-------------------|--------|---------|
//! | `teams-list`      | list of strings | The teams. Empty or absent: `[opsgenie2] teams`. |
//! | `recipients-list` | list of strings | The users. Empty or absent: `[opsgenie2] recipients`. |
//! | `recovery_action` | string | `notes` or `close`. Empty or absent: `[opsgenie2] recovery_action`. |
//! | `details`         | bool   | The alert's details as the description, as `[opsgenie2] details` for all handlers. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: handler-id
//! topic: topic-name
//! kind: opsgenie2
//! options:
//!   teams-list:
//!     - 'team1'
//!     - 'team2'
//!   recipients-list:
//!     - 'recipient1'
//!     - 'recipient2'
//! ```
//!
//! # In TICKscript
//!
//! `.opsGenie2()` takes no argument; `.teams()`, `.recipients()`, `.recoveryAction()` and
//! `.details()` may follow it:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .opsGenie2()
//!       .teams('engineering', 'support')
//!       .recoveryAction('close')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[opsgenie2]` section, plus `timeout`:
//!
//! ```toml
//! [opsgenie2]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The OpsGenie API key. Required when enabled. Secret: redacted by the config API.
//! api-key = "mysupersecretapikey"
//! # Teams and recipients for handlers that name none.
//! teams = ["team1", "team2"]
//! recipients = ["recipient1", "recipient2"]
//! # OpsGenie's Alert API v2; change it only for a proxy or a stand-in.
//! url = "https://api.opsgenie.com/v2/alerts"
//! # What a recovery does: "notes" or "close".
//! recovery_action = "notes"
//! # The alerts' details as the OpsGenie description.
//! details = false
//! # Every TICKscript alert node without .opsGenie2() gets one.
//! global = false
//! # How long one request may take.
//! timeout = "10s"
//! ```
//!
//! Refused, naming the key: enabling without `api-key` (`opsgenie2: api-key cannot be empty
//! when enabled; set your OpsGenie API key`), a `url` that is not http(s) with a host, a
//! `recovery_action` other than `notes` and `close`, a zero `timeout`. Changes through the
//! config API reach existing handlers at their next alert; `global` applies to tasks started
//! afterwards.
//!
//! # Failures
//!
//! A `recovery_action` other than `notes` and `close` refuses the handler definition. At
//! delivery, each of these fails it; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - OpsGenie refuses the request (4xx), with its explanation: `POST
//!   https://api.opsgenie.com/v2/alerts: 422 Unprocessable Entity: Request body is not
//!   processable: message: Message can not be empty`;
//! - OpsGenie limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - OpsGenie cannot be reached, or the request outlasts `timeout`: retryable.
//!
//! # Service test
//!
//! `klaxon service-tests opsgenie2` (or `POST /kapacitor/v1/service-tests/opsgenie2`) sends one
//! alert with Kapacitor's test options: `{"teams": <[opsgenie2] teams>, "recipients":
//! <[opsgenie2] recipients>, "recovery_action": <[opsgenie2] recovery_action>, "message-type":
//! "CRITICAL", "message": "test opsgenie message", "entity-id": "testEntityID"}`.
//! `"message-type": "RECOVERY"` sends the recovery instead; another message type that is not a
//! level fails with `unknown alert level 'FOO'`.
//!
//! # Differences from Kapacitor
//!
//! - `.teams()` and `.recipients()` called twice on one handler add to the list; in Kapacitor
//!   the second call replaces the first (klaxon-core's chained lists append).
//! - Kapacitor has no timeout and only logs failures; Klaxon bounds each request by `timeout`
//!   and returns failures to the engine, which retries 429 and 5xx answers.
//! - Any 2xx is success. Kapacitor accepts only 202, so an OpsGenie stand-in or proxy answering
//!   200 fails there (Kapacitor's own tests log that failure for every request).
//! - A `recovery_action` other than `notes` and `close` is refused where it is written;
//!   Kapacitor silently uses the configured one, or `notes`.
//! - `.details()` in TICKscript (and `details` in a handler file) makes that handler send the
//!   details as description; Kapacitor accepts `.details()` and ignores it.
//! - The service test of a disabled service says `service is not enabled` (Kapacitor: `failed
//!   to prepare API request: service is not enabled`).

mod api;
mod config;
mod handler;

pub use config::{Config, DEFAULT_URL};
pub use handler::{Options, TestOptions};
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::Opsgenie2Service;

klaxon_core::register_service!(Opsgenie2Service);

#[cfg(test)]
mod tests;
