//! The config override API (reference 4.2): read the handler sections, change them live.
//!
//! Every registered handler kind is a section: a table section has one element, a list section
//! (`[[httppost]]`) one per element, named by its element key. `POST` with
//! `{"set": {...}, "delete": [...]}` (or, on a list section, `{"add": {...}}` and
//! `{"remove": [...]}`) hands the change to [`crate::config::overrides`], which applies it to the
//! running service and stores it in klaxon.db, so it is applied again at every start. Keys a
//! handler marks secret are redacted: their value is shown as whether it is set.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::AppState;
use super::error::ApiError;
use super::handlers::sorted;
use super::respond::{link, pretty};
use crate::config::overrides::{self, Change};

const BASE: &str = "/kapacitor/v1/config";

/// The options of a section with secrets replaced by "is set", and the redacted keys (`null`
/// when none, as Go writes a nil slice).
pub fn redact(options: &Value, secrets: &[&str]) -> (Value, Value) {
    let mut options = sorted(options);
    let mut redacted = Vec::new();
    if let Value::Object(map) = &mut options {
        for key in secrets {
            if let Some(value) = map.get_mut(*key) {
                *value = Value::Bool(is_set(value));
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

/// The elements of section `name`: one for a table section (its link ending in `/`), one per
/// element of a list section (its link ending in the element's name).
/// Whether a secret holds anything: Go's "not the zero value", so a basic-auth table with an empty
/// user name and password is not set.
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o.values().any(is_set),
    }
}

fn elements_json(state: &AppState, name: &str) -> Option<Vec<Value>> {
    let service = state.services.by_section(name)?;
    let registration = state.registry.by_section(name)?;
    let secrets = registration.secrets();
    let config = service.config();
    let element = |options: &Value, suffix: &str| {
        let (mut options, redacted) = redact(options, secrets);
        // Credentials inside URLs, which no handler marks secret, are kept from read users.
        crate::redact::json_urls(&mut options);
        json!({
            "link": link("self", &format!("{BASE}/{name}/{suffix}")),
            "options": options,
            "redacted": redacted,
        })
    };
    Some(match (registration.element_key(), &config) {
        (Some(key), Value::Array(list)) => list
            .iter()
            .map(|e| element(e, e.get(key).and_then(Value::as_str).unwrap_or_default()))
            .collect(),
        _ => vec![element(&config, "")],
    })
}

fn section_json(state: &AppState, name: &str) -> Option<Value> {
    Some(json!({
        "link": link("self", &format!("{BASE}/{name}")),
        "elements": elements_json(state, name)?,
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
    for name in state.registry.sections() {
        if let Some(section) = section_json(&state, name) {
            sections.insert(name.to_owned(), section);
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

/// `GET /config/{section}/` (a table section's element) and `/config/{section}/{element}` (an
/// element of a list section).
pub async fn element(
    State(state): State<AppState>,
    Path(path): Path<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    check_enabled(&state)?;
    let (section, element) = section_and_element(&path);
    let elements = elements_json(&state, &section).ok_or_else(|| unknown_section(&section))?;
    let wanted = format!("{BASE}/{section}/{element}");
    let body = elements
        .into_iter()
        .find(|e| e["link"]["href"] == wanted.as_str())
        .ok_or_else(|| {
            ApiError::not_found(format!("unknown element {element:?} of section {section}"))
        })?;
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
    if state.services.by_section(&section).is_none() {
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
    if state.services.by_section(&section).is_none() {
        return Err(unknown_section(&section));
    }
    let update: Update = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("failed to decode JSON: {e}")))?;
    let keys = !update.set.is_empty() || !update.delete.is_empty();
    let list = !update.add.is_empty() || !update.remove.is_empty();
    if keys && list {
        return Err(ApiError::bad_request(
            "failed to apply update: set/delete and add/remove cannot be combined",
        ));
    }
    check_timeouts(&section, &update.set)?;
    check_timeouts(&section, &update.add)?;
    let change = if !update.add.is_empty() {
        Change::Add(&update.add)
    } else if !update.remove.is_empty() {
        Change::Remove(&update.remove)
    } else {
        Change::Keys {
            element: (!element.is_empty()).then_some(element.as_str()),
            set: &update.set,
            delete: &update.delete,
        }
    };
    overrides::apply(
        &state.services,
        &state.registry,
        state.alerts.store(),
        &section,
        change,
    )?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The shortest timeout the config API sets: `[exec] timeout = "1ns"` would make every
/// delivery fail at once, and a handler that always times out is an outage made with one request.
const MIN_TIMEOUT: klaxon_core::GoDuration = klaxon_core::GoDuration::from_nanos(1_000_000);

/// Refuses a key named like a timeout whose duration is above zero but below [`MIN_TIMEOUT`].
fn check_timeouts(section: &str, set: &Map<String, Value>) -> Result<(), ApiError> {
    for (key, value) in set {
        let Some(text) = value.as_str().filter(|_| key.contains("timeout")) else {
            continue;
        };
        let Ok(duration) = text.parse::<klaxon_core::GoDuration>() else {
            continue;
        };
        if duration > klaxon_core::GoDuration::ZERO && duration < MIN_TIMEOUT {
            return Err(ApiError::bad_request(format!(
                "failed to apply update: [{section}] {key} is {duration}; a timeout must be at \
                 least {MIN_TIMEOUT}"
            )));
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
