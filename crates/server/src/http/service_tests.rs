//! The service-tests API (Kapacitor reference 4.1), served for every registered handler kind.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use klaxon_core::TestError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::ApiError;
use super::respond::{compact_line, link};
use crate::pattern::Pattern;

const BASE: &str = "/kapacitor/v1/service-tests";

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pattern: Option<String>,
}

fn service_json(name: &str, options: Value) -> Value {
    json!({
        "link": link("self", &format!("{BASE}/{name}")),
        "name": name,
        "options": options,
    })
}

/// `GET /kapacitor/v1/service-tests?pattern=<glob>`.
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let pattern = query
        .pattern
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("*");
    let pattern =
        Pattern::new(pattern).map_err(|e| ApiError::bad_request(format!("bad pattern: {e}")))?;
    // Sorted by service name, which is the section: `httppost` for the kind `post`.
    let mut matching: Vec<_> = state
        .services
        .iter()
        .filter(|s| pattern.matches(s.section()))
        .collect();
    matching.sort_by_key(|s| s.section());
    let services: Vec<Value> = matching
        .into_iter()
        .map(|s| service_json(s.section(), s.test_options()))
        .collect();
    // Kapacitor writes `null` rather than `[]` when nothing matches.
    let services = if services.is_empty() {
        Value::Null
    } else {
        Value::Array(services)
    };
    Ok(compact_line(
        StatusCode::OK,
        &json!({"link": link("self", BASE), "services": services}),
    ))
}

/// `GET /kapacitor/v1/service-tests/<name>`.
pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let service = state
        .services
        .by_section(&name)
        .ok_or_else(|| not_found(&state, &name))?;
    Ok(compact_line(
        StatusCode::OK,
        &service_json(&name, service.test_options()),
    ))
}

/// `POST /kapacitor/v1/service-tests/<name>`: always 200 with `{"success", "message"}` once the
/// body decodes.
pub async fn run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let service = state
        .services
        .by_section(&name)
        .ok_or_else(|| not_found(&state, &name))?;
    let options: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("failed to decode JSON body: {e}")))?
    };
    let result = match service.test(&options).await {
        Ok(()) => json!({"success": true, "message": ""}),
        Err(TestError::Options(e)) => {
            return Err(ApiError::bad_request(format!(
                "failed to decode JSON body: {e}"
            )));
        }
        Err(TestError::Failed(e)) => {
            tracing::info!(service = %name, error = %e, "service test failed");
            // A service's error may quote its URL, credentials included.
            json!({"success": false, "message": crate::redact::url_credentials(&e.to_string())})
        }
    };
    Ok(compact_line(StatusCode::OK, &result))
}

/// `GET /kapacitor/v1/service-tests/` with no name.
pub async fn missing_name() -> ApiError {
    ApiError::bad_request("must provide service name")
}

/// 404, saying why when the kind is linked but disabled.
fn not_found(state: &AppState, name: &str) -> ApiError {
    // The service test is named by the section (`httppost`), the disabled kind by its kind.
    let kind = state
        .registry
        .disabled_registrations()
        .find(|r| r.section() == name)
        .map_or(name, |r| r.kind());
    match state.services.disabled(kind) {
        Some(disabled) => ApiError::not_found(format!("service {name:?} not found: {disabled}")),
        None => ApiError::not_found(format!("service {name:?} not found")),
    }
}
