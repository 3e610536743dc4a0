//! The discord handler: posts each alert's message to a Discord webhook as one embed colored by
//! level.

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::template::{Template, TemplateError};
use klaxon_core::{
    Chained, Event, Global, Handler, HandlerError, Init, Invalid, Level, Live, Service, TickShape,
    Timestamp, async_trait,
};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Clients, Method, Response, Url, failure};
use serde::{Deserialize, Serialize};

use crate::Config;
use crate::config::Workspace;

/// How long one post may take: Kapacitor's Discord client timeout.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The avatar of Kapacitor's service test.
const TEST_AVATAR: &str =
    "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png";

/// The options of one discord handler. Each empty option takes the workspace's value when the
/// alert is sent.
///
/// ```json
/// {"workspace": "guild-channel", "username": "Kapacitor", "avatar-url": "https://example.com/a.png", "embed-title": "Kapacitor Alert"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// The `[[discord]]` workspace to post with. Empty: the default workspace.
    pub workspace: String,
    /// The webhook's username. Empty: the workspace's username.
    pub username: String,
    /// The URL of the webhook's avatar. Empty: the workspace's.
    pub avatar_url: String,
    /// The embed title: a Go template over the alert ("{{ .Level }}: {{ .ID }}"). Empty: the
    /// workspace's embed-title.
    pub embed_title: String,
}

/// The options of the Discord service test, Kapacitor's.
///
/// ```json
/// {"workspace": "", "message": "test discord message", "level": "INFO", "username": "Kapacitor", "avatar-url": "https://...", "embed-title": "Kapacitor Alert", "time-val": "1970-01-01T00:00:01Z"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestOptions {
    /// The workspace; defaults to the default workspace's name.
    pub workspace: String,
    /// The message.
    pub message: String,
    /// The level, which sets the embed's color.
    pub level: Level,
    /// The webhook's username.
    pub username: String,
    /// The URL of the webhook's avatar.
    pub avatar_url: String,
    /// The embed title, as it is (not a template).
    pub embed_title: String,
    /// The time of the test alert, RFC 3339, shown when the workspace has timestamp = true.
    #[schemars(with = "String")]
    pub time_val: Timestamp,
}

/// The `discord` handler kind: posts each alert to a Discord channel's webhook.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_discord::{Config, DiscordService, Options, Workspace};
///
/// let config = Config::new(vec![Workspace {
///     enabled: true,
///     workspace: "guild-alerts".into(),
///     url: "https://discord.com/api/webhooks/123/abc".into(),
///     ..Workspace::default()
/// }]);
/// let service = DiscordService::new(Init::new(config)).unwrap();
/// assert!(service.handler(Options::default()).is_ok());
///
/// let title = Options { embed_title: "{{ .Level ".into(), ..Options::default() };
/// assert!(service.handler(title).unwrap_err().to_string().starts_with("embed-title"));
/// ```
#[derive(Debug)]
pub struct DiscordService {
    discord: Discord,
}

#[async_trait]
impl Service for DiscordService {
    const KIND: &'static str = "discord";
    const DESCRIPTION: &'static str =
        "posts each alert to a Discord channel's webhook as an embed colored by level";
    const TICK: TickShape = TickShape::new("discord").chained(&[
        Chained::value("workspace", "workspace"),
        Chained::value("username", "username"),
        Chained::value("avatarURL", "avatar-url"),
        Chained::value("embedTitle", "embed-title"),
    ]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let discord = Discord {
            config: init.config,
            clients: Clients::default(),
        };
        // TLS files that cannot be used refuse to start, rather than failing every alert.
        discord
            .clients
            .check_elements(&discord.config.get(), Workspace::client_options)?;
        Ok(DiscordService { discord })
    }

    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        self.discord
            .clients
            .check_elements(config, Workspace::client_options)
    }

    /// Refuses a workspace the configuration does not have (naming those it has), an avatar URL
    /// that is not http(s), and an embed title that is not a template.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        self.discord
            .config
            .get()
            .named_or_default(&options.workspace)?;
        if !options.avatar_url.is_empty() {
            klaxon_http::check_url("avatar-url", &options.avatar_url)?;
        }
        let title = match options.embed_title.as_str() {
            "" => None,
            source => Some(parse_title(source).map_err(|reason| {
                Invalid::new(format!(
                    "embed-title {source:?} is not a valid template: {reason}"
                ))
            })?),
        };
        Ok(Arc::new(DiscordHandler {
            options,
            title,
            discord: self.discord.clone(),
        }))
    }

    fn test_options(&self) -> TestOptions {
        let config = self.discord.config.get();
        TestOptions {
            workspace: config
                .default_element()
                .map(|w| w.workspace.clone())
                .unwrap_or_default(),
            message: "test discord message".to_owned(),
            level: Level::Info,
            username: "Kapacitor".to_owned(),
            avatar_url: TEST_AVATAR.to_owned(),
            embed_title: "Kapacitor Alert".to_owned(),
            time_val: Timestamp::from_nanos(1_000_000_000),
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let config = self.discord.config.get();
        let workspace = usable(&config, &options.workspace)?;
        let post = Post {
            username: &options.username,
            avatar_url: &options.avatar_url,
            title: &options.embed_title,
            message: &options.message,
            time: options.time_val,
            level: options.level,
        };
        self.discord.post(workspace, &post).await
    }

    fn global(&self) -> Global {
        self.discord.config.get().global()
    }
}

/// Parses an embed title, a template over Kapacitor's `alert.TemplateData`.
pub(crate) fn parse_title(source: &str) -> Result<Template, TemplateError> {
    Template::parse("embedTitle", source)
}

