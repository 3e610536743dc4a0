//! Errors in Kapacitor's shape: `{"error": "...", "message": "..."}`, pretty-printed; and the one
//! place that decides which status each error of the engine, the configuration and the
//! authentication check gets (the `From` impls below), so that routes only say what they were
//! doing ([`ApiError::context`]).

use std::fmt::Display;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_engine::tasks::TaskError;
use klaxon_engine::{EngineError, LimitError, SilenceError};

use super::auth::Refusal;
use super::respond;
use crate::config::overrides::OverrideError;

/// The challenge every 401 carries (RFC 9110 requires one).
const REALM: &str = "Basic realm=\"klaxon\"";

/// An API error: a status and a message that goes into both `error` and `message`, as Kapacitor
/// 1.6+ writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message for the client.
    pub message: String,
    /// The `error` field when it is shorter than the message (which then adds what to do).
    error: Option<String>,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            error: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// What the route was doing, put before the message of a failure of the server's (5xx), as
    /// Kapacitor does: `failed to create handler: <why>`. A client's error (4xx) already says
    /// what to fix and keeps its message.
    pub fn context(mut self, doing: impl Display) -> Self {
        if self.status.is_server_error() {
            self.message = format!("{doing}: {}", self.message);
        }
        self
    }

    /// This error with `error` as its short form, and the message saying what to do.
    fn with_error(mut self, error: String) -> Self {
        self.error = Some(error);
        self
    }
}

/// The alert service's errors. Kapacitor answers 500 for a spec its service refuses (unknown or
/// disabled kind, bad options or match, duplicate ID, a topic change) and for the events of an
/// unknown topic; `GET` of a missing topic or handler is 404 from its route, not from here.
impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::InvalidSpec(e) => {
                ApiError::bad_request(format!("invalid handler spec: {e}"))
            }
            EngineError::Limit(_) => ApiError::bad_request(err.to_string()),
            EngineError::UnknownHandler(_) | EngineError::UnknownEvent { .. } => {
                ApiError::not_found(err.to_string())
            }
            EngineError::UnknownKind { .. }
            | EngineError::RetiredKind { .. }
            | EngineError::DisabledKind(_)
            | EngineError::InvalidOptions(_)
            | EngineError::InvalidInternalOptions(_)
            | EngineError::InvalidMatch(_)
            | EngineError::DuplicateHandler(_)
            | EngineError::UnknownTopic(_)
            | EngineError::TopicChange
            | EngineError::Store(_) => ApiError::internal(err.to_string()),
        }
    }
}

/// The task manager's errors: the script's or the request's fault is 400, a missing task 404,
/// the server's own failure 500.
impl From<TaskError> for ApiError {
    fn from(err: TaskError) -> Self {
        match err {
            TaskError::Invalid(_)
            | TaskError::InvalidHandler { .. }
            | TaskError::AnonymousTopic(_)
            | TaskError::InvalidId(_)
            | TaskError::AlreadyExists(_)
            | TaskError::DbrpsTwice
            | TaskError::WrongData(_)
            | TaskError::InfluxDb { .. }
            | TaskError::Limit(_) => ApiError::bad_request(err.to_string()),
            TaskError::NotFound(_) => ApiError::not_found(err.to_string()),
            TaskError::Store(_) | TaskError::Encode(_) => ApiError::internal(err.to_string()),
        }
    }
}

/// The templates' errors: an unknown template 404, the template's or the request's fault 400
/// (a task made from the template that refuses a change too, where Kapacitor answers 500), the
/// tasks' errors as theirs.
impl From<klaxon_engine::recordings::RecordingError> for ApiError {
    fn from(err: klaxon_engine::recordings::RecordingError) -> Self {
        use klaxon_engine::recordings::RecordingError;
        match err {
            RecordingError::Invalid(_) => ApiError::bad_request(err.to_string()),
            RecordingError::NotFound(_) => ApiError::not_found(err.to_string()),
            RecordingError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, err.to_string()),
            RecordingError::Task(task) => task.into(),
            RecordingError::Store(_) | RecordingError::Dir { .. } => {
                ApiError::internal(err.to_string())
            }
        }
    }
}

