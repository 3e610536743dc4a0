//! The bigpanda service and handler: each event becomes one BigPanda alert, its check the event
//! ID, its status from the level, with the host and attributes the handler renders.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::template::{Template, template_data};
use klaxon_core::{
    Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Service, TickShape,
    Timestamp, async_trait,
};
use klaxon_http::Clients;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Config;
use crate::api::{Alert, BigPanda, field_values};

/// The options of one bigpanda handler, Kapacitor's keys: the same type decodes handler files,
/// the HTTP API and TICKscript calls.
///
/// ```json
/// {"app-key": "my-app-key", "host": "{{ index .Tags \"host\" }}", "primary-property": "host",
///  "attributes": {"monitor_link": "http://example.com/monitor?node={{ .Tags.host }}"}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The app key of the BigPanda integration. Empty: the configured `[bigpanda] app-key`.
    pub app_key: String,
    /// The alerts API URL. Empty: the configured `[bigpanda] url`.
    pub url: String,
    /// The host the alert is about, a Go template over the alert (`{{ index .Tags "host" }}`).
    pub host: String,
    /// The attribute BigPanda groups alerts by first (BigPanda's primary_property).
    pub primary_property: String,
    /// The attribute BigPanda groups alerts by next (BigPanda's secondary_property).
    pub secondary_property: String,
    /// More attributes: string values are Go templates over the alert, other values go out as
    /// their JSON text (5 is "5").
    pub attributes: BTreeMap<String, Value>,
}

/// The alert data of the service test, Kapacitor's `alert.EventData` in its Go field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "PascalCase")]
pub struct TestEventData {
    /// The measurement: the task is "<TaskName>:<Name>".
    pub name: String,
    /// The task.
    pub task_name: String,
    /// The alert's category (not sent).
    pub category: String,
    /// The group (not sent).
    pub group: String,
    /// Tags, sent as attributes with auto-attributes "tags".
    pub tags: BTreeMap<String, String>,
    /// Fields, sent as attributes with auto-attributes "fields".
    pub fields: BTreeMap<String, Value>,
    /// Whether the alert recovers (not sent).
    pub recoverable: bool,
    /// The alert's data (not sent).
    pub result: Value,
}

impl Default for TestEventData {
    fn default() -> Self {
        TestEventData {
            name: "testBigPanda".to_owned(),
            task_name: String::new(),
            category: String::new(),
            group: String::new(),
            tags: BTreeMap::new(),
            fields: BTreeMap::new(),
            recoverable: false,
            result: serde_json::json!({"series": null}),
        }
    }
}

/// The options of the service test, Kapacitor's.
///
/// ```json
/// {"app_key": "012345", "message": "test bigpanda message", "level": "CRITICAL",
///  "event_data": {"Name": "testBigPanda", ...}, "timestamp": "2026-01-01T00:00:00Z",
///  "host": "serverA", "primary_property": "", "secondary_property": ""}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The app key; empty for the configured one.
    pub app_key: String,
    /// The description.
    pub message: String,
    /// The level, which gives the status: OK, INFO, WARNING or CRITICAL.
    pub level: Level,
    /// The alert's data.
    pub event_data: TestEventData,
    /// The alert's time, RFC 3339 (now, by default).
    #[schemars(with = "String")]
    pub timestamp: Timestamp,
    /// The host.
    pub host: String,
    /// The primary property.
    pub primary_property: String,
    /// The secondary property.
    pub secondary_property: String,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            app_key: "012345".to_owned(),
            message: "test bigpanda message".to_owned(),
            level: Level::Critical,
            event_data: TestEventData::default(),
            timestamp: Timestamp::now(),
            host: "serverA".to_owned(),
            primary_property: String::new(),
            secondary_property: String::new(),
        }
    }
}

