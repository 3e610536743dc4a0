//! Who sends the HTTP requests of `|httpPost()` nodes. The engine knows nothing of HTTP: the
//! server gives the task manager a [`Poster`] built on its HTTP client
//! ([`TaskManager::set_poster`](super::TaskManager::set_poster)).

use klaxon_pipeline::PostRequest;

/// Sends one `|httpPost()` request and says what status came back.
///
/// It is called while the task processes a point, from the blocking thread that feeds the task,
/// and must return only when the exchange is over (as Kapacitor's node, which waits to put the
/// status in `.codeField()`).
///
/// ```
/// use klaxon_engine::tasks::Poster;
/// use klaxon_pipeline::PostRequest;
///
/// /// Answers every post with 202 without sending it (a test's receiver).
/// struct Accepting;
/// impl Poster for Accepting {
///     fn post(&self, _task: &str, _node: &str, _request: &PostRequest) -> u16 {
///         202
///     }
/// }
/// let poster: std::sync::Arc<dyn Poster> = std::sync::Arc::new(Accepting);
/// # let _ = poster;
/// ```
pub trait Poster: Send + Sync {
    /// Sends `request` for node `node` of task `task`; the response's status code, or 0 when no
    /// response came (after logging why, with the task and node).
    fn post(&self, task: &str, node: &str, request: &PostRequest) -> u16;
}

/// The poster of a task manager that was given none: every post fails, logged, with status 0,
/// as Kapacitor's node reports a request that could not be made.
pub(super) struct Unconnected;

impl Poster for Unconnected {
    fn post(&self, task: &str, node: &str, request: &PostRequest) -> u16 {
        tracing::error!(
            task,
            node,
            url = %request.url,
            "failed to POST data: this task manager has no HTTP client (give it one with set_poster)"
        );
        0
    }
}
