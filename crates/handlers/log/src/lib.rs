//! The `log` alert handler: appends each alert, as one line of JSON, to a file.
//!
//! For every event the handler opens the file for appending (creating it, with the handler's
//! mode, if it does not exist), writes the alert JSON and a newline, and closes the file, as
//! Kapacitor does. The line is the JSON every Kapacitor handler writes:
//!
//! ```text
//! {"id":"cpu:nil","message":"cpu:nil is CRITICAL","details":"","time":"2024-05-01T12:00:00Z","duration":0,"level":"CRITICAL","data":{"series":[...]},"previousLevel":"OK","recoverable":true}
//! ```
//!
//! Because the file is opened for each alert, rotating it is safe: after `mv alerts.log
//! alerts.log.1` (logrotate without `copytruncate`) the next alert creates a new `alerts.log`, and
//! no alert is written to the old file or lost. Lines of several handlers sharing a file stay
//! whole: each is one write to a file opened for appending.
//!
//! # Options
//!
//! | option | type | meaning |
//! |--------|------|---------|
//! | `path` | string | The file, as an absolute path. Its directory must exist. Required. |
//! | `mode` | number or octal text | The permissions a new file gets (less the umask), which must let the owner write. JSON has no octal: write `420` for 0644, or the text `"0644"`. YAML's `mode: 0644` works as written. Default `0600`. |
//!
//! # In a handler file
//!
//! Kapacitor's documented example:
//!
//! ```yaml
//! id: log-cpu-alert
//! topic: cpu
//! kind: log
//! options:
//!   path: '/tmp/alerts.log'
//!   mode: 0644
//! ```
//!
//! # In TICKscript
//!
//! The argument is the path; `.mode()` takes an octal literal (a leading 0 means octal, as in
//! Kapacitor):
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .message('{{ .Time }}: CPU usage over 90%')
//!     .log('/tmp/alerts.log')
//!       .mode(0644)
//! ```
//!
//! # Configuration
//!
//! None. The `[log]` section exists, as for every kind, and takes no keys; Kapacitor has no such
//! section.
//!
//! # Failures
//!
//! These refuse the handler definition (handler file, HTTP API or TICKscript), naming the value:
//!
//! - no path, or a relative one: `path "alerts.log" is relative; write an absolute path`;
//! - a mode the owner cannot write, as Kapacitor checks:
//!   `mode 0444 (-r--r--r--) must be user writable; use a mode such as 0600 or 0644`; a mode with
//!   bits beyond 0777; a text mode without a leading 0 (`"644"`, which could mean either base);
//! - a file that cannot be opened for appending, with the system's reason:
//!   `cannot open path "/var/log/klaxon/alerts.log": Permission denied (os error 13)`. The
//!   check opens the file, so a definition creates it (empty) if it did not exist.
//!
//! At delivery, a file that cannot be opened or written (its directory removed, a full disk) fails
//! the delivery with the reason, `open /var/log/klaxon/alerts.log: No such file or directory (os
//! error 2)`; the engine logs it.
//!
//! # Service test
//!
//! Kapacitor has no log service test. Klaxon's `klaxon service-tests log` (or
//! `POST /kapacitor/v1/service-tests/log`) takes the handler's options, `{"path": "/abs/file",
//! "mode": 384}`, and appends a sample alert whose message is `test log message` to that file:
//! the test writes a real line. Without a path it fails: `path is required; write an absolute path
//! such as "/var/log/klaxon/alerts.log"`.
//!
//! # Differences from Kapacitor
//!
//! - The file is opened when the handler is defined, so a path that cannot be written is refused
//!   with the system's reason; Kapacitor accepts it and logs a failure for each alert.
//! - `mode` also reads octal text (`"0644"`), which is what a YAML handler file's `mode: 0644`
//!   becomes here (YAML 1.2 reads a leading 0 as text; Kapacitor's YAML 1.1 reads it as octal).
//!   Kapacitor refuses text.
//! - `.mode(0)` in TICKscript is refused like any mode the owner cannot write; Kapacitor treats it
//!   as absent (0600). Mode bits beyond 0777 are refused; Kapacitor ignores them.
//! - Failures are returned to the engine, which logs them and counts them per handler; a failure
//!   to open the file is not retried (the engine retries network-like failures only).

mod config;
mod handler;

pub use config::Config;
pub use handler::{Mode, Options};
// On its own, so that rustfmt's order does not depend on the name.
pub use handler::LogService;

klaxon_core::register_service!(LogService);

#[cfg(test)]
mod tests;
