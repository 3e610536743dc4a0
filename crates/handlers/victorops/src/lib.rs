//! The `victorops` alert handler: sends alerts and recoveries to VictorOps (Splunk On-Call)
//! through its REST integration, as Kapacitor's `victorops` service does.
//!
//! For every event the handler posts to the configured `url` with the API key and the routing
//! key added to its path:
//!
//! ```text
//! POST https://alert.victorops.com/integrations/generic/20131114/alert/<api-key>/<routing-key>
//! Content-Type: application/json
//!
//! {"data":"{\"series\":[...]}","entity_id":"kapacitor/cpu/serverA","message_type":"CRITICAL",
//!  "monitoring_tool":"kapacitor","state_message":"kapacitor/cpu/serverA is CRITICAL",
//!  "timestamp":31536010}
//! ```
//!
//! (one line, keys sorted, ending with a newline), field by field what Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `data` | the alert's data (`{"series":[...]}`): a string of JSON, or the object itself with `json-data = true` |
//! | `entity_id` | the alert's ID (`.id()`): VictorOps' incident key, so that the recovery resolves it |
//! | `message_type` | `CRITICAL`, `WARNING`, `INFO`, or `RECOVERY` for OK |
//! | `monitoring_tool` | `kapacitor` |
//! | `state_message` | the alert's message (`.message()`) |
//! | `timestamp` | the time of the alert's data point, in whole seconds since 1970 |
//!
//! The routing key is the handler's, else `[victorops] routing-key`; with neither, the path ends
//! at the API key (VictorOps then routes by its default). Any 2xx answer is a delivery.
//!
//! # Options
//!
//! | option        | type   | meaning |
//! |---------------|--------|---------|
//! | `routing-key` | string | The routing key. Empty or absent: `[victorops] routing-key` at the time of each alert. |
//!
//! # In a handler file
//!
//! ```yaml
//! topic: cpu
//! id: victorops-cpu-alert
//! kind: victorops
//! options:
//!   routing-key: 'team_rocket'
//! ```
//!
//! # In TICKscript
//!
//! `.victorOps()` takes no argument; `.routingKey()` may follow it:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .victorOps()
//!       .routingKey('team_rocket')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[victorops]` section, plus `timeout`:
//!
//! ```toml
//! [victorops]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The REST integration's API key. Required when enabled. Secret: redacted by the config API.
//! api-key = "xxxx"
//! # The routing key for handlers that name none.
//! routing-key = "xxxx"
//! # VictorOps' REST endpoint; change it only for a proxy or a stand-in.
//! url = "https://alert.victorops.com/integrations/generic/20131114/alert"
//! # The alert's data as a JSON object rather than a string of JSON.
//! json-data = false
//! # Every TICKscript alert node without .victorOps() gets one.
//! global = false
//! # How long one post may take.
//! timeout = "10s"
//! ```
//!
//! Refused, naming the key: enabling without `api-key` (`victorops: api-key cannot be empty
//! when enabled; set the API key of your VictorOps REST integration`), a `url` that is not
//! http(s) with a host, a zero `timeout`. Changes through the config API reach existing handlers
//! at their next alert; `global` applies to tasks started afterwards.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry. The API
//! key, which is part of the URL, never appears in a message: it reads `<api-key>`.
//!
//! - the service is disabled: `service is not enabled`;
//! - a wrong API key or URL (404): `POST https://alert.victorops.com/integrations/generic/
//!   20131114/alert/<api-key>/ops: 404 Not Found: URL or API key not found`;
//! - VictorOps refuses the alert (4xx), with its message;
//! - VictorOps limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - VictorOps cannot be reached, or the post outlasts `timeout`: retryable.
//!
//! # Service test
//!
//! `klaxon service-tests victorops` (or `POST /kapacitor/v1/service-tests/victorops`) sends one
//! alert with Kapacitor's test options: `{"routingKey": <[victorops] routing-key>,
//! "messageType": "CRITICAL", "message": "test victorops message", "entityID":
//! "testEntityID"}`, stamped with the current time, its data `{"series":null}`. The message type
//! is sent as given (`RECOVERY` resolves the test incident).
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor has no timeout and only logs failures; Klaxon bounds each post by `timeout` and
//!   returns failures to the engine, which retries 429 and 5xx answers.
//! - Any 2xx is success (Kapacitor: only 200).
//! - Enabling the service without `api-key` is refused; Kapacitor starts and every alert gets a
//!   404.
//! - Error messages show `<api-key>` where Kapacitor's show the key.
//! - A handler without a routing key follows later changes of the configured one.

mod api;
mod config;
mod handler;

pub use config::{Config, DEFAULT_URL};
pub use handler::{Options, TestOptions};
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::VictoropsService;

klaxon_core::register_service!(VictoropsService);

#[cfg(test)]
mod tests;
