//! The `tcp` alert handler: sends each alert, as JSON, to a TCP address.
//!
//! For every event the handler opens a connection to the address, writes the alert JSON, its
//! newline and one more newline (`<json>\n\n`, Kapacitor's framing), and closes the connection.
//! Nothing is read back. The JSON is the one every Kapacitor handler writes (`id`, `message`,
//! `details`, `time`, `duration`, `level`, `data`, `previousLevel`, `recoverable`), so a receiver
//! written for Kapacitor works unchanged.
//!
//! # Options
//!
//! | option    | type   | meaning                                                          |
//! |-----------|--------|------------------------------------------------------------------|
//! | `address` | string | The endpoint, as `host:port` (`127.0.0.1:7777`, `[::1]:7777`). Required. |
//!
//! # In a handler file
//!
//! ```yaml
//! id: tcp-cpu-alert
//! topic: cpu
//! kind: tcp
//! options:
//!   address: 127.0.0.1:7777
//! ```
//!
//! # In TICKscript
//!
//! The one argument is the address:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('Hey, check your CPU')
//!     .tcp('127.0.0.1:7777')
//! ```
//!
//! # Configuration
//!
//! ```toml
//! [tcp]
//! # How long connecting and writing one alert may take together.
//! timeout = "10s"
//! ```
//!
//! A changed timeout applies to the next alert of every tcp handler.
//!
//! # Receivers
//!
//! A connection per alert means a receiver that handles connections one after another has
//! alerts waiting in its listen queue when they come fast. Listen with a queue as long as the
//! kernel allows (`net.core.somaxconn`; Go's `net.Listen` does, Rust's std and Python's
//! `socketserver` ask for 128 or 5): when the queue is full the kernel drops the next
//! connection attempt, and the sender's kernel tries again only a second later, so each
//! overflow holds up the handler's queue for a second (`nstat TcpExtListenOverflows` counts
//! them). The handler connects and writes without waiting for the runtime when the receiver
//! has answered within the connect call, as one on the same machine or network does.
//!
//! On Linux an alert that fits a segment (about 1 400 bytes on Ethernet, 64 KiB on loopback)
//! reaches the receiver as the SYN and one more segment: the handshake's last ACK waits for the
//! payload (`TCP_QUICKACK` off before the connect) and the FIN rides on it (`MSG_MORE`, then
//! the shutdown). A plain connect, write and close sends the ACK, the data and the FIN
//! separately. The bytes and their order are the same; the receiver's `accept` returns with the
//! alert already readable, and is woken once instead of three times. Larger alerts go out in
//! full segments as the receiver reads, the FIN on the last one.
//!
//! # Failures
//!
//! An address without a port, or with a port that is not a number from 1 to 65535, refuses the
//! handler definition. At delivery, a refused or reset connection, a write error and a delivery
//! that outlasts the timeout (a peer that never reads a large alert, an address that never
//! answers) fail the delivery with a message naming the address, such as
//! `connect to 127.0.0.1:7777: Connection refused (os error 111)` or
//! `send to 127.0.0.1:7777 timed out after 10s`; the engine logs them and may retry.
//!
//! # Service test
//!
//! `klaxon service-tests tcp` (or `POST /kapacitor/v1/service-tests/tcp`) with options
//! `{"address": "host:port"}` sends one sample alert there. There is no default address, so a test
//! without one fails with `address is required; write it as host:port`.
//!
//! # Differences from Kapacitor
//!
//! Kapacitor has no timeout and ignores write errors; Klaxon bounds the delivery by `[tcp] timeout`
//! and reports write errors. Kapacitor has no tcp service test.

mod config;
mod handler;

pub use config::Config;
pub use handler::{Options, TcpService};

klaxon_core::register_service!(TcpService);

#[cfg(test)]
mod tests;
