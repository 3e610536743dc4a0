//! The zenoss service and handler: each event becomes one Zenoss event, added through the JSON
//! router, its severity from `[zenoss] severity-map`.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::template::{self, DotField, Template};
use klaxon_core::{
    Chained, Event, EventState, Global, Handler, HandlerError, Init, Invalid, Level, Service,
    TickShape, async_trait,
};
use klaxon_http::{Client, ClientOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Config;
use crate::api::{Alert, Zenoss, custom_text, sorted};

/// The options of one zenoss handler, Kapacitor's keys: the same type decodes handler files,
/// the HTTP API and TICKscript calls. The string options but the router's four are Go
/// templates over the alert.
///
/// ```json
/// {"summary": "High CPU usage", "device": "{{ index .Tags \"host\" }}", "component": "CPU",
///  "eventClass": "/App", "customField": {"ticks": 33}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The router (the request's "action"). Empty: `[zenoss] action`.
    pub action: String,
    /// The router method. Empty: `[zenoss] method`.
    pub method: String,
    /// The request type. Empty: `[zenoss] type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The request's transaction ID. 0: `[zenoss] tid`.
    pub tid: i64,
    /// The event summary, a template. Empty: the alert's message.
    pub summary: String,
    /// The device, a template.
    pub device: String,
    /// The component, a template.
    pub component: String,
    /// The event class key, a template (Kapacitor's key).
    #[serde(rename = "eventClassKey")]
    pub event_class_key: String,
    /// The event class key under the name Kapacitor's documentation gives it.
    pub evclasskey: String,
    /// The event class, a template such as "/App" (Kapacitor's key).
    #[serde(rename = "eventClass")]
    pub event_class: String,
    /// The event class under the name Kapacitor's documentation gives it.
    pub evclass: String,
    /// The collector, a template. Empty: `[zenoss] collector`.
    pub collector: String,
    /// The event message, a template.
    pub message: String,
    /// More fields of the event, replacing any of the above: strings are templates, and a
    /// string that renders as JSON ("{...}", "[...]") is sent as that JSON; other values as
    /// they are.
    #[serde(rename = "customField")]
    pub custom_field: BTreeMap<String, Value>,
    /// The JSON router URL. Empty: `[zenoss] url`.
    pub url: String,
    /// The user for Basic authentication. Empty: `[zenoss] username`.
    pub username: String,
    /// The password for Basic authentication. Empty: `[zenoss] password`.
    pub password: String,
}

/// The options of the service test, Kapacitor's.
///
/// ```json
/// {"alert_id": "1001", "level": "CRITICAL", "message": "test zenoss message",
///  "action": "EventsRouter", "method": "add_event", "type": "rpc", "tid": 1, "summary": "",
///  "device": "", "component": "", "eventclasskey": "", "eventclass": "",
///  "collector": "Kapacitor", "custom_fields": {}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The alert ID.
    pub alert_id: String,
    /// The level, which gives the severity: OK, INFO, WARNING or CRITICAL.
    pub level: Level,
    /// The alert message: the summary unless one is given.
    pub message: String,
    /// The router.
    pub action: String,
    /// The router method.
    pub method: String,
    /// The request type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The transaction ID.
    pub tid: i64,
    /// The summary, a template.
    pub summary: String,
    /// The device, a template.
    pub device: String,
    /// The component, a template.
    pub component: String,
    /// The event class key, a template.
    pub eventclasskey: String,
    /// The event class, a template.
    pub eventclass: String,
    /// The collector, a template.
    pub collector: String,
    /// More fields of the event.
    pub custom_fields: BTreeMap<String, Value>,
}

/// The `zenoss` handler kind: Zenoss' JSON router (`EventsRouter.add_event`).
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_zenoss::{Config, Options, ZenossService};
///
/// let service = ZenossService::new(Init::new(Config::default())).unwrap();
/// let options = Options { device: "{{ index .Tags \"host\" }}".into(), ..Options::default() };
/// assert!(service.handler(options).is_ok());
///
/// let broken = Options { summary: "{{ .ID".into(), ..Options::default() };
/// assert!(service.handler(broken).unwrap_err().to_string().starts_with("summary: "));
/// ```
#[derive(Debug)]
pub struct ZenossService {
    zenoss: Zenoss,
}

