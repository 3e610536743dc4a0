//! The Events API v2 request, as Kapacitor's pagerduty2 service sends it: `POST <url>` with the
//! `AlertPayload` JSON (Go's struct order and encoding, and the encoder's trailing newline), and
//! PagerDuty's answers as handler errors.

use klaxon_core::{HandlerError, Level, Live, ServerUrl, Timestamp};
use klaxon_http::header::{ACCEPT, CONTENT_TYPE};
use klaxon_http::{Client, Method};
use serde::Serialize;

use crate::Config;
use crate::links::Rendered;

/// What one event becomes, before the configuration fills in the rest.
#[derive(Debug)]
pub(crate) struct Alert<'a, R> {
    /// The handler's routing key; empty for the configured one.
    pub(crate) routing_key: &'a str,
    /// PagerDuty's `dedup_key`: the event ID, so that a recovery resolves what the alert
    /// triggered.
    pub(crate) dedup_key: &'a str,
    pub(crate) summary: &'a str,
    pub(crate) level: Level,
    pub(crate) time: Timestamp,
    /// The task's name, PagerDuty's `class`.
    pub(crate) class: &'a str,
    /// The `host` tag, PagerDuty's `source`, if the event has one.
    pub(crate) host: Option<&'a str>,
    /// What goes under `custom_details.result`: the event's data, as Kapacitor sends it.
    pub(crate) result: &'a R,
    pub(crate) links: Vec<Rendered>,
}

/// The Events API v2 client shared by the service and its handlers.
#[derive(Debug, Clone)]
pub(crate) struct PagerDuty {
    pub(crate) config: Live<Config>,
    pub(crate) client: Client,
    /// PagerDuty's `client_url`: where the event came from, the server's API URL.
    pub(crate) client_url: ServerUrl,
}

/// Kapacitor's `AlertPayload`: every field present, in this order.
#[derive(Serialize)]
struct AlertPayload<'a, R> {
    routing_key: &'a str,
    event_action: &'static str,
    dedup_key: &'a str,
    payload: Pdcef<'a, R>,
    /// Kapacitor never sends images.
    images: Option<()>,
    /// `null` without links, as Kapacitor's nil slice.
    links: Option<&'a [Rendered]>,
    client: &'static str,
    client_url: &'a str,
}

/// Kapacitor's `PDCEF`, PagerDuty's common event format.
#[derive(Serialize)]
struct Pdcef<'a, R> {
    summary: &'a str,
    source: &'a str,
    severity: &'static str,
    timestamp: String,
    class: &'a str,
    component: &'static str,
    group: &'static str,
    custom_details: CustomDetails<'a, R>,
}

#[derive(Serialize)]
struct CustomDetails<'a, R> {
    result: &'a R,
}

/// Kapacitor's `event_action` and `severity` for a level: OK resolves (with severity `info`,
/// which PagerDuty requires even then), every other level triggers.
pub(crate) fn action_and_severity(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::Ok => ("resolve", "info"),
        Level::Info => ("trigger", "info"),
        Level::Warning => ("trigger", "warning"),
        Level::Critical => ("trigger", "critical"),
    }
}

/// Go's `2006-01-02T15:04:05.000000000Z07:00` in UTC: always nine fraction digits.
pub(crate) fn pagerduty_time(time: Timestamp) -> String {
    let seconds = time.as_nanos().div_euclid(1_000_000_000);
    let nanos = time.as_nanos().rem_euclid(1_000_000_000);
    let whole = Timestamp::from_nanos(seconds * 1_000_000_000).to_rfc3339_nano();
    // RFC3339Nano of a whole second is `YYYY-MM-DDTHH:MM:SSZ`.
    format!("{}.{nanos:09}Z", whole.trim_end_matches('Z'))
}

impl PagerDuty {
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
        if routing_key.is_empty() {
            // PagerDuty would refuse it; saying why here is clearer than its 400.
            return Err(HandlerError::permanent(
                "no routing key: set the handler's routing-key (.routingKey()) or [pagerduty2] routing-key",
            ));
        }
        let (event_action, severity) = action_and_severity(alert.level);
        let payload = AlertPayload {
            routing_key,
            event_action,
            dedup_key: alert.dedup_key,
            payload: Pdcef {
                summary: alert.summary,
                source: alert.host.unwrap_or("unknown"),
                severity,
                timestamp: pagerduty_time(alert.time),
                class: alert.class,
                component: "",
                group: "",
                custom_details: CustomDetails {
                    result: alert.result,
                },
            },
            images: None,
            links: (!alert.links.is_empty()).then_some(alert.links.as_slice()),
            client: "kapacitor",
            client_url: self.client_url.get(),
        };
        let mut body = klaxon_core::json::to_go_string(&payload);
        body.push('\n');
        let request = self
            .client
            .request(Method::POST, &config.url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/vnd.pagerduty+json;version=2")
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
