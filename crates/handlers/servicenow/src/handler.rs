//! The servicenow service and handler: each event becomes one ServiceNow event, its severity
//! from the level, its message key the event ID unless a template says otherwise.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::template::{DotField, Template, dot};
use klaxon_core::{
    Chained, Event, EventState, Global, Handler, HandlerError, Init, Invalid, Level, Service,
    TickShape, async_trait,
};
use klaxon_http::{Client, ClientOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Config;
use crate::api::{Alert, ServiceNow};
use crate::go_print::go_print;

/// The options of one servicenow handler, Kapacitor's keys: the same type decodes handler
/// files, the HTTP API and TICKscript calls. `node`, `type`, `resource`, `metricName`,
/// `messageKey` and the string values of `additional_info` are Go templates over the alert's
/// `.ID`, `.Name`, `.TaskName`, `.Fields` and `.Tags`.
///
/// ```json
/// {"node": "{{ index .Tags \"host\" }}", "type": "CPU", "resource": "CPU-Total",
///  "metricName": "usage_user", "messageKey": "Alert: {{ .ID }}"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The events web service URL. Empty: the configured `[servicenow] url`.
    pub url: String,
    /// The user for HTTP Basic authentication. Empty: the configured one.
    pub username: String,
    /// The password for HTTP Basic authentication. Empty: the configured one.
    pub password: String,
    /// The event source. Empty: the configured `[servicenow] source`.
    pub source: String,
    /// The node (the host the event is about), a template.
    pub node: String,
    /// The event type, a template.
    #[serde(rename = "type")]
    pub metric_type: String,
    /// The resource (the part of the node the event is about), a template.
    pub resource: String,
    /// The metric name, a template.
    #[serde(rename = "metricName")]
    pub metric_name: String,
    /// The message key, which ServiceNow groups events by, a template. Empty: the alert ID.
    #[serde(rename = "messageKey")]
    pub message_key: String,
    /// More information, sent as a JSON object of strings: string values are templates, other
    /// values are printed as Go prints them (666 is "666").
    pub additional_info: BTreeMap<String, Value>,
}

/// The options of the service test, Kapacitor's.
///
/// ```json
/// {"alert_id": "1001", "message": "test servicenow message", "level": "CRITICAL",
///  "source": "Kapacitor", "node": "", "type": "", "resource": "", "metric_name": "",
///  "message_key": "", "additional_info": {}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The alert ID: the message key unless one is given.
    pub alert_id: String,
    /// The description.
    pub message: String,
    /// The level, which gives the severity: OK, INFO, WARNING or CRITICAL.
    pub level: Level,
    /// The event source; empty for the configured one.
    pub source: String,
    /// The node, a template.
    pub node: String,
    /// The event type, a template.
    #[serde(rename = "type")]
    pub metric_type: String,
    /// The resource, a template.
    pub resource: String,
    /// The metric name, a template.
    pub metric_name: String,
    /// The message key, a template; empty for the alert ID.
    pub message_key: String,
    /// More information.
    pub additional_info: BTreeMap<String, Value>,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            alert_id: "1001".to_owned(),
            message: "test servicenow message".to_owned(),
            level: Level::Critical,
            source: "Kapacitor".to_owned(),
            node: String::new(),
            metric_type: String::new(),
            resource: String::new(),
            metric_name: String::new(),
            message_key: String::new(),
            additional_info: BTreeMap::new(),
        }
    }
}

/// The `servicenow` handler kind: ServiceNow Event Management's events web service.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_servicenow::{Config, Options, ServicenowService};
///
/// let service = ServicenowService::new(Init::new(Config::default())).unwrap();
/// let options = Options { node: "{{ index .Tags \"host\" }}".into(), ..Options::default() };
/// assert!(service.handler(options).is_ok());
///
/// let broken = Options { message_key: "{{ .ID".into(), ..Options::default() };
/// assert!(service.handler(broken).unwrap_err().to_string().starts_with("messageKey: "));
/// ```
#[derive(Debug)]
pub struct ServicenowService {
    servicenow: ServiceNow,
}

