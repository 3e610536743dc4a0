//! Why a task cannot be defined, changed or loaded.

use klaxon_pipeline::DefineError;
use klaxon_tick::Span;

use crate::{EngineError, LimitError, StoreError};

/// A task that cannot be defined or changed. The variants say whose fault it is: the script or
/// the request ([`TaskError::Invalid`] to [`TaskError::DbrpsTwice`] and
/// [`TaskError::Limit`]), a missing task ([`TaskError::NotFound`]) or the server
/// ([`TaskError::Store`], [`TaskError::Encode`]).
///
/// ```
/// let err = klaxon_engine::tasks::TaskError::NotFound("cpu".into());
/// assert_eq!(err.to_string(), "no task exists with ID \"cpu\"");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The TICKscript is invalid; the message has line and column.
    #[error("invalid TICKscript: {0}")]
    Invalid(#[from] DefineError),
    /// An inline handler of the script is refused by its kind (unknown, disabled, bad options).
    #[error("invalid TICKscript: {span}: {source}")]
    InvalidHandler {
        /// Where the handler property is written.
        span: Span,
        /// Why the kind refused it (boxed: an engine error is large and this one is rare).
        #[source]
        source: Box<EngineError>,
    },
    /// An alert node's anonymous topic `main:<task>:<node>` is not a valid topic.
    #[error("invalid TICKscript: {0}")]
    AnonymousTopic(#[source] Box<EngineError>),
    /// A replay's data does not suit the task (points for a batch task, batches for a stream
    /// task).
    #[error("{0}")]
    WrongData(String),
    /// The task ID breaks [`super::is_valid_task_id`].
    #[error("task ID {0:?} must contain only letters, numbers, '-', '_' and '.'")]
    InvalidId(String),
    /// A task with this ID exists.
    #[error("task {0:?} already exists; change it with PATCH")]
    AlreadyExists(String),
    /// The dbrps are given both by `dbrp` statements and with the task.
    #[error(
        "cannot specify dbrp in both implicitly and explicitly; use the dbrp statement or the \
         dbrps field, not both"
    )]
    DbrpsTwice,
    /// No task with that ID.
    #[error("no task exists with ID {0:?}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The task record could not be encoded for the store.
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    /// An `|influxDBOut()` cannot get a writer: its cluster is not configured.
    #[error("{node}: {source}")]
    InfluxDb {
        /// The node.
        node: String,
        /// Why (boxed: it is rare and large).
        #[source]
        source: Box<klaxon_influxdb::InfluxError>,
    },
    /// A limit on definitions was reached.
    #[error(transparent)]
    Limit(#[from] LimitError),
}
