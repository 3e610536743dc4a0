//! Kapacitor's diagnostic routes: `POST /kapacitor/v1/loglevel` (the running log's level) and
//! `GET /kapacitor/v1preview/logs?key=value` (a log session: the matching lines as they happen,
//! logfmt, or JSON lines for `Accept: application/json`, until the client goes away).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use serde::Deserialize;

use super::error::ApiError;
use crate::logging::{self, SessionFilter};

/// The body of `POST /kapacitor/v1/loglevel`.
#[derive(Debug, Deserialize)]
pub struct LevelBody {
    level: String,
}

/// `POST /kapacitor/v1/loglevel` `{"level": "debug"}`: 204, or 400 for a level it cannot set.
pub async fn set_level(body: Bytes) -> Result<StatusCode, ApiError> {
    let body: LevelBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid json: {e}")))?;
    logging::set_level(&body.level).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /kapacitor/v1preview/logs?task=cpu&lvl=info+`: streams the matching log lines.
pub async fn logs(
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::bad_request(
            "query params cannot contain duplicate params",
        ));
    }
    let json = headers
        .get(header::ACCEPT)
        .is_some_and(|a| a.as_bytes() == b"application/json");
    let filter =
        SessionFilter::from_pairs(pairs, json).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let content_type = if json {
        "application/json"
    } else {
        "application/logfmt"
    };
    let lines = logging::subscribe(filter);
    let mut response = Body::new(LineStream { lines }).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// A response body of log lines, open until the server ends or the client goes away (which
/// drops it and so ends the session).
struct LineStream {
    lines: tokio::sync::mpsc::Receiver<String>,
}

impl http_body::Body for LineStream {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.lines
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(Frame::data(Bytes::from(l)))))
    }
}
