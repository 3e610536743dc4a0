//! The pagerduty service and handler: each WARNING or CRITICAL event triggers a PagerDuty
//! incident keyed by the event ID, and each OK event resolves it.

use std::sync::Arc;

use klaxon_core::{
    Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Service, TickShape,
    async_trait,
};
use klaxon_http::{Client, ClientOptions};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::api::{Alert, PagerDuty};

/// The options of one pagerduty handler, Kapacitor's key: the same type decodes handler files,
/// the HTTP API and TICKscript calls.
///
/// ```json
/// {"service-key": "0123456789abcdef0123456789abcdef"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The service key (integration key) to send to. Empty: the configured
    /// `[pagerduty] service-key`, as it is when each alert is sent.
    pub service_key: String,
}

/// The options of the service test, Kapacitor's: an event of these values sent with the
/// configured service key.
///
/// ```json
/// {"incident-key": "testIncidentKey", "description": "test pagerduty message", "details": "",
///  "level": "CRITICAL"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestOptions {
    /// The incident key.
    pub incident_key: String,
    /// The description.
    pub description: String,
    /// The details.
    pub details: String,
    /// The level: WARNING and CRITICAL trigger, OK resolves, INFO is not sent.
    pub level: Level,
}

impl Default for TestOptions {
    /// Kapacitor's defaults, listed by `GET /kapacitor/v1/service-tests`.
    fn default() -> Self {
        TestOptions {
            incident_key: "testIncidentKey".to_owned(),
            description: "test pagerduty message".to_owned(),
            details: String::new(),
            level: Level::Critical,
        }
    }
}

/// The `pagerduty` handler kind: PagerDuty's Events API v1.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_pagerduty::{Config, Options, PagerdutyService};
///
/// let config = Config { enabled: true, service_key: "key".into(), ..Config::default() };
/// let service = PagerdutyService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options::default()).is_ok());
/// ```
#[derive(Debug)]
pub struct PagerdutyService {
    pagerduty: PagerDuty,
}

#[async_trait]
impl Service for PagerdutyService {
    const KIND: &'static str = "pagerduty";
    const DESCRIPTION: &'static str =
        "triggers and resolves PagerDuty incidents through the Events API v1";
    const TICK: TickShape =
        TickShape::new("pagerDuty").chained(&[Chained::value("serviceKey", "service-key")]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(PagerdutyService {
            pagerduty: PagerDuty {
                config: init.config,
                client,
                client_url: init.server_url,
            },
        })
    }

    /// An empty service key (the default options) follows the configured one, including later
    /// changes to it.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        Ok(Arc::new(PagerdutyHandler {
            service_key: options.service_key,
            pagerduty: self.pagerduty.clone(),
        }))
    }

    fn global(&self) -> Global {
        // Kapacitor's pagerduty has `global` but no `state-changes-only`.
        Global::from_keys(self.pagerduty.config.get().global, false)
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        self.pagerduty
            .send(Alert {
                service_key: "",
                incident_key: &options.incident_key,
                description: &options.description,
                level: options.level,
                details: &options.details,
            })
            .await
    }
}

/// Sends each event to PagerDuty with one service key.
#[derive(Debug)]
struct PagerdutyHandler {
    service_key: String,
    pagerduty: PagerDuty,
}

#[async_trait]
impl Handler for PagerdutyHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.pagerduty
            .send(Alert {
                service_key: &self.service_key,
                incident_key: &event.state.id,
                description: &event.state.message,
                level: event.state.level,
                details: &event.state.details,
            })
            .await
    }
}
