//! The `mqtt` alert handler: publishes each alert's message to an MQTT broker.
//!
//! For every event the handler publishes, as Kapacitor does, one MQTT message:
//!
//! ```text
//! PUBLISH  topic:   the handler's topic (a template of the alert: alerts/{{ .TaskName }})
//!          payload: the alert's rendered .message(), its bytes exactly (no JSON, no newline)
//!          QoS:     the handler's qos (0 unless set)
//!          RETAIN:  the handler's retained flag
//! ```
//!
//! over one MQTT 3.1.1 connection per `[[mqtt]]` broker (clean session, keep-alive 30 s, the
//! broker's `client-id` or else its `name` as client identifier, the `username` and
//! `password` when set), shared by every handler publishing there, made when the first message
//! goes out and made again after it fails. The broker is reached over TCP (`tcp://`), TLS
//! (`ssl://`) or a WebSocket (`ws://`, `wss://`). A delivery succeeds once the broker has the
//! message: when it is written for QoS 0, when the broker acknowledges it (PUBACK) for QoS 1,
//! at the end of the exchange (PUBCOMP) for QoS 2.
//!
//! The alert's details, level and data are not sent; the topic template may use them: it is a
//! Go text/template of Kapacitor's template data (`.ID`, `.Message`, `.Level`, `.Time`,
//! `.Duration`, `.Details`, `.Name`, `.TaskName`, `.Group`, `.Tags`, `.Fields`).
//!
//! # Options
//!
//! | option        | type           | meaning                                                   |
//! |---------------|----------------|-----------------------------------------------------------|
//! | `broker-name` | string         | The `[[mqtt]]` broker, by its `name`. Empty: the default broker. |
//! | `topic`       | string         | The topic, a template of the alert. Required. No `+` or `#`. |
//! | `qos`         | number, string | `0` at most once, `1` at least once, `2` exactly once; or `at-most-once`, `at-least-once`, `exactly-once`. Default 0. |
//! | `retained`    | bool           | Whether the broker keeps the message for later subscribers. Default false. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: handler-id
//! topic: topic-name
//! kind: mqtt
//! options:
//!   broker-name: 'name'
//!   topic: 'topic-name'
//!   qos: 1
//!   retained: true
//! ```
//!
//! # In TICKscript
//!
//! The one argument is the topic; the other options are chained properties, spelled as in
//! Kapacitor (`.topic()` after `.mqtt()` sets the MQTT topic, as there):
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('{{ .Time }}: CPU usage over 90%')
//!     .mqtt('alerts')
//!       .brokerName('localhost')
//!       .qos(2)
//!       .retained(TRUE)
//! ```
//!
//! # Configuration
//!
//! Kapacitor's `[[mqtt]]` section, pasted as it is: a list of brokers (a single `[mqtt]` table
//! is one broker).
//!
//! ```toml
//! [[mqtt]]
//!   enabled = true
//!   # The name handlers give as broker-name. Required.
//!   name = "localhost"
//!   # The default broker serves handlers that name none. A single broker is the default.
//!   default = true
//!   # tcp://host:port (1883 by default), ssl://host:port (8883), ws:// or wss://host:port/path.
//!   url = "tcp://localhost:1883"
//!   # TLS for ssl:// and wss://: a CA trusted beside the system's, a client certificate and key.
//!   ssl-ca = "/etc/klaxon/ca.pem"
//!   ssl-cert = "/etc/klaxon/cert.pem"
//!   ssl-key = "/etc/klaxon/key.pem"
//!   insecure-skip-verify = false
//!   # The MQTT client identifier; empty: the name.
//!   client-id = ""
//!   username = ""
//!   # Secret: klaxond config and the config API show only whether it is set.
//!   password = ""
//!   # How long connecting and having one message acknowledged may take together (Klaxon's).
//!   timeout = "10s"
//! ```
//!
//! Without a `[[mqtt]]` section there is Kapacitor's built-in broker: named `default`,
//! disabled. A broker written in the file starts from empty values.
//!
//! These are refused at start and through the config API, with messages naming the broker:
//! a broker without a name (`mqtt: [[mqtt]] element 2: must specify a name for the mqtt
//! broker, such as name = "localhost"`), an enabled broker without `url`, a URL that is not
//! tcp, ssl, ws or wss with a host (`mqtt: broker "local": url "http://h:1883" has the scheme
//! "http"; use tcp://, ssl://, ws:// or wss://`), two brokers with one name, several brokers of
//! which none or more than one is the default, a timeout that is not positive, and TLS files of
//! an enabled ssl:// or wss:// broker that cannot be used. A changed broker is connected again
//! with its new settings at its next message.
//!
//! # Failures
//!
//! A handler naming a broker that does not exist is refused where it is defined:
//! `mqtt: unknown MQTT broker "other"; the [[mqtt]] brokers are: "localhost"`; so are a missing
//! topic, a topic template that does not parse, a topic with a wildcard and a `qos` other than
//! 0, 1, 2 or its names. At delivery, each of these fails it; the engine logs it and, where
//! marked, retries:
//!
//! - the broker is disabled: `MQTT broker "localhost" is not enabled; set enabled = true in its
//!   [[mqtt]] section`, or was removed from the configuration;
//! - the topic template fails, or gives an empty topic (`missing MQTT topic: ...`);
//! - the broker cannot be reached: `connect to MQTT broker "localhost": Connection refused (os
//!   error 111)` (retried; each attempt connects again at once);
//! - the broker refuses the login: `MQTT broker "localhost" refused the connection: not
//!   authorized; check the username and password of this [[mqtt]] broker, ...` (not retried:
//!   the same credentials fail again); likewise a refused client identifier;
//! - the TLS handshake fails: `TLS with MQTT broker "localhost" failed: invalid peer
//!   certificate: UnknownIssuer; ...` (not retried);
//! - the connection is lost before the broker acknowledged the message, or connecting and
//!   acknowledging outlast the broker's `timeout`:
//!   `publishing to MQTT broker "localhost" timed out after 10s` (retried).
//!
//! # Service test
//!
//! `klaxon service-tests mqtt` (or `POST /kapacitor/v1/service-tests/mqtt`) publishes a message
//! with Kapacitor's options and defaults: `{"broker-name": <default broker>, "topic": "",
//! "message": "test MQTT message", "qos": "at-most-once", "retained": false}`. The topic is
//! used as written (no template) and is required: without one the test fails with
//! `missing MQTT topic`.
//!
//! # Differences from Kapacitor
//!
//! - A broker that cannot be reached does not stop the server from starting (Kapacitor refuses
//!   to start, or to take a config change): it is a retryable failure of each delivery.
//! - A handler naming an unknown broker, without a topic, or with a topic MQTT does not allow is
//!   refused when it is defined; Kapacitor accepts it and fails every alert.
//! - `qos` takes `"exactly-once"`, the name Kapacitor itself lists in its service tests but
//!   refuses to read (it reads only `"exactly-one"`, which works too); a number above 2 is
//!   refused instead of being sent to the broker.
//! - A disabled broker says so (`is not enabled`) instead of `unknown MQTT broker`.
//! - Waiting for the broker is bounded by the broker's `timeout` (Kapacitor waits without a
//!   limit for the acknowledgement), and failures go back to the engine, which retries those
//!   that may pass; Kapacitor logs them and drops the alert.
//! - Topic templates refuse a field that does not exist (`{{ .Nmae }}`), as Go does for the
//!   struct behind them. `{{ index .Tags "x" }}` for a tag the alert lacks gives `<no value>`
//!   where Go gives an empty string (gotmpl does not know the map's value type).

mod config;
mod connection;
mod handler;
mod qos;

pub use config::{Broker, Brokers, Config};
pub use handler::{Options, TestOptions};
pub use qos::Qos;
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::MqttService;

klaxon_core::register_service!(MqttService);

#[cfg(test)]
mod tests;
