//! The JSON router request, as Kapacitor's zenoss service sends it: `POST <url>` with
//! `{"action","method","data":[<event>],"type","tid"}`, Basic authentication when a user and
//! password are set, and Zenoss' answers (HTTP, and the router's own result) as handler errors.

use std::collections::BTreeMap;

use klaxon_core::{HandlerError, Level, Live};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, Method, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::Config;

/// What one alert becomes, its templates rendered, before the configuration fills in the rest.
#[derive(Debug, Default)]
pub(crate) struct Alert<'a> {
    /// The handler's router, method, type and tid; empty (0) for the configured ones.
    pub(crate) action: &'a str,
    pub(crate) method: &'a str,
    pub(crate) event_type: &'a str,
    pub(crate) tid: i64,
    /// The handler's URL and credentials; empty for the configured ones.
    pub(crate) url: &'a str,
    pub(crate) username: &'a str,
    pub(crate) password: &'a str,
    /// Empty for the alert message.
    pub(crate) summary: String,
    pub(crate) device: String,
    pub(crate) component: String,
    pub(crate) event_class_key: String,
    pub(crate) event_class: String,
    /// Empty for the configured collector.
    pub(crate) collector: String,
    pub(crate) message: String,
    /// The alert's message, the summary when there is none.
    pub(crate) alert_message: &'a str,
    pub(crate) level: Level,
    /// Rendered custom fields, which replace any key of the event.
    pub(crate) custom: BTreeMap<String, Value>,
}

/// The Zenoss client shared by the service and its handlers.
#[derive(Debug, Clone)]
pub(crate) struct Zenoss {
    pub(crate) config: Live<Config>,
    pub(crate) client: Client,
}

/// Kapacitor's request, a struct: its keys keep this order; the event is a Go map.
#[derive(Serialize)]
struct Request<'a> {
    action: &'a str,
    method: &'a str,
    data: [BTreeMap<String, Value>; 1],
    #[serde(rename = "type")]
    event_type: &'a str,
    tid: i64,
}

/// `text` cut to at most `max` bytes, at a character boundary: Zenoss' field sizes.
fn cutoff(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The request body for `alert` with `config`: Go's `json.Marshal`, no trailing newline.
pub(crate) fn body(config: &Config, alert: &Alert<'_>) -> String {
    let summary = or(&alert.summary, alert.alert_message);
    let collector = or(&alert.collector, &config.collector);
    let mut event = BTreeMap::new();
    let mut put = |key: &str, value: Value| event.insert(key.to_owned(), value);
    put("summary", Value::from(cutoff(summary, 256)));
    put("device", Value::from(alert.device.as_str()));
    put("component", Value::from(alert.component.as_str()));
    put(
        "severity",
        config.severity_map.value_for(alert.level).clone(),
    );
    put("evclasskey", Value::from(alert.event_class_key.as_str()));
    put("evclass", Value::from(alert.event_class.as_str()));
    if !collector.is_empty() {
        put("collector", Value::from(collector));
    }
    if !alert.message.is_empty() {
        put("message", Value::from(cutoff(&alert.message, 4096)));
    }
    for (key, value) in &alert.custom {
        event.insert(key.clone(), value.clone());
    }
    let action = or(alert.action, &config.action);
    let method = or(alert.method, &config.method);
    let event_type = or(alert.event_type, &config.event_type);
    let tid = match alert.tid {
        0 => config.tid,
        own => own,
    };
    klaxon_core::json::to_go_string(&Request {
        action,
        method,
        data: [event],
        event_type,
        tid,
    })
}

/// The handler's value, or the configured one when the handler has none.
fn or<'a>(own: &'a str, configured: &'a str) -> &'a str {
    if own.is_empty() { configured } else { own }
}

/// A custom field as Kapacitor sends it: text that starts like JSON (`{`, `[`) and parses is
/// sent as that JSON, its objects' keys sorted as Go writes a map; other text as it is.
pub(crate) fn custom_text(text: String) -> Value {
    if !(text.starts_with('{') || text.starts_with('[')) {
        return Value::String(text);
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(value) => sorted(value),
        Err(_) => Value::String(text),
    }
}

/// `value` with the keys of its objects sorted at every level, as Go writes a map.
pub(crate) fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            let map: Map<String, Value> = entries
                .into_iter()
                .map(|(key, value)| (key, sorted(value)))
                .collect();
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

impl Zenoss {
    /// Posts `alert` with the live configuration.
    pub(crate) async fn send(&self, alert: Alert<'_>) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let url = or(alert.url, &config.url);
        let username = or(alert.username, &config.username);
        let password = or(alert.password, &config.password);
        let mut request = self
            .client
            .request(Method::POST, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body(&config, &alert));
        if !username.is_empty() && !password.is_empty() {
            request = request.basic_auth(username, Some(password));
        }
        let what = format!("POST {url}");
        let response = self.client.send(request, config.timeout.to_std()).await?;
        if !response.status().is_success() {
            return klaxon_http::failure::check_response(&what, response, explain).await;
        }
        let answer =
            klaxon_http::failure::read_start(response, klaxon_http::failure::READ_LIMIT).await;
        match router_refusal(&answer) {
            Some(reason) => Err(HandlerError::permanent(format!(
                "{what}: Zenoss refused the event: {reason}"
            ))),
            None => Ok(()),
        }
    }
}

/// Zenoss' JSON router answers 200 to a request it refuses: `{"type": "exception", "message":
/// ...}`, or a result with `"success": false` and a `msg`. The reason, for such an answer.
fn router_refusal(answer: &str) -> Option<String> {
    let answer: Value = serde_json::from_str(answer).ok()?;
    if answer["type"] == "exception" {
        let message = answer["message"].as_str().unwrap_or("an exception");
        return Some(message.to_owned());
    }
    if answer["result"]["success"] == false {
        let message = answer["result"]["msg"]
            .as_str()
            .unwrap_or("no reason given");
        return Some(message.to_owned());
    }
    None
}

/// Zenoss' explanation of an HTTP refusal: an `{"error": "..."}` body as Kapacitor reads it,
/// or the body as it is; for a 401, which keys to check.
fn explain(status: StatusCode, body: &str) -> String {
    let explained = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(answer)) => match answer.get("error") {
            Some(Value::String(error)) => error.clone(),
            _ => body.trim().to_owned(),
        },
        _ => body.trim().to_owned(),
    };
    if status == StatusCode::UNAUTHORIZED {
        let hint = "check [zenoss] username and password";
        return match explained.is_empty() {
            true => hint.to_owned(),
            false => format!("{explained} ({hint})"),
        };
    }
    explained
}
