//! The talk service and handler: each event becomes one message to a Talk incoming webhook,
//! titled with the event ID, its text the event's message.

use std::sync::Arc;

use klaxon_core::{
    Chained, Event, Handler, HandlerError, Init, Invalid, Live, Service, TickShape, async_trait,
};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, ClientOptions, Method, StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::Config;

/// The options of one talk handler, those of Kapacitor's documentation: the same type decodes
/// handler files, the HTTP API and TICKscript calls.
///
/// ```json
/// {"title": "Alert from Kapacitor"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The message title. Empty: the alert's ID.
    pub title: String,
    /// The message text. Empty: the alert's message.
    pub text: String,
}

/// The options of the service test, Kapacitor's.
///
/// ```json
/// {"title": "testTitle", "text": "test talk text"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The message title.
    pub title: String,
    /// The message text.
    pub text: String,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            title: "testTitle".to_owned(),
            text: "test talk text".to_owned(),
        }
    }
}

/// The `talk` handler kind: a Talk (jianliao.com) incoming webhook.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_talk::{Config, Options, TalkService};
///
/// let service = TalkService::new(Init::new(Config::default())).unwrap();
/// assert!(service.handler(Options { title: "Alert from Kapacitor".into(), ..Options::default() }).is_ok());
/// ```
#[derive(Debug)]
pub struct TalkService {
    talk: Talk,
}

#[async_trait]
impl Service for TalkService {
    const KIND: &'static str = "talk";
    const DESCRIPTION: &'static str = "posts each alert to a Talk (jianliao.com) incoming webhook";
    const TICK: TickShape = TickShape::new("talk").chained(&[
        Chained::value("title", "title"),
        Chained::value("text", "text"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(TalkService {
            talk: Talk {
                config: init.config,
                client,
            },
        })
    }

    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        Ok(Arc::new(TalkHandler {
            options,
            talk: self.talk.clone(),
        }))
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        self.talk.send(&options.title, &options.text).await
    }
}

/// Posts each event to the webhook.
#[derive(Debug)]
struct TalkHandler {
    options: Options,
    talk: Talk,
}

#[async_trait]
impl Handler for TalkHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let or = |own: &'_ str, alert: &'_ str| if own.is_empty() { alert } else { own }.to_owned();
        let title = or(&self.options.title, &event.state.id);
        let text = or(&self.options.text, &event.state.message);
        self.talk.send(&title, &text).await
    }
}

/// The webhook client shared by the service and its handlers.
#[derive(Debug, Clone)]
struct Talk {
    config: Live<Config>,
    client: Client,
}

/// Kapacitor's body: a Go map, so its keys go out sorted, as here.
#[derive(Serialize)]
struct Message<'a> {
    #[serde(rename = "authorName")]
    author_name: &'a str,
    text: &'a str,
    title: &'a str,
}

impl Talk {
    /// Posts one message with the live configuration.
    async fn send(&self, title: &str, text: &str) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let mut body = klaxon_core::json::to_go_string(&Message {
            author_name: &config.author_name,
            text,
            title,
        });
        body.push('\n');
        let request = self
            .client
            .request(Method::POST, &config.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let shown = shown(&config.url);
        let hide = |err: HandlerError| hide_url(err, &config.url, &shown);
        let response = self
            .client
            .send(request, config.timeout.to_std())
            .await
            .map_err(hide)?;
        klaxon_http::failure::check_response(&format!("POST {shown}"), response, explain)
            .await
            .map_err(hide)
    }
}

/// The webhook URL as messages show it: its path (the secret) hidden.
fn shown(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) if parsed.path() == "/" && parsed.query().is_none() => url.to_owned(),
        Ok(parsed) => format!("{}/<secret path>", parsed.origin().ascii_serialization()),
        Err(_) => "<url>".to_owned(),
    }
}

/// `err` with the webhook URL, which is secret, replaced by `shown`.
fn hide_url(err: HandlerError, url: &str, shown: &str) -> HandlerError {
    let message = err.message().replace(url, shown);
    let hidden = if err.is_retryable() {
        HandlerError::transient(message)
    } else {
        HandlerError::permanent(message)
    };
    match err.retry_after() {
        Some(after) => hidden.with_retry_after(after),
        None => hidden,
    }
}

/// Talk's explanation of a refusal: the `error` of its JSON answer (which Kapacitor means to
/// read), or the body as it is.
fn explain(_status: StatusCode, body: &str) -> String {
    #[derive(Deserialize)]
    struct Answer {
        error: String,
    }
    match serde_json::from_str::<Answer>(body) {
        Ok(answer) if !answer.error.is_empty() => answer.error,
        _ => body.trim().to_owned(),
    }
}
