//! `POST /write` and `POST /kapacitor/v1/write`: line protocol in, as InfluxDB subscriptions and
//! Telegraf send it (reference 6.5).
//!
//! Success is 204. Errors are plain text (`<error>\n`), as Kapacitor writes them, with the status
//! that says whose fault it is. Every line of a body is checked before any point is processed,
//! so a rejected body processes nothing of its own; then its points are made and processed a
//! chunk at a time, so a write's memory is a small multiple of its body, whatever its number of
//! points. `db` and `rp` are bounded by [`MAX_NAME_LENGTH`] and shared by every point.

use std::io::Read;
use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_core::Timestamp;
use klaxon_pipeline::ingest::{self, Precision};
use klaxon_pipeline::{Limits, Point};
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
    /// 400 for bad input, 413 for a body over the limit, 503 when the server cannot take it now.
    pub status: StatusCode,
    /// The plain-text message.
    pub message: String,
    /// Seconds to wait before retrying, sent as `Retry-After` (with 503).
    pub retry_after: Option<u64>,
}

impl WriteError {
    fn bad(message: impl Into<String>) -> Self {
        WriteError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 503 with `Retry-After: seconds`: the server cannot take the write now (shutting down,
    /// or handler queues full under `[alert] queue-full = "block"`).
    pub fn unavailable(message: impl Into<String>, retry_after: u64) -> Self {
        WriteError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            retry_after: Some(retry_after),
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        WriteError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            retry_after: None,
        }
    }

    fn too_large(limit: usize) -> Self {
        WriteError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            retry_after: None,
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
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

/// `POST /write`: 204 once every point of the body has gone through the tasks.
pub async fn write(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    axum::extract::Query(query): axum::extract::Query<WriteQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, WriteError> {
    let (db, rp) = (query.database(), query.retention_policy());
    // Before the body is read: a name over the bound costs nothing but this answer.
    if let Err(e) = query.check_names() {
        state.ingress.rejected(db, rp, 0);
        // Read and drop what the client sends, so that it reads the answer rather than a
        // connection closed under its upload; nothing of it is kept.
        discard_body(body, state.max_body_size).await;
        return Err(e);
    }
    // A slot before the body is read, so that the writes waiting for one hold a connection
    // each and no body: memory grows with the writes processed at once, not with the senders.
    let slot = match state.gate.slot().await {
        Ok(slot) => slot,
        Err(e) => {
            state.ingress.rejected(db, rp, 0);
            return Err(e);
        }
    };
    let body = match read_body(body, state.max_body_size).await {
        Ok(body) => body,
        Err(e) => {
            state.ingress.rejected(db, rp, 0);
            return Err(e);
        }
    };
    IngestPath::of(&state)
        .process(slot, query, headers, body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a write goes through once its body is in hand, whoever sent it: `/write`, or a Kafka
/// partition's messages (`[[kafka-consumer]]`).
#[derive(Debug, Clone)]
pub struct IngestPath {
    pub gate: Arc<super::write_gate::WriteGate>,
    pub alerts: klaxon_engine::AlertService,
    pub tasks: klaxon_engine::tasks::TaskManager,
    pub ingress: Arc<super::ingress::Ingress>,
    pub max_body_size: usize,
}

impl IngestPath {
    fn of(state: &super::AppState) -> IngestPath {
        IngestPath {
            gate: Arc::clone(&state.gate),
            alerts: state.alerts.clone(),
            tasks: state.tasks.clone(),
            ingress: Arc::clone(&state.ingress),
            max_body_size: state.max_body_size,
        }
    }

    /// Admits the write, parses and processes its points, and returns how many there were
    /// once their states and events are stored (503 if a commit failed meanwhile).
    pub async fn process(
        &self,
        slot: super::write_gate::Slot,
        query: WriteQuery,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<usize, WriteError> {
        let (db, rp) = (query.database(), query.retention_policy());
        let refused = |e: WriteError| {
            self.ingress
                .rejected(db, rp, super::ingress::count_lines(&body));
            e
        };
        let admitted = self.gate.admit(&self.alerts).await.map_err(refused)?;
        let failures_before = self.alerts.store().failures();
        let limits = self.alerts.limits().pipeline;
        let (tasks, ingress, max_body) = (
            self.tasks.clone(),
            Arc::clone(&self.ingress),
            self.max_body_size,
        );
        // Parsing and the pipelines are CPU work (a 5 000-point body parses for about 20 ms; the
        // pipelines may wait for queue room): keep both off the async workers that serve the API,
        // or API requests queue behind the parse. The admission is held until the points are
        // through, so shutdown waits for them.
        let count = tokio::task::spawn_blocking(move || {
            let _held = (slot, admitted);
            let (db, rp) = (query.database(), query.retention_policy());
            let reject = |e: WriteError| {
                ingress.rejected(db, rp, super::ingress::count_lines(&body));
                e
            };
            let mut decoded = Vec::new();
            let text = decode_body(&headers, &body, max_body, &mut decoded).map_err(reject)?;
            let target = query.target().map_err(reject)?;
            // Every line is checked before any point is processed, so a bad line anywhere refuses
            // the whole body and processes nothing; the points are made and processed a chunk at a
            // time, so a body of millions of points never holds them all (issue #25), and a body
            // of one chunk is read once.
            let mut measurements = super::ingress::Measurements::default();
            let count = ingest::parse_checked(text, &target, &limits, CHUNK_POINTS, |points| {
                measurements.count(&points);
                tasks.write_owned(points);
            })
            .map_err(|e| reject(WriteError::bad(e.to_string())))?;
            ingress.received(db, rp, count);
            ingress.received_by_measurement(db, rp, measurements);
            Ok(count)
        })
        .await
        .map_err(|e| WriteError::internal(format!("processing the points failed: {e}")))??;
        // A commit failed while the points went through (a full disk): their states and events
        // may be in memory only, so the sender is told to retry rather than that they are stored.
        // Counted, not only the current fault: a reopen (by a reader, or the outbox) may have
        // ended the fault before this check, and a 204 then lost what the failed commit held.
        let store = self.alerts.store();
        if store.failures() != failures_before {
            let fault = store
                .fault()
                .or_else(|| store.last_failure())
                .unwrap_or_default();
            return Err(WriteError::unavailable(
                format!(
                    "cannot store alert states and events: {fault} (is the disk of data-dir full?); \
                     the points were processed but may not be stored: retry this write once \
                     klaxond takes writes again"
                ),
                5,
            ));
        }
        Ok(count)
    }
}

/// Points made and processed at a time: a few megabytes of points, and one store transaction
/// per chunk for the alerts they raise.
const CHUNK_POINTS: usize = 10_000;

/// The longest database or retention policy name a write may give, in bytes. InfluxDB 1.x keeps
/// each database and retention policy in a directory of that name, and a file name on Linux is
/// at most 255 bytes, so no name InfluxDB can hold is refused.
pub const MAX_NAME_LENGTH: usize = 255;

impl WriteQuery {
    /// The parameters of a write to `db` and `rp` with `precision` (empty: nanoseconds).
    pub fn new(db: String, rp: String, precision: String) -> WriteQuery {
        WriteQuery {
            db: Some(db),
            rp: Some(rp),
            precision: Some(precision),
            consistency: None,
        }
    }

    fn database(&self) -> &str {
        self.db.as_deref().unwrap_or("")
    }

    /// The retention policy, `autogen` when absent, as InfluxDB 1.x defaults it.
    fn retention_policy(&self) -> &str {
        self.rp
            .as_deref()
            .filter(|rp| !rp.is_empty())
            .unwrap_or("autogen")
    }

    /// `db` and `rp` within [`MAX_NAME_LENGTH`]; the error names the parameter and the bound
    /// without echoing the name.
    fn check_names(&self) -> Result<(), WriteError> {
        for (parameter, what, value) in [
            ("db", "database", self.database()),
            ("rp", "retention policy", self.retention_policy()),
        ] {
            if value.len() > MAX_NAME_LENGTH {
                return Err(WriteError::bad(format!(
                    "{parameter} is {} bytes long; a {what} name is at most {MAX_NAME_LENGTH} \
                     bytes, as in InfluxDB",
                    value.len()
                )));
            }
        }
        Ok(())
    }

    /// What every point of the write shares: its database and retention policy (one copy for
    /// the whole body), precision and the time of points without one.
    fn target(&self) -> Result<ingest::Target, WriteError> {
        let precision: Precision = self
            .precision
            .as_deref()
            .unwrap_or("")
            .parse()
            .map_err(|e: ingest::InvalidPrecision| WriteError::bad(e.to_string()))?;
        if self.database().is_empty() {
            return Err(WriteError::bad(
                "database is required; add ?db=<database> to the URL",
            ));
        }
        self.check_names()?;
        Ok(ingest::Target {
            database: Arc::from(self.database()),
            retention_policy: Arc::from(self.retention_policy()),
            precision,
            now: Timestamp::now(),
        })
    }
}

/// Reads and drops up to `max` bytes of `body`.
async fn discard_body(mut body: Body, max: usize) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        seen += frame.data_ref().map_or(0, Bytes::len);
        if seen > max {
            break;
        }
    }
}

/// Reads a request body of at most `max` bytes. It stops at the first chunk past the limit, so
/// a client streaming gigabytes (chunked, without a Content-Length) costs at most `max` bytes.
pub async fn read_body(mut body: Body, max: usize) -> Result<Bytes, WriteError> {
    // Room for the announced length at once: growing by doubling would copy the body and hold
    // up to twice its size.
    let announced = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    if announced > max {
        return Err(WriteError::too_large(max));
    }
    let mut out: Vec<u8> = Vec::with_capacity(announced);
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        let frame = frame.map_err(|e| {
            let e = e.into_inner();
            match e.downcast_ref::<super::serve::BodyTimedOut>() {
                Some(timeout) => WriteError {
                    status: StatusCode::REQUEST_TIMEOUT,
                    message: timeout.to_string(),
                    retry_after: None,
                },
                None => WriteError::bad(format!("cannot read the body: {e}")),
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len() + data.len() > max {
            return Err(WriteError::too_large(max));
        }
        out.extend_from_slice(&data);
    }
    Ok(Bytes::from(out))
}

/// Decodes and parses a write request into points, all at once. `max_body` bounds the body
/// after gzip decoding too, so a small compressed body cannot expand without limit; `limits`
/// bound its lines and points. The route decodes and parses the same way but processes each
/// chunk of points as it is made; this is what the tests, the corpus and the fuzzer call.
pub fn parse_request(
    query: &WriteQuery,
    headers: &HeaderMap,
    body: &Bytes,
    max_body: usize,
    limits: &Limits,
) -> Result<Vec<Point>, WriteError> {
    let mut decoded = Vec::new();
    let text = decode_body(headers, body, max_body, &mut decoded)?;
    let target = query.target()?;
    let mut points = Vec::new();
    ingest::parse_checked(text, &target, limits, CHUNK_POINTS, |chunk| {
        points.extend(chunk)
    })
    .map_err(|e| WriteError::bad(e.to_string()))?;
    Ok(points)
}

/// The body as text: gunzipped into `decoded` when `Content-Encoding: gzip` says so (bounded by
/// `max_body`), then checked to be UTF-8.
fn decode_body<'a>(
    headers: &HeaderMap,
    body: &'a Bytes,
    max_body: usize,
    decoded: &'a mut Vec<u8>,
) -> Result<&'a str, WriteError> {
    if body.len() > max_body {
        return Err(WriteError::too_large(max_body));
    }
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let raw: &[u8] = if gzip {
        let limit = u64::try_from(max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        flate2::read::GzDecoder::new(&body[..])
            .take(limit)
            .read_to_end(decoded)
            .map_err(|e| {
                WriteError::bad(format!(
                    "body is not valid gzip (Content-Encoding: gzip): {e}"
                ))
            })?;
        if decoded.len() > max_body {
            return Err(WriteError::too_large(max_body));
        }
        decoded
    } else {
        body
    };
    std::str::from_utf8(raw).map_err(|e| WriteError::bad(format!("body is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::config::HttpConfig;

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
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(&*points[0].database, "telegraf");
        assert_eq!(points[0].time.as_nanos(), 1_000_000_000);
        let points = parse_request(
            &query("db", None, Some("s")),
            &HeaderMap::new(),
            &body,
            1 << 20,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(&*points[0].retention_policy, "autogen");
    }

    #[test]
    fn gzip_bodies_are_decoded_and_bounded() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"cpu v=1 1\n").unwrap();
        let body = Bytes::from(encoder.finish().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert_eq!(
            parse_request(
                &query("db", None, None),
                &headers,
                &body,
                1 << 20,
                &Limits::default()
            )
            .unwrap()
            .len(),
            1
        );
        let err = parse_request(
            &query("db", None, None),
            &headers,
            &Bytes::from_static(b"plain"),
            1 << 20,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert!(
            err.message.starts_with("body is not valid gzip"),
            "{}",
            err.message
        );
        let err = parse_request(
            &query("db", None, None),
            &headers,
            &body,
            5,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn the_write_corpus_gets_an_answer_for_every_body() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/write");
        let results = klaxon_core::testing::replay_corpus(&dir, |bytes| {
            // The corpus cannot name itself: a gzip body is told by its magic bytes, as the
            // file's `.gz` name says to a reader.
            let mut headers = HeaderMap::new();
            if bytes.starts_with(&[0x1f, 0x8b]) {
                headers.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
            }
            let body = Bytes::copy_from_slice(bytes);
            parse_request(
                &query("db", None, None),
                &headers,
                &body,
                HttpConfig::default().max_body_size,
                &Limits::default(),
            )
            .map(|points| format!("{} points", points.len()))
            .map_err(|e| format!("{} {}", e.status.as_u16(), e.message))
        });
        let result = |name: &str| klaxon_core::testing::corpus_result(&results, name).clone();
        assert_eq!(result("valid.lp"), Ok("2 points".to_owned()));
        assert_eq!(result("valid.lp.gz"), Ok("1 points".to_owned()));
        assert!(
            result("bomb.lp.gz").unwrap_err().starts_with("413 "),
            "a small body that inflates past max-body-size is cut"
        );
        let long = result("long_line.lp.gz").unwrap_err();
        assert!(
            long.contains("[limits] max-line-length is 1048576"),
            "{long}"
        );
        let fields = result("many_fields.lp.gz").unwrap_err();
        assert!(fields.contains("[limits] max-fields-per-point"), "{fields}");
    }

    #[test]
    fn line_and_field_limits_name_their_settings() {
        let limits = Limits {
            max_fields_per_point: 2,
            max_line_length: 24,
            ..Limits::default()
        };
        let write = |body: &'static [u8]| {
            parse_request(
                &query("db", None, None),
                &HeaderMap::new(),
                &Bytes::from_static(body),
                1 << 20,
                &limits,
            )
        };
        let err = write(b"cpu v=1\ncpu a=1,b=2,c=3\n").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            err.message,
            "line 2: 3 fields in one point; [limits] max-fields-per-point is 2"
        );
        let err = write(b"cpu,host=a-very-long-host-name v=1\n").unwrap_err();
        assert_eq!(
            err.message,
            "line 1: 34 bytes long; [limits] max-line-length is 24"
        );
        assert_eq!(write(b"cpu a=1,b=2\n").unwrap().len(), 1);
    }

    #[test]
    fn bad_requests_say_what_to_fix() {
        let body = Bytes::from_static(b"cpu v=1\n");
        let err = parse_request(
            &query("", None, None),
            &HeaderMap::new(),
            &body,
            1 << 20,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "database is required; add ?db=<database> to the URL"
        );
        let err = parse_request(
            &query("db", None, Some("x")),
            &HeaderMap::new(),
            &body,
            1 << 20,
            &Limits::default(),
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
            &Limits::default(),
        )
        .unwrap_err();
        assert!(err.message.starts_with("line 2: "), "{}", err.message);
        let err = parse_request(
            &query("db", None, None),
            &HeaderMap::new(),
            &body,
            3,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}
