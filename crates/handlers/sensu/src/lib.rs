//! The `sensu` alert handler: sends each alert as a check result to a Sensu client's socket, as
//! Kapacitor's `sensu` service does (Sensu 1.x, "JIT" clients).
//!
//! For every event the handler connects to the configured `addr` (a Sensu client's TCP socket,
//! port 3030 by default), writes one check result as a line of JSON, and reads the client's
//! answer until it closes the connection; the answer `ok` is a delivery:
//!
//! ```text
//! {"handlers":["tcp","transport"],"key1":"value1","name":"cpu_nil","output":"Hey, check your CPU","source":"Kapacitor","status":2}
//! ```
//!
//! Field by field, what Kapacitor sends (keys sorted, as Go writes a map):
//!
//! | field | value |
//! |---|---|
//! | `name` | the alert's ID (`.id()`), with each character Sensu refuses in a name made `_` (see below) |
//! | `source` | the handler's source template rendered for the alert, else `[sensu] source` (the JIT client the check belongs to) |
//! | `output` | the alert's message (`.message()`) |
//! | `status` | 0 for OK and INFO, 1 for WARNING, 2 for CRITICAL |
//! | `handlers` | the handler's Sensu handlers, else `[sensu] handlers`, else `null` (Sensu's default handler) |
//! | any other | the handler's `metadata`, as given; a metadata key cannot replace the five above |
//!
//! Sensu takes a check name or source only if it matches `^[\w\.-]+$`; Kapacitor refuses to
//! send any other name (so the default alert ID, `cpu:nil`, never reaches Sensu) and sends any
//! other source for Sensu to answer `invalid`. Klaxon makes every other character `_`: the
//! alert `cpu:nil` is the check `cpu_nil`, and its recovery resolves the same check. Names and
//! sources that Kapacitor delivers go out unchanged.
//!
//! # Options
//!
//! | option     | type             | meaning |
//! |------------|------------------|---------|
//! | `source`   | string           | The JIT source, a Go template over the alert (`{{ index .Tags "host" }}`; the fields are Kapacitor's: `.ID`, `.Message`, `.Level`, `.Time`, `.Duration`, `.Details`, `.Name`, `.TaskName`, `.Group`, `.Tags`, `.Fields`). Empty or absent: `[sensu] source`. |
//! | `handlers` | list of strings  | The Sensu handlers. Empty or absent: `[sensu] handlers`. |
//! | `metadata` | map              | More keys of the check result, values as given (strings, numbers, lists, maps). |
//!
//! # In a handler file
//!
//! ```yaml
//! id: sensu-cpu-alert
//! topic: cpu
//! kind: sensu
//! options:
//!   source: Kapacitor
//!   handlers:
//!     - tcp
//!     - transport
//!   metadata:
//!     key1: value1
//!     key2: 5
//! ```
//!
//! # In TICKscript
//!
//! `.sensu()` takes no argument; `.source()`, `.handlers()` (any number of names) and
//! `.metadata(key, value)` (once per key) may follow it:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .sensu()
//!       .source('Kapacitor')
//!       .handlers('handler1-name', 'handler2-name')
//!       .metadata('key1', 'value1')
//!       .metadata('key2', 5)
//! ```
//!
//! A duration in `.metadata('interval', 5m)` goes out as integer nanoseconds, as in Kapacitor.
//!
//! # Configuration
//!
//! Kapacitor's `[sensu]` section, plus `timeout`:
//!
//! ```toml
//! [sensu]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # The Sensu client's socket, host:port. Required when enabled.
//! addr = "sensu-client:3030"
//! # The JIT source of handlers that name none.
//! source = "Kapacitor"
//! # The Sensu handlers of handlers that name none.
//! handlers = ["tcp", "transport"]
//! # How long connecting, sending and reading the answer may take together.
//! timeout = "10s"
//! ```
//!
//! Refused, naming the key: enabling without `addr` (`sensu: must specify client address: set
//! addr to the Sensu client's host:port, such as "sensu-client:3030"`), an `addr` that does not
//! end in `:port`, a zero `timeout`. Changes through the config API reach existing handlers at
//! their next alert.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - the source template fails for this alert: `failed to evaluate Sensu source template: ...`;
//! - the client refuses the check result: `sensu socket error: sensu client
//!   sensu-client:3030 answered "invalid": ...` (its log says why), or answers anything but `ok`;
//! - the client cannot be reached (retryable), or closes the connection without answering
//!   (retryable), or the exchange outlasts `timeout` (retryable):
//!   `send to sensu client sensu-client:3030 timed out after 10s`.
//!
//! A `source` option that is not a valid template refuses the handler definition, with
//! gotmpl's reason: `sensu: source: ...`.
//!
//! # Service test
//!
//! `klaxon service-tests sensu` (or `POST /kapacitor/v1/service-tests/sensu`) sends one check
//! result with Kapacitor's test options, `{"name": "testName", "source": "Kapacitor", "output":
//! "testOutput", "handlers": [], "metadata": {}, "level": "CRITICAL"}`, unless given others, and
//! passes when the client answers `ok`.
//!
//! # Differences from Kapacitor
//!
//! - Names and sources that Sensu would refuse are sent with `_` for each character it refuses,
//!   where Kapacitor refuses to send such a name (the default alert ID `cpu:nil` among them) and
//!   sends such a source to be refused. An empty source is left out (the check is the client's
//!   own) instead of being sent for Sensu to refuse.
//! - Kapacitor has no timeout and waits for the client's answer forever; Klaxon bounds the
//!   exchange by `timeout` and returns failures to the engine, which retries those marked above.
//! - A second `.handlers()` in TICKscript adds to the list, where Kapacitor's replaces it.

mod config;
mod handler;
mod socket;

pub use config::{Config, DEFAULT_SOURCE};
pub use handler::{Options, SensuService, TestOptions};

klaxon_core::register_service!(SensuService);

#[cfg(test)]
mod tests;
