//! The `servicenow` alert handler: sends each alert as an event to ServiceNow Event Management
//! through its events web service, as Kapacitor's `servicenow` service does.
//!
//! For every event the handler posts one event record to the configured `url` (or the
//! handler's), with HTTP Basic authentication when a user and a password are set:
//!
//! ```text
//! POST https://instance.service-now.com/api/global/em/jsonv2
//! Content-Type: application/json
//! Authorization: Basic ...
//!
//! {"records":[{"source":"Kapacitor","node":"serverA","type":"CPU","resource":"CPU-Total",
//!  "metric_name":"usage_user","message_key":"Alert: cpu:nil","severity":"1",
//!  "description":"Hey, check your CPU","additional_info":"{\"link\":\"http://push/alert\"}"}]}
//! ```
//!
//! (one line, no trailing newline), field by field what Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `source` | the handler's source, else `[servicenow] source` (at most 100 bytes) |
//! | `node`, `type`, `resource`, `metric_name` | the handler's templates, rendered for the alert; left out when empty (at most 100 bytes) |
//! | `message_key` | the handler's `messageKey` template rendered, else the alert's ID: ServiceNow groups events into one alert by it (at most 1024 bytes) |
//! | `severity` | `"1"` CRITICAL, `"4"` WARNING, `"5"` OK and INFO (ServiceNow's clear) |
//! | `description` | the alert's message (`.message()`, at most 4000 bytes) |
//! | `additional_info` | the handler's `additional_info` as a string of JSON (keys sorted, values strings), left out when empty |
//!
//! Templates see Kapacitor's servicenow data: `.ID`, `.Name` (the measurement), `.TaskName`,
//! `.Fields` and `.Tags`. Any 2xx answer is a delivery.
//!
//! # Options
//!
//! | option            | type   | meaning |
//! |-------------------|--------|---------|
//! | `node`            | string | The node (host) the event is about, a template such as `{{ index .Tags "host" }}`. |
//! | `type`            | string | The event type, a template. |
//! | `resource`        | string | The resource (the part of the node), a template. |
//! | `metricName`      | string | The metric name, a template. |
//! | `messageKey`      | string | The message key, a template. Empty: the alert ID. |
//! | `source`          | string | The event source. Empty: `[servicenow] source`. |
//! | `additional_info` | map    | More information: string values are templates, other values are printed as Go prints them (`666` is `"666"`). |
//! | `url`             | string | The events web service URL. Empty: `[servicenow] url`. |
//! | `username`        | string | The user for Basic authentication. Empty: `[servicenow] username`. |
//! | `password`        | string | The password for Basic authentication. Empty: `[servicenow] password`. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: servicenow-cpu-alert
//! topic: cpu
//! kind: servicenow
//! options:
//!   node: '{{ index .Tags "host" }}'
//!   type: CPU
//!   resource: CPU-Total
//!   metricName: usage_user
//!   messageKey: 'Alert: {{ .ID }}'
//!   additional_info:
//!     link: 'http://push/alert?id={{ .ID }}'
//! ```
//!
//! # In TICKscript
//!
//! `.serviceNow()` takes no argument; `.node()`, `.type()`, `.resource()`, `.metricName()`,
//! `.messageKey()`, `.source()`, `.additionalInfo(key, value)` (once per key), `.URL()` (or
//! `.url()`), `.username()` and `.password()` may follow it:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_user" > 90)
//!     .message('Hey, check your CPU')
//!     .serviceNow()
//!         .node('{{ index .Tags "host" }}')
//!         .type('CPU')
//!         .resource('CPU-Total')
//!         .metricName('usage_user')
//!         .messageKey('Alert: {{ .ID }}')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[servicenow]` section, plus `timeout`:
//!
//! ```toml
//! [servicenow]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The events web service URL; replace "instance" with your instance's name.
//! url = "https://instance.service-now.com/api/global/em/jsonv2"
//! # The event source of handlers that name none.
//! source = "Kapacitor"
//! # HTTP Basic authentication, sent when both are set. The password is secret: redacted by the
//! # config API.
//! username = ""
//! password = ""
//! # Every TICKscript alert node without .serviceNow() gets one; with state-changes-only, every
//! # alert node sends only changes of state.
//! global = false
//! state-changes-only = false
//! # How long one post may take.
//! timeout = "10s"
//! ```
//!
//! Refused, naming the key: enabling without a `url`, a `url` that is not http(s) with a host,
//! a zero `timeout`. Changes through the config API reach existing handlers at their next
//! alert; `global` and `state-changes-only` apply to tasks started afterwards.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - ServiceNow refuses the event (4xx), with its explanation: `POST https://.../jsonv2: 401
//!   Unauthorized: User Not Authenticated: Required to provide Auth information (check
//!   [servicenow] username and password)`;
//! - ServiceNow limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - ServiceNow cannot be reached, or the post outlasts `timeout`: retryable.
//!
//! A template that does not parse, or a `url` option that is not http(s), refuses the handler
//! definition, naming the option: `servicenow: messageKey: ...`. A template that fails while
//! it runs (a missing map key in an `index`, say) gives what it wrote until then, as in
//! Kapacitor, so that the event still reaches ServiceNow.
//!
//! # Service test
//!
//! `klaxon service-tests servicenow` (or `POST /kapacitor/v1/service-tests/servicenow`) sends one
//! event with Kapacitor's test options, `{"alert_id": "1001", "message": "test servicenow
//! message", "level": "CRITICAL", "source": "Kapacitor", "node": "", "type": "", "resource":
//! "", "metric_name": "", "message_key": "", "additional_info": {}}`, unless given others, to
//! the configured URL.
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor has no timeout and only logs failures; Klaxon bounds each post by `timeout` and
//!   returns failures to the engine, which retries 429 and 5xx answers.
//! - Any 2xx is success (Kapacitor: only 200); a refusal's message is ServiceNow's own
//!   `error.message` and `error.detail` (Kapacitor reads only a string `error`).
//! - The handler's `username` and `password` are used (Kapacitor ignores them and always sends
//!   the configured ones).
//! - Templates are parsed when the handler is defined, so a broken one refuses the definition
//!   (Kapacitor fails each alert).
//! - Fields cut to ServiceNow's sizes are cut at a character boundary (Kapacitor may cut a
//!   character in two).
//! - Option keys are matched exactly (`metricName`), where Kapacitor ignores their case.
//! - `[servicenow] source` defaults to "Kapacitor", the value of Kapacitor's kapacitor.conf
//!   (its built-in default is empty).
//! - Kapacitor has only `.URL()`; `.url()` is accepted too.

mod api;
mod config;
mod go_print;
mod handler;

pub use config::{Config, DEFAULT_URL};
pub use handler::{Options, ServicenowService, TestOptions};

klaxon_core::register_service!(ServicenowService);

#[cfg(test)]
mod tests;
