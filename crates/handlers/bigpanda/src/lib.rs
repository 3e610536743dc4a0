//! The `bigpanda` alert handler: sends each alert to BigPanda's alerts API, as Kapacitor's
//! `bigpanda` service does.
//!
//! For every event the handler posts one alert to the configured `url` (or the handler's), with
//! the configured bearer token:
//!
//! ```text
//! POST https://api.bigpanda.io/data/v2/alerts
//! Authorization: Bearer <token>
//! Content-Type: application/json
//!
//! {"app_key":"my-app-key","check":"cpu_usage","cpu":"cpu-total","description":"Hey, check your CPU",
//!  "host":"serverA","status":"critical","task":"cpu_alert:cpu","timestamp":1700000000,"usage_user":"95"}
//! ```
//!
//! (one line, keys sorted, no trailing newline), field by field what Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `app_key` | the handler's app key, else `[bigpanda] app-key` |
//! | `status` | `critical`, `warning`, or `ok` for OK and INFO |
//! | `check` | the alert's ID (`.id()`) |
//! | `description` | the alert's message (`.message()`), left out when empty |
//! | `details` | the alert's details (`.details()`), HTML entities decoded; left out when empty or a JSON object (the default details are the alert as JSON) |
//! | `task` | `<task>:<measurement>` |
//! | `timestamp` | the time of the alert's data point, in whole seconds since 1970 |
//! | `primary_property`, `secondary_property` | the handler's, when set |
//! | every tag, every field | with `auto-attributes` naming "tags" and "fields" (the default): each tag as it is, each field as text (`10`, `0.5`, `true`) |
//! | `host` | the handler's `host` template rendered for the alert; an empty one does not replace a `host` tag |
//! | every attribute | the handler's `attributes`, rendered; they replace any key above |
//!
//! Templates see Kapacitor's template data: `.ID`, `.Message`, `.Level`, `.Time`, `.Duration`,
//! `.Details`, `.Name`, `.TaskName`, `.Group`, `.Tags`, `.Fields`. Any 2xx answer is a
//! delivery.
//!
//! # Options
//!
//! | option               | type   | meaning |
//! |----------------------|--------|---------|
//! | `app-key`            | string | The app key of the BigPanda integration. Empty: `[bigpanda] app-key`. |
//! | `host`               | string | The host the alert is about, a template such as `{{ .Tags.host }}`. |
//! | `primary-property`   | string | The attribute BigPanda groups alerts by first. |
//! | `secondary-property` | string | The attribute BigPanda groups alerts by next. |
//! | `attributes`         | map    | More attributes: string values are templates; other values go out as their JSON text (`5` is `"5"`). |
//! | `url`                | string | The alerts API URL. Empty: `[bigpanda] url`. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: bigpanda-cpu-alert
//! topic: cpu
//! kind: bigpanda
//! options:
//!   app-key: my-app-key
//!   host: '{{ index .Tags "host" }}'
//!   primary-property: host
//!   attributes:
//!     monitor_link: 'http://example.com/monitor?node={{ .Tags.host }}'
//! ```
//!
//! # In TICKscript
//!
//! `.bigPanda()` takes no argument; `.appKey()`, `.host()`, `.primaryProperty()`,
//! `.secondaryProperty()` and `.attribute(key, value)` (once per attribute) may follow it:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!     .groupBy('host')
//!   |alert()
//!     .id('cpu_usage_check')
//!     .message('Hey {{ index .Tags "host"}} / {{ .ID }}: is high!')
//!     .details('https://example.com/dashboard/{{ index .Tags "host"}}')
//!     .crit(lambda: "usage_user" > 90)
//!     .bigPanda()
//!       .appKey('my-app-key')
//!       .host('{{ .Tags.host }}')
//!       .attribute('monitor_link', 'http://example.com/monitor?node={{ .Tags.host }}')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[bigpanda]` section, plus `timeout`:
//!
//! ```toml
//! [bigpanda]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The app key of handlers that name none. Required when enabled.
//! app-key = "my-app-key"
//! # The bearer token of BigPanda's REST API. Required when enabled. Secret: redacted by the
//! # config API.
//! token = "my-token"
//! # BigPanda's alerts API.
//! url = "https://api.bigpanda.io/data/v2/alerts"
//! # Which of the alert's data go out as attributes: "tags", "fields", both, or "".
//! auto-attributes = "tags,fields"
//! # Every TICKscript alert node without .bigPanda() gets one; with state-changes-only, every
//! # alert node sends only changes of state.
//! global = false
//! state-changes-only = false
//! # Accept any certificate (insecure; for tests only).
//! insecure-skip-verify = false
//! # How long one post may take.
//! timeout = "10s"
//! ```
//!
//! Refused, naming the key: enabling without `url`, `app-key` or `token` (`bigpanda: must
//! specify BigPanda token: set token to a bearer token of BigPanda's REST API`), a `url` that is
//! not http(s) with a host, a zero `timeout`. Changes through the config API reach existing
//! handlers at their next alert; `global` and `state-changes-only` apply to tasks started
//! afterwards.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - BigPanda refuses the alert (4xx), with its explanation: `POST https://api.bigpanda.io/data/
//!   v2/alerts: 401 Unauthorized: ... (check [bigpanda] token)`;
//! - BigPanda limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - BigPanda cannot be reached, or the post outlasts `timeout`: retryable.
//!
//! A template that does not parse, or a `url` option that is not http(s), refuses the handler
//! definition, naming the option: `bigpanda: host: ...`. A template that fails while it runs
//! gives what it wrote until then, as in Kapacitor, so that the alert still reaches BigPanda.
//!
//! # Service test
//!
//! `klaxon service-tests bigpanda` (or `POST /kapacitor/v1/service-tests/bigpanda`) sends one
//! alert with Kapacitor's test options, `{"app_key": "012345", "message": "test bigpanda
//! message", "level": "CRITICAL", "event_data": {"Name": "testBigPanda", "TaskName": "", ...},
//! "timestamp": <now>, "host": "serverA", "primary_property": "", "secondary_property": ""}`,
//! unless given others: no check, the task `:testBigPanda`, the host `serverA`.
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor waits 30 s and only logs failures; Klaxon bounds each post by `timeout` and
//!   returns failures to the engine, which retries 429 and 5xx answers.
//! - Any 2xx is success (Kapacitor: only 201); a 4xx message is BigPanda's explanation.
//! - A handler without `host` leaves the `host` tag as it is; Kapacitor sends `"host":""` over
//!   it, so that with the default `auto-attributes` BigPanda never sees the tag.
//! - The service test sends its `host` (Kapacitor leaves it out).
//! - Templates are parsed when the handler is defined, so a broken one refuses the definition
//!   (Kapacitor logs a template error at each alert).

mod api;
mod config;
mod handler;

pub use config::{Config, DEFAULT_URL};
pub use handler::{BigpandaService, Options, TestEventData, TestOptions};

klaxon_core::register_service!(BigpandaService);

#[cfg(test)]
mod tests;
