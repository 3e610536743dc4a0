//! The Events API v1 request, as Kapacitor's pagerduty service sends it: `POST <url>` with a JSON
//! body of sorted string values, and PagerDuty's answers as handler errors.

use klaxon_core::{HandlerError, Level, Live, ServerUrl};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, Method};
use serde::Serialize;

use crate::Config;

/// What one event becomes, before the configuration fills in the rest.
#[derive(Debug)]
pub(crate) struct Alert<'a> {
    /// The handler's service key; empty for the configured one.
    pub(crate) service_key: &'a str,
    /// PagerDuty's `incident_key`: the event ID, so that a recovery resolves what the alert
    /// triggered.
    pub(crate) incident_key: &'a str,
    pub(crate) description: &'a str,
    pub(crate) level: Level,
    pub(crate) details: &'a str,
}

/// The Events API v1 client shared by the service and its handlers.
#[derive(Debug, Clone)]
pub(crate) struct PagerDuty {
    pub(crate) config: Live<Config>,
    pub(crate) client: Client,
    /// PagerDuty's `client_url`: where the event came from, the server's API URL.
    pub(crate) client_url: ServerUrl,
}

/// Kapacitor's body: a Go map of strings, so its keys go out sorted, as here.
#[derive(Serialize)]
struct Body<'a> {
    client: &'static str,
    client_url: &'a str,
    description: &'a str,
    details: &'a str,
    event_type: &'static str,
    incident_key: &'a str,
    service_key: &'a str,
}

/// Kapacitor's `event_type` for a level: WARNING and CRITICAL trigger, OK resolves, and INFO,
/// which the Events API v1 has no place for, is not sent.
pub(crate) fn event_type(level: Level) -> Result<&'static str, HandlerError> {
    match level {
        Level::Warning | Level::Critical => Ok("trigger"),
        Level::Ok => Ok("resolve"),
        Level::Info => Err(HandlerError::permanent(
            "AlertLevel 'info' is currently ignored by the PagerDuty service",
        )),
    }
}

impl PagerDuty {
    /// Posts `alert` with the live configuration: its service key when the alert has none.
    pub(crate) async fn send(&self, alert: Alert<'_>) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let event_type = event_type(alert.level)?;
        let service_key = match alert.service_key {
            "" => config.service_key.as_str(),
            own => own,
        };
        if service_key.is_empty() {
            // PagerDuty would refuse it; saying why here is clearer than its 400.
            return Err(HandlerError::permanent(
                "no service key: set the handler's service-key (.serviceKey()) or [pagerduty] service-key",
            ));
        }
        let mut body = klaxon_core::json::to_go_string(&Body {
            client: "kapacitor",
            client_url: self.client_url.get(),
            description: alert.description,
            details: alert.details,
            event_type,
            incident_key: alert.incident_key,
            service_key,
        });
        body.push('\n');
        let request = self
            .client
            .request(Method::POST, &config.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let response = self.client.send(request, config.timeout.to_std()).await?;
        let what = format!("POST {}", config.url);
        // PagerDuty's error body, the same for the Events API v1 and v2.
        klaxon_http::failure::check_response(&what, response, |_, body| {
            klaxon_http::failure::explain_json(body, &["status", "message", "errors"])
        })
        .await
    }
}