#[async_trait]
impl Service for ServicenowService {
    const KIND: &'static str = "servicenow";
    const DESCRIPTION: &'static str = "sends each alert as an event to ServiceNow Event Management";
    const TICK: TickShape = TickShape::new("serviceNow").chained(&[
        // Kapacitor's property for the URL is `.URL()`; `.url()` is accepted too.
        Chained::value("URL", "url"),
        Chained::value("url", "url"),
        Chained::value("username", "username"),
        Chained::value("password", "password"),
        Chained::value("source", "source"),
        Chained::value("node", "node"),
        Chained::value("type", "type"),
        Chained::value("resource", "resource"),
        Chained::value("metricName", "metricName"),
        Chained::value("messageKey", "messageKey"),
        Chained::pair("additionalInfo", "additional_info"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(ServicenowService {
            servicenow: ServiceNow {
                config: init.config,
                client,
            },
        })
    }

    /// Templates that do not parse and a URL that is not http(s) refuse the handler. Empty
    /// options follow the configured URL, credentials and source, including later changes.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        if !options.url.is_empty() {
            klaxon_http::check_url("url", &options.url)?;
        }
        let templates = Templates::parse(&options)?;
        Ok(Arc::new(ServicenowHandler {
            options,
            templates,
            servicenow: self.servicenow.clone(),
        }))
    }

    fn global(&self) -> Global {
        let config = self.servicenow.config.get();
        Global::from_keys(config.global, config.state_changes_only)
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let as_handler = Options {
            source: options.source,
            node: options.node,
            metric_type: options.metric_type,
            resource: options.resource,
            metric_name: options.metric_name,
            message_key: options.message_key,
            additional_info: options.additional_info,
            ..Options::default()
        };
        let templates =
            Templates::parse(&as_handler).map_err(|e| HandlerError::permanent(e.message()))?;
        let event = Event {
            state: EventState {
                id: options.alert_id,
                message: options.message,
                level: options.level,
                ..EventState::default()
            },
            ..Event::default()
        };
        let alert = templates.alert(&as_handler, &event);
        self.servicenow.send(alert).await
    }
}

/// What Kapacitor's servicenow templates see as dot.
const DOT: [DotField; 5] = [
    DotField::Id,
    DotField::Name,
    DotField::TaskName,
    DotField::Fields,
    DotField::Tags,
];

/// The parsed templates of one handler.
#[derive(Debug)]
struct Templates {
    node: Template,
    metric_type: Template,
    resource: Template,
    metric_name: Template,
    message_key: Template,
    /// String values are templates; others are printed once, here.
    additional_info: Vec<(String, Info)>,
}

#[derive(Debug)]
enum Info {
    Template(Template),
    Printed(String),
}

impl Templates {
    fn parse(options: &Options) -> Result<Templates, Invalid> {
        let parse = |name: &str, source: &str| {
            Template::parse(name, source).map_err(|e| Invalid::new(format!("{name}: {e}")))
        };
        let mut additional_info = Vec::with_capacity(options.additional_info.len());
        for (key, value) in &options.additional_info {
            let info = match value {
                Value::String(source) => {
                    Info::Template(parse(&format!("additional_info.{key}"), source)?)
                }
                other => Info::Printed(go_print(other)),
            };
            additional_info.push((key.clone(), info));
        }
        Ok(Templates {
            node: parse("node", &options.node)?,
            metric_type: parse("type", &options.metric_type)?,
            resource: parse("resource", &options.resource)?,
            metric_name: parse("metricName", &options.metric_name)?,
            message_key: parse("messageKey", &options.message_key)?,
            additional_info,
        })
    }

    /// The alert for `event`. As in Kapacitor, a template that fails while it runs gives what it
    /// wrote until then: a field that cannot be filled must not keep the event from ServiceNow.
    fn alert<'a>(&self, options: &'a Options, event: &'a Event) -> Alert<'a> {
        let dot = dot(event, &DOT);
        let render = |template: &Template| template.render_lossy(&dot);
        Alert {
            url: &options.url,
            username: &options.username,
            password: &options.password,
            source: &options.source,
            node: render(&self.node),
            metric_type: render(&self.metric_type),
            resource: render(&self.resource),
            metric_name: render(&self.metric_name),
            message_key: render(&self.message_key),
            alert_id: &event.state.id,
            message: &event.state.message,
            level: event.state.level,
            additional_info: self
                .additional_info
                .iter()
                .map(|(key, info)| {
                    let text = match info {
                        Info::Template(template) => render(template),
                        Info::Printed(text) => text.clone(),
                    };
                    (key.clone(), text)
                })
                .collect(),
        }
    }
}

/// Sends each event to ServiceNow.
#[derive(Debug)]
struct ServicenowHandler {
    options: Options,
    templates: Templates,
    servicenow: ServiceNow,
}

#[async_trait]
impl Handler for ServicenowHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let alert = self.templates.alert(&self.options, event);
        self.servicenow.send(alert).await
    }
}
