//! The telegram handler: sends each alert's message to a chat with the bot's sendMessage.

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::{
    Chained, Event, Global, Handler, HandlerError, Init, Invalid, Live, Service, TickShape,
    async_trait,
};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, ClientOptions, Method, Response, failure};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::config::{chat_id, check_parse_mode};

/// How long one request may take (Kapacitor's Telegram client has no limit).
const TIMEOUT: Duration = Duration::from_secs(30);

/// The options of one telegram handler. An empty text option takes the configured value when
/// the alert is sent; a `true` flag adds to the configured one.
///
/// ```json
/// {"chat-id": "123456789", "parse-mode": "Markdown", "disable-web-page-preview": false, "disable-notification": false}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The chat: a user, group or channel ID, or "@channelname". Empty: `[telegram] chat-id`.
    #[serde(deserialize_with = "chat_id")]
    pub chat_id: String,
    /// "Markdown", "MarkdownV2" or "HTML". Empty: `[telegram] parse-mode`.
    pub parse_mode: String,
    /// Send without link previews (also when `[telegram] disable-web-page-preview` is true).
    pub disable_web_page_preview: bool,
    /// Send silently (also when `[telegram] disable-notification` is true).
    pub disable_notification: bool,
}

/// The options of the Telegram service test, Kapacitor's.
///
/// ```json
/// {"chat-id": "", "parse-mode": "", "message": "test telegram message", "disable-web-page-preview": false, "disable-notification": false}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestOptions {
    /// The chat; defaults to `[telegram] chat-id`.
    #[serde(deserialize_with = "chat_id")]
    pub chat_id: String,
    /// The parse mode; defaults to `[telegram] parse-mode`.
    pub parse_mode: String,
    /// The message.
    pub message: String,
    /// Send without link previews; defaults to the configured value.
    pub disable_web_page_preview: bool,
    /// Send silently; defaults to the configured value.
    pub disable_notification: bool,
}

/// The `telegram` handler kind: sends each alert message to a Telegram chat through a bot.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_telegram::{Config, Options, TelegramService};
///
/// let config = Config {
///     enabled: true,
///     token: "123456789:AAE".into(),
///     chat_id: "123456789".into(),
///     ..Config::default()
/// };
/// let service = TelegramService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options::default()).is_ok());
///
/// let bad = Options { parse_mode: "RTF".into(), ..Options::default() };
/// assert_eq!(
///     service.handler(bad).unwrap_err().to_string(),
///     r#"parse-mode "RTF" is not one of Markdown, MarkdownV2 or HTML"#
/// );
/// ```
#[derive(Debug)]
pub struct TelegramService {
    telegram: Telegram,
}

#[async_trait]
impl Service for TelegramService {
    const KIND: &'static str = "telegram";
    const DESCRIPTION: &'static str =
        "sends each alert message to a Telegram chat through a bot's sendMessage";
    const TICK: TickShape = TickShape::new("telegram").chained(&[
        Chained::value("chatId", "chat-id"),
        Chained::value("parseMode", "parse-mode"),
        Chained::flag("disableWebPagePreview", "disable-web-page-preview"),
        Chained::flag("disableNotification", "disable-notification"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(TelegramService {
            telegram: Telegram {
                config: init.config,
                client,
            },
        })
    }

    /// Refuses a parse mode Telegram does not know.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        check_parse_mode("parse-mode", &options.parse_mode)?;
        Ok(Arc::new(TelegramHandler {
            options,
            telegram: self.telegram.clone(),
        }))
    }

    fn test_options(&self) -> TestOptions {
        let config = self.telegram.config.get();
        TestOptions {
            chat_id: config.chat_id.clone(),
            parse_mode: config.parse_mode.clone(),
            message: "test telegram message".to_owned(),
            disable_web_page_preview: config.disable_web_page_preview,
            disable_notification: config.disable_notification,
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        check_parse_mode("parse-mode", &options.parse_mode)
            .map_err(|e| HandlerError::permanent(e.message()))?;
        let handler = Options {
            chat_id: options.chat_id,
            parse_mode: options.parse_mode,
            disable_web_page_preview: options.disable_web_page_preview,
            disable_notification: options.disable_notification,
        };
        self.telegram.send(&handler, &options.message).await
    }

    fn global(&self) -> Global {
        self.telegram.config.get().global()
    }
}

/// Sends each event's message with one handler's options.
#[derive(Debug)]
struct TelegramHandler {
    options: Options,
    telegram: Telegram,
}

#[async_trait]
impl Handler for TelegramHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.telegram
            .send(&self.options, &event.state.message)
            .await
    }
}