#[async_trait]
impl Service for ZenossService {
    const KIND: &'static str = "zenoss";
    const DESCRIPTION: &'static str =
        "sends each alert as an event to Zenoss through its JSON router";
    const TICK: TickShape = TickShape::new("zenoss").chained(&[
        Chained::value("action", "action"),
        Chained::value("method", "method"),
        Chained::value("type", "type"),
        Chained::value("tid", "tid"),
        Chained::value("summary", "summary"),
        Chained::value("device", "device"),
        Chained::value("component", "component"),
        Chained::value("eventClassKey", "eventClassKey"),
        Chained::value("eventClass", "eventClass"),
        // The documentation's names, which Kapacitor does not know.
        Chained::value("evclasskey", "evclasskey"),
        Chained::value("evclass", "evclass"),
        Chained::value("collector", "collector"),
        // After .zenoss(), .message() is the event's message, as in Kapacitor.
        Chained::value("message", "message"),
        Chained::pair("customField", "customField"),
        Chained::value("URL", "url"),
        Chained::value("url", "url"),
        Chained::value("username", "username"),
        Chained::value("password", "password"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(ZenossService {
            zenoss: Zenoss {
                config: init.config,
                client,
            },
        })
    }

    /// Templates that do not parse, a URL that is not http(s) and an event class (key) given
    /// under both its names refuse the handler. Empty options follow the configuration,
    /// including later changes.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        if !options.url.is_empty() {
            klaxon_http::check_url("url", &options.url)?;
        }
        let event_class_key = one_of(
            ("eventClassKey", &options.event_class_key),
            ("evclasskey", &options.evclasskey),
        )?;
        let event_class = one_of(
            ("eventClass", &options.event_class),
            ("evclass", &options.evclass),
        )?;
        let templates = Templates::parse(
            &[
                ("summary", options.summary.as_str()),
                ("device", options.device.as_str()),
                ("component", options.component.as_str()),
                ("evclasskey", event_class_key),
                ("evclass", event_class),
                ("collector", options.collector.as_str()),
                ("message", options.message.as_str()),
            ],
            &options.custom_field,
        )
        .map_err(Invalid::new)?;
        Ok(Arc::new(ZenossHandler {
            options,
            templates,
            zenoss: self.zenoss.clone(),
        }))
    }

    fn global(&self) -> Global {
        let config = self.zenoss.config.get();
        Global::from_keys(config.global, config.state_changes_only)
    }

    fn test_options(&self) -> TestOptions {
        let config = self.zenoss.config.get();
        TestOptions {
            alert_id: "1001".to_owned(),
            level: Level::Critical,
            message: "test zenoss message".to_owned(),
            action: config.action.clone(),
            method: config.method.clone(),
            event_type: config.event_type.clone(),
            tid: config.tid,
            collector: config.collector.clone(),
            ..TestOptions::default()
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let templates = Templates::parse(
            &[
                ("summary", options.summary.as_str()),
                ("device", options.device.as_str()),
                ("component", options.component.as_str()),
                ("evclasskey", options.eventclasskey.as_str()),
                ("evclass", options.eventclass.as_str()),
                ("collector", options.collector.as_str()),
                ("message", ""),
            ],
            &options.custom_fields,
        )
        .map_err(HandlerError::permanent)?;
        // The test's alert has no data: no name, task or tags.
        let event = Event {
            state: EventState {
                id: options.alert_id.clone(),
                message: options.message.clone(),
                level: options.level,
                ..EventState::default()
            },
            ..Event::default()
        };
        let router = Router {
            action: &options.action,
            method: &options.method,
            event_type: &options.event_type,
            tid: options.tid,
        };
        let alert = templates.alert(&router, &event.state, &template::dot(&event, &DOT));
        self.zenoss.send(alert).await
    }
}

/// The value of an option that has two names, refusing two different values.
fn one_of<'a>(first: (&str, &'a String), second: (&str, &'a String)) -> Result<&'a str, Invalid> {
    match (first.1.as_str(), second.1.as_str()) {
        (a, b) if !a.is_empty() && !b.is_empty() && a != b => Err(Invalid::new(format!(
            "{} and {} are the same option, given {a:?} and {b:?}; set one",
            first.0, second.0
        ))),
        ("", b) => Ok(b),
        (a, _) => Ok(a),
    }
}

/// The router fields of a request; empty (0) for the configured ones.
#[derive(Debug)]
struct Router<'a> {
    action: &'a str,
    method: &'a str,
    event_type: &'a str,
    tid: i64,
}

