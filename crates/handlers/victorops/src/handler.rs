//! The victorops service and handler: each event becomes a VictorOps alert (`message_type`
//! INFO, WARNING, CRITICAL) or recovery (`RECOVERY`) of the entity named by the event ID.

use std::sync::Arc;

use klaxon_core::{
    AlertResult, Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Service,
    TickShape, Timestamp, async_trait,
};
use klaxon_http::{Client, ClientOptions};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::api::{Alert, VictorOps};

/// The options of one victorops handler, Kapacitor's key: the same type decodes handler files,
/// the HTTP API and TICKscript calls.
///
/// ```json
/// {"routing-key": "ops_team"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The routing key. Empty: the configured `[victorops] routing-key`, as it is when each
    /// alert is sent.
    pub routing_key: String,
}

/// The options of the service test, Kapacitor's (camel case, as Kapacitor spells them).
///
/// ```json
/// {"routingKey": "", "messageType": "CRITICAL", "message": "test victorops message",
///  "entityID": "testEntityID"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The routing key; defaults to the configured one.
    #[serde(rename = "routingKey")]
    pub routing_key: String,
    /// VictorOps' message type, sent as it is: CRITICAL, WARNING, INFO, RECOVERY...
    #[serde(rename = "messageType")]
    pub message_type: String,
    /// The state message.
    pub message: String,
    /// The entity ID.
    #[serde(rename = "entityID")]
    pub entity_id: String,
}

/// The `victorops` handler kind: VictorOps' (Splunk On-Call's) REST integration.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_victorops::{Config, Options, VictoropsService};
///
/// let config = Config { enabled: true, api_key: "key".into(), ..Config::default() };
/// let service = VictoropsService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options { routing_key: "ops_team".into() }).is_ok());
/// ```
#[derive(Debug)]
pub struct VictoropsService {
    victorops: VictorOps,
}

#[async_trait]
impl Service for VictoropsService {
    const KIND: &'static str = "victorops";
    const DESCRIPTION: &'static str =
        "sends alerts and recoveries to VictorOps (Splunk On-Call) through its REST integration";
    const TICK: TickShape =
        TickShape::new("victorOps").chained(&[Chained::value("routingKey", "routing-key")]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(VictoropsService {
            victorops: VictorOps {
                config: init.config,
                client,
            },
        })
    }

    /// An empty routing key (the default options) follows the configured one, including later
    /// changes to it.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        Ok(Arc::new(VictoropsHandler {
            routing_key: options.routing_key,
            victorops: self.victorops.clone(),
        }))
    }

    fn global(&self) -> Global {
        // Kapacitor's victorops has `global` but no `state-changes-only`.
        Global::from_keys(self.victorops.config.get().global, false)
    }

    fn test_options(&self) -> TestOptions {
        TestOptions {
            routing_key: self.victorops.config.get().routing_key.clone(),
            message_type: "CRITICAL".to_owned(),
            message: "test victorops message".to_owned(),
            entity_id: "testEntityID".to_owned(),
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        self.victorops
            .send(Alert {
                routing_key: &options.routing_key,
                message_type: &options.message_type,
                message: &options.message,
                entity_id: &options.entity_id,
                time: Timestamp::now(),
                result: &AlertResult::default(),
            })
            .await
    }
}

/// Sends each event to VictorOps with one routing key.
#[derive(Debug)]
struct VictoropsHandler {
    routing_key: String,
    victorops: VictorOps,
}

#[async_trait]
impl Handler for VictoropsHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let message_type = match event.state.level {
            Level::Ok => "RECOVERY",
            level => level.as_str(),
        };
        self.victorops
            .send(Alert {
                routing_key: &self.routing_key,
                message_type,
                message: &event.state.message,
                entity_id: &event.state.id,
                time: event.state.time,
                result: &event.data.result,
            })
            .await
    }
}
