//! `GET /kapacitor/v1/alerts/topics/<topic>/history`, Klaxon's own route (Kapacitor keeps no
//! history): a topic's level changes, newest first, a page at a time, within a time range.
//!
//! Query: `limit` (1 to [`MAX_LIMIT`], default 100), `before` (the `seq` of the previous page's
//! last entry; the answer's `next` link carries it), `start` and `end` (RFC 3339, on the data
//! time: `start` included, `end` not), `id` (one alert).

use std::collections::HashMap;

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use klaxon_core::Timestamp;
use klaxon_engine::{EngineError, HistoryEntry, HistoryQuery};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::respond::{link, pretty};
use super::topics::{base, request_href};

/// The largest page.
pub const MAX_LIMIT: usize = 10_000;

/// The query of a history request, each bad parameter named.
pub(crate) fn parse_query(query: &HashMap<String, String>) -> Result<HistoryQuery, ApiError> {
    let mut parsed = HistoryQuery::default();
    if let Some(text) = query.get("limit").filter(|t| !t.is_empty()) {
        parsed.limit = text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "invalid limit {text:?}: give a number from 1 to {MAX_LIMIT}"
                ))
            })?;
    }
    if let Some(text) = query.get("before").filter(|t| !t.is_empty()) {
        parsed.before = Some(text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid before {text:?}: give the seq of the last entry of the previous page"
            ))
        })?);
    }
    let time = |name: &str| -> Result<Option<Timestamp>, ApiError> {
        match query.get(name).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(text) => Timestamp::parse_rfc3339(text).map(Some).map_err(|e| {
                ApiError::bad_request(format!(
                    "invalid {name}: {e}; give an RFC 3339 time such as 2026-12-03T18:00:00Z"
                ))
            }),
        }
    };
    parsed.start = time("start")?;
    parsed.end = time("end")?;
    if let (Some(start), Some(end)) = (parsed.start, parsed.end)
        && end <= start
    {
        return Err(ApiError::bad_request(format!(
            "invalid end {end}: it is not after start {start}"
        )));
    }
    parsed.id = query.get("id").filter(|t| !t.is_empty()).cloned();
    Ok(parsed)
}

/// One entry as the API shows it, with its `seq` (the paging cursor).
pub(crate) fn entry_json(entry: &HistoryEntry) -> Value {
    let mut value = serde_json::to_value(entry).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.insert("seq".into(), json!(entry.seq));
    }
    value
}

/// `GET /alerts/topics/{topic}/history`.
pub async fn history(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(topic): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let parsed = parse_query(&query)?;
    let page = state.alerts.history(&topic, &parsed).map_err(|e| match e {
        // Klaxon's own route: a missing topic is 404, not Kapacitor's 500 of the events.
        EngineError::UnknownTopic(_) => ApiError::not_found(e.to_string()),
        e => ApiError::from(e).context("failed to get topic history"),
    })?;
    let mut body = json!({
        "link": link("self", &request_href(&uri)),
        "topic": topic,
        "entries": page.entries.iter().map(entry_json).collect::<Vec<_>>(),
    });
    if page.more
        && let Some(last) = page.entries.last()
    {
        let mut params: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "before")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        params.sort();
        params.push(("before".into(), last.seq.to_string()));
        let encoded: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let href = format!(
            "{}/alerts/topics/{topic}/history?{}",
            base(&uri),
            encoded.join("&")
        );
        body["next"] = link("next", &href);
    }
    Ok(pretty(StatusCode::OK, &body))
}

/// Percent-encodes a query component.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
