//! The sensu service and handler: each event becomes a check result named by the event ID, with
//! the event's message as output and its level as status.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::template::Template;
use klaxon_core::{
    Chained, Event, Handler, HandlerError, Init, Invalid, Level, Live, Service, TickShape,
    async_trait,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Config;
use crate::socket::{self, CheckResult};

/// The options of one sensu handler, Kapacitor's keys: the same type decodes handler files, the
/// HTTP API and TICKscript calls.
///
/// ```json
/// {"source": "Kapacitor", "handlers": ["tcp", "transport"], "metadata": {"key1": "value1"}}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The JIT source, a Go template over the alert (`{{ index .Tags "host" }}`). Empty: the
    /// configured `[sensu] source`, as it is when each alert is sent.
    pub source: String,
    /// The Sensu handlers. Empty: the configured `[sensu] handlers`.
    pub handlers: Vec<String>,
    /// More keys of the check result, with their values as given (they cannot replace name,
    /// source, output, status or handlers).
    pub metadata: BTreeMap<String, Value>,
}

/// The options of the service test, Kapacitor's.
///
/// ```json
/// {"name": "testName", "source": "Kapacitor", "output": "testOutput", "handlers": [],
///  "metadata": {}, "level": "CRITICAL"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The check name.
    pub name: String,
    /// The JIT source (not a template here); empty for the configured one.
    pub source: String,
    /// The check output.
    pub output: String,
    /// The Sensu handlers; empty for the configured ones.
    pub handlers: Vec<String>,
    /// More keys of the check result.
    pub metadata: BTreeMap<String, Value>,
    /// The level, which gives the status: OK, INFO, WARNING or CRITICAL.
    pub level: Level,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            name: "testName".to_owned(),
            source: "Kapacitor".to_owned(),
            output: "testOutput".to_owned(),
            handlers: Vec::new(),
            metadata: BTreeMap::new(),
            level: Level::Critical,
        }
    }
}

/// The `sensu` handler kind: Sensu's client socket (Sensu 1.x "JIT" check results).
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_sensu::{Config, Options, SensuService};
///
/// let config = Config { enabled: true, addr: "sensu-client:3030".into(), ..Config::default() };
/// let service = SensuService::new(Init::new(config)).unwrap();
/// let options = Options { source: "{{ index .Tags \"host\" }}".into(), ..Options::default() };
/// assert!(service.handler(options).is_ok());
///
/// let broken = Options { source: "{{ .Tags".into(), ..Options::default() };
/// assert!(service.handler(broken).unwrap_err().to_string().starts_with("source: "));
/// ```
#[derive(Debug)]
pub struct SensuService {
    config: Live<Config>,
}

#[async_trait]
impl Service for SensuService {
    const KIND: &'static str = "sensu";
    const DESCRIPTION: &'static str =
        "sends each alert as a check result to a Sensu client's socket";
    const TICK: TickShape = TickShape::new("sensu").chained(&[
        Chained::value("source", "source"),
        Chained::list("handlers", "handlers"),
        Chained::pair("metadata", "metadata"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        Ok(SensuService {
            config: init.config,
        })
    }

    /// A template that does not parse refuses the handler. Empty source and handlers (the
    /// default options) follow the configured ones, including later changes to them.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        let source = Template::parse("source", &options.source)
            .map_err(|e| Invalid::new(format!("source: {e}")))?;
        Ok(Arc::new(SensuHandler {
            source,
            handlers: options.handlers,
            metadata: options.metadata,
            config: self.config.clone(),
        }))
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        socket::send(
            &self.config,
            CheckResult {
                name: &options.name,
                source: &options.source,
                output: &options.output,
                handlers: &options.handlers,
                metadata: &options.metadata,
                level: options.level,
            },
        )
        .await
    }
}

/// Sends each event to the Sensu client as a check result.
#[derive(Debug)]
struct SensuHandler {
    source: Template,
    handlers: Vec<String>,
    metadata: BTreeMap<String, Value>,
    config: Live<Config>,
}

#[async_trait]
impl Handler for SensuHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let source = self.source.render(event).map_err(|e| {
            HandlerError::permanent(format!("failed to evaluate Sensu source template: {e}"))
        })?;
        socket::send(
            &self.config,
            CheckResult {
                name: &event.state.id,
                source: &source,
                output: &event.state.message,
                handlers: &self.handlers,
                metadata: &self.metadata,
                level: event.state.level,
            },
        )
        .await
    }
}
