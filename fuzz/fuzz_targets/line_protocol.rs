//! Line protocol bodies through the `/write` route's `parse_request` (gzip told by its magic
//! bytes, as the corpus test does, `max-body-size` and `[limits]`), and through
//! `klaxon_pipeline::ingest::parse_with` with tight limits.
//! Seeds: crates/server/tests/corpus/write and crates/pipeline/tests/corpus/line_protocol.
#![no_main]

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use klaxon_core::Timestamp;
use klaxon_pipeline::Limits;
use klaxon_pipeline::ingest::{Precision, parse_with};
use klaxon_server::http::write::{WriteQuery, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let gzipped = data.starts_with(&[0x1f, 0x8b]);
    let mut headers = HeaderMap::new();
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let query: WriteQuery =
        serde_json::from_value(serde_json::json!({"db": "db", "precision": "s"})).unwrap();
    let body = Bytes::copy_from_slice(data);
    match parse_request(&query, &headers, &body, 1 << 20, &Limits::default()) {
        // A plain body has no more points than lines; a gzip body may inflate to many more.
        Ok(points) => assert!(gzipped || points.len() <= data.len()),
        Err(e) => assert!(e.status == 400 || e.status == 413, "{}", e.status),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let tight = Limits {
            max_line_length: 64,
            max_fields_per_point: 4,
            ..Limits::default()
        };
        match parse_with(text, "db", "rp", Precision::Hours, Timestamp::EPOCH, &tight) {
            Ok(points) => assert!(points.iter().all(|p| p.fields.len() <= 4)),
            Err(e) => assert!(e.to_string().len() < 4096),
        }
    }
});
