//! The Alert API v2 requests, as Kapacitor's opsgenie2 service sends them: a create for INFO,
//! WARNING and CRITICAL, and for OK a note or a close of the alert found by its alias (the event
//! ID, base64url), and OpsGenie's answers as handler errors.

use std::collections::BTreeMap;

use base64::Engine;
use klaxon_core::{AlertResult, HandlerError, Level, Live};
use klaxon_http::header::{AUTHORIZATION, CONTENT_TYPE};
use klaxon_http::{Client, Method, Url};
use serde::Serialize;

use crate::Config;

/// What one event becomes, before the configuration fills in the rest.
#[derive(Debug)]
pub(crate) struct Alert<'a> {
    /// The handler's teams; empty for the configured ones.
    pub(crate) teams: &'a [String],
    /// The handler's recipients; empty for the configured ones.
    pub(crate) recipients: &'a [String],
    /// The handler's recovery action; empty for the configured one.
    pub(crate) recovery_action: &'a str,
    /// The handler's wish for the details as description, beside the configuration's.
    pub(crate) details_as_description: bool,
    pub(crate) level: Level,
    pub(crate) message: &'a str,
    /// The event ID: OpsGenie's `entity`, and base64url as its `alias`.
    pub(crate) id: &'a str,
    pub(crate) details: &'a str,
    pub(crate) result: &'a AlertResult,
}

/// The Alert API v2 client shared by the service and its handlers.
#[derive(Debug, Clone)]
pub(crate) struct OpsGenie {
    pub(crate) config: Live<Config>,
    pub(crate) client: Client,
}

/// Kapacitor's create body: a Go map, so its keys go out sorted, as here.
#[derive(Serialize)]
struct Create<'a> {
    alias: &'a str,
    description: String,
    details: BTreeMap<&'a str, &'a str>,
    entity: &'a str,
    message: &'a str,
    note: &'static str,
    priority: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    responders: Vec<Responder<'a>>,
}

/// A responder, its keys sorted as Go writes a map.
#[derive(Serialize)]
#[serde(untagged)]
enum Responder<'a> {
    Team {
        name: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
    },
    User {
        #[serde(rename = "type")]
        kind: &'static str,
        username: &'a str,
    },
}

/// The body of a recovery: only the note.
#[derive(Serialize)]
struct Recovery<'a> {
    note: &'a str,
}

/// OpsGenie's alias for an event ID: base64url with padding, as Kapacitor makes it.
pub(crate) fn alias(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(id)
}

/// Kapacitor's priority for a non-OK level.
fn priority(level: Level) -> &'static str {
    match level {
        Level::Critical => "P1",
        Level::Warning => "P3",
        Level::Info | Level::Ok => "P5",
    }
}

/// Where a recovery goes: `url` with `alias` and `action` added to its path and the query
/// `identifierType=alias`.
pub(crate) fn recovery_url(url: &str, alias: &str, action: &str) -> Result<Url, HandlerError> {
    let mut url = klaxon_http::append_segments(url, &[alias, action])
        .map_err(|e| HandlerError::permanent(e.message()))?;
    url.set_query(Some("identifierType=alias"));
    Ok(url)
}

impl OpsGenie {
    /// Sends `alert` with the live configuration.
    pub(crate) async fn send(&self, alert: Alert<'_>) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let alias = alias(alert.id);
        let (url, body) = if alert.level == Level::Ok {
            let action = match alert.recovery_action {
                "" => config.recovery_action.as_str(),
                own => own,
            };
            let url = recovery_url(&config.url, &alias, action)?;
            let body = klaxon_core::json::to_go_string(&Recovery {
                note: alert.message,
            });
            (url.to_string(), body)
        } else {
            let body = klaxon_core::json::to_go_string(&create(&config, &alert, &alias));
            (config.url.clone(), body)
        };
        let request = self
            .client
            .request(Method::POST, &url)
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, format!("GenieKey {}", config.api_key))
            .body(body + "\n");
        let response = self.client.send(request, config.timeout.to_std()).await?;
        klaxon_http::failure::check_response(&format!("POST {url}"), response, |_, body| {
            explain(body)
        })
        .await
    }
}

/// The create body of `alert` with `config`'s defaults.
fn create<'a>(config: &'a Config, alert: &'a Alert<'a>, alias: &'a str) -> Create<'a> {
    let description =
        if (config.details || alert.details_as_description) && !alert.details.is_empty() {
            alert.details.to_owned()
        } else {
            klaxon_core::json::to_go_string(alert.result)
        };
    // Fixed keys first, so that tags of the same name replace them, and the series name last,
    // as Kapacitor fills its map.
    let mut details = BTreeMap::from([
        ("Monitoring Tool", "Kapacitor"),
        ("Level", alert.level.as_str()),
    ]);
    if let Some(row) = alert.result.series.first() {
        for (key, value) in &row.tags {
            details.insert(key.as_str(), value.as_str());
        }
        details.insert("Kapacitor Task Name", row.name.as_str());
    }
    let teams = if alert.teams.is_empty() {
        &config.teams
    } else {
        alert.teams
    };
    let recipients = if alert.recipients.is_empty() {
        &config.recipients
    } else {
        alert.recipients
    };
    let responders = teams
        .iter()
        .map(|name| Responder::Team { name, kind: "team" })
        .chain(recipients.iter().map(|username| Responder::User {
            kind: "user",
            username,
        }))
        .collect();
    Create {
        alias,
        description,
        details,
        entity: alert.id,
        message: alert.message,
        note: "",
        priority: priority(alert.level),
        responders,
    }
}

/// OpsGenie's error body as one line (`Request body is not processable: message: Message can
/// not be empty`): the Alert API v2's `{"message", "errors": {field: problem}}`, or v1's
/// `{"error", "code"}`; else the body as it is.
pub(crate) fn explain(body: &str) -> String {
    klaxon_http::failure::explain_json(body, &["message", "error", "errors"])
}
