//! A [`Context`] that records what a task emits and reports, shared by the pipeline's tests
//! whose tasks have no `|httpPost()` and restore no state.

use klaxon_core::{Level, Timestamp};
use klaxon_pipeline::{AlertEmission, Context};

/// The alert emissions and point errors of a task, in order.
#[derive(Default)]
pub struct Events {
    pub events: Vec<AlertEmission>,
    pub errors: Vec<String>,
}

impl Context for Events {
    fn emit(&mut self, emission: AlertEmission) {
        self.events.push(emission);
    }
    fn restore(&mut self, _: &str, _: Option<&str>, _: &str) -> Option<(Level, Timestamp)> {
        None
    }
    fn point_error(&mut self, node: &str, message: String) {
        self.errors.push(format!("{node}: {message}"));
    }
    fn post(&mut self, node: &str, _: klaxon_pipeline::PostRequest) -> u16 {
        panic!("{node}: these tasks have no |httpPost()")
    }
}
