//! The REST integration's request, as Kapacitor's victorops service sends it: `POST
//! <url>/<api-key>/<routing-key>` with a JSON body of sorted keys, and VictorOps' answers as
//! handler errors, with the API key kept out of every message.

use klaxon_core::{HandlerError, Live, Timestamp};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, Method, StatusCode, Url};
use serde::Serialize;

use crate::Config;

/// What one event becomes, before the configuration fills in the rest.
#[derive(Debug)]
pub(crate) struct Alert<'a, R> {
    /// The handler's routing key; empty for the configured one.
    pub(crate) routing_key: &'a str,
    /// `RECOVERY` for OK, else the level's name (the service test sends any text).
    pub(crate) message_type: &'a str,
    pub(crate) message: &'a str,
    pub(crate) entity_id: &'a str,
    pub(crate) time: Timestamp,
    /// The alert's data, VictorOps' `data`.
    pub(crate) result: &'a R,
}

/// The REST client shared by the service and its handlers.
#[derive(Debug, Clone)]
pub(crate) struct VictorOps {
    pub(crate) config: Live<Config>,
    pub(crate) client: Client,
}

/// Kapacitor's body: a Go map, so its keys go out sorted, as here.
#[derive(Serialize)]
struct Body<'a, R> {
    data: Data<'a, R>,
    entity_id: &'a str,
    message_type: &'a str,
    monitoring_tool: &'static str,
    state_message: &'a str,
    timestamp: i64,
}

/// The data as an object (`json-data = true`), or as a string of JSON.
#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a, R> {
    Object(&'a R),
    Text(String),
}

/// Where the API key would be in a URL that a message shows; no key looks like it.
const PLACEHOLDER: &str = "api-key-hidden-by-klaxon";

/// Where an alert goes: `url` with the API key and the routing key added to its path, the
/// empty ones left out, as Kapacitor's `path.Join` does.
pub(crate) fn alert_url(url: &str, api_key: &str, routing_key: &str) -> Result<Url, HandlerError> {
    klaxon_http::append_segments(url, &[api_key, routing_key])
        .map_err(|e| HandlerError::permanent(e.message()))
}

impl VictorOps {
    /// Posts `alert` with the live configuration: its routing key when the alert has none.
    pub(crate) async fn send<R: Serialize>(&self, alert: Alert<'_, R>) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let routing_key = match alert.routing_key {
            "" => config.routing_key.as_str(),
            own => own,
        };
        let url = alert_url(&config.url, &config.api_key, routing_key)?;
        let shown = alert_url(&config.url, PLACEHOLDER, routing_key)?
            .as_str()
            .replace(PLACEHOLDER, "<api-key>");
        let data = if config.json_data {
            Data::Object(alert.result)
        } else {
            Data::Text(klaxon_core::json::to_go_string(alert.result))
        };
        let body = Body {
            data,
            entity_id: alert.entity_id,
            message_type: alert.message_type,
            monitoring_tool: "kapacitor",
            state_message: alert.message,
            // Go's Unix(): whole seconds, rounded down.
            timestamp: alert.time.as_nanos().div_euclid(1_000_000_000),
        };
        let mut body = klaxon_core::json::to_go_string(&body);
        body.push('\n');
        let request = self
            .client
            .request(Method::POST, url.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let hide = |err: HandlerError| hide_key(err, url.as_str(), &shown);
        let response = self
            .client
            .send(request, config.timeout.to_std())
            .await
            .map_err(hide)?;
        klaxon_http::failure::check_response(&format!("POST {shown}"), response, explain_status)
            .await
    }
}

/// `err` with the URL that holds the API key replaced by `shown`, which does not.
fn hide_key(err: HandlerError, url: &str, shown: &str) -> HandlerError {
    let message = err.message().replace(url, shown);
    err.with_message(message)
}

/// VictorOps' explanation of a refusal: its message, after what Kapacitor says for a 404,
/// which is what a wrong API key gets.
fn explain_status(status: StatusCode, body: &str) -> String {
    let explained = explain(body);
    if status != StatusCode::NOT_FOUND {
        return explained;
    }
    match explained.as_str() {
        "" => "URL or API key not found".to_owned(),
        text => format!("URL or API key not found: {text}"),
    }
}

/// VictorOps' error body `{"result": "failure", "message": ...}` as its message, or the body as
/// it is.
pub(crate) fn explain(body: &str) -> String {
    klaxon_http::failure::explain_json(body, &["message"])
}
