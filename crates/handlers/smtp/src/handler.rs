//! The smtp service and handler: each alert becomes an email whose subject is the alert's
//! message and whose HTML body is its details, sent to the handler's recipients (else the
//! configured ones) from the configured sender.

use std::sync::Arc;

use klaxon_core::{
    Chained, Event, Global, Handler, HandlerError, Init, Invalid, Live, Service, TickShape,
    async_trait,
};
use lettre::Address;
use lettre::address::Envelope;
use serde::{Deserialize, Serialize};

use crate::mailer::Mailer;
use crate::message::Email;
use crate::recipients::ToTemplates;
use crate::{Config, address};

/// The options of one smtp handler, Kapacitor's keys: the same type decodes handler files, the
/// HTTP API and TICKscript calls.
///
/// ```json
/// {"to": ["oncall@example.com"], "to-field": ["{{ index .Tags \"owner\" }}"]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The recipients, as "oncall@example.com" or "On Call <oncall@example.com>". With to-field
    /// empty too, the configured [smtp] to.
    pub to: Vec<String>,
    /// More recipients, as Go templates over the alert's data (.Name, .TaskName, .Category,
    /// .Group, .Tags, .Fields, .Recoverable), such as `{{ index .Tags "owner" }}`. One that
    /// renders nothing adds no recipient.
    #[serde(rename = "to-field")]
    pub to_templates: Vec<String>,
}

/// The options of the service test, Kapacitor's: one email with this subject and body.
///
/// ```json
/// {"to": null, "subject": "test subject", "body": "test body"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The recipients. Null or empty: the configured [smtp] to.
    pub to: Option<Vec<String>>,
    /// The subject.
    pub subject: String,
    /// The HTML body.
    pub body: String,
}

impl Default for TestOptions {
    /// Kapacitor's defaults, listed by `GET /kapacitor/v1/service-tests`.
    fn default() -> Self {
        TestOptions {
            to: None,
            subject: "test subject".to_owned(),
            body: "test body".to_owned(),
        }
    }
}

/// The `smtp` handler kind (Kapacitor's email): emails each alert.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_smtp::{Config, Options, SmtpService};
///
/// let config = Config { enabled: true, from: "kapacitor@example.com".into(), ..Config::default() };
/// let service = SmtpService::new(Init::new(config)).unwrap();
/// let options = Options { to: vec!["oncall@example.com".into()], ..Options::default() };
/// assert!(service.handler(options).is_ok());
///
/// let options = Options { to: vec!["oncall".into()], ..Options::default() };
/// let err = service.handler(options).unwrap_err();
/// assert!(err.to_string().starts_with(r#"to[0] "oncall" is not an email address"#));
/// ```
#[derive(Debug)]
pub struct SmtpService {
    sender: Sender,
}

#[async_trait]
impl Service for SmtpService {
    const KIND: &'static str = "smtp";
    const DESCRIPTION: &'static str =
        "emails each alert: its message as the subject, its details as the HTML body";
    // Kapacitor's `.email('a@example.com', ...)`, `.to(...)` and `.toTemplates(...)` all append.
    const TICK: TickShape = TickShape::new("email").rest("to").chained(&[
        Chained::list("to", "to"),
        Chained::list("toTemplates", "to-field"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        Ok(SmtpService {
            sender: Sender {
                mailer: Mailer::new(init.config.clone()),
                config: init.config,
            },
        })
    }

    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        for (i, to) in options.to.iter().enumerate() {
            address::parse(&format!("to[{i}]"), to)?;
        }
        Ok(Arc::new(SmtpHandler {
            to_templates: ToTemplates::parse("to-field", &options.to_templates)?,
            to: options.to,
            sender: self.sender.clone(),
        }))
    }

    fn test_options(&self) -> TestOptions {
        let to = &self.sender.config.get().to;
        TestOptions {
            to: (!to.is_empty()).then(|| to.clone()),
            ..TestOptions::default()
        }
    }

    fn global(&self) -> Global {
        let config = self.sender.config.get();
        Global::from_keys(config.global, config.state_changes_only)
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let to = options.to.unwrap_or_default();
        self.sender
            .send(to, None, &options.subject, &options.body)
            .await
    }

    async fn close(&self) {
        self.sender.mailer.close().await;
    }
}

/// What every handler of the service shares: the live configuration and the connection.
#[derive(Debug, Clone)]
struct Sender {
    config: Live<Config>,
    mailer: Arc<Mailer>,
}

impl Sender {
    /// Emails `subject` and `body` to `to`, or when that is empty to the configured recipients
    /// (with the configured templates rendered for `event`, if there is one).
    async fn send(
        &self,
        mut to: Vec<String>,
        event: Option<&Event>,
        subject: &str,
        body: &str,
    ) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        if to.is_empty() {
            to.clone_from(&config.to);
            if let Some(event) = event {
                ToTemplates::parse("toTemplates", &config.to_templates)
                    .map_err(|e| HandlerError::permanent(e.message()))?
                    .render(event, &mut to)?;
            }
        }
        if to.is_empty() {
            return Err(HandlerError::permanent(
                "not sending email, no recipients defined: give the handler recipients (.email('oncall@example.com'), to: [...]) or set [smtp] to",
            ));
        }
        let from = address::parse("[smtp] from", &config.from)
            .map_err(|e| HandlerError::permanent(e.message()))?;
        let envelope = envelope(from.clone(), &to)?;
        let message_id = format!(
            "<{}.{:016x}@{}>",
            klaxon_core::Timestamp::now().as_nanos(),
            fastrand::u64(..),
            from.domain()
        );
        let date = jiff::Zoned::now()
            .strftime("%a, %d %b %Y %H:%M:%S %z")
            .to_string();
        let email = Email {
            from: &config.from,
            to: &to,
            subject,
            body,
            date: &date,
            message_id: &message_id,
        };
        self.mailer.send(&envelope, &email.to_bytes()).await
    }
}

/// The SMTP envelope: the sender's address, and each recipient's address once, in order.
fn envelope(from: Address, to: &[String]) -> Result<Envelope, HandlerError> {
    let mut recipients: Vec<Address> = Vec::with_capacity(to.len());
    for value in to {
        let address =
            address::parse("recipient", value).map_err(|e| HandlerError::permanent(e.message()))?;
        if !recipients.contains(&address) {
            recipients.push(address);
        }
    }
    Envelope::new(Some(from), recipients).map_err(|e| HandlerError::permanent(e.to_string()))
}

/// Emails each event to its recipients.
#[derive(Debug)]
struct SmtpHandler {
    to: Vec<String>,
    to_templates: ToTemplates,
    sender: Sender,
}

#[async_trait]
impl Handler for SmtpHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let mut to = self.to.clone();
        self.to_templates.render(event, &mut to)?;
        self.sender
            .send(to, Some(event), &event.state.message, &event.state.details)
            .await
    }
}