/// The Telegram client, shared by the service and its handlers.
#[derive(Debug, Clone)]
struct Telegram {
    config: Live<Config>,
    client: Client,
}

/// The body Kapacitor sends: a Go map, so its keys are sorted, and the flags and the parse mode
/// only when set.
#[derive(Serialize)]
struct SendMessage<'a> {
    chat_id: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    disable_notification: bool,
    #[serde(skip_serializing_if = "is_false")]
    disable_web_page_preview: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    parse_mode: &'a str,
    text: &'a str,
}

fn is_false(flag: &bool) -> bool {
    !flag
}

/// Telegram's error answer: `{"ok":false,"error_code":400,"description":"Bad Request: chat not
/// found"}`, with `parameters.retry_after` (seconds) when it limits the rate. Only the wait is
/// read here; the description is [`failure::explain_json`]'s.
#[derive(Deserialize)]
struct Refusal {
    #[serde(default)]
    parameters: Parameters,
}

#[derive(Default, Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

impl Telegram {
    /// Sends `message` with `options`, the configuration filling what they leave empty.
    async fn send(&self, options: &Options, message: &str) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let own_or_configured = |own: &String, configured: &String| {
            if own.is_empty() { configured } else { own }.clone()
        };
        let chat_id = own_or_configured(&options.chat_id, &config.chat_id);
        let parse_mode = own_or_configured(&options.parse_mode, &config.parse_mode);
        let body = SendMessage {
            chat_id: &chat_id,
            disable_notification: options.disable_notification || config.disable_notification,
            disable_web_page_preview: options.disable_web_page_preview
                || config.disable_web_page_preview,
            parse_mode: &parse_mode,
            text: message,
        };
        // Go's json.Encoder, as Kapacitor encodes it: its escapes and a trailing newline.
        let mut body = klaxon_core::json::to_go_string(&body);
        body.push('\n');
        let invalid = |e: Invalid| HandlerError::permanent(e.message());
        let url = config.send_message_url(&config.token).map_err(invalid)?;
        // The token is in the URL: messages show a placeholder instead.
        let what = format!(
            "POST {}",
            config.send_message_url("[token]").map_err(invalid)?
        );
        let request = self
            .client
            .request(Method::POST, url.as_str())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(TIMEOUT);
        let response = request
            .send()
            .await
            .map_err(|e| failure::request_failed(&what, TIMEOUT, &e))?;
        check_answer(&what, response).await
    }
}

/// Any 2xx is a success; otherwise the error carries Telegram's description (or the answer's
/// text), retryable for 5xx and 429, after the `Retry-After` header or Telegram's own
/// `retry_after`.
async fn check_answer(what: &str, response: Response) -> Result<(), HandlerError> {
    let mut asked = None;
    let checked = failure::check_response(what, response, |_, body| {
        asked = serde_json::from_str::<Refusal>(body)
            .ok()
            .and_then(|refusal| refusal.parameters.retry_after);
        failure::explain_json(body, &["description"])
    })
    .await;
    checked.map_err(|err| match asked {
        Some(seconds) if err.is_retryable() && err.retry_after().is_none() => {
            err.with_retry_after(Duration::from_secs(seconds))
        }
        _ => err,
    })
}
