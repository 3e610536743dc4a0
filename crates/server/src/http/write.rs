//! `POST /write` and `POST /kapacitor/v1/write`: line protocol in, as InfluxDB subscriptions and
//! Telegraf send it (reference 6.5).
//!
//! Success is 204. Errors are plain text (`<error>\n`), as Kapacitor writes them, with the status
//! that says whose fault it is. The whole body is parsed before any point is processed, so a
//! rejected body loses nothing already accepted and processes nothing of its own.

use std::io::Read;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_core::Timestamp;
use klaxon_pipeline::Point;
use klaxon_pipeline::ingest::{self, Precision};
use serde::Deserialize;

/// The query parameters of a write. `consistency` is what InfluxDB 1.x subscriptions add; it is
/// accepted and ignored.
#[derive(Debug, Default, Deserialize)]
pub struct WriteQuery {
    db: Option<String>,
    rp: Option<String>,
    precision: Option<String>,
    #[allow(dead_code)]
    consistency: Option<String>,
}

/// A write that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    /// 400 for bad input, 413 for a body over the limit.
    pub status: StatusCode,
    /// The plain-text message.
    pub message: String,
}

impl WriteError {
    fn bad(message: impl Into<String>) -> Self {
        WriteError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    fn too_large(limit: usize) -> Self {
        WriteError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!(
                "request body is larger than [http] max-body-size ({limit} bytes); send smaller batches or raise the limit"
            ),
        }
    }
}

impl IntoResponse for WriteError {
    fn into_response(self) -> Response {
        let mut response = (self.status, format!("{}\n", self.message)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// `POST /write`: 204 once every point of the body has gone through the tasks.
pub async fn write(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    axum::extract::Query(query): axum::extract::Query<WriteQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, WriteError> {
    let points = parse_request(&query, &headers, &body, state.max_body_size)?;
    let tasks = state.tasks.clone();
    // Pipelines are CPU work: keep them off the async workers that serve the API.
    tokio::task::spawn_blocking(move || tasks.write(&points))
        .await
        .map_err(|e| WriteError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("processing the points failed: {e}"),
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Decodes and parses a write request into points. `max_body` bounds the body after gzip
/// decoding too, so a small compressed body cannot expand without limit.
pub fn parse_request(
    query: &WriteQuery,
    headers: &HeaderMap,
    body: &Bytes,
    max_body: usize,
) -> Result<Vec<Point>, WriteError> {
    if body.len() > max_body {
        return Err(WriteError::too_large(max_body));
    }
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let decoded;
    let raw: &[u8] = if gzip {
        let mut out = Vec::new();
        let limit = u64::try_from(max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        flate2::read::GzDecoder::new(&body[..])
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| {
                WriteError::bad(format!(
                    "body is not valid gzip (Content-Encoding: gzip): {e}"
                ))
            })?;
        if out.len() > max_body {
            return Err(WriteError::too_large(max_body));
        }
        decoded = out;
        &decoded
    } else {
        body
    };
    let text =
        std::str::from_utf8(raw).map_err(|e| WriteError::bad(format!("body is not UTF-8: {e}")))?;
    let precision: Precision = query
        .precision
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(|e: ingest::InvalidPrecision| WriteError::bad(e.to_string()))?;
    let db = query.db.as_deref().unwrap_or("");
    if db.is_empty() {
        return Err(WriteError::bad(
            "database is required; add ?db=<database> to the URL",
        ));
    }
    let rp = query
        .rp
        .as_deref()
        .filter(|rp| !rp.is_empty())
        .unwrap_or("autogen");
    ingest::parse(text, db, rp, precision, Timestamp::now())
        .map_err(|e| WriteError::bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn query(db: &str, rp: Option<&str>, precision: Option<&str>) -> WriteQuery {
        WriteQuery {
            db: Some(db.to_owned()),
            rp: rp.map(str::to_owned),
            precision: precision.map(str::to_owned),
            consistency: Some(String::new()),
        }
    }

    #[test]
    fn accepts_subscription_style_writes() {
        let body = Bytes::from_static(b"cpu,host=serverA usage_idle=5 1000000000\n");
        let points = parse_request(
            &query("telegraf", Some("autogen"), Some("ns")),
            &HeaderMap::new(),
            &body,
            1 << 20,
        )
        .unwrap();
        assert_eq!(points[0].database, "telegraf");
        assert_eq!(points[0].time.as_nanos(), 1_000_000_000);
        let points = parse_request(
            &query("db", None, Some("s")),
            &HeaderMap::new(),
            &body,
            1 << 20,
        )
        .unwrap();
        assert_eq!(points[0].retention_policy, "autogen");
    }

    #[test]
    fn gzip_bodies_are_decoded_and_bounded() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"cpu v=1 1\n").unwrap();
        let body = Bytes::from(encoder.finish().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert_eq!(
            parse_request(&query("db", None, None), &headers, &body, 1 << 20)
                .unwrap()
                .len(),
            1
        );
        let err = parse_request(
            &query("db", None, None),
            &headers,
            &Bytes::from_static(b"plain"),
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.message.starts_with("body is not valid gzip"),
            "{}",
            err.message
        );
        let err = parse_request(&query("db", None, None), &headers, &body, 5).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn bad_requests_say_what_to_fix() {
        let body = Bytes::from_static(b"cpu v=1\n");
        let err =
            parse_request(&query("", None, None), &HeaderMap::new(), &body, 1 << 20).unwrap_err();
        assert_eq!(
            err.message,
            "database is required; add ?db=<database> to the URL"
        );
        let err = parse_request(
            &query("db", None, Some("x")),
            &HeaderMap::new(),
            &body,
            1 << 20,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "invalid precision \"x\"; use n, u, ms, s, m or h"
        );
        let err = parse_request(
            &query("db", None, None),
            &HeaderMap::new(),
            &Bytes::from_static(b"cpu v=1\ncpu\n"),
            1 << 20,
        )
        .unwrap_err();
        assert!(err.message.starts_with("line 2: "), "{}", err.message);
        let err = parse_request(&query("db", None, None), &HeaderMap::new(), &body, 3).unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
