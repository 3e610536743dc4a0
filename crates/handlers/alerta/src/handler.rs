//! The alerta service and handler: each event becomes an Alerta alert whose resource, event,
//! environment, group, value, services, correlated events and attributes are the handler's
//! templates rendered for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::template::{DotField, Template, Value, dot, template_data};
use klaxon_core::{
    Chained, Event, GoDuration, Handler, HandlerError, Init, Invalid, Level, Service, TickShape,
    async_trait,
};
use klaxon_http::Clients;
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::api::{Alert, Alerta};

/// Alerta's alert timeout when neither the handler nor `[alerta] timeout` names one.
const DEFAULT_TIMEOUT: GoDuration = GoDuration::from_secs(24 * 60 * 60);

/// The options of one alerta handler, Kapacitor's keys: the same type decodes handler files, the
/// HTTP API and TICKscript calls. Every string but the token, its prefix and the origin is a Go
/// template over the alert.
///
/// ```json
/// {"resource": "{{ .Name }}", "event": "{{ .ID }}", "environment": "production",
///  "correlate": ["service1", "service2"], "attributes": {"key1": "value1", "key2": 8}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The API token. Empty: the configured [alerta] token.
    pub token: String,
    /// The word before the token in the Authorization header. Empty: the configured
    /// token-prefix, else "Bearer".
    pub token_prefix: String,
    /// The resource, a template over the alert (.ID, .Message, .Level, .Time, .Duration,
    /// .Details, .Name, .TaskName, .Group, .Tags, .Fields). Required.
    pub resource: String,
    /// The event name, a template over the alert's ID data (.ID, .Name, .TaskName, .Group,
    /// .Tags). Required.
    pub event: String,
    /// The environment, a template. Rendering empty: the configured [alerta] environment.
    pub environment: String,
    /// The group, a template.
    pub group: String,
    /// The value, a template.
    pub value: String,
    /// The origin. Empty: the configured [alerta] origin.
    pub origin: String,
    /// The affected services, each a template. Empty: the alert's measurement.
    pub service: Vec<String>,
    /// The correlated events, each a template. Empty: the alert's measurement.
    pub correlate: Vec<String>,
    /// More attributes: strings are templates, other values are sent as they are.
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// How long Alerta keeps the alert open without an update, as a duration such as "24h" (or
    /// nanoseconds, as Kapacitor's handler files write it); sent in whole seconds.
    pub timeout: GoDuration,
}

