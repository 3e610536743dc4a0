//! The `zenoss` alert handler: sends each alert as an event to Zenoss through its JSON router
//! (`EventsRouter.add_event`), as Kapacitor's `zenoss` service does.
//!
//! For every event the handler posts one router request to the configured `url`, with HTTP
//! Basic authentication when a user and a password are set:
//!
//! ```text
//! POST https://tenant.zenoss.io:8080/zport/dmd/evconsole_router
//! Content-Type: application/json
//!
//! {"action":"EventsRouter","method":"add_event","data":[{"collector":"Kapacitor","component":"CPU",
//!  "device":"serverA","evclass":"/App","evclasskey":"","severity":"Critical",
//!  "summary":"Hey, check your CPU"}],"type":"rpc","tid":1}
//! ```
//!
//! (one line, no trailing newline; the event's keys sorted), field by field what Kapacitor
//! sends:
//!
//! | field | value |
//! |---|---|
//! | `action`, `method`, `type`, `tid` | the handler's, else `[zenoss] action`, `method`, `type`, `tid` |
//! | `summary` | the handler's `summary` template rendered, else the alert's message (at most 256 bytes) |
//! | `device`, `component`, `evclasskey`, `evclass` | the handler's templates rendered, `""` when unset |
//! | `severity` | `[zenoss] severity-map`'s value for the level, a name or a number as written |
//! | `collector` | the handler's template rendered, else `[zenoss] collector`; left out when empty |
//! | `message` | the handler's template rendered (at most 4096 bytes); left out when empty |
//! | any other | the handler's `customField`s; they replace any key above |
//!
//! Templates see Kapacitor's zenoss data: `.ID`, `.Message`, `.Details`, `.Time`, `.Duration`,
//! `.Level`, `.Recoverable`, `.Name`, `.TaskName`, `.Tags` (no `.Fields`). A custom field whose
//! rendered text starts with `{` or `[` and parses as JSON is sent as that JSON.
//!
//! A delivery is a 2xx answer that is not the router's refusal: Zenoss' router answers 200 to a
//! request it refuses, with `"type": "exception"` or `"success": false`, and Klaxon reads that.
//!
//! # Options
//!
//! | option          | type    | meaning |
//! |-----------------|---------|---------|
//! | `action`        | string  | The router. Empty: `[zenoss] action`. |
//! | `method`        | string  | The router method. Empty: `[zenoss] method`. |
//! | `type`          | string  | The request type. Empty: `[zenoss] type`. |
//! | `tid`           | integer | The transaction ID. 0 or absent: `[zenoss] tid`. |
//! | `summary`       | string  | The summary, a template. Empty: the alert's message. |
//! | `device`        | string  | The device, a template such as `{{ index .Tags "host" }}`. |
//! | `component`     | string  | The component, a template. |
//! | `eventClassKey` | string  | The event class key, a template (`evclasskey`, the documentation's name, works too). |
//! | `eventClass`    | string  | The event class, a template such as `/App` (`evclass` works too). |
//! | `collector`     | string  | The collector, a template. Empty: `[zenoss] collector`. |
//! | `message`       | string  | The event's message, a template. |
//! | `customField`   | map     | More fields: strings are templates (JSON text is sent as JSON), other values as they are. |
//! | `url`, `username`, `password` | string | The JSON router and its credentials. Empty: `[zenoss]`'s. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: zenoss-cpu-alert
//! topic: cpu
//! kind: zenoss
//! options:
//!   summary: High CPU usage
//!   device: example-device
//!   component: example-component
//!   evclasskey: example-event-class-key
//!   evclass: example-event-class
//! ```
//!
//! # In TICKscript
//!
//! `.zenoss()` takes no argument; `.action()`, `.method()`, `.type()`, `.tid()`, `.summary()`,
//! `.device()`, `.component()`, `.eventClassKey()` (or `.evclasskey()`), `.eventClass()` (or
//! `.evclass()`), `.collector()`, `.message()`, `.customField(key, value)` (once per field),
//! `.URL()`, `.username()` and `.password()` may follow it. After `.zenoss()`, `.message()` is
//! the Zenoss event's message, not the alert's, as in Kapacitor: set the alert's before.
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .warn(lambda: "usage_idle" < 20)
//!     .message('Hey, check your CPU')
//!     .zenoss()
//!       .device('{{ index .Tags "host" }}')
//!       .component('CPU')
//!       .eventClass('/App')
//!       .customField('ticks', 33)
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[zenoss]` section, plus `timeout`:
//!
//! ```toml
//! [zenoss]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The Zenoss JSON router.
//! url = "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router"
//! # HTTP Basic authentication, sent when both are set. The password is secret: redacted by the
//! # config API.
//! username = ""
//! password = ""
//! # The router, method, type, transaction ID and collector of handlers that name none.
//! action = "EventsRouter"
//! method = "add_event"
//! type = "rpc"
//! tid = 1
//! collector = "Kapacitor"
//! # The Zenoss severity of each level, names or numbers.
//! severity-map = { OK = "Clear", Info = "Info", Warning = "Warning", Critical = "Critical" }
//! # Every TICKscript alert node without .zenoss() gets one; with state-changes-only, every
//! # alert node sends only changes of state.
//! global = false
//! state-changes-only = false
//! # How long one post may take.
//! timeout = "10s"
//! ```
//!
//! Refused, naming the key: enabling without a `url`, a `url` that is not http(s) with a host,
//! a severity that is neither a string nor a number (`zenoss: invalid severity mapping:
//! severity-map Info is true; ...`), a zero `timeout`. Changes through the config API reach
//! existing handlers at their next alert; `global` and `state-changes-only` apply to tasks
//! started afterwards.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - the router refuses the event: `POST https://.../evconsole_router: Zenoss refused the event:
//!   <its message>`;
//! - Zenoss refuses the request (4xx), with its explanation (a 401 says to check `username` and
//!   `password`);
//! - Zenoss limits the rate (429) or fails (5xx): retryable, not before its `Retry-After`;
//! - Zenoss cannot be reached, or the post outlasts `timeout`: retryable.
//!
//! A template that does not parse, a `url` option that is not http(s), or an event class (key)
//! given under both its names with different values refuses the handler definition, naming the
//! option. A template that fails while it runs gives what it wrote until then, as in Kapacitor,
//! so that the event still reaches Zenoss.
//!
//! # Service test
//!
//! `klaxon service-tests zenoss` (or `POST /kapacitor/v1/service-tests/zenoss`) sends one event
//! with Kapacitor's test options, `{"alert_id": "1001", "level": "CRITICAL", "message": "test
//! zenoss message", "action": <[zenoss] action>, "method": ..., "type": ..., "tid": ...,
//! "summary": "", "device": "", "component": "", "eventclasskey": "", "eventclass": "",
//! "collector": <[zenoss] collector>, "custom_fields": {}}`, unless given others.
//!
//! # Differences from Kapacitor
//!
//! - Kapacitor has no timeout, only logs failures and takes any 200 for a delivery; Klaxon
//!   bounds each post by `timeout`, reads the router's refusals in a 200 answer, takes any 2xx,
//!   and returns failures to the engine, which retries 429 and 5xx answers.
//! - The documentation's `evclasskey` and `evclass` work, as option keys and TICKscript
//!   properties (Kapacitor knows only `eventClassKey` and `eventClass`).
//! - `url`, `username` and `password` of a handler are used (Kapacitor's TICKscript takes them
//!   and ignores them; its handler files refuse them).
//! - Templates are parsed when the handler is defined, so a broken one refuses the definition
//!   (Kapacitor fails each alert).
//! - Fields cut to Zenoss' sizes are cut at a character boundary (Kapacitor may cut a character
//!   in two).
//! - Option keys are matched exactly (`eventClass`), where Kapacitor ignores their case; the
//!   severity map's keys are `OK`, `Info`, `Warning`, `Critical` (or lower case) everywhere.

mod api;
mod config;
mod handler;

pub use config::{Config, DEFAULT_URL, SeverityMap};
pub use handler::{Options, TestOptions, ZenossService};

klaxon_core::register_service!(ZenossService);

#[cfg(test)]
mod tests;
