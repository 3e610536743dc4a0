//! The engine's errors.

use std::path::PathBuf;

/// What went wrong in the alert service. The HTTP API maps each variant to Kapacitor's status:
/// [`EngineError::InvalidSpec`] is 400, the not-found variants are 404 (or what the route says),
/// everything else is 500.
///
/// ```
/// let err = klaxon_engine::EngineError::UnknownTopic("cpu".into());
/// assert_eq!(err.to_string(), "unknown topic \"cpu\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The spec's ID, topic or kind breaks the naming rules.
    #[error("{0}")]
    InvalidSpec(String),
    /// The kind is not one this server has.
    #[error("unsupported action kind {kind:?}; this server has: {known}")]
    UnknownKind {
        /// The kind asked for.
        kind: String,
        /// The kinds this server has, comma-separated.
        known: String,
    },
    /// The kind is linked but the server's configuration disabled it.
    #[error(transparent)]
    DisabledKind(#[from] klaxon_core::DisabledKind),
    /// The options do not decode into the kind's options, or the kind refuses them.
    #[error("{0}")]
    InvalidOptions(String),
    /// The match expression does not compile.
    #[error("invalid match expression: {0}")]
    InvalidMatch(String),
    /// A handler with this ID already exists on the topic.
    #[error("cannot register handler, handler with ID {0:?} already exists")]
    DuplicateHandler(String),
    /// No handler with this ID on the topic.
    #[error("unknown handler: {0:?}")]
    UnknownHandler(String),
    /// No such topic in memory.
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// No such event in the topic.
    #[error("unknown event {event:?} in topic {topic:?}")]
    UnknownEvent {
        /// The topic.
        topic: String,
        /// The event ID.
        event: String,
    },
    /// An update tried to move a handler to another topic.
    #[error("cannot change topic in update")]
    TopicChange,
    /// A limit on definitions was reached.
    #[error(transparent)]
    Limit(#[from] crate::LimitError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A database failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database file cannot be opened; startup stops and the file is left as it is.
    #[error(
        "cannot open database {path}: {reason}; the file was left untouched: restore it from a \
         backup, or move it aside to start with an empty database"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// What redb said.
        reason: String,
    },
    /// A read or write failed.
    #[error("database {path}: {reason}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}