/// The `bigpanda` handler kind: BigPanda's alerts API.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_bigpanda::{BigpandaService, Config, Options};
///
/// let service = BigpandaService::new(Init::new(Config::default())).unwrap();
/// let options = Options { host: "{{ index .Tags \"host\" }}".into(), ..Options::default() };
/// assert!(service.handler(options).is_ok());
///
/// let broken = Options { host: "{{ .Tags".into(), ..Options::default() };
/// assert!(service.handler(broken).unwrap_err().to_string().starts_with("host: "));
/// ```
#[derive(Debug)]
pub struct BigpandaService {
    bigpanda: BigPanda,
}

#[async_trait]
impl Service for BigpandaService {
    const KIND: &'static str = "bigpanda";
    const DESCRIPTION: &'static str = "sends each alert to BigPanda's alerts API";
    const TICK: TickShape = TickShape::new("bigPanda").chained(&[
        Chained::value("appKey", "app-key"),
        Chained::value("host", "host"),
        Chained::value("primaryProperty", "primary-property"),
        Chained::value("secondaryProperty", "secondary-property"),
        Chained::pair("attribute", "attributes"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let bigpanda = BigPanda {
            config: init.config,
            clients: Clients::default(),
        };
        let service = BigpandaService { bigpanda };
        service.reconfigure(&service.bigpanda.config.get())?;
        Ok(service)
    }

    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        self.bigpanda
            .clients
            .get(&config.client())
            .map(|_| ())
            .map_err(|e| Invalid::new(e.to_string()))
    }

    /// Templates that do not parse and a URL that is not http(s) refuse the handler. Empty
    /// options follow the configured app key and URL, including later changes.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        if !options.url.is_empty() {
            klaxon_http::check_url("url", &options.url)?;
        }
        let parse = |name: &str, text: &str| {
            Template::parse(name, text).map_err(|e| Invalid::new(format!("{name}: {e}")))
        };
        // Kapacitor renders the host first, then the attributes, which may replace it.
        let mut attributes = vec![("host".to_owned(), parse("host", &options.host)?)];
        for (key, value) in &options.attributes {
            // A value that is not a string is JSON as Go encodes it (`5`, `true`).
            let attribute = match value {
                Value::String(text) => parse(key, text)?,
                other => Template::literal(klaxon_core::json::to_go_string(other)),
            };
            attributes.push((key.clone(), attribute));
        }
        Ok(Arc::new(BigpandaHandler {
            options,
            attributes,
            bigpanda: self.bigpanda.clone(),
        }))
    }

    fn global(&self) -> Global {
        let config = self.bigpanda.config.get();
        Global::from_keys(config.global, config.state_changes_only)
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let data = &options.event_data;
        self.bigpanda
            .send(Alert {
                url: "",
                app_key: &options.app_key,
                id: "",
                message: &options.message,
                details: "",
                level: options.level,
                time: options.timestamp,
                task_name: &data.task_name,
                name: &data.name,
                tags: &data.tags,
                fields: &data.fields,
                primary_property: &options.primary_property,
                secondary_property: &options.secondary_property,
                attributes: BTreeMap::from([("host".to_owned(), options.host.clone())]),
            })
            .await
    }
}

/// Sends each event to BigPanda.
#[derive(Debug)]
struct BigpandaHandler {
    options: Options,
    /// `host` first, then the attributes in key order.
    attributes: Vec<(String, Template)>,
    bigpanda: BigPanda,
}

#[async_trait]
impl Handler for BigpandaHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let dot = template_data(event);
        // As in Kapacitor, an attribute whose template fails while it runs is what it wrote
        // until then: an attribute that cannot be filled must not keep the alert from BigPanda.
        let attributes = self
            .attributes
            .iter()
            .map(|(key, attribute)| (key.clone(), attribute.render_lossy(&dot)))
            .collect();
        let fields = field_values(&event.data.fields);
        self.bigpanda
            .send(Alert {
                url: &self.options.url,
                app_key: &self.options.app_key,
                id: &event.state.id,
                message: &event.state.message,
                details: &event.state.details,
                level: event.state.level,
                time: event.state.time,
                task_name: &event.data.task_name,
                name: &event.data.name,
                tags: &event.data.tags,
                fields: &fields,
                primary_property: &self.options.primary_property,
                secondary_property: &self.options.secondary_property,
                attributes,
            })
            .await
    }
}
