//! The engine's errors.

use klaxon_core::{DisabledKind, ServiceError};

use crate::{InternalOptionsError, LimitError, SpecError, StoreError};

/// What went wrong in the alert service. The HTTP API maps each variant to Kapacitor's status:
/// [`EngineError::InvalidSpec`] is 400, the not-found variants are 404 (or what the route says),
/// everything else is 500. Variants carry their cause as a source, not as rendered text.
///
/// ```
/// let err = klaxon_engine::EngineError::UnknownTopic("cpu".into());
/// assert_eq!(err.to_string(), "unknown topic \"cpu\"");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The spec's ID, topic or kind breaks the naming rules, or its retry policy does not hold.
    #[error(transparent)]
    InvalidSpec(#[from] SpecError),
    /// The kind is not one this server has.
    #[error("unsupported action kind {kind:?}; this server has: {}", .known.join(", "))]
    UnknownKind {
        /// The kind asked for.
        kind: String,
        /// The kinds this server has, sorted.
        known: Vec<&'static str>,
    },
    /// The kind is one Kapacitor had for a service that no longer exists.
    #[error("handler kind {kind:?} is retired: {why}")]
    RetiredKind {
        /// The kind asked for.
        kind: String,
        /// Why it is retired, and what to use instead.
        why: &'static str,
    },
    /// The kind is linked but the server's configuration disabled it.
    #[error(transparent)]
    DisabledKind(#[from] DisabledKind),
    /// The options do not decode into the kind's options, or the kind refuses them.
    #[error(transparent)]
    InvalidOptions(#[from] ServiceError),
    /// The options of an internal kind (`publish`, `aggregate`) are refused.
    #[error(transparent)]
    InvalidInternalOptions(#[from] InternalOptionsError),
    /// The match expression does not compile.
    #[error("invalid match expression: {0}")]
    InvalidMatch(#[source] klaxon_tick::Error),
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
    Limit(#[from] LimitError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