/// Posts each event with one handler's options.
#[derive(Debug)]
struct DiscordHandler {
    options: Options,
    /// The handler's own title, parsed; `None` uses the workspace's.
    title: Option<Template>,
    discord: Discord,
}

#[async_trait]
impl Handler for DiscordHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let config = self.discord.config.get();
        let workspace = usable(&config, &self.options.workspace)?;
        let title = match &self.title {
            Some(own) => own.clone(),
            // Checked when the configuration was accepted.
            None => parse_title(&workspace.embed_title)
                .map_err(|e| HandlerError::permanent(e.to_string()))?,
        };
        let title = title.render(event).map_err(|reason| {
            HandlerError::permanent(format!("cannot render the embed title: {reason}"))
        })?;
        let own_or = |own: &'_ String, configured: &'_ String| {
            if own.is_empty() { configured } else { own }.clone()
        };
        let username = own_or(&self.options.username, &workspace.username);
        let avatar_url = own_or(&self.options.avatar_url, &workspace.avatar_url);
        let post = Post {
            username: &username,
            avatar_url: &avatar_url,
            title: &title,
            message: &event.state.message,
            time: event.state.time,
            level: event.state.level,
        };
        self.discord.post(workspace, &post).await
    }
}

/// The workspace `name` names, if it exists and is enabled.
fn usable<'a>(config: &'a Config, name: &str) -> Result<&'a Workspace, HandlerError> {
    let workspace = config
        .named_or_default(name)
        .map_err(|e| HandlerError::permanent(e.message()))?;
    if !workspace.enabled {
        return Err(HandlerError::permanent("service is not enabled"));
    }
    Ok(workspace)
}

/// The Discord client, shared by the service and its handlers: the live configuration, and one
/// HTTP client per set of TLS settings in use.
#[derive(Debug, Clone)]
struct Discord {
    config: Live<Config>,
    clients: Clients,
}

/// What one post says.
struct Post<'a> {
    username: &'a str,
    avatar_url: &'a str,
    title: &'a str,
    message: &'a str,
    time: Timestamp,
    level: Level,
}

/// The body Kapacitor posts: a Go map, so its keys are sorted.
#[derive(Serialize)]
struct PostData<'a> {
    avatar_url: &'a str,
    embeds: [Embed<'a>; 1],
    username: &'a str,
}

/// Kapacitor's embed struct, in its field order.
#[derive(Serialize)]
struct Embed<'a> {
    color: u32,
    title: &'a str,
    description: &'a str,
    timestamp: String,
}

impl Discord {
    /// Posts `post` to `workspace`'s webhook.
    async fn post(&self, workspace: &Workspace, post: &Post<'_>) -> Result<(), HandlerError> {
        let timestamp = if workspace.timestamp {
            // Go's time.RFC3339: whole seconds.
            let nanos = post.time.as_nanos();
            Timestamp::from_nanos(nanos - nanos.rem_euclid(1_000_000_000)).to_rfc3339_nano()
        } else {
            String::new()
        };
        let body = PostData {
            avatar_url: post.avatar_url,
            embeds: [Embed {
                color: color(post.level),
                title: post.title,
                description: post.message,
                timestamp,
            }],
            username: post.username,
        };
        // Go's json.Encoder, as Kapacitor encodes it: its escapes and a trailing newline.
        let mut body = klaxon_core::json::to_go_string(&body);
        body.push('\n');
        let client = self
            .clients
            .get(&workspace.client_options())
            .map_err(|e| HandlerError::permanent(e.to_string()))?;
        let request = client
            .request(Method::POST, &workspace.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(TIMEOUT);
        // The URL of a webhook holds its token: messages show only its origin.
        let origin = Url::parse(&workspace.url).map(|u| u.origin().ascii_serialization());
        let what = format!("POST {}/[redacted]", origin.unwrap_or_default());
        let response = request
            .send()
            .await
            .map_err(|e| failure::request_failed(&what, TIMEOUT, &e))?;
        check_answer(&what, response).await
    }
}

/// Kapacitor's embed color of a level.
fn color(level: Level) -> u32 {
    match level {
        Level::Critical => 0xF9_5F53,
        Level::Warning => 0xF4_8D38,
        Level::Ok | Level::Info => 0x7A_65F2,
    }
}

/// Discord's error answer: `{"message": "Unknown Webhook", "code": 10015}`, with `retry_after`
/// (seconds) when it limits the rate. Only the wait is read here; the message is
/// [`failure::explain_json`]'s (Kapacitor read an `error` key, which Discord does not send).
#[derive(Deserialize)]
struct Refusal {
    retry_after: Option<f64>,
}

/// Any 2xx is a success (Discord answers 204, or 200 with `?wait=true`); otherwise the error
/// carries Discord's message (or the answer's text), retryable for 5xx and 429, after the
/// `Retry-After` header or Discord's own `retry_after`.
async fn check_answer(what: &str, response: Response) -> Result<(), HandlerError> {
    let mut asked = None;
    let checked = failure::check_response(what, response, |_, body| {
        asked = serde_json::from_str::<Refusal>(body)
            .ok()
            .and_then(|refusal| refusal.retry_after)
            .filter(|s| s.is_finite() && *s >= 0.0);
        failure::explain_json(body, &["message", "error"])
    })
    .await;
    checked.map_err(|err| match asked {
        Some(seconds) if err.is_retryable() && err.retry_after().is_none() => {
            err.with_retry_after(Duration::from_secs_f64(seconds.ceil()))
        }
        _ => err,
    })
}