impl Default for Options {
    /// Kapacitor's defaults.
    fn default() -> Self {
        Options {
            token: String::new(),
            token_prefix: String::new(),
            resource: "{{ .Name }}".to_owned(),
            event: "{{ .ID }}".to_owned(),
            environment: String::new(),
            group: "{{ .Group }}".to_owned(),
            value: String::new(),
            origin: String::new(),
            service: Vec::new(),
            correlate: Vec::new(),
            attributes: BTreeMap::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The options of the service test, Kapacitor's: one alert of these values (not templates),
/// sent with the configured token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The resource.
    pub resource: String,
    /// The event.
    pub event: String,
    /// The environment; empty: the configured one.
    pub environment: String,
    /// The severity, as Alerta names it ("critical", "warning", "ok"...).
    pub severity: String,
    /// The group.
    pub group: String,
    /// The value.
    pub value: String,
    /// The text.
    pub message: String,
    /// The origin; empty: the configured one.
    pub origin: String,
    /// The services.
    pub service: Vec<String>,
    /// The correlated events.
    pub correlate: Vec<String>,
    /// The attributes.
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// The alert's timeout.
    pub timeout: GoDuration,
}

impl Default for TestOptions {
    /// Kapacitor's defaults, listed by `GET /kapacitor/v1/service-tests`.
    fn default() -> Self {
        TestOptions {
            resource: "testResource".to_owned(),
            event: "testEvent".to_owned(),
            environment: String::new(),
            severity: "critical".to_owned(),
            group: "testGroup".to_owned(),
            value: "testValue".to_owned(),
            message: "test alerta message".to_owned(),
            origin: String::new(),
            service: vec!["testServiceA".to_owned(), "testServiceB".to_owned()],
            correlate: vec!["testServiceX".to_owned(), "testServiceY".to_owned()],
            attributes: BTreeMap::from([
                ("testAttributeA".to_owned(), serde_json::json!("A")),
                ("testAttributeB".to_owned(), serde_json::json!(true)),
                ("testAttributeC".to_owned(), serde_json::json!(9001.0)),
            ]),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The `alerta` handler kind: raises and updates Alerta alerts.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_alerta::{AlertaService, Config, Options};
///
/// let config = Config { enabled: true, url: "http://alerta.example.com/api".into(), ..Config::default() };
/// let service = AlertaService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options::default()).is_ok());
///
/// let options = Options { resource: "{{ .Name ".into(), ..Options::default() };
/// let err = service.handler(options).unwrap_err();
/// assert!(err.to_string().starts_with(r#"option "resource": "{{ .Name " is not a valid template"#));
/// ```
#[derive(Debug)]
pub struct AlertaService {
    alerta: Alerta,
}

#[async_trait]
impl Service for AlertaService {
    const KIND: &'static str = "alerta";
    const DESCRIPTION: &'static str = "raises and updates Alerta alerts";
    // Kapacitor's properties, and the documentation's `.tokenPrefix()`, `.service()` and
    // `.correlate()`, which Kapacitor lacks.
    const TICK: TickShape = TickShape::new("alerta").chained(&[
        Chained::value("token", "token"),
        Chained::value("tokenPrefix", "token-prefix"),
        Chained::value("resource", "resource"),
        Chained::value("event", "event"),
        Chained::value("environment", "environment"),
        Chained::value("group", "group"),
        Chained::value("value", "value"),
        Chained::value("origin", "origin"),
        Chained::list("services", "service"),
        Chained::list("service", "service"),
        Chained::list("correlated", "correlate"),
        Chained::list("correlate", "correlate"),
        Chained::pair("attribute", "attributes"),
        Chained::value("timeout", "timeout"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        Ok(AlertaService {
            alerta: Alerta {
                config: init.config,
                clients: Clients::default(),
            },
        })
    }

    /// Kapacitor's defaults, with `[alerta] timeout` when it is set.
    fn default_options(&self) -> Options {
        let timeout = self.alerta.config.get().timeout;
        Options {
            timeout: if timeout > GoDuration::ZERO {
                timeout
            } else {
                DEFAULT_TIMEOUT
            },
            ..Options::default()
        }
    }

    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        if options.timeout < GoDuration::ZERO {
            return Err(Invalid::new(format!(
                "option \"timeout\" must not be negative, got {}",
                options.timeout
            )));
        }
        let list = |name: &str, sources: &[String]| {
            sources
                .iter()
                .enumerate()
                .map(|(i, source)| parse_option(&format!("{name}[{i}]"), source))
                .collect::<Result<Vec<_>, _>>()
        };
        let attributes = options
            .attributes
            .iter()
            .map(|(key, value)| {
                let attribute = match value {
                    serde_json::Value::String(source) => {
                        Attribute::Template(parse_option(&format!("attributes.{key}"), source)?)
                    }
                    other => Attribute::Value(other.clone()),
                };
                Ok((key.clone(), attribute))
            })
            .collect::<Result<_, Invalid>>()?;
        Ok(Arc::new(AlertaHandler {
            resource: parse_option("resource", &options.resource)?,
            event: parse_option("event", &options.event)?,
            environment: parse_option("environment", &options.environment)?,
            group: parse_option("group", &options.group)?,
            value: parse_option("value", &options.value)?,
            service: list("service", &options.service)?,
            correlate: list("correlate", &options.correlate)?,
            attributes,
            token: options.token,
            token_prefix: options.token_prefix,
            origin: options.origin,
            timeout: options.timeout,
            alerta: self.alerta.clone(),
        }))
    }

    fn test_options(&self) -> TestOptions {
        let config = self.alerta.config.get();
        TestOptions {
            environment: config.environment.clone(),
            origin: config.origin.clone(),
            ..TestOptions::default()
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        self.alerta
            .send(Alert {
                token: "",
                token_prefix: "",
                resource: &options.resource,
                event: &options.event,
                environment: &options.environment,
                severity: &options.severity,
                group: &options.group,
                value: &options.value,
                text: &options.message,
                origin: &options.origin,
                service: &options.service,
                correlate: &options.correlate,
                attributes: &options.attributes,
                timeout: options.timeout,
                tags: &BTreeMap::new(),
                raw_data: &klaxon_core::AlertResult::default(),
            })
            .await
    }
}

/// What Kapacitor's `event` template sees: the alert ID's data, `ID`, `Name`, `TaskName`,
/// `Group` and `Tags`; the other templates see all of `alert.TemplateData`.
const ID_DATA: [DotField; 5] = [
    DotField::Id,
    DotField::Name,
    DotField::TaskName,
    DotField::Group,
    DotField::Tags,
];

/// Parses the template of the option `name` (`resource`, `service[1]`, `attributes.key`...);
/// refuses one that does not parse, naming it.
fn parse_option(name: &str, source: &str) -> Result<Template, Invalid> {
    Template::parse(name, source).map_err(|e| {
        Invalid::new(format!(
            "option \"{name}\": {source:?} is not a valid template: {e}"
        ))
    })
}

/// The template's output for `data`. A template that fails (a function applied to what it
/// cannot take...) fails the delivery: a retry would fail the same way.
fn render(template: &Template, data: &Value) -> Result<String, HandlerError> {
    template.render_with(data).map_err(|e| {
        HandlerError::permanent(format!(
            "cannot render {} {:?}: {e}",
            template.name(),
            template.source()
        ))
    })
}

/// An attribute of a handler: a template (a string), or a value sent as it is.
#[derive(Debug)]
enum Attribute {
    Template(Template),
    Value(serde_json::Value),
}

/// Sends each event to Alerta with the handler's templates.
#[derive(Debug)]
struct AlertaHandler {
    resource: Template,
    event: Template,
    environment: Template,
    group: Template,
    value: Template,
    service: Vec<Template>,
    correlate: Vec<Template>,
    attributes: BTreeMap<String, Attribute>,
    token: String,
    token_prefix: String,
    origin: String,
    timeout: GoDuration,
    alerta: Alerta,
}

#[async_trait]
impl Handler for AlertaHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let data = template_data(event);
        // Empty lists are the alert's measurement, as in Kapacitor.
        let list = |templates: &[Template]| -> Result<Vec<String>, HandlerError> {
            if templates.is_empty() {
                return Ok(vec![event.data.name.clone()]);
            }
            templates.iter().map(|t| render(t, &data)).collect()
        };
        let attributes = self
            .attributes
            .iter()
            .map(|(key, attribute)| {
                let value = match attribute {
                    Attribute::Template(template) => {
                        serde_json::Value::String(render(template, &data)?)
                    }
                    Attribute::Value(value) => value.clone(),
                };
                Ok((key.clone(), value))
            })
            .collect::<Result<_, HandlerError>>()?;
        self.alerta
            .send(Alert {
                token: &self.token,
                token_prefix: &self.token_prefix,
                resource: &render(&self.resource, &data)?,
                event: &render(&self.event, &dot(event, &ID_DATA))?,
                environment: &render(&self.environment, &data)?,
                severity: severity(event.state.level),
                group: &render(&self.group, &data)?,
                value: &render(&self.value, &data)?,
                text: &event.state.message,
                origin: &self.origin,
                service: &list(&self.service)?,
                correlate: &list(&self.correlate)?,
                attributes: &attributes,
                timeout: self.timeout,
                tags: &event.data.tags,
                raw_data: &event.data.result,
            })
            .await
    }
}

/// Alerta's severity of a level, as Kapacitor maps it.
fn severity(level: Level) -> &'static str {
    match level {
        Level::Ok => "ok",
        Level::Info => "informational",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}
