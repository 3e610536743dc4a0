//! The teams handler: posts each alert to a Teams channel's incoming webhook as a MessageCard.

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::{
    Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Live, Service, TickShape,
    async_trait,
};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Client, ClientOptions, Method, StatusCode, Url, failure};
use serde::{Deserialize, Serialize};

use crate::Config;

/// How long one post may take (Kapacitor's Teams client has no limit).
const TIMEOUT: Duration = Duration::from_secs(30);

/// How many bytes of the summary Kapacitor keeps before its `...`.
const SUMMARY_CUTOFF: usize = 70;

/// The options of one teams handler.
///
/// ```json
/// {"channel-url": "https://outlook.office.com/webhook/..."}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The incoming-webhook URL of the Teams channel. Empty: `[teams] channel-url`, as it is
    /// when each alert is sent.
    pub channel_url: String,
}

/// The options of the Teams service test, Kapacitor's (in snake case, as Kapacitor spells
/// them): a card for an alert of a topic.
///
/// ```json
/// {"channel_url": "", "alert_topic": "test kapacitor alert topic", "alert_id": "foo/bar/bat", "message": "test teams message", "level": "CRITICAL"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The incoming-webhook URL to post to. Empty: `[teams] channel-url`.
    pub channel_url: String,
    /// The alert's topic, in the title when the ID is empty.
    pub alert_topic: String,
    /// The alert's ID, in the title.
    pub alert_id: String,
    /// The message.
    pub message: String,
    /// The level, which sets the title and the theme color.
    pub level: Level,
}

/// The `teams` handler kind: posts each alert to a Microsoft Teams channel as a MessageCard.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_teams::{Config, Options, TeamsService};
///
/// let config = Config {
///     enabled: true,
///     channel_url: "https://outlook.office.com/webhook/abc".into(),
///     ..Config::default()
/// };
/// let service = TeamsService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options::default()).is_ok());
///
/// let relative = Options { channel_url: "outlook.office.com/webhook/abc".into() };
/// assert!(service.handler(relative).unwrap_err().to_string().contains("has no scheme"));
/// ```
#[derive(Debug)]
pub struct TeamsService {
    teams: Teams,
}

#[async_trait]
impl Service for TeamsService {
    const KIND: &'static str = "teams";
    const DESCRIPTION: &'static str = "posts each alert to a Microsoft Teams channel as a MessageCard through its incoming webhook";
    const TICK: TickShape =
        TickShape::new("teams").chained(&[Chained::value("channelURL", "channel-url")]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let client =
            Client::new(&ClientOptions::default()).map_err(|e| Invalid::new(e.to_string()))?;
        Ok(TeamsService {
            teams: Teams {
                config: init.config,
                client,
            },
        })
    }

    /// Refuses a channel URL that is not http(s) with a host.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        if !options.channel_url.is_empty() {
            klaxon_http::check_url("channel-url", &options.channel_url)?;
        }
        Ok(Arc::new(TeamsHandler {
            channel_url: options.channel_url,
            teams: self.teams.clone(),
        }))
    }

    fn test_options(&self) -> TestOptions {
        TestOptions {
            channel_url: String::new(),
            alert_topic: "test kapacitor alert topic".to_owned(),
            alert_id: "foo/bar/bat".to_owned(),
            message: "test teams message".to_owned(),
            level: Level::Critical,
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        if !options.channel_url.is_empty() {
            klaxon_http::check_url("channel_url", &options.channel_url)
                .map_err(|e| HandlerError::permanent(e.message()))?;
        }
        let card = Card::new(
            &options.alert_topic,
            &options.alert_id,
            &options.message,
            options.level,
        );
        self.teams.post(&options.channel_url, &card).await
    }

    fn global(&self) -> Global {
        self.teams.config.get().global()
    }
}

/// Posts each event as a card to one channel, or to the configured one.
#[derive(Debug)]
struct TeamsHandler {
    channel_url: String,
    teams: Teams,
}

#[async_trait]
impl Handler for TeamsHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let state = &event.state;
        let card = Card::new(&event.topic, &state.id, &state.message, state.level);
        self.teams.post(&self.channel_url, &card).await
    }
}

/// The Teams client, shared by the service and its handlers.
#[derive(Debug, Clone)]
struct Teams {
    config: Live<Config>,
    client: Client,
}

/// Kapacitor's MessageCard, in its field order.
#[derive(Debug, Serialize)]
struct Card {
    #[serde(rename = "@type")]
    card_type: &'static str,
    #[serde(rename = "@context")]
    context: &'static str,
    title: String,
    text: String,
    summary: String,
    #[serde(rename = "themeColor")]
    theme_color: &'static str,
}

impl Card {
    /// Kapacitor's card for an alert: the title names the level and the alert's ID (or, without
    /// one, its topic); the summary is the title and message cut to 70 bytes, then `...`.
    fn new(topic: &str, id: &str, message: &str, level: Level) -> Card {
        let level_text = level.as_str();
        let (title, summary) = match (id.is_empty(), topic.is_empty()) {
            (true, true) => (level_text.to_owned(), format!("{level_text}: {message}")),
            (true, false) => {
                let title = format!("{level_text}: [{topic}]");
                let summary = format!("{title} - {message}");
                (title, summary)
            }
            (false, _) => {
                let title = format!("{level_text}: [{id}]");
                let summary = format!("{title} - {message}");
                (title, summary)
            }
        };
        Card {
            card_type: "MessageCard",
            context: "http://schema.org/extensions",
            title,
            text: message.to_owned(),
            summary: format!("{}...", cut(&summary, SUMMARY_CUTOFF)),
            theme_color: match level {
                Level::Warning => "FFA533",
                Level::Critical => "CC4A31",
                Level::Ok | Level::Info => "34CC25",
            },
        }
    }
}

/// `text` cut to at most `limit` bytes. Kapacitor cuts at the byte, which can split a character
/// (Teams then shows replacement characters); this keeps whole characters only.
fn cut(text: &str, limit: usize) -> &str {
    let end = text
        .char_indices()
        .map(|(start, c)| start + c.len_utf8())
        .take_while(|&end| end <= limit)
        .last()
        .unwrap_or(0);
    &text[..end]
}

impl Teams {
    /// Posts `card` to `channel_url`, or to the configured channel when it is empty.
    async fn post(&self, channel_url: &str, card: &Card) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let url = if channel_url.is_empty() {
            &config.channel_url
        } else {
            channel_url
        };
        // Go's json.Marshal, as Kapacitor encodes the card: its escapes, no trailing newline.
        let body = klaxon_core::json::to_go_string(card);
        let request = self
            .client
            .request(Method::POST, url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(TIMEOUT);
        // The URL of a webhook is its secret: messages show only its origin.
        let origin = Url::parse(url).map(|u| u.origin().ascii_serialization());
        let what = format!("POST {}/[redacted]", origin.unwrap_or_default());
        let response = request
            .send()
            .await
            .map_err(|e| failure::request_failed(&what, TIMEOUT, &e))?;
        // Any 2xx is a success (Kapacitor: 200 and 204); 5xx and 429 are retryable.
        failure::check_response(&what, response, explain).await
    }
}

/// What Teams says when it refuses a card: the `error` of a JSON answer, else the answer's text
/// (Teams answers errors in plain text).
fn explain(_: StatusCode, body: &str) -> String {
    failure::explain_json(body, &["error"])
}
