//! The opsgenie service and handler: each INFO, WARNING or CRITICAL event creates an OpsGenie
//! alert with the event ID as alias; each OK event posts the recovery to the recovery URL.

use std::sync::Arc;

use klaxon_core::{
    AlertResult, Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Service,
    TickShape, async_trait,
};
use klaxon_http::{Client, ClientOptions};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::api::{Alert, OpsGenie};

/// The options of one opsgenie handler, Kapacitor's keys: the same type decodes handler files,
/// the HTTP API and TICKscript calls.
///
/// ```json
/// {"teams-list": ["team1", "team2"], "recipients-list": ["recipient1"]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The teams to alert. Empty: the configured `[opsgenie] teams`.
    pub teams_list: Vec<String>,
    /// The recipients to alert. Empty: the configured `[opsgenie] recipients`.
    pub recipients_list: Vec<String>,
}

/// The options of the service test, Kapacitor's: a message of this type sent to these teams and
/// recipients.
///
/// ```json
/// {"teams": null, "recipients": null, "message-type": "CRITICAL",
///  "message": "test opsgenie message", "entity-id": "testEntityID"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The teams; none for the configured ones.
    pub teams: Option<Vec<String>>,
    /// The recipients; none for the configured ones.
    pub recipients: Option<Vec<String>>,
    /// Sent as the `Level` detail: CRITICAL, WARNING, INFO, or RECOVERY, which goes to the
    /// recovery URL.
    #[serde(rename = "message-type")]
    pub message_type: String,
    /// The message.
    pub message: String,
    /// The entity, also the alert's alias.
    #[serde(rename = "entity-id")]
    pub entity_id: String,
}

/// The `opsgenie` handler kind: OpsGenie's Alert API v1.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_opsgenie::{Config, OpsgenieService, Options};
///
/// let config = Config { enabled: true, api_key: "key".into(), ..Config::default() };
/// let service = OpsgenieService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options { teams_list: vec!["ops".into()], ..Options::default() }).is_ok());
/// ```
#[derive(Debug)]
pub struct OpsgenieService {
    opsgenie: OpsGenie,
}

/// `.opsGenie()`'s chained properties.
const CHAINED: &[Chained] = &[
    Chained::list("teams", "teams-list"),
    Chained::list("recipients", "recipients-list"),
];

#[async_trait]
impl Service for OpsgenieService {
    const KIND: &'static str = "opsgenie";
    const DESCRIPTION: &'static str =
        "creates OpsGenie alerts and notes their recoveries (Alert API v1)";
    const TICK: TickShape = TickShape::new("opsGenie").chained(CHAINED);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(OpsgenieService {
            opsgenie: OpsGenie {
                config: init.config,
                client,
            },
        })
    }

    /// Empty lists (the default options) follow the configured ones, including later changes to
    /// them.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        Ok(Arc::new(OpsgenieHandler {
            options,
            opsgenie: self.opsgenie.clone(),
        }))
    }

    fn global(&self) -> Global {
        // Kapacitor's opsgenie has `global` but no `state-changes-only`.
        Global::from_keys(self.opsgenie.config.get().global, false)
    }

    fn test_options(&self) -> TestOptions {
        let config = self.opsgenie.config.get();
        let listed = |list: &Vec<String>| (!list.is_empty()).then(|| list.clone());
        TestOptions {
            teams: listed(&config.teams),
            recipients: listed(&config.recipients),
            message_type: "CRITICAL".to_owned(),
            message: "test opsgenie message".to_owned(),
            entity_id: "testEntityID".to_owned(),
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        self.opsgenie
            .send(Alert {
                teams: options.teams.as_deref().unwrap_or_default(),
                recipients: options.recipients.as_deref().unwrap_or_default(),
                message_type: &options.message_type,
                message: &options.message,
                id: &options.entity_id,
                result: &AlertResult::default(),
            })
            .await
    }
}

/// Sends each event to OpsGenie with one set of teams and recipients.
#[derive(Debug)]
struct OpsgenieHandler {
    options: Options,
    opsgenie: OpsGenie,
}

#[async_trait]
impl Handler for OpsgenieHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let message_type = match event.state.level {
            Level::Ok => "RECOVERY",
            level => level.as_str(),
        };
        self.opsgenie
            .send(Alert {
                teams: &self.options.teams_list,
                recipients: &self.options.recipients_list,
                message_type,
                message: &event.state.message,
                id: &event.state.id,
                result: &event.data.result,
            })
            .await
    }
}
