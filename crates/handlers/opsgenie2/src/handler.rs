//! The opsgenie2 service and handler: each INFO, WARNING or CRITICAL event creates (or, by its
//! alias, updates) an OpsGenie alert; each OK event adds a note to it or closes it.

use std::sync::Arc;

use klaxon_core::{
    AlertResult, Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Service,
    TickShape, async_trait,
};
use klaxon_http::{Client, ClientOptions};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::api::{Alert, OpsGenie};
use crate::config::check_recovery_action;

/// The options of one opsgenie2 handler, Kapacitor's keys (and `details`): the same type decodes
/// handler files, the HTTP API and TICKscript calls.
///
/// ```json
/// {"teams-list": ["team1", "team2"], "recipients-list": ["recipient1"], "recovery_action": "close"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The teams to alert. Empty: the configured `[opsgenie2] teams`.
    pub teams_list: Vec<String>,
    /// The users (recipients) to alert. Empty: the configured `[opsgenie2] recipients`.
    pub recipients_list: Vec<String>,
    /// What a recovery does: "notes" adds a note, "close" closes the alert. Empty: the
    /// configured `[opsgenie2] recovery_action`.
    #[serde(rename = "recovery_action")]
    pub recovery_action: String,
    /// Use the alert's details (.details()) as the OpsGenie description, as `[opsgenie2] details`
    /// does for every handler. (Klaxon's: Kapacitor accepts `.details()` but ignores it.)
    pub details: bool,
}

/// The options of the service test, Kapacitor's: a message of this type sent to these teams and
/// recipients.
///
/// ```json
/// {"teams": null, "recipients": null, "recovery_action": "notes", "message-type": "CRITICAL",
///  "message": "test opsgenie message", "entity-id": "testEntityID"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The teams; none for the configured ones.
    pub teams: Option<Vec<String>>,
    /// The recipients; none for the configured ones.
    pub recipients: Option<Vec<String>>,
    /// What a RECOVERY does: "notes" or "close".
    pub recovery_action: String,
    /// RECOVERY (an OK event), or a level: INFO, WARNING, CRITICAL (any case).
    #[serde(rename = "message-type")]
    pub message_type: String,
    /// The message.
    pub message: String,
    /// The event ID: the alert's entity and, base64url, its alias.
    #[serde(rename = "entity-id")]
    pub entity_id: String,
}

/// The `opsgenie2` handler kind: OpsGenie's Alert API v2.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_opsgenie2::{Config, Options, Opsgenie2Service};
///
/// let config = Config { enabled: true, api_key: "key".into(), ..Config::default() };
/// let service = Opsgenie2Service::new(Init::new(config)).unwrap();
/// let options = Options { recovery_action: "reopen".into(), ..Options::default() };
/// assert_eq!(
///     service.handler(options).unwrap_err().to_string(),
///     r#"option "recovery_action" "reopen" is not a recovery action; use "notes" (add a note) or "close" (close the alert)"#
/// );
/// ```
#[derive(Debug)]
pub struct Opsgenie2Service {
    opsgenie: OpsGenie,
}

/// `.opsGenie2()`'s chained properties.
const CHAINED: &[Chained] = &[
    Chained::list("teams", "teams-list"),
    Chained::list("recipients", "recipients-list"),
    Chained::value("recoveryAction", "recovery_action"),
    Chained::flag("details", "details"),
];

#[async_trait]
impl Service for Opsgenie2Service {
    const KIND: &'static str = "opsgenie2";
    const DESCRIPTION: &'static str =
        "creates OpsGenie alerts and closes or annotates them on recovery (Alert API v2)";
    const TICK: TickShape = TickShape::new("opsGenie2").chained(CHAINED);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(Opsgenie2Service {
            opsgenie: OpsGenie {
                config: init.config,
                client,
            },
        })
    }

    /// Empty lists and recovery action (the default options) follow the configured ones,
    /// including later changes to them.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        if !options.recovery_action.is_empty() {
            check_recovery_action("option \"recovery_action\"", &options.recovery_action)?;
        }
        Ok(Arc::new(Opsgenie2Handler {
            options,
            opsgenie: self.opsgenie.clone(),
        }))
    }

    fn global(&self) -> Global {
        // Kapacitor's opsgenie2 has `global` but no `state-changes-only`.
        Global::from_keys(self.opsgenie.config.get().global, false)
    }

    fn test_options(&self) -> TestOptions {
        let config = self.opsgenie.config.get();
        let listed = |list: &Vec<String>| (!list.is_empty()).then(|| list.clone());
        TestOptions {
            teams: listed(&config.teams),
            recipients: listed(&config.recipients),
            recovery_action: config.recovery_action.clone(),
            message_type: "CRITICAL".to_owned(),
            message: "test opsgenie message".to_owned(),
            entity_id: "testEntityID".to_owned(),
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let level = match options.message_type.as_str() {
            "RECOVERY" => Level::Ok,
            other => other
                .parse()
                .map_err(|e: klaxon_core::UnknownLevel| HandlerError::permanent(e.to_string()))?,
        };
        if !options.recovery_action.is_empty() {
            check_recovery_action("recovery_action", &options.recovery_action)
                .map_err(|e| HandlerError::permanent(e.message()))?;
        }
        self.opsgenie
            .send(Alert {
                teams: options.teams.as_deref().unwrap_or_default(),
                recipients: options.recipients.as_deref().unwrap_or_default(),
                recovery_action: &options.recovery_action,
                details_as_description: false,
                level,
                message: &options.message,
                id: &options.entity_id,
                details: "",
                result: &AlertResult::default(),
            })
            .await
    }
}

/// Sends each event to OpsGenie with one set of teams, recipients and recovery action.
#[derive(Debug)]
struct Opsgenie2Handler {
    options: Options,
    opsgenie: OpsGenie,
}

#[async_trait]
impl Handler for Opsgenie2Handler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.opsgenie
            .send(Alert {
                teams: &self.options.teams_list,
                recipients: &self.options.recipients_list,
                recovery_action: &self.options.recovery_action,
                details_as_description: self.options.details,
                level: event.state.level,
                message: &event.state.message,
                id: &event.state.id,
                details: &event.state.details,
                result: &event.data.result,
            })
            .await
    }
}
