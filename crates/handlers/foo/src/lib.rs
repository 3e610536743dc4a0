//! The `foo` alert handler: posts each alert message to a room of the Foo chat service.
//!
//! Foo is the chat service of Kapacitor's guide to writing a handler: messages are posted to a
//! room through an HTTP API. For every event the handler sends
//!
//! ```text
//! POST <[foo] url>
//! Content-Type: application/json
//!
//! {"room":"alerts","message":"cpu:nil is CRITICAL"}
//! ```
//!
//! where the message is the alert's rendered `.message()` and the room is the handler's own, or
//! the configured default room when it has none. The delivery succeeds on a `200 OK` answer.
//!
//! # Options
//!
//! | option | type   | meaning                                                                |
//! |--------|--------|------------------------------------------------------------------------|
//! | `room` | string | The room. Empty or absent: the `[foo] room` at the time of each alert. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: foo-cpu-alert
//! topic: cpu
//! kind: foo
//! options:
//!   room: ops
//! ```
//!
//! # In TICKscript
//!
//! `.foo()` takes no argument; the room is a chained property:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .foo()
//!         .room('alerts')
//! ```
//!
//! # Configuration
//!
//! ```toml
//! [foo]
//! # Whether the service is enabled; while it is not, every delivery fails.
//! enabled = true
//! # Where messages are posted. Required when enabled.
//! url = "http://127.0.0.1:8088/"
//! # The room for handlers that name none.
//! room = "alerts"
//! # How long one post may take.
//! timeout = "10s"
//! # For an https:// URL: a PEM CA file trusted beside the system's roots, or (for tests only)
//! # no verification at all.
//! ssl-ca = "/etc/klaxon/foo-ca.pem"
//! insecure-skip-verify = false
//! ```
//!
//! Enabling the service without a URL is refused: `foo: must specify the Foo server URL`, and so
//! is a URL that is not http(s) with a host, or an `ssl-ca` that cannot be read or holds no PEM
//! certificate (`foo: cannot read ssl-ca /etc/klaxon/foo-ca.pem: No such file or directory ...`).
//! Configuration changes (through the config API) apply to the next alert of every foo handler:
//! a new URL, a new default room, a new timeout, new TLS settings, or disabling the service.
//!
//! # Failures
//!
//! Each of these fails the delivery; the engine logs it and, where marked, may retry:
//!
//! - the service is disabled: `service is not enabled`;
//! - the server answers anything but 200: `unexpected response code 500 from Foo service`
//!   (retryable for 5xx and 429);
//! - the server cannot be reached or fails mid-request, with the cause (retryable);
//! - the post outlasts the timeout: `POST http://foo.example/ timed out after 10s` (retryable);
//! - the TLS handshake fails, naming the host and the reason:
//!   `POST https://foo.example/: TLS with foo.example failed: invalid peer certificate: UnknownIssuer`
//!   (not retried: the certificate will not change by itself).
//!
//! # Service test
//!
//! `klaxon service-tests foo` (or `POST /kapacitor/v1/service-tests/foo`) posts a test message,
//! with the options `{"room": <[foo] room>, "message": "test foo message"}` unless given others.
//!
//! # A whole loop on one machine
//!
//! With the `demo` feature, `klaxon_handler_foo::demo::FooServer` is a tiny Foo server for demos
//! and tests, and the `foo-server` example runs one that prints each message as `room: message`:
//!
//! ```text
//! $ cargo run -p klaxon-handler-foo --features demo --example foo-server -- --listen 127.0.0.1:8088
//! foo-server: listening on http://127.0.0.1:8088/
//! ```
//!
//! Start klaxond with the `[foo]` section above, then `klaxon service-tests foo`, and the server
//! prints `alerts: test foo message`. A task with `.foo().room('ops')` makes it print
//! `ops: <alert message>` each time the alert fires.
//!
//! # Differences from Kapacitor
//!
//! Kapacitor's Foo client has no timeout and only logs failures; Klaxon bounds each post by
//! `[foo] timeout` and returns failures to the engine. A handler without a room follows later
//! changes of the configured room, where Kapacitor fixes the room when the handler is made.

mod config;
#[cfg(any(test, feature = "demo"))]
pub mod demo;
mod handler;

pub use config::Config;
pub use handler::{FooService, Options, TestOptions};

klaxon_core::register_service!(FooService);

#[cfg(test)]
mod tests;
