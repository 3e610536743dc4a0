//! One module per group of Kapacitor CLI commands.

pub mod collection;
pub mod logs;
pub mod recordings;
pub mod server;
pub mod service_tests;
pub mod silences;
pub mod task_file;
pub mod tasks;
pub mod templates;
pub mod topic_handlers;
pub mod topics;

use clap::ValueEnum;

/// The Kapacitor version whose CLI and API this client follows.
pub const KAPACITOR_API: &str = "1.7.7";

/// What `list` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Listable {
    /// Tasks: `list tasks [pattern...]`.
    Tasks,
    /// Templates: `list templates [pattern...]`.
    Templates,
    /// Recordings: `list recordings [pattern...]`.
    Recordings,
    /// Replays: `list replays [pattern...]`.
    Replays,
    /// Topics: `list topics [pattern...]`.
    Topics,
    /// Topic handlers: `list topic-handlers [topic-pattern] [handler-pattern...]`.
    #[value(name = "topic-handlers")]
    TopicHandlers,
    /// The services that have a test.
    #[value(name = "service-tests")]
    ServiceTests,
}

/// What `delete` deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deletable {
    /// Tasks: `delete tasks PATTERN...`.
    Tasks,
    /// Templates: `delete templates PATTERN...`.
    Templates,
    /// Recordings: `delete recordings PATTERN...`.
    Recordings,
    /// Replays: `delete replays PATTERN...`.
    Replays,
    /// Topics: `delete topics PATTERN...`.
    Topics,
    /// Topic handlers: `delete topic-handlers TOPIC PATTERN...`.
    #[value(name = "topic-handlers")]
    TopicHandlers,
}

/// Whether `text` is a glob pattern rather than a plain ID.
pub fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// The error for arguments that matched nothing: a plain ID names a `what` that does not
/// exist, a pattern matched none; `listing` is the command that shows what exists.
pub fn nothing_matched(what: &str, arg: &str, listing: &str) -> crate::client::ClientError {
    let message = if is_pattern(arg) {
        format!("no {what} matches {arg:?}; '{listing}' shows them")
    } else {
        format!("no {what} {arg:?}; '{listing}' shows them")
    };
    crate::client::ClientError::Server {
        status: 404,
        message,
    }
}
