//! The pushover service and handler: each event becomes one Pushover message, its text the
//! alert's message and its priority the alert's level, posted as a form as Kapacitor posts it.

use std::sync::Arc;

use klaxon_core::{
    Chained, Event, Handler, HandlerError, Init, Invalid, Level, Live, Service, TickShape,
    async_trait,
};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, ClientOptions, Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::Config;

/// The options of one pushover handler, Kapacitor's keys: the same type decodes handler files,
/// the HTTP API and TICKscript calls. None is a template.
///
/// ```json
/// {"title": "Alert from Kapacitor", "sound": "siren"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The user or group key to notify. Empty: the configured [pushover] user-key.
    pub user_key: String,
    /// The devices to notify, by name, separated by commas. Empty: all the user's devices.
    pub device: String,
    /// The message's title. Empty: the application's name.
    pub title: String,
    /// A supplementary URL shown with the message.
    pub url: String,
    /// The title of the supplementary URL. Empty: the URL itself.
    pub url_title: String,
    /// The name of one of Pushover's sounds, instead of the user's default.
    pub sound: String,
}

/// The options of the service test, Kapacitor's: one message of these values.
///
/// ```json
/// {"user-key": "", "message": "test pushover message", "device": "", "title": "", "url": "",
///  "url-title": "", "sound": "", "level": "CRITICAL"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestOptions {
    /// The user or group key. Empty: the configured one.
    pub user_key: String,
    /// The message.
    pub message: String,
    /// The devices.
    pub device: String,
    /// The title.
    pub title: String,
    /// The supplementary URL.
    pub url: String,
    /// Its title.
    pub url_title: String,
    /// The sound.
    pub sound: String,
    /// The level, which gives the priority.
    pub level: Level,
}

impl Default for TestOptions {
    /// Kapacitor's defaults, listed by `GET /kapacitor/v1/service-tests` (without the configured
    /// user key, which is secret).
    fn default() -> Self {
        TestOptions {
            user_key: String::new(),
            message: "test pushover message".to_owned(),
            device: String::new(),
            title: String::new(),
            url: String::new(),
            url_title: String::new(),
            sound: String::new(),
            level: Level::Critical,
        }
    }
}

/// The `pushover` handler kind: Pushover notifications.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_pushover::{Config, Options, PushoverService};
///
/// let config = Config { enabled: true, token: "t".into(), user_key: "u".into(), ..Config::default() };
/// let service = PushoverService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options { sound: "siren".into(), ..Options::default() }).is_ok());
/// ```
#[derive(Debug)]
pub struct PushoverService {
    pushover: Pushover,
}

#[async_trait]
impl Service for PushoverService {
    const KIND: &'static str = "pushover";
    const DESCRIPTION: &'static str =
        "sends each alert as a Pushover notification, its priority from the level";
    // Kapacitor resolves `.URL()` and `.uRL()` alike (its capitalized field name); `.url()` is
    // not one of its properties.
    const TICK: TickShape = TickShape::new("pushover").chained(&[
        Chained::value("userKey", "user-key"),
        Chained::value("device", "device"),
        Chained::value("title", "title"),
        Chained::value("URL", "url"),
        Chained::value("uRL", "url"),
        Chained::value("URLTitle", "url-title"),
        Chained::value("uRLTitle", "url-title"),
        Chained::value("sound", "sound"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(PushoverService {
            pushover: Pushover {
                config: init.config,
                client,
            },
        })
    }

    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        Ok(Arc::new(PushoverHandler {
            options,
            pushover: self.pushover.clone(),
        }))
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let message = Message {
            user_key: &options.user_key,
            message: &options.message,
            device: &options.device,
            title: &options.title,
            url: &options.url,
            url_title: &options.url_title,
            sound: &options.sound,
            level: options.level,
        };
        self.pushover.send(message).await
    }
}

/// Sends each event as a message with the handler's options.
#[derive(Debug)]
struct PushoverHandler {
    options: Options,
    pushover: Pushover,
}

#[async_trait]
impl Handler for PushoverHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let options = &self.options;
        self.pushover
            .send(Message {
                user_key: &options.user_key,
                message: &event.state.message,
                device: &options.device,
                title: &options.title,
                url: &options.url,
                url_title: &options.url_title,
                sound: &options.sound,
                level: event.state.level,
            })
            .await
    }
}

/// One message, before the configuration fills in the token and, when empty, the user key.
#[derive(Debug)]
struct Message<'a> {
    user_key: &'a str,
    message: &'a str,
    device: &'a str,
    title: &'a str,
    url: &'a str,
    url_title: &'a str,
    sound: &'a str,
    level: Level,
}

/// The client shared by the service and its handlers.
#[derive(Debug, Clone)]
struct Pushover {
    config: Live<Config>,
    client: Client,
}

impl Pushover {
    /// Posts `message` with the live configuration.
    async fn send(&self, message: Message<'_>) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let user = match message.user_key {
            "" => config.user_key.as_str(),
            own => own,
        };
        let priority = priority(message.level).to_string();
        // Kapacitor's url.Values: keys sorted, empty optional fields left out.
        let fields = [
            ("device", message.device),
            ("message", message.message),
            ("priority", &priority),
            ("sound", message.sound),
            ("title", message.title),
            ("token", &config.token),
            ("url", message.url),
            ("url_title", message.url_title),
            ("user", user),
        ];
        let always = ["message", "priority", "token", "user"];
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (key, value) in fields {
                if !value.is_empty() || always.contains(&key) {
                    form.append_pair(key, value);
                }
            }
            form.finish()
        };
        let request = self
            .client
            .request(Method::POST, &config.url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        let response = self.client.send(request, config.timeout.to_std()).await?;
        klaxon_http::failure::check_response(&format!("POST {}", config.url), response, explain)
            .await
    }
}

/// Pushover's priority of a level, as Kapacitor maps it: OK -2 (no notification), INFO -1 (quiet),
/// WARNING 0 (normal), CRITICAL 1 (high: bypasses the user's quiet hours).
fn priority(level: Level) -> i8 {
    match level {
        Level::Ok => -2,
        Level::Info => -1,
        Level::Warning => 0,
        Level::Critical => 1,
    }
}

/// Pushover's explanation of a refusal: the `errors` of its answer (`{"user": "invalid",
/// "errors": ["user identifier is invalid"], "status": 0}`) joined, or the body as it is.
fn explain(_status: StatusCode, body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        errors: Vec<String>,
    }
    match serde_json::from_str::<Answer>(body) {
        Ok(answer) if !answer.errors.is_empty() => answer.errors.join(", "),
        _ => body.trim().to_owned(),
    }
}