impl From<klaxon_engine::tasks::TemplateError> for ApiError {
    fn from(err: klaxon_engine::tasks::TemplateError) -> Self {
        use klaxon_engine::tasks::TemplateError;
        match err {
            TemplateError::NotFound(_) => ApiError::not_found(err.to_string()),
            TemplateError::AlreadyExists(_)
            | TemplateError::InvalidId(_)
            | TemplateError::NoScript
            | TemplateError::AssociatedTask { .. } => ApiError::bad_request(err.to_string()),
            TemplateError::Task(e) => e.into(),
        }
    }
}

/// A refused silence is the client's fault (400, naming the field), an unknown one 404, the
/// store's failure 500.
impl From<SilenceError> for ApiError {
    fn from(err: SilenceError) -> Self {
        match err {
            SilenceError::NotFound(_) => ApiError::not_found(err.to_string()),
            SilenceError::Store(_) => ApiError::internal(err.to_string()),
            SilenceError::Pattern { .. }
            | SilenceError::Regex { .. }
            | SilenceError::TagMatcher { .. }
            | SilenceError::NoMatchers
            | SilenceError::End(_)
            | SilenceError::Duration(_)
            | SilenceError::EndBeforeStart { .. }
            | SilenceError::EndPassed(_) => ApiError::bad_request(err.to_string()),
        }
    }
}

/// A limit checked on its own is a request body's size, checked before it is decoded: 413. (A
/// limit a definition would pass comes inside [`EngineError`] or [`TaskError`]: 400.)
impl From<LimitError> for ApiError {
    fn from(err: LimitError) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, err.to_string())
    }
}

/// A config override that was not applied: 400, as Kapacitor answers every refused update, the
/// store's failure included.
impl From<OverrideError> for ApiError {
    fn from(err: OverrideError) -> Self {
        ApiError::bad_request(format!("failed to apply update: {err}"))
    }
}

/// No valid credentials: 401 with the challenge; credentials without the permission: 403; a
/// client over its failure budget: 429; too many checks at once: 503.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let status = match refusal {
            Refusal::Missing | Refusal::Failed(_) | Refusal::Malformed(_) => {
                StatusCode::UNAUTHORIZED
            }
            Refusal::Forbidden { .. } => StatusCode::FORBIDDEN,
            Refusal::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Busy => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, refusal.message()).with_error(refusal.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.error.as_ref().unwrap_or(&self.message);
        let body = serde_json::json!({"error": error, "message": self.message});
        let mut response = respond::pretty(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_goes_before_server_failures_only() {
        let store = ApiError::from(EngineError::UnknownTopic("cpu".into()));
        assert_eq!(
            store.context("failed to get topic events").message,
            "failed to get topic events: unknown topic \"cpu\""
        );
        let missing = ApiError::from(EngineError::UnknownHandler("h".into()));
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(
            missing.context("failed to update handler").message,
            "unknown handler: \"h\""
        );
    }

    #[test]
    fn each_error_type_has_its_statuses() {
        let status = |e: ApiError| e.status.as_u16();
        assert_eq!(
            status(TaskError::NotFound("t".into()).into()),
            404,
            "a missing task"
        );
        assert_eq!(status(TaskError::DbrpsTwice.into()), 400);
        let limit = LimitError {
            what: "the handler spec is 2000 bytes".into(),
            setting: "[limits] max-handler-spec-size",
            max: 1000,
        };
        assert_eq!(status(limit.clone().into()), 413);
        assert_eq!(status(EngineError::Limit(limit).into()), 400);
        assert_eq!(
            status(OverrideError::UnknownSection("x".into()).into()),
            400
        );
        assert_eq!(status(EngineError::TopicChange.into()), 500);
    }
}
