//! The slack handler: posts each alert's message to Slack as one attachment colored by level.

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::{
    Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Live, Service, TickShape,
    async_trait,
};
use klaxon_http::header::{CONTENT_TYPE, HeaderMap};
use klaxon_http::{Clients, Method, Response, StatusCode, Url, failure};
use serde::{Deserialize, Serialize};

use crate::{Config, Workspace};

/// How long one post may take: Kapacitor's Slack client timeout.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The options of one slack handler. Each empty option takes the workspace's value when the
/// alert is sent.
///
/// ```json
/// {"workspace": "example.slack.com", "channel": "#alerts", "username": "kapacitor", "icon-emoji": ":smile:"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The `[[slack]]` workspace to post with. Empty: the default workspace.
    pub workspace: String,
    /// The channel ("#alerts") or user ("@someone"). Empty: the workspace's channel.
    pub channel: String,
    /// The bot's username. Empty: the workspace's username.
    pub username: String,
    /// An emoji shown instead of the bot's icon, such as ":smile:". Empty: the workspace's.
    pub icon_emoji: String,
}

/// The options of the Slack service test, Kapacitor's: a message posted at a level.
///
/// ```json
/// {"workspace": "", "channel": "", "message": "test slack message", "level": "CRITICAL", "username": "", "icon-emoji": ""}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestOptions {
    /// The workspace; defaults to the default workspace's name.
    pub workspace: String,
    /// The channel; defaults to the default workspace's channel.
    pub channel: String,
    /// The message.
    pub message: String,
    /// The level, which sets the attachment's color.
    pub level: Level,
    /// The bot's username. Empty: the workspace's.
    pub username: String,
    /// The icon emoji. Empty: the workspace's.
    pub icon_emoji: String,
}

/// The `slack` handler kind: posts each alert to Slack, through an incoming webhook or
/// chat.postMessage with a token.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_slack::{Config, Options, SlackService, Workspace};
///
/// let config = Config::new(vec![Workspace {
///     enabled: true,
///     workspace: "example.slack.com".into(),
///     url: "https://hooks.slack.com/services/T000/B000/XXXX".into(),
///     channel: "#alerts".into(),
///     ..Workspace::default()
/// }]);
/// let service = SlackService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options::default()).is_ok());
///
/// let elsewhere = Options { workspace: "other".into(), ..Options::default() };
/// assert_eq!(
///     service.handler(elsewhere).unwrap_err().to_string(),
///     r#"unknown workspace "other"; the [[slack]] workspaces are: "example.slack.com""#
/// );
/// ```
#[derive(Debug)]
pub struct SlackService {
    slack: Slack,
}

#[async_trait]
impl Service for SlackService {
    const KIND: &'static str = "slack";
    const DESCRIPTION: &'static str =
        "posts each alert to Slack, through an incoming webhook or chat.postMessage with a token";
    const TICK: TickShape = TickShape::new("slack").chained(&[
        Chained::value("workspace", "workspace"),
        Chained::value("channel", "channel"),
        Chained::value("username", "username"),
        Chained::value("iconEmoji", "icon-emoji"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let slack = Slack {
            config: init.config,
            clients: Clients::default(),
        };
        // TLS files that cannot be used refuse to start, rather than failing every alert.
        slack
            .clients
            .check_elements(&slack.config.get(), Workspace::client_options)?;
        Ok(SlackService { slack })
    }

    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        self.slack
            .clients
            .check_elements(config, Workspace::client_options)
    }

    /// Refuses a workspace that the configuration does not have, naming those it has.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        self.slack
            .config
            .get()
            .named_or_default(&options.workspace)?;
        Ok(Arc::new(SlackHandler {
            options,
            slack: self.slack.clone(),
        }))
    }

    fn test_options(&self) -> TestOptions {
        let config = self.slack.config.get();
        let default = config.default_element();
        TestOptions {
            workspace: default.map(|w| w.workspace.clone()).unwrap_or_default(),
            channel: default.map(|w| w.channel.clone()).unwrap_or_default(),
            message: "test slack message".to_owned(),
            level: Level::Critical,
            ..TestOptions::default()
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let handler = Options {
            workspace: options.workspace,
            channel: options.channel,
            username: options.username,
            icon_emoji: options.icon_emoji,
        };
        self.slack
            .post(&handler, &options.message, options.level)
            .await
    }

    /// The default workspace's `global` and `state-changes-only`, while it is enabled.
    fn global(&self) -> Global {
        self.slack.config.get().global()
    }
}

/// Posts each event's message with one handler's options.
#[derive(Debug)]
struct SlackHandler {
    options: Options,
    slack: Slack,
}

#[async_trait]
impl Handler for SlackHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.slack
            .post(&self.options, &event.state.message, event.state.level)
            .await
    }
}

