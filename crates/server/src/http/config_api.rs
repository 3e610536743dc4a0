//! The config override API (reference 4.2): read the handler sections, change them live.
//!
//! Every registered handler kind is a section with one element (no list sections). `POST` with
//! `{"set": {...}, "delete": [...]}` applies the change through the service's `update()` and
//! then stores the overridden keys in klaxon.db, so they are applied again at every start. Keys
//! a handler marks secret are redacted: their value is shown as whether it is set.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use klaxon_core::Registry;
use klaxon_engine::{Services, Store};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::handlers::sorted;
use super::respond::{link, pretty};

const BASE: &str = "/kapacitor/v1/config";

/// The options of a section with secrets replaced by "is set", and the redacted keys (`null`
/// when none, as Go writes a nil slice).
pub fn redact(options: &Value, secrets: &[&str]) -> (Value, Value) {
    let mut options = sorted(options);
    let mut redacted = Vec::new();
    if let Value::Object(map) = &mut options {
        for key in secrets {
            if let Some(value) = map.get_mut(*key) {
                let set = match value {
                    Value::Null => false,
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                };
                *value = Value::Bool(set);
                redacted.push(Value::String((*key).to_owned()));
            }
        }
    }
    let redacted = if redacted.is_empty() {
        Value::Null
    } else {
        Value::Array(redacted)
    };
    (options, redacted)
}

fn element_json(state: &AppState, kind: &str) -> Option<Value> {
    let service = state.services.get(kind)?;
    let secrets = state.registry.get(kind).map(|r| r.secrets()).unwrap_or(&[]);
    let (options, redacted) = redact(&service.config(), secrets);
    Some(json!({
        "link": link("self", &format!("{BASE}/{kind}/")),
        "options": options,
        "redacted": redacted,
    }))
}

fn section_json(state: &AppState, kind: &str) -> Option<Value> {
    Some(json!({
        "link": link("self", &format!("{BASE}/{kind}")),
        "elements": [element_json(state, kind)?],
    }))
}

fn check_enabled(state: &AppState) -> Result<(), ApiError> {
    if state.config_override {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "config override service is not enabled",
        ))
    }
}

fn unknown_section(section: &str) -> ApiError {
    ApiError::not_found(format!("unknown section: {section}"))
}

/// `GET /config`: every section.
pub async fn all(State(state): State<AppState>) -> Result<Response, ApiError> {
    check_enabled(&state)?;
    let mut sections = Map::new();
    for kind in state.services.kinds() {
        if let Some(section) = section_json(&state, kind) {
            sections.insert(kind.to_owned(), section);
        }
    }
    Ok(pretty(
        StatusCode::OK,
        &json!({"link": link("self", BASE), "sections": sections}),
    ))
}

/// `GET /config/{section}`.
pub async fn section(
    State(state): State<AppState>,
    Path(section): Path<String>,
) -> Result<Response, ApiError> {
    check_enabled(&state)?;
    let body = section_json(&state, &section).ok_or_else(|| unknown_section(&section))?;
    Ok(pretty(StatusCode::OK, &body))
}

/// `GET /config/{section}/` (and `/config/{section}/{element}`, which has no elements here).
pub async fn element(
    State(state): State<AppState>,
    Path(path): Path<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_enabled(&state)?;
    let (section, element) = section_and_element(&path);
    let body = element_json(&state, &section).ok_or_else(|| unknown_section(&section))?;
    if !element.is_empty() {
        return Err(ApiError::not_found(format!(
            "unknown element {element:?} of section {section}: it is not a list section; use {BASE}/{section}/"
        )));
    }
    Ok(pretty(StatusCode::OK, &body))
}

fn section_and_element(path: &[(String, String)]) -> (String, String) {
    let get = |name: &str| {
        path.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    (get("section"), get("element"))
}

/// The body of a `POST`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    set: Map<String, Value>,
    #[serde(default)]
    delete: Vec<String>,
    #[serde(default)]
    add: Map<String, Value>,
    #[serde(default)]
    remove: Vec<String>,
}

