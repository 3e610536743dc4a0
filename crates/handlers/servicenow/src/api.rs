//! The events web service request, as Kapacitor's servicenow service sends it: `POST <url>` with
//! `{"records":[<one event>]}`, Basic authentication when a user and password are set, and
//! ServiceNow's answers as handler errors.

use std::collections::BTreeMap;

use klaxon_core::{HandlerError, Level, Live};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, Method, StatusCode};
use serde::Serialize;

use crate::Config;

/// What one alert becomes, its templates rendered, before the configuration fills in the rest.
#[derive(Debug, Default)]
pub(crate) struct Alert<'a> {
    /// The handler's URL; empty for the configured one.
    pub(crate) url: &'a str,
    /// The handler's credentials; empty for the configured ones.
    pub(crate) username: &'a str,
    pub(crate) password: &'a str,
    /// The handler's source; empty for the configured one.
    pub(crate) source: &'a str,
    pub(crate) node: String,
    pub(crate) metric_type: String,
    pub(crate) resource: String,
    pub(crate) metric_name: String,
    /// Empty for the alert ID.
    pub(crate) message_key: String,
    pub(crate) alert_id: &'a str,
    pub(crate) message: &'a str,
    pub(crate) level: Level,
    /// Rendered, sent as a string of JSON when not empty.
    pub(crate) additional_info: BTreeMap<String, String>,
}

/// The ServiceNow client shared by the service and its handlers.
#[derive(Debug, Clone)]
pub(crate) struct ServiceNow {
    pub(crate) config: Live<Config>,
    pub(crate) client: Client,
}

/// Kapacitor's body, a struct: its keys keep this order.
#[derive(Serialize)]
struct Events<'a> {
    records: [Event<'a>; 1],
}

#[derive(Serialize)]
struct Event<'a> {
    source: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    node: &'a str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    metric_type: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    resource: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    metric_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message_key: &'a str,
    severity: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    additional_info: String,
}

/// ServiceNow's severities: 1 critical, 4 warning, 5 OK (ServiceNow's "clear"); INFO is OK.
fn severity(level: Level) -> &'static str {
    match level {
        Level::Ok | Level::Info => "5",
        Level::Warning => "4",
        Level::Critical => "1",
    }
}

/// `text` cut to at most `max` bytes, at a character boundary: ServiceNow's field sizes.
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

/// The fields ServiceNow keeps to 100 characters.
const USUAL_CUTOFF: usize = 100;

/// The request body for `alert` with `config`: Go's `json.Marshal` of Kapacitor's struct.
pub(crate) fn body(config: &Config, alert: &Alert<'_>) -> String {
    let source = match alert.source {
        "" => config.source.as_str(),
        own => own,
    };
    let message_key = match alert.message_key.as_str() {
        "" => alert.alert_id,
        own => own,
    };
    let additional_info = match alert.additional_info.is_empty() {
        true => String::new(),
        false => klaxon_core::json::to_go_string(&alert.additional_info),
    };
    klaxon_core::json::to_go_string(&Events {
        records: [Event {
            source: cutoff(source, USUAL_CUTOFF),
            node: cutoff(&alert.node, USUAL_CUTOFF),
            metric_type: cutoff(&alert.metric_type, USUAL_CUTOFF),
            resource: cutoff(&alert.resource, USUAL_CUTOFF),
            metric_name: cutoff(&alert.metric_name, USUAL_CUTOFF),
            message_key: cutoff(message_key, 1024),
            severity: severity(alert.level),
            description: cutoff(alert.message, 4000),
            additional_info,
        }],
    })
}

impl ServiceNow {
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
        let username = match alert.username {
            "" => config.username.as_str(),
            own => own,
        };
        let password = match alert.password {
            "" => config.password.as_str(),
            own => own,
        };
        let mut request = self
            .client
            .request(Method::POST, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body(&config, &alert));
        if !username.is_empty() && !password.is_empty() {
            request = request.basic_auth(username, Some(password));
        }
        let response = self.client.send(request, config.timeout.to_std()).await?;
        klaxon_http::failure::check_response(&format!("POST {url}"), response, explain).await
    }
}

/// ServiceNow's explanation of a refusal: its REST error (`{"error": {"message", "detail"}}`),
/// an `{"error": "..."}` body as Kapacitor reads it, or the body as it is.
fn explain(status: StatusCode, body: &str) -> String {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Error {
        Text(String),
        Rest {
            #[serde(default)]
            message: String,
            #[serde(default)]
            detail: Option<String>,
        },
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        error: Error,
    }
    let explained = match serde_json::from_str::<Answer>(body).map(|a| a.error) {
        Ok(Error::Text(text)) => text,
        Ok(Error::Rest { message, detail }) => match detail.filter(|d| !d.is_empty()) {
            Some(detail) if !message.is_empty() => format!("{message}: {detail}"),
            Some(detail) => detail,
            None => message,
        },
        Err(_) => body.trim().to_owned(),
    };
    if status == StatusCode::UNAUTHORIZED {
        let hint = "check [servicenow] username and password";
        return match explained.is_empty() {
            true => hint.to_owned(),
            false => format!("{explained} ({hint})"),
        };
    }
    explained
}
