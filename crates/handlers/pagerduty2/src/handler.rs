//! The pagerduty2 service and handler: each event becomes a PagerDuty Events API v2 `trigger`
//! (INFO, WARNING, CRITICAL) or `resolve` (OK) with the event ID as dedup key.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::{
    Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Service, TickShape,
    Timestamp, async_trait,
};
use klaxon_http::{Client, ClientOptions};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::api::{Alert, PagerDuty};
use crate::links::{self, Link, LinkTemplates};

/// The options of one pagerduty2 handler, Kapacitor's keys: the same type decodes handler files,
/// the HTTP API and TICKscript calls.
///
/// ```json
/// {"routing-key": "0123456789abcdef0123456789abcdef",
///  "links": [{"href": "https://chronograf.example.com/", "text": "Chronograf"}]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The routing key (integration key) to send to. Empty: the configured
    /// `[pagerduty2] routing-key`, as it is when each alert is sent.
    pub routing_key: String,
    /// Links shown with the incident, `{href, text}` each; both are Go templates over the event.
    pub links: Vec<Link>,
}

/// The options of the service test, Kapacitor's: an alert made of these values is sent with the
/// configured routing key.
///
/// ```json
/// {"alert_id": "testAlertID", "description": "test pagerduty2 message", "level": "CRITICAL"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The dedup key.
    pub alert_id: String,
    /// The summary.
    pub description: String,
    /// The level: OK resolves, the others trigger.
    pub level: Level,
    /// The event's data, with Kapacitor's (Go's) field names.
    pub event_data: TestEventData,
    /// The event's time, RFC 3339.
    #[schemars(with = "String")]
    pub timestamp: Timestamp,
    /// Links, sent as they are (not as templates).
    pub links: Vec<Link>,
}

/// Kapacitor's `alert.EventData` in the service test's options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "PascalCase")]
pub struct TestEventData {
    /// The measurement.
    pub name: String,
    /// The task, sent as PagerDuty's `class`.
    pub task_name: String,
    /// The category.
    pub category: String,
    /// The group.
    pub group: String,
    /// The tags; `host` is sent as PagerDuty's `source`.
    pub tags: BTreeMap<String, String>,
    /// The fields.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Whether the alert can recover.
    pub recoverable: bool,
    /// The data, sent as `custom_details.result`.
    pub result: serde_json::Value,
}

impl Default for TestEventData {
    fn default() -> Self {
        TestEventData {
            name: String::new(),
            task_name: String::new(),
            category: String::new(),
            group: String::new(),
            tags: BTreeMap::new(),
            fields: serde_json::Map::new(),
            recoverable: false,
            result: serde_json::json!({"series": null}),
        }
    }
}

impl Default for TestOptions {
    /// Kapacitor's defaults, listed by `GET /kapacitor/v1/service-tests`.
    fn default() -> Self {
        TestOptions {
            alert_id: "testAlertID".to_owned(),
            description: "test pagerduty2 message".to_owned(),
            level: Level::Critical,
            event_data: TestEventData {
                name: "testPagerDuty2".to_owned(),
                ..TestEventData::default()
            },
            // 2014-11-12T11:45:26.371Z, Kapacitor's test time.
            timestamp: Timestamp::from_nanos(1_415_792_726_371_000_000),
            links: vec![
                Link {
                    href: "https://example.com/a".to_owned(),
                    text: "a".to_owned(),
                },
                Link {
                    href: "https://example.com/b".to_owned(),
                    text: "b".to_owned(),
                },
            ],
        }
    }
}

/// The `pagerduty2` handler kind: PagerDuty's Events API v2.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_pagerduty2::{Config, Options, Pagerduty2Service};
///
/// let config = Config { enabled: true, routing_key: "key".into(), ..Config::default() };
/// let service = Pagerduty2Service::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options::default()).is_ok());
/// ```
#[derive(Debug)]
pub struct Pagerduty2Service {
    pagerduty: PagerDuty,
}

/// `.pagerDuty2()`'s chained properties. `.serviceKey()` is Kapacitor's older name for the
/// routing key; each `.link(href)` or `.link(href, text)` adds a link.
const CHAINED: &[Chained] = &[
    Chained::value("routingKey", "routing-key"),
    Chained::value("serviceKey", "routing-key"),
    Chained::record("link", "links", &["href", "text"]),
];

#[async_trait]
impl Service for Pagerduty2Service {
    const KIND: &'static str = "pagerduty2";
    const DESCRIPTION: &'static str =
        "triggers and resolves PagerDuty incidents through the Events API v2";
    const TICK: TickShape = TickShape::new("pagerDuty2").chained(CHAINED);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(Pagerduty2Service {
            pagerduty: PagerDuty {
                config: init.config,
                client,
                client_url: init.server_url,
            },
        })
    }

    /// An empty routing key (the default options) follows the configured one, including later
    /// changes to it.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        Ok(Arc::new(Pagerduty2Handler {
            routing_key: options.routing_key,
            links: LinkTemplates::parse(&options.links)?,
            pagerduty: self.pagerduty.clone(),
        }))
    }

    fn global(&self) -> Global {
        // Kapacitor's pagerduty2 has `global` but no `state-changes-only`.
        Global::from_keys(self.pagerduty.config.get().global, false)
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let data = &options.event_data;
        self.pagerduty
            .send(Alert {
                routing_key: "",
                dedup_key: &options.alert_id,
                summary: &options.description,
                level: options.level,
                time: options.timestamp,
                class: &data.task_name,
                host: data.tags.get("host").map(String::as_str),
                result: &data.result,
                links: links::verbatim(&options.links),
            })
            .await
    }
}

/// Sends each event to PagerDuty with one routing key and set of links.
#[derive(Debug)]
struct Pagerduty2Handler {
    routing_key: String,
    links: LinkTemplates,
    pagerduty: PagerDuty,
}

#[async_trait]
impl Handler for Pagerduty2Handler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.pagerduty
            .send(Alert {
                routing_key: &self.routing_key,
                dedup_key: &event.state.id,
                summary: &event.state.message,
                level: event.state.level,
                time: event.state.time,
                class: &event.data.task_name,
                host: event.data.tags.get("host").map(String::as_str),
                result: &event.data.result,
                links: self.links.render(event)?,
            })
            .await
    }
}
