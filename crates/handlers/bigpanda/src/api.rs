//! The alerts API request, as Kapacitor's bigpanda service sends it: `POST <url>` with a bearer
//! token and one alert as a JSON object of sorted keys, and BigPanda's answers as handler errors.

use std::collections::BTreeMap;

use klaxon_core::{FieldValue, HandlerError, Level, Live, Timestamp};
use klaxon_http::header::{AUTHORIZATION, CONTENT_TYPE};
use klaxon_http::{Clients, Method, StatusCode};
use serde_json::Value;

use crate::Config;

/// What one alert becomes, its attributes rendered, before the configuration fills in the rest.
#[derive(Debug)]
pub(crate) struct Alert<'a> {
    /// The handler's URL; empty for the configured one.
    pub(crate) url: &'a str,
    /// The handler's app key; empty for the configured one.
    pub(crate) app_key: &'a str,
    /// The alert ID, BigPanda's check; left out when empty.
    pub(crate) id: &'a str,
    /// The alert message, BigPanda's description; left out when empty.
    pub(crate) message: &'a str,
    /// The alert details (html/template's text); left out when empty or a JSON object.
    pub(crate) details: &'a str,
    pub(crate) level: Level,
    pub(crate) time: Timestamp,
    pub(crate) task_name: &'a str,
    pub(crate) name: &'a str,
    pub(crate) tags: &'a BTreeMap<String, String>,
    pub(crate) fields: &'a BTreeMap<String, Value>,
    pub(crate) primary_property: &'a str,
    pub(crate) secondary_property: &'a str,
    /// The rendered `host` and attributes, which replace any key above.
    pub(crate) attributes: BTreeMap<String, String>,
}

/// The BigPanda client shared by the service and its handlers: the live configuration, and the
/// HTTP client for its TLS setting.
#[derive(Debug, Clone)]
pub(crate) struct BigPanda {
    pub(crate) config: Live<Config>,
    pub(crate) clients: Clients,
}

/// BigPanda's statuses: INFO is `ok`, as in Kapacitor.
fn status(level: Level) -> &'static str {
    match level {
        Level::Ok | Level::Info => "ok",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// The alert's fields as Kapacitor's data holds them (for the service test's `event_data`).
pub(crate) fn field_values(fields: &BTreeMap<String, FieldValue>) -> BTreeMap<String, Value> {
    fields
        .iter()
        .map(|(key, value)| {
            let value = match value {
                FieldValue::Float(f) => Value::from(*f),
                FieldValue::Int(i) => Value::from(*i),
                FieldValue::UInt(u) => Value::from(*u),
                FieldValue::String(s) => Value::from(s.as_str()),
                FieldValue::Bool(b) => Value::from(*b),
            };
            (key.clone(), value)
        })
        .collect()
}

/// The request body for `alert` with `config`: a Go map, so its keys go out sorted, without
/// a trailing newline.
pub(crate) fn body(config: &Config, alert: &Alert<'_>) -> String {
    let mut body: BTreeMap<&str, Value> = BTreeMap::new();
    if !alert.message.is_empty() {
        body.insert("description", Value::from(alert.message));
    }
    // The default details are the alert's JSON: BigPanda gets it attribute by attribute instead.
    let details = html_escape::decode_html_entities(alert.details);
    if !details.is_empty() && !details.starts_with('{') {
        body.insert("details", Value::from(details.as_ref()));
    }
    if !alert.id.is_empty() {
        body.insert("check", Value::from(alert.id));
    }
    body.insert(
        "task",
        Value::from(format!("{}:{}", alert.task_name, alert.name)),
    );
    // Go's Unix(): whole seconds, rounded down.
    let seconds = alert.time.as_nanos().div_euclid(1_000_000_000);
    body.insert("timestamp", Value::from(seconds));
    body.insert("status", Value::from(status(alert.level)));
    if !alert.primary_property.is_empty() {
        body.insert("primary_property", Value::from(alert.primary_property));
    }
    if !alert.secondary_property.is_empty() {
        body.insert("secondary_property", Value::from(alert.secondary_property));
    }
    let app_key = match alert.app_key {
        "" => config.app_key.as_str(),
        own => own,
    };
    body.insert("app_key", Value::from(app_key));
    if config.auto("tags") {
        for (key, value) in alert.tags {
            body.insert(key, Value::from(value.as_str()));
        }
    }
    if config.auto("fields") {
        for (key, value) in alert.fields {
            let text = match value {
                Value::String(text) => text.clone(),
                other => klaxon_core::json::to_go_string(other),
            };
            body.insert(key, Value::from(text));
        }
    }
    for (key, value) in &alert.attributes {
        // An empty host does not replace the host tag: Kapacitor sends "" over it.
        if key == "host" && value.is_empty() && body.contains_key("host") {
            continue;
        }
        body.insert(key, Value::from(value.as_str()));
    }
    klaxon_core::json::to_go_string(&body)
}

impl BigPanda {
    /// Posts `alert` with the live configuration.
    pub(crate) async fn send(&self, alert: Alert<'_>) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let url = match alert.url {
            "" => config.url.as_str(),
            own => own,
        };
        let client = self
            .clients
            .get(&config.client())
            .map_err(|e| HandlerError::permanent(e.to_string()))?;
        let request = client
            .request(Method::POST, url)
            .header(AUTHORIZATION, format!("Bearer {}", config.token))
            .header(CONTENT_TYPE, "application/json")
            .body(body(&config, &alert));
        let response = client.send(request, config.timeout.to_std()).await?;
        klaxon_http::failure::check_response(&format!("POST {url}"), response, explain).await
    }
}

/// BigPanda's explanation of a refusal: the `error` (or `message`) of its JSON answer, or the
/// body as it is; for a 401, which key to check.
fn explain(status: StatusCode, body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        error: Option<Value>,
        #[serde(default)]
        message: Option<String>,
    }
    let explained = match serde_json::from_str::<Answer>(body) {
        Ok(Answer {
            error: Some(Value::String(error)),
            ..
        }) => error,
        Ok(Answer {
            error: Some(error), ..
        }) => error.to_string(),
        Ok(Answer {
            message: Some(message),
            ..
        }) => message,
        _ => body.trim().to_owned(),
    };
    if status == StatusCode::UNAUTHORIZED {
        let hint = "check [bigpanda] token";
        return match explained.is_empty() {
            true => hint.to_owned(),
            false => format!("{explained} ({hint})"),
        };
    }
    explained
}
