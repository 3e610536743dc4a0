//! Alerta's alert API as Kapacitor's alerta service calls it: `POST <url>/alert` with the token in
//! the Authorization header and a JSON body of sorted keys, and Alerta's answers as handler
//! errors.

use std::collections::BTreeMap;
use std::time::Duration;

use klaxon_core::{AlertResult, GoDuration, HandlerError, Live};
use klaxon_http::header::{AUTHORIZATION, CONTENT_TYPE};
use klaxon_http::{ClientOptions, ClientTls, Clients, Method, StatusCode};
use serde::Serialize;

use crate::Config;

/// How long one post may take: Kapacitor's alerta client's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One alert, as rendered for an event (or given by the service test), before the
/// configuration fills in what it leaves empty.
#[derive(Debug)]
pub(crate) struct Alert<'a> {
    /// The handler's token; empty for the configured one.
    pub(crate) token: &'a str,
    /// The handler's token prefix; empty for the configured one, else `Bearer`.
    pub(crate) token_prefix: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) event: &'a str,
    /// Empty for the configured environment.
    pub(crate) environment: &'a str,
    pub(crate) severity: &'a str,
    pub(crate) group: &'a str,
    pub(crate) value: &'a str,
    pub(crate) text: &'a str,
    /// Empty for the configured origin.
    pub(crate) origin: &'a str,
    pub(crate) service: &'a [String],
    pub(crate) correlate: &'a [String],
    pub(crate) attributes: &'a BTreeMap<String, serde_json::Value>,
    pub(crate) timeout: GoDuration,
    /// The alert's tags, sent as `key=value` (sorted by key; Kapacitor's order is random).
    pub(crate) tags: &'a BTreeMap<String, String>,
    pub(crate) raw_data: &'a AlertResult,
}

/// Kapacitor's body: a Go map, so its keys go out sorted, as here.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: &'a BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    correlate: &'a [String],
    environment: &'a str,
    event: &'a str,
    group: &'a str,
    origin: &'a str,
    #[serde(rename = "rawData")]
    raw_data: &'a AlertResult,
    resource: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    service: &'a [String],
    severity: &'a str,
    tags: Vec<String>,
    text: &'a str,
    /// Whole seconds.
    timeout: i64,
    value: &'a str,
}

/// The Alerta client shared by the service and its handlers.
#[derive(Debug, Clone)]
pub(crate) struct Alerta {
    pub(crate) config: Live<Config>,
    pub(crate) clients: Clients,
}

impl Alerta {
    /// Posts `alert` with the live configuration.
    pub(crate) async fn send(&self, alert: Alert<'_>) -> Result<(), HandlerError> {
        if alert.resource.is_empty() || alert.event.is_empty() {
            return Err(HandlerError::permanent(format!(
                "resource and event are required to send an alert; they rendered {:?} and {:?}",
                alert.resource, alert.event
            )));
        }
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let token = or(alert.token, &config.token);
        let token_prefix = match or(alert.token_prefix, &config.token_prefix) {
            "" => "Bearer",
            prefix => prefix,
        };
        let url = klaxon_http::append_segments(&config.url, &["alert"])
            .map_err(|e| HandlerError::permanent(e.message()))?;
        let body = Body {
            attributes: alert.attributes,
            correlate: alert.correlate,
            environment: or(alert.environment, &config.environment),
            event: alert.event,
            group: alert.group,
            origin: or(alert.origin, &config.origin),
            raw_data: alert.raw_data,
            resource: alert.resource,
            service: alert.service,
            severity: alert.severity,
            tags: alert.tags.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            text: alert.text,
            timeout: alert.timeout.as_nanos() / 1_000_000_000,
            value: alert.value,
        };
        let mut json = klaxon_core::json::to_go_string(&body);
        json.push('\n');
        let options = ClientOptions {
            tls: ClientTls {
                insecure_skip_verify: config.insecure_skip_verify,
                ..ClientTls::default()
            },
        };
        let client = self
            .clients
            .get(&options)
            .map_err(|e| HandlerError::permanent(e.to_string()))?;
        let mut request = client
            .request(Method::POST, url.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(json);
        if !token.is_empty() {
            request = request.header(AUTHORIZATION, format!("{token_prefix} {token}"));
        }
        let response = client.send(request, REQUEST_TIMEOUT).await?;
        klaxon_http::failure::check_response(&format!("POST {url}"), response, explain).await
    }
}

/// Alerta's explanation of a refusal: the `message` of its error body (`{"status": "error",
/// "message": ...}`), or the body as it is.
pub(crate) fn explain(_status: StatusCode, body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Answer {
        message: String,
    }
    match serde_json::from_str::<Answer>(body) {
        Ok(answer) if !answer.message.is_empty() => answer.message,
        _ => body.trim().to_owned(),
    }
}

/// The handler's own value, or the configured one when the handler's is empty.
fn or<'a>(own: &'a str, configured: &'a str) -> &'a str {
    if own.is_empty() { configured } else { own }
}
