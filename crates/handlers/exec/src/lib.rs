//! The `exec` alert handler: runs a program for each alert, with the alert JSON on its stdin.
//!
//! For every event the handler starts the program once, directly (no shell), with its arguments.
//! A program given as a bare name is looked up on the server's `PATH`; it runs with the server's
//! environment and working directory. Its stdin receives the alert JSON and one newline, then
//! end-of-file. The JSON is the one every Kapacitor handler writes:
//!
//! ```text
//! {"id":"cpu:nil","message":"cpu:nil is CRITICAL","details":"","time":"2024-05-01T12:00:00Z","duration":0,"level":"CRITICAL","data":{"series":[...]},"previousLevel":"OK","recoverable":true}
//! ```
//!
//! The delivery succeeds when the program exits with status 0. Its output (stdout and stderr
//! together) is kept only to explain a failure.
//!
//! # Options
//!
//! | option | type            | meaning                                                           |
//! |--------|-----------------|-------------------------------------------------------------------|
//! | `prog` | string          | The program: a path, or a name found on `PATH`. Required.         |
//! | `args` | list of strings | The arguments, passed as they are (no shell, no placeholders).    |
//!
//! # In a handler file
//!
//! ```yaml
//! id: exec-cpu-alert
//! topic: cpu
//! kind: exec
//! options:
//!   prog: /usr/bin/python
//!   args:
//!     - sound-the-alarm.py
//! ```
//!
//! # In TICKscript
//!
//! The first argument is the program, any further ones its arguments:
//!
//! ```text
//! stream
//!   |from()
//!     .measurement('cpu')
//!   |alert()
//!     .crit(lambda: "usage_idle" < 10)
//!     .exec('/usr/bin/python', 'sound-the-alarm.py')
//! ```
//!
//! # Configuration
//!
//! ```toml
//! [exec]
//! # How long one run may take before the program is killed.
//! timeout = "30s"
//! ```
//!
//! A changed timeout applies to the next alert of every exec handler.
//!
//! ```toml
//! [exec]
//! # Only these programs may be named by a handler; empty allows every program.
//! allowed-programs = ["/usr/local/bin/alert-*", "/usr/bin/logger"]
//! ```
//!
//! With `allowed-programs` set, a handler file, an HTTP create, a TICKscript `.exec()` or a
//! service test naming another program is refused when it is defined:
//! `exec: program "/bin/rm" is not allowed by [exec] allowed-programs; allowed: /usr/local/bin/*`.
//! A bare name (`logger`) is resolved on the server's `PATH` at definition time; the resolved
//! absolute path is what is checked and what runs. `.` and `..` are resolved lexically first.
//! The list is read at startup only; changing it through the config API has no effect until a
//! restart with the new value in the file or environment.
//!
//! # Failures
//!
//! An empty `prog` refuses the handler definition, and so does a path that names no executable
//! file on the server (`exec: program "/usr/bin/pager" does not exist on the server; install it
//! there or fix prog`), where Kapacitor accepts it and then fails at every delivery. At delivery,
//! each of these fails the delivery with a message naming the program; the engine logs it and,
//! for a timeout, may retry:
//!
//! - the program cannot start (removed or made unexecutable since, a bare name not on `PATH`):
//!   `exec /usr/bin/pager: cannot start: No such file or directory (os error 2)`;
//! - it exits with a non-zero status or is killed by a signal, with up to 64 KiB of its output:
//!   `exec /usr/bin/pager: exit status 3: no route to the on-call phone`;
//! - it is still running at the timeout: it is killed with SIGKILL, together with every process
//!   it started in its process group, and reaped: `exec /usr/bin/pager timed out after 30s`.
//!
//! A program that never exits holds up only its own handler's deliveries, and only until the
//! timeout. A program may leave a process running in the background (`cmd &`); once the program
//! itself has exited, the delivery does not wait for that process.
//!
//! # Service test
//!
//! `klaxon service-tests -options '{"prog": "/path/prog", "args": [...]}' exec` (or
//! `POST /kapacitor/v1/service-tests/exec` with those options) runs the program once with a sample alert whose message
//! is `test exec message`.
//!
//! # Differences from Kapacitor
//!
//! Kapacitor waits for the program forever; Klaxon kills it at `[exec] timeout`. Kapacitor only
//! logs a failure; Klaxon returns it to the engine, which logs, counts and may retry it. Kapacitor
//! has no exec service test.

mod config;
mod handler;
mod policy;

pub use config::Config;
pub use handler::{ExecService, Options};

klaxon_core::register_service!(ExecService);

#[cfg(test)]
mod tests;
