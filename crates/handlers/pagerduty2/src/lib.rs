//! The `pagerduty2` alert handler: triggers and resolves PagerDuty incidents through PagerDuty's
//! Events API v2, as Kapacitor's `pagerduty2` service does.
//!
//! For every event the handler posts one event to the configured `url`:
//!
//! ```text
//! POST https://events.pagerduty.com/v2/enqueue
//! Content-Type: application/json
//! Accept: application/vnd.pagerduty+json;version=2
//!
//! {"routing_key":"<key>","event_action":"trigger","dedup_key":"kapacitor/cpu/serverA",
//!  "payload":{"summary":"CRITICAL alert for kapacitor/cpu/serverA","source":"serverA",
//!  "severity":"critical","timestamp":"1971-01-01T00:00:10.000000000Z","class":"cpu_alert",
//!  "component":"","group":"","custom_details":{"result":{"series":[...]}}},
//!  "images":null,"links":[{"href":"https://grafana.example.com/","text":"Dashboard"}],
//!  "client":"kapacitor","client_url":"http://klaxon.example.com:9092/kapacitor/v1"}
//! ```
//!
//! (one line, ending with a newline), field by field what Kapacitor sends:
//!
//! | field | value |
//! |---|---|
//! | `routing_key` | the handler's `routing-key`, else `[pagerduty2] routing-key` |
//! | `event_action` | `resolve` for OK; `trigger` for INFO, WARNING and CRITICAL |
//! | `dedup_key` | the alert's ID (`.id()`), so that the OK resolves the incident its alert triggered |
//! | `payload.summary` | the alert's message (`.message()`) |
//! | `payload.source` | the event's `host` tag, or `unknown` |
//! | `payload.severity` | `info` for OK and INFO, `warning`, `critical` |
//! | `payload.timestamp` | the time of the alert's data point, with nine fraction digits |
//! | `payload.class` | the task's name |
//! | `payload.component`, `payload.group`, `images` | always `""`, `""`, `null` |
//! | `payload.custom_details.result` | the alert's data: `{"series":[...]}` as in the alert JSON |
//! | `links` | the handler's links, templates rendered; `null` without links |
//! | `client`, `client_url` | `kapacitor`, and the server's API URL, `http(s)://<hostname>:<port>/kapacitor/v1` (see the differences) |
//!
//! Any 2xx answer is a delivery (PagerDuty answers 202).
//!
//! # Options
//!
//! | option        | type   | meaning |
//! |---------------|--------|---------|
//! | `routing-key` | string | The routing (integration) key. Empty or absent: `[pagerduty2] routing-key` at the time of each alert. |
//! | `links`       | list of `{href, text}` | Links shown with the incident. Both are Go templates over the event (`.ID`, `.Message`, `.Level`, `.Time`, `.Duration`, `.Details`, `.Name`, `.TaskName`, `.Group`, `.Tags`, `.Fields`); `href` is required, an empty `text` is the rendered `href`. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: handler-id
//! topic: topic-name
//! kind: pagerduty2
//! options:
//!   routing-key: 'myroutingkey'
//!   links:
//!     - href: 'https://chronograf.example.com/sources/1/dashboards/2'
//!       text: 'Overview Dashboard'
//!     - href: 'https://chronograf.example.com/'
//! ```
//!
//! # In TICKscript
//!
//! `.pagerDuty2()` takes no argument; `.routingKey()` (or its older name `.serviceKey()`) and
//! `.link(href)` or `.link(href, text)` may follow it, each `.link()` adding a link (both
//! templates, as in a handler file). Without a routing key the configured one is used:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .pagerDuty2()
//!       .routingKey('myroutingkey')
//!       .link('https://chronograf.example.com/sources/1/dashboards/2', 'Overview Dashboard')
//!       .link('https://chronograf.example.com/')
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[pagerduty2]` section, plus `timeout`:
//!
//! ```toml
//! [pagerduty2]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The routing key for handlers that name none. Secret: redacted by the config API.
//! routing-key = "0123456789abcdef0123456789abcdef"
//! # PagerDuty's Events API v2 endpoint; change it only for a proxy or a stand-in.
//! url = "https://events.pagerduty.com/v2/enqueue"
//! # Every TICKscript alert node without .pagerDuty2() gets one with the key above.
//! global = false
//! # How long one post may take.
//! timeout = "10s"
//! ```
//!
//! A `url` that is not http(s) with a host is refused (`pagerduty2: url "events.pagerduty.com"
//! has no scheme; write it like "https://events.pagerduty.com"`), and so is a zero `timeout`.
//! Changes through the config API reach existing handlers at their next alert; `global` applies
//! to tasks started afterwards.
//!
//! # Failures
//!
//! A link without `href`, or with a template that does not parse, refuses the handler
//! definition, and so does a `.link()` without arguments or with more than two (`.link() takes
//! 1 or 2 arguments, got 3`). At delivery, each of these fails it; the engine logs it and,
//! where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - neither the handler nor the configuration has a routing key: `no routing key: set the
//!   handler's routing-key (.routingKey()) or [pagerduty2] routing-key` (nothing is sent);
//! - a link template fails for this event: `cannot render links[0].href: ...`;
//! - PagerDuty refuses the event (4xx), with its explanation: `POST
//!   https://events.pagerduty.com/v2/enqueue: 400 Bad Request: invalid event: Event object is
//!   invalid: Length of 'routing_key' is incorrect (should be 32 characters)`;
//! - PagerDuty limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - PagerDuty cannot be reached, or the post outlasts `timeout`: retryable.
//!
//! # Service test
//!
//! `klaxon service-tests pagerduty2` (or `POST /kapacitor/v1/service-tests/pagerduty2`) sends
//! one event with the configured routing key, built from Kapacitor's test options:
//! `{"alert_id": "testAlertID", "description": "test pagerduty2 message", "level": "CRITICAL",
//! "event_data": {"Name": "testPagerDuty2", "TaskName": "", "Tags": {}, "Result": {"series":
//! null}, ...}, "timestamp": "2014-11-12T11:45:26.371Z", "links": [{"href":
//! "https://example.com/a", "text": "a"}, {"href": "https://example.com/b", "text": "b"}]}`.
//! The links are sent as given, not as templates. `"level": "OK"` sends a resolve.
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor has no timeout and only logs failures; Klaxon bounds each post by `timeout` and
//!   returns failures to the engine, which retries 429 and 5xx answers.
//! - Any 2xx is success (Kapacitor: 200 and 202).
//! - Without any routing key Klaxon sends nothing and says why; Kapacitor posts an empty key
//!   and logs PagerDuty's 400.
//! - A link without `href` is refused when the handler is defined; Kapacitor sends it.
//! - A handler without a routing key follows later changes of the configured one.
//! - `client_url` names this host and the port the server listens on
//!   (`http://klaxon.example.com:9092/kapacitor/v1`), so that PagerDuty's link leads back to the
//!   server; Kapacitor sends its listener's address, often the unreachable
//!   `http://[::]:9092/kapacitor/v1`.
//! - `.link()` with more than two arguments is refused where Kapacitor ignores the extra ones.

mod api;
mod config;
mod handler;
mod links;

pub use config::{Config, DEFAULT_URL};
pub use handler::{Options, TestEventData, TestOptions};
pub use links::Link;
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::Pagerduty2Service;

klaxon_core::register_service!(Pagerduty2Service);

#[cfg(test)]
mod tests;
