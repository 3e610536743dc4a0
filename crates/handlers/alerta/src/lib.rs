//! The `alerta` alert handler: raises and updates alerts in [Alerta](https://alerta.io) through
//! its API, as Kapacitor's `alerta` service does.
//!
//! For every event the handler posts one alert to `[alerta] url` joined with `alert`:
//!
//! ```text
//! POST http://alerta.example.com/api/alert
//! Authorization: Bearer <token>
//! Content-Type: application/json
//!
//! {"correlate":["cpu"],"environment":"production","event":"cpu:nil","group":"nil",
//!  "origin":"kapacitor","rawData":{"series":[...]},"resource":"cpu","service":["cpu"],
//!  "severity":"critical","tags":["host=serverA"],"text":"Hey, check your CPU",
//!  "timeout":86400,"value":""}
//! ```
//!
//! (one line, keys sorted, ending with a newline), field by field what Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `attributes` | the handler's attributes, string values rendered as templates; absent when there are none |
//! | `correlate` | the rendered `correlate` templates; none: the alert's measurement |
//! | `environment` | the rendered `environment`; empty: `[alerta] environment` |
//! | `event` | the rendered `event` (default `{{ .ID }}`, the alert's ID) |
//! | `group` | the rendered `group` (default `{{ .Group }}`, such as `host=serverA` or `nil`) |
//! | `origin` | the handler's `origin`, else `[alerta] origin` |
//! | `rawData` | the alert's data as series, as in the alert JSON |
//! | `resource` | the rendered `resource` (default `{{ .Name }}`, the measurement) |
//! | `service` | the rendered `service` templates; none: the alert's measurement |
//! | `severity` | `ok`, `informational`, `warning` or `critical`, from the level |
//! | `tags` | the alert's tags as `key=value`, sorted |
//! | `text` | the alert's message |
//! | `timeout` | the handler's `timeout`, in whole seconds |
//! | `value` | the rendered `value` |
//!
//! The Authorization header is the token prefix (the handler's, else `[alerta] token-prefix`,
//! else `Bearer`), a space and the token (the handler's, else `[alerta] token`). Any 2xx answer
//! is a delivery.
//!
//! # Options
//!
//! Templates are Go templates over the alert: `.ID`, `.Message`, `.Level`, `.Time`,
//! `.Duration`, `.Details`, `.Name`, `.TaskName`, `.Group`, `.Tags`, `.Fields`; `event` sees only
//! `.ID`, `.Name`, `.TaskName`, `.Group` and `.Tags`, as in Kapacitor.
//!
//! | option | type | default | meaning |
//! |---|---|---|---|
//! | `token` | string | `[alerta] token` | The API token. |
//! | `token-prefix` | string | `[alerta] token-prefix`, else `Bearer` | The Authorization scheme (`Key` for older Alertas). |
//! | `resource` | template | `{{ .Name }}` | The resource. Must not render empty. |
//! | `event` | template | `{{ .ID }}` | The event. Must not render empty. |
//! | `environment` | template | `[alerta] environment` | The environment. |
//! | `group` | template | `{{ .Group }}` | The group. |
//! | `value` | template | empty | The value. |
//! | `origin` | string | `[alerta] origin` | The origin. |
//! | `service` | list of templates | the measurement | The affected services. |
//! | `correlate` | list of templates | the measurement | The correlated events. |
//! | `attributes` | map | none | More attributes; strings are templates, numbers and booleans are sent as they are. |
//! | `timeout` | duration | `[alerta] timeout`, else `24h` | How long Alerta keeps the alert without an update: `24h`, or nanoseconds as Kapacitor's handler files write it. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: alerta-cpu-alert
//! topic: cpu
//! kind: alerta
//! options:
//!   resource: '{{ .Name }}'
//!   event: '{{ .ID }}'
//!   origin: 'kapacitor'
//!   correlate: ['service1', 'service2']
//!   timeout: 24h
//!   attributes:
//!     key1: value1
//!     key2: 8
//! ```
//!
//! # In TICKscript
//!
//! `.alerta()` takes no argument; `.token()`, `.resource()`, `.event()`, `.environment()`,
//! `.group()`, `.value()`, `.origin()`, `.services()`, `.correlated()`, `.attribute(key,
//! value)` and `.timeout()` may follow it (and `.tokenPrefix()`, `.service()` and
//! `.correlate()`, which Kapacitor's documentation shows):
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .stateChangesOnly()
//!     .message('Hey, check your CPU')
//!     .alerta()
//!       .resource('{{ .Name }}')
//!       .event('{{ .ID }}')
//!       .correlated('{{ .Name }}')
//!       .attribute('booleanAttribute', TRUE)
//!       .timeout(1h)
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[alerta]` section:
//!
//! ```toml
//! [alerta]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The Alerta API; alerts go to its path joined with "alert". Required when enabled.
//! url = "http://127.0.0.1"
//! # The token of handlers that name none. Secret: redacted by the config API.
//! token = "mysupersecretauthtoken"
//! # The Authorization scheme; empty: "Bearer".
//! token-prefix = "Bearer"
//! # The environment of alerts whose handler's environment renders empty.
//! environment = "production"
//! # The origin of alerts whose handler names none.
//! origin = "kapacitor"
//! # Accept any certificate from the server (tests only).
//! insecure-skip-verify = false
//! # The alert timeout of handlers that name none; "0s": 24h.
//! timeout = "0s"
//! ```
//!
//! A `url` that is not http(s) with a host is refused. Changes through the config API reach
//! existing handlers at their next alert, except `timeout`, which new handlers take.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - `resource` or `event` renders empty: `resource and event are required to send an alert;
//!   they rendered "" and "cpu:nil"`;
//! - a template fails: `cannot render resource "{{ .Tags.host.x }}": ...`;
//! - Alerta refuses the alert (4xx), with its explanation: `POST http://alerta.example.com/api/
//!   alert: 401 Unauthorized: Missing authorization API Key or Bearer Token`;
//! - Alerta limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - Alerta cannot be reached, or the post outlasts 30 s: retryable.
//!
//! A template that does not parse, or a negative `timeout`, refuses the handler at definition.
//!
//! # Service test
//!
//! `klaxon service-tests alerta` (or `POST /kapacitor/v1/service-tests/alerta`) posts one alert
//! with the configured token, from Kapacitor's test options (sent as they are, not as
//! templates): `{"resource": "testResource", "event": "testEvent", "environment": <[alerta]
//! environment>, "severity": "critical", "group": "testGroup", "value": "testValue", "message":
//! "test alerta message", "origin": <[alerta] origin>, "service": ["testServiceA",
//! "testServiceB"], "correlate": ["testServiceX", "testServiceY"], "attributes":
//! {"testAttributeA": "A", "testAttributeB": true, "testAttributeC": 9001}, "timeout":
//! "24h0m0s"}`.
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor only logs failures; Klaxon returns them to the engine, which retries 429 and 5xx
//!   answers. Any 2xx is success (Kapacitor: only 201).
//! - `tags` are sorted (Kapacitor's order is random).
//! - Without any token there is no Authorization header (Kapacitor sends `Bearer ` and nothing).
//! - `[alerta] timeout` is the default alert timeout of new handlers; Kapacitor reads it and
//!   never uses it.
//! - A handler file's `timeout` may be written as a duration (`24h`), as the documentation
//!   shows; Kapacitor takes only nanoseconds.
//! - `.tokenPrefix()`, `.service()` and `.correlate()`, shown by Kapacitor's documentation, work;
//!   Kapacitor has none of them. A second `.services()` or `.correlated()` adds to the list,
//!   where Kapacitor's replaces it.
//! - A template failing at delivery fails it with the reason; Kapacitor logs it and sends
//!   nothing as well.

mod api;
mod config;
mod handler;

pub use config::Config;
pub use handler::{AlertaService, Options, TestOptions};

klaxon_core::register_service!(AlertaService);

#[cfg(test)]
mod tests;
