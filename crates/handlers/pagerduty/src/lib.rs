//! The `pagerduty` alert handler: triggers and resolves PagerDuty incidents through PagerDuty's
//! Events API v1 (`generic/2010-04-15`), as Kapacitor's `pagerduty` service does. New
//! integrations should use `pagerduty2` (Events API v2); this kind keeps existing service keys
//! working.
//!
//! For every WARNING, CRITICAL or OK event the handler posts one event to the configured `url`:
//!
//! ```text
//! POST https://events.pagerduty.com/generic/2010-04-15/create_event.json
//! Content-Type: application/json
//!
//! {"client":"kapacitor","client_url":"http://klaxon.example.com:9092/kapacitor/v1","description":"Hey, check your CPU",
//!  "details":"{\u0026#34;Name\u0026#34;:\u0026#34;cpu\u0026#34;,...}\n","event_type":"trigger",
//!  "incident_key":"cpu:nil","service_key":"<key>"}
//! ```
//!
//! (one line, keys sorted, every value a string, ending with a newline), field by field what
//! Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `client`, `client_url` | `kapacitor`, and the server's API URL, `http(s)://<hostname>:<port>/kapacitor/v1` (see the differences) |
//! | `description` | the alert's message (`.message()`) |
//! | `details` | the alert's details (`.details()`) as a string: by default the HTML-escaped JSON Kapacitor renders |
//! | `event_type` | `trigger` for WARNING and CRITICAL, `resolve` for OK |
//! | `incident_key` | the alert's ID (`.id()`), so that the OK resolves the incident its alert triggered |
//! | `service_key` | the handler's `service-key`, else `[pagerduty] service-key` |
//!
//! An INFO event is not sent: the Events API v1 has no place for it, and the delivery fails
//! with Kapacitor's message `AlertLevel 'info' is currently ignored by the PagerDuty service`.
//! Any 2xx answer is a delivery.
//!
//! # Options
//!
//! | option        | type   | meaning |
//! |---------------|--------|---------|
//! | `service-key` | string | The service key. Empty or absent: `[pagerduty] service-key` at the time of each alert. |
//!
//! # In a handler file
//!
//! ```yaml
//! topic: cpu
//! id: pagerduty-cpu-alert
//! kind: pagerduty
//! options:
//!   service-key: 'myservicekey'
//! ```
//!
//! # In TICKscript
//!
//! `.pagerDuty()` takes no argument; `.serviceKey()` may follow it. Without a service key the
//! configured one is used:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .pagerDuty()
//!       .serviceKey('myservicekey')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[pagerduty]` section, plus `timeout`:
//!
//! ```toml
//! [pagerduty]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The service key for handlers that name none. Secret: redacted by the config API.
//! service-key = "0123456789abcdef0123456789abcdef"
//! # PagerDuty's Events API v1 endpoint; change it only for a proxy or a stand-in.
//! url = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
//! # Every TICKscript alert node without .pagerDuty() gets one with the key above.
//! global = false
//! # How long one post may take.
//! timeout = "10s"
//! ```
//!
//! A `url` that is not http(s) with a host is refused, and so is a zero `timeout`. Changes
//! through the config API reach existing handlers at their next alert; `global` applies to tasks
//! started afterwards.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - an INFO event (see above);
//! - neither the handler nor the configuration has a service key: `no service key: set the
//!   handler's service-key (.serviceKey()) or [pagerduty] service-key` (nothing is sent);
//! - PagerDuty refuses the event (4xx), with its explanation: `POST https://events.pagerduty.com/
//!   generic/2010-04-15/create_event.json: 400 Bad Request: invalid event: Event object is
//!   invalid: Service key is the wrong length (should be 32 characters)`;
//! - PagerDuty limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - PagerDuty cannot be reached, or the post outlasts `timeout`: retryable.
//!
//! # Service test
//!
//! `klaxon service-tests pagerduty` (or `POST /kapacitor/v1/service-tests/pagerduty`) sends one
//! event with the configured service key, from Kapacitor's test options: `{"incident-key":
//! "testIncidentKey", "description": "test pagerduty message", "details": "", "level":
//! "CRITICAL"}`. `"level": "OK"` resolves the test incident; `"INFO"` fails as above.
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor has no timeout and only logs failures; Klaxon bounds each post by `timeout` and
//!   returns failures to the engine, which retries 429 and 5xx answers.
//! - Any 2xx is success (Kapacitor: only 200).
//! - Without any service key Klaxon sends nothing and says why; Kapacitor posts an empty key
//!   and logs PagerDuty's 400.
//! - A handler without a service key follows later changes of the configured one.
//! - `client_url` names this host and the port the server listens on
//!   (`http://klaxon.example.com:9092/kapacitor/v1`), so that PagerDuty's link leads back to the
//!   server; Kapacitor sends its listener's address, often the unreachable
//!   `http://[::]:9092/kapacitor/v1`.

mod api;
mod config;
mod handler;

pub use config::{Config, DEFAULT_URL};
pub use handler::{Options, TestOptions};
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::PagerdutyService;

klaxon_core::register_service!(PagerdutyService);

#[cfg(test)]
mod tests;
