//! What the `|join()`, `|combine()` and `|flatten()` tests share: a context that keeps the
//! point errors, and compiling a script to its error text.

use klaxon_core::{Level, Registry, Timestamp};
use klaxon_pipeline::{AlertEmission, Context, ServerInfo, Task};

/// The point errors the task reported, as `node: message`.
#[derive(Default)]
pub struct Errors(pub Vec<String>);

impl Context for Errors {
    fn emit(&mut self, _: AlertEmission) {}
    fn restore(&mut self, _: &str, _: Option<&str>, _: &str) -> Option<(Level, Timestamp)> {
        None
    }
    fn point_error(&mut self, node: &str, message: String) {
        self.0.push(format!("{node}: {message}"));
    }
    fn post(&mut self, node: &str, _: klaxon_pipeline::PostRequest) -> u16 {
        panic!("{node}: these tasks have no |httpPost()")
    }
}

/// The task, or the text of the error that refused it.
pub fn compile(script: &str) -> Result<Task, String> {
    Task::compile(
        "t",
        script,
        &Registry::linked().unwrap(),
        &ServerInfo::default(),
    )
    .map_err(|e| e.to_string())
}