/// `POST /config/{section}` without the trailing slash.
pub async fn post_without_element(
    State(state): State<AppState>,
    Path(section): Path<String>,
) -> Result<Response, ApiError> {
    check_enabled(&state)?;
    if state.services.get(&section).is_none() {
        return Err(unknown_section(&section));
    }
    Err(ApiError::bad_request(
        "element not specified, are you missing a trailing '/'?",
    ))
}

/// `POST /config/{section}/`: 204 once applied to the running service and stored.
pub async fn post(
    State(state): State<AppState>,
    Path(path): Path<Vec<(String, String)>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_enabled(&state)?;
    let (section, element) = section_and_element(&path);
    if state.services.get(&section).is_none() {
        return Err(unknown_section(&section));
    }
    if !element.is_empty() {
        return Err(ApiError::bad_request(format!(
            "failed to apply update: section {section} is not a list section; post to {BASE}/{section}/"
        )));
    }
    let update: Update = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("failed to decode JSON: {e}")))?;
    if !update.add.is_empty() || !update.remove.is_empty() {
        return Err(ApiError::bad_request(format!(
            "failed to apply update: section {section} is not a list section, so add and remove do not apply"
        )));
    }
    apply(
        &state.services,
        &state.registry,
        state.alerts.store(),
        &section,
        &update.set,
        &update.delete,
    )
    .map_err(|e| ApiError::bad_request(format!("failed to apply update: {e}")))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Applies `set` and `delete` (back to the default) to section `kind` of the running service,
/// then stores the resulting override.
pub fn apply(
    services: &Services,
    registry: &Registry,
    store: &Store,
    kind: &str,
    set: &Map<String, Value>,
    delete: &[String],
) -> Result<(), String> {
    let service = services
        .get(kind)
        .ok_or_else(|| format!("unknown section {kind}"))?;
    let defaults = registry
        .get(kind)
        .map(|r| r.default_config())
        .unwrap_or(Value::Null);
    let mut stored = store
        .overrides()
        .map_err(|e| e.to_string())?
        .remove(kind)
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let mut config = service.config();
    let Value::Object(current) = &mut config else {
        return Err(format!("section {kind} is not a table"));
    };
    for key in delete {
        let default = defaults
            .get(key)
            .cloned()
            .ok_or_else(|| format!("unknown key {key:?} in section {kind}"))?;
        current.insert(key.clone(), default);
        stored.remove(key);
    }
    for (key, value) in set {
        current.insert(key.clone(), value.clone());
        stored.insert(key.clone(), value.clone());
    }
    service.update(&config).map_err(|e| e.to_string())?;
    store
        .set_override(kind, &Value::Object(stored))
        .map_err(|e| e.to_string())?;
    tracing::info!(section = kind, "configuration override applied");
    Ok(())
}

/// Applies the stored overrides to the services at startup. A stored override that no longer
/// applies (a key was removed from the handler) is logged and skipped.
pub fn apply_stored(services: &Services, store: &Store) -> Result<(), klaxon_engine::StoreError> {
    for (kind, keys) in store.overrides()? {
        let Some(service) = services.get(&kind) else {
            tracing::warn!(section = %kind, "stored config override names no handler kind of this server; ignored");
            continue;
        };
        let mut config = service.config();
        if let (Value::Object(current), Value::Object(keys)) = (&mut config, &keys) {
            for (k, v) in keys {
                current.insert(k.clone(), v.clone());
            }
        }
        match service.update(&config) {
            Ok(()) => tracing::info!(section = %kind, "stored config override applied"),
            Err(e) => {
                tracing::error!(section = %kind, error = %e, "stored config override cannot be applied; fix it with POST /kapacitor/v1/config")
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_show_whether_they_are_set() {
        let options = json!({"url": "http://x", "token": "s3cret", "password": "", "room": "a"});
        let (shown, redacted) = redact(&options, &["token", "password"]);
        assert_eq!(
            shown.to_string(),
            r#"{"password":false,"room":"a","token":true,"url":"http://x"}"#
        );
        assert_eq!(redacted, json!(["token", "password"]));
        let (_, none) = redact(&options, &[]);
        assert_eq!(none, Value::Null);
    }
}
