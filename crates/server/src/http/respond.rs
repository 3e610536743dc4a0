//! Response bodies written as Kapacitor writes them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

const JSON: &str = "application/json; charset=utf-8";

/// Go's `json.MarshalIndent` with four spaces and no trailing newline: the alert, task and config
/// APIs.
pub fn pretty<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    with_json_type(status, klaxon_core::json::to_go_string_pretty(body))
}

/// Go's `json.NewEncoder(w).Encode`: compact with a trailing newline (the service-tests API).
pub fn compact_line<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response {
    let mut text = klaxon_core::json::to_go_string(body);
    text.push('\n');
    with_json_type(status, text)
}

fn with_json_type(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// A `{"rel": "self", "href": ...}` link.
pub fn link(rel: &str, href: &str) -> serde_json::Value {
    serde_json::json!({"rel": rel, "href": href})
}