/// The parsed templates of one handler.
#[derive(Debug)]
struct Templates {
    summary: Template,
    device: Template,
    component: Template,
    event_class_key: Template,
    event_class: Template,
    collector: Template,
    message: Template,
    /// String values are templates; others are sent as they are.
    custom: Vec<(String, Custom)>,
}

#[derive(Debug)]
enum Custom {
    Template(Template),
    Value(Value),
}

/// What Kapacitor's zenoss templates see as dot.
const DOT: [DotField; 10] = [
    DotField::Name,
    DotField::TaskName,
    DotField::Id,
    DotField::Message,
    DotField::Details,
    DotField::Time,
    DotField::Duration,
    DotField::Level,
    DotField::Recoverable,
    DotField::Tags,
];

/// Parses the option `name`'s `text`; the error names the option and gives gotmpl's reason.
fn parse(name: &str, text: &str) -> Result<Template, String> {
    Template::parse(name, text).map_err(|e| format!("{name}: {e}"))
}

impl Templates {
    /// Parses the seven event templates, in the order of [`Templates`]' fields, and the custom
    /// fields.
    fn parse(
        fields: &[(&str, &str); 7],
        custom: &BTreeMap<String, Value>,
    ) -> Result<Templates, String> {
        let [summary, device, component, key, class, collector, message] =
            fields.map(|(name, text)| parse(name, text));
        let mut parsed = Vec::with_capacity(custom.len());
        for (key, value) in custom {
            let custom = match value {
                Value::String(text) => {
                    Custom::Template(parse(&format!("customField.{key}"), text)?)
                }
                other => Custom::Value(sorted(other.clone())),
            };
            parsed.push((key.clone(), custom));
        }
        Ok(Templates {
            summary: summary?,
            device: device?,
            component: component?,
            event_class_key: key?,
            event_class: class?,
            collector: collector?,
            message: message?,
            custom: parsed,
        })
    }

    /// The alert for `state`, whose template data is `dot`. As in Kapacitor, a template that
    /// fails while it runs gives what it wrote until then: a field that cannot be filled must not
    /// keep the event from Zenoss.
    fn alert<'a>(
        &self,
        router: &Router<'a>,
        state: &'a EventState,
        dot: &template::Value,
    ) -> Alert<'a> {
        Alert {
            action: router.action,
            method: router.method,
            event_type: router.event_type,
            tid: router.tid,
            summary: self.summary.render_lossy(dot),
            device: self.device.render_lossy(dot),
            component: self.component.render_lossy(dot),
            event_class_key: self.event_class_key.render_lossy(dot),
            event_class: self.event_class.render_lossy(dot),
            collector: self.collector.render_lossy(dot),
            message: self.message.render_lossy(dot),
            alert_message: &state.message,
            level: state.level,
            custom: self
                .custom
                .iter()
                .map(|(key, custom)| {
                    let value = match custom {
                        Custom::Template(template) => custom_text(template.render_lossy(dot)),
                        Custom::Value(value) => value.clone(),
                    };
                    (key.clone(), value)
                })
                .collect(),
            ..Alert::default()
        }
    }
}

/// Sends each event to Zenoss.
#[derive(Debug)]
struct ZenossHandler {
    options: Options,
    templates: Templates,
    zenoss: Zenoss,
}

#[async_trait]
impl Handler for ZenossHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let options = &self.options;
        let router = Router {
            action: &options.action,
            method: &options.method,
            event_type: &options.event_type,
            tid: options.tid,
        };
        let alert = Alert {
            url: &options.url,
            username: &options.username,
            password: &options.password,
            ..self
                .templates
                .alert(&router, &event.state, &template::dot(event, &DOT))
        };
        self.zenoss.send(alert).await
    }
}
