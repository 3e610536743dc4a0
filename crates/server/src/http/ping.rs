//! `GET`/`HEAD /kapacitor/v1/ping`: 204 with the version headers (added to every response).

use axum::http::StatusCode;

/// Answers 204 No Content.
pub async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}
