//! The silences API, Klaxon's own (Kapacitor has no silences): `/kapacitor/v1/silences` to
//! create (POST) and list (GET), `/kapacitor/v1/silences/<id>` to get (GET) and expire (DELETE:
//! the silence ends now and stays listed, as expired, until `[alert] silence-retention` has
//! passed).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use klaxon_core::Timestamp;
use klaxon_engine::{Silence, SilenceSpec, SilenceState};
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::respond::{link, pretty};
use super::topics::base;

/// A silence as the API shows it: its fields, its state now, and its link.
pub(crate) fn silence_json(base: &str, silence: &Silence, now: Timestamp) -> Value {
    let mut value = serde_json::to_value(silence).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.insert(
            "link".into(),
            link("self", &format!("{base}/silences/{}", silence.id)),
        );
        map.insert("state".into(), json!(silence.state(now).as_str()));
    }
    value
}

/// Decodes a silence spec, naming the field that does not decode (`end`, `tags[0].regex`...).
pub(crate) fn decode_spec(body: &[u8]) -> Result<SilenceSpec, ApiError> {
    let mut decoder = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut decoder).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ApiError::bad_request(format!("invalid silence json: {inner}"))
        } else {
            ApiError::bad_request(format!("silence {path}: {inner}"))
        }
    })
}

/// `GET /silences?state=active|pending|expired`: every silence, sorted by ID.
pub async fn list(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let wanted = match query.get("state").map(String::as_str) {
        None | Some("") => None,
        Some(text) => Some(
            SilenceState::ALL
                .into_iter()
                .find(|s| s.as_str() == text)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "invalid state {text:?}: give active, pending or expired"
                    ))
                })?,
        ),
    };
    let now = Timestamp::now();
    let base = base(&uri);
    let silences: Vec<Value> = state
        .alerts
        .silences()
        .iter()
        .filter(|s| wanted.is_none_or(|w| s.state(now) == w))
        .map(|s| silence_json(base, s, now))
        .collect();
    Ok(pretty(
        StatusCode::OK,
        &json!({"link": link("self", &super::topics::request_href(&uri)), "silences": silences}),
    ))
}

/// `POST /silences`: 200 with the silence made, 400 naming the field of a bad one.
pub async fn create(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let spec = decode_spec(&body)?;
    let silence = state
        .alerts
        .add_silence(spec)
        .map_err(|e| ApiError::from(e).context("failed to create silence"))?;
    Ok(pretty(
        StatusCode::OK,
        &silence_json(base(&uri), &silence, Timestamp::now()),
    ))
}

/// `GET /silences/{id}`.
pub async fn get(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let silence = state.alerts.silence(&id)?;
    Ok(pretty(
        StatusCode::OK,
        &silence_json(base(&uri), &silence, Timestamp::now()),
    ))
}

/// `DELETE /silences/{id}`: expires it (it ends now), 200 with the expired silence.
pub async fn expire(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let silence = state
        .alerts
        .expire_silence(&id)
        .map_err(|e| ApiError::from(e).context("failed to expire silence"))?;
    Ok(pretty(
        StatusCode::OK,
        &silence_json(base(&uri), &silence, Timestamp::now()),
    ))
}