/// The Slack client, shared by the service and its handlers: the live configuration, and one
/// HTTP client per set of TLS settings in use.
#[derive(Debug, Clone)]
struct Slack {
    config: Live<Config>,
    clients: Clients,
}

/// The body Kapacitor posts: a Go map, so its keys are sorted.
#[derive(Serialize)]
struct PostData<'a> {
    attachments: [Attachment<'a>; 1],
    channel: &'a str,
    icon_emoji: &'a str,
    text: &'a str,
    username: &'a str,
}

/// Kapacitor's attachment struct, in its field order.
#[derive(Serialize)]
struct Attachment<'a> {
    fallback: &'a str,
    color: &'a str,
    text: &'a str,
    mrkdwn_in: [&'a str; 1],
}

/// Slack's errors that say a later attempt may succeed (chat.postMessage's documented
/// transient errors, and its rate limit).
const TRANSIENT_ERRORS: &[&str] = &[
    "fatal_error",
    "internal_error",
    "ratelimited",
    "request_timeout",
    "service_unavailable",
];

impl Slack {
    /// Posts `message` at `level` with `options`, each empty option taking the workspace's value.
    async fn post(
        &self,
        options: &Options,
        message: &str,
        level: Level,
    ) -> Result<(), HandlerError> {
        let config = self.config.get();
        let workspace = config
            .named_or_default(&options.workspace)
            .map_err(|e| HandlerError::permanent(e.message()))?;
        if !workspace.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let body = PostData {
            attachments: [Attachment {
                fallback: message,
                color: color(level),
                text: message,
                mrkdwn_in: ["text"],
            }],
            channel: or(&options.channel, &workspace.channel),
            icon_emoji: or(&options.icon_emoji, &workspace.icon_emoji),
            text: "",
            username: or(&options.username, &workspace.username),
        };
        // Go's json.Encoder, as Kapacitor encodes it: its escapes and a trailing newline.
        let mut body = klaxon_core::json::to_go_string(&body);
        body.push('\n');
        let client = self
            .clients
            .get(&workspace.client_options())
            .map_err(|e| HandlerError::permanent(e.to_string()))?;
        let mut request = client
            .request(Method::POST, &workspace.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(TIMEOUT);
        // With a token the URL is chat.postMessage, without one an incoming webhook: the same
        // body either way, as in Kapacitor.
        if !workspace.token.is_empty() {
            request = request.bearer_auth(&workspace.token);
        }
        // The URL of a webhook is its secret: messages show only its origin.
        let origin = Url::parse(&workspace.url).map(|u| u.origin().ascii_serialization());
        let what = format!("POST {}/[redacted]", origin.unwrap_or_default());
        let response = request
            .send()
            .await
            .map_err(|e| failure::request_failed(&what, TIMEOUT, &e))?;
        check_answer(&what, response).await
    }
}

/// The handler's own value, or the workspace's when the handler has none.
fn or<'a>(own: &'a str, configured: &'a str) -> &'a str {
    if own.is_empty() { configured } else { own }
}

/// Kapacitor's attachment color of a level.
fn color(level: Level) -> &'static str {
    match level {
        Level::Warning => "warning",
        Level::Critical => "danger",
        Level::Ok | Level::Info => "good",
    }
}

/// Reads Slack's answer. A 2xx is a success unless its body is chat.postMessage's refusal
/// (`{"ok":false,"error":"channel_not_found"}`); otherwise the error carries Slack's text: the
/// `error` of a JSON body, else the body (incoming webhooks answer `invalid_payload`...).
async fn check_answer(what: &str, response: Response) -> Result<(), HandlerError> {
    let status = response.status();
    if !status.is_success() {
        return failure::check_response(what, response, |_, body| {
            failure::explain_json(body, &["error"])
        })
        .await;
    }
    let headers = response.headers().clone();
    // A body that cannot be read leaves the status to speak: after a 2xx the message is posted.
    let body = response.text().await.unwrap_or_default();
    let reply: Option<serde_json::Value> = serde_json::from_str(&body).ok();
    if reply.as_ref().and_then(|r| r.get("ok")) != Some(&false.into()) {
        return Ok(());
    }
    let error = slack_error(&body).unwrap_or_else(|| "ok is false".to_owned());
    Err(refusal(what, status, &headers, &error))
}

/// The `error` of Slack's JSON answer.
fn slack_error(body: &str) -> Option<String> {
    let reply: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(reply.get("error")?.as_str()?.to_owned())
}

/// The error for a 2xx answer in which Slack refused the message with `error`.
fn refusal(what: &str, status: StatusCode, headers: &HeaderMap, error: &str) -> HandlerError {
    let message = format!("{what}: {status}: {error}");
    if !TRANSIENT_ERRORS.contains(&error) {
        return HandlerError::permanent(message);
    }
    let transient = HandlerError::transient(message);
    match failure::retry_after(headers) {
        Some(after) => transient.with_retry_after(after),
        None => transient,
    }
}
