//! The Alert API v1 request, as Kapacitor's opsgenie service sends it: `POST <url>/` for an
//! alert, `POST <recovery_url>/` for a recovery, the API key in a JSON body of sorted keys, and
//! OpsGenie's answers as handler errors.

use klaxon_core::{AlertResult, HandlerError, Live};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, Method};
use serde::Serialize;

use crate::Config;

/// What one event becomes, before the configuration fills in the rest.
#[derive(Debug)]
pub(crate) struct Alert<'a> {
    /// The handler's teams; empty for the configured ones.
    pub(crate) teams: &'a [String],
    /// The handler's recipients; empty for the configured ones.
    pub(crate) recipients: &'a [String],
    /// `RECOVERY` for OK, else the level's name (the service test sends any text).
    pub(crate) message_type: &'a str,
    pub(crate) message: &'a str,
    /// The event ID: OpsGenie's `entity` and `alias`.
    pub(crate) id: &'a str,
    pub(crate) result: &'a AlertResult,
}

/// The Alert API v1 client shared by the service and its handlers.
#[derive(Debug, Clone)]
pub(crate) struct OpsGenie {
    pub(crate) config: Live<Config>,
    pub(crate) client: Client,
}

/// Kapacitor's body: a Go map, so its keys go out sorted, as here.
#[derive(Serialize)]
struct Body<'a> {
    alias: &'a str,
    #[serde(rename = "apiKey")]
    api_key: &'a str,
    description: String,
    details: Details<'a>,
    entity: &'a str,
    message: &'a str,
    monitoring_tool: &'static str,
    note: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    recipients: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    teams: &'a [String],
}

#[derive(Serialize)]
struct Details<'a> {
    #[serde(rename = "Level")]
    level: &'a str,
    #[serde(rename = "Monitoring Tool")]
    monitoring_tool: &'static str,
}

/// Where Kapacitor posts: the endpoint and a `/` (not doubled when the endpoint has one).
pub(crate) fn endpoint(url: &str) -> String {
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

impl OpsGenie {
    /// Sends `alert` with the live configuration.
    pub(crate) async fn send(&self, alert: Alert<'_>) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let recovery = alert.message_type == "RECOVERY";
        let url = endpoint(if recovery {
            &config.recovery_url
        } else {
            &config.url
        });
        let body = Body {
            alias: alert.id,
            api_key: &config.api_key,
            description: klaxon_core::json::to_go_string(alert.result),
            details: Details {
                level: alert.message_type,
                monitoring_tool: "Kapacitor",
            },
            entity: alert.id,
            message: alert.message,
            monitoring_tool: "kapacitor",
            note: if recovery { alert.message } else { "" },
            recipients: if alert.recipients.is_empty() {
                &config.recipients
            } else {
                alert.recipients
            },
            teams: if alert.teams.is_empty() {
                &config.teams
            } else {
                alert.teams
            },
        };
        let mut body = klaxon_core::json::to_go_string(&body);
        body.push('\n');
        let request = self
            .client
            .request(Method::POST, &url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let response = self.client.send(request, config.timeout.to_std()).await?;
        // OpsGenie's error body: the Alert API v1's `{"error", "code"}` or v2's `{"message",
        // "errors": {field: problem}}`.
        klaxon_http::failure::check_response(&format!("POST {url}"), response, |_, body| {
            klaxon_http::failure::explain_json(body, &["message", "error", "errors"])
        })
        .await
    }
}
