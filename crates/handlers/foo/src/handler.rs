//! The foo handler: posts `{"room", "message"}` to the Foo chat service for each alert.

use std::error::Error;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use klaxon_core::{
    Chained, Event, Handler, HandlerError, Invalid, Service, TickShape, async_trait,
};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};

use crate::Config;

/// The options of one foo handler.
///
/// ```json
/// {"room": "alerts"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The room to post alert messages to. Empty means the configured `[foo] room`, as it is
    /// when each alert is sent.
    pub room: String,
}

/// The options of the Foo service test.
///
/// ```json
/// {"room": "alerts", "message": "test foo message"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The room to post the test message to; defaults to the configured room.
    pub room: String,
    /// The message to post.
    pub message: String,
}

/// The `foo` handler kind: posts each alert message to a room of the Foo chat service.
///
/// ```
/// use klaxon_core::Service;
/// use klaxon_handler_foo::{Config, FooService, Options};
///
/// let config = Config {
///     enabled: true,
///     url: "http://127.0.0.1:8088/".into(),
///     room: "alerts".into(),
///     ..Config::default()
/// };
/// let service = FooService::new(config);
/// // This handler posts to the configured room; `room: "ops"` would choose another.
/// assert!(service.handler(Options::default()).is_ok());
/// assert_eq!(service.test_options().room, "alerts");
/// ```
#[derive(Debug)]
pub struct FooService {
    foo: Foo,
}

#[async_trait]
impl Service for FooService {
    const KIND: &'static str = "foo";
    const DESCRIPTION: &'static str = "posts each alert message to a room of the Foo chat service";
    const TICK: TickShape = TickShape::new("foo").chained(&[Chained::value("room", "room")]);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(config: Config) -> Self {
        FooService {
            foo: Foo {
                config: Arc::new(RwLock::new(config)),
                client: reqwest::Client::new(),
            },
        }
    }

    fn update(&self, config: Config) {
        *self
            .foo
            .config
            .write()
            .unwrap_or_else(PoisonError::into_inner) = config;
    }

    fn default_options(&self) -> Options {
        // An empty room follows the configured room, including later changes to it.
        Options::default()
    }

    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        Ok(Arc::new(FooHandler {
            room: options.room,
            foo: self.foo.clone(),
        }))
    }

    fn test_options(&self) -> TestOptions {
        TestOptions {
            room: self.foo.config().room,
            message: "test foo message".to_owned(),
        }
    }

    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        self.foo.alert(&options.room, &options.message).await
    }
}

/// Posts each event's message to one room.
#[derive(Debug)]
struct FooHandler {
    room: String,
    foo: Foo,
}

#[async_trait]
impl Handler for FooHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.foo.alert(&self.room, &event.state.message).await
    }
}

/// The Foo service client, shared by the service and its handlers: the live configuration, so
/// that `update()` reaches handlers made earlier, and one HTTP client (one connection pool).
#[derive(Debug, Clone)]
struct Foo {
    config: Arc<RwLock<Config>>,
    client: reqwest::Client,
}

/// The body of a post to the Foo server.
#[derive(Serialize)]
struct PostMessage<'a> {
    room: &'a str,
    message: &'a str,
}

impl Foo {
    fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Posts `message` to `room`, or to the configured room when `room` is empty.
    async fn alert(&self, room: &str, message: &str) -> Result<(), HandlerError> {
        let config = self.config();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let room = if room.is_empty() { &config.room } else { room };
        // Encoded as Kapacitor's Go service encodes it, byte for byte.
        let body = klaxon_core::json::to_go_string(&PostMessage { room, message });
        let timeout = config.timeout.to_std();
        let response = self
            .client
            .post(&config.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| request_error(&config.url, timeout, &e))?;
        match response.status() {
            StatusCode::OK => Ok(()),
            status => {
                let message = format!(
                    "unexpected response code {} from Foo service",
                    status.as_u16()
                );
                if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                    Err(HandlerError::transient(message))
                } else {
                    Err(HandlerError::permanent(message))
                }
            }
        }
    }
}

/// Describes a post that got no response. Network failures and timeouts are retryable; a URL the
/// client cannot use is not.
fn request_error(url: &str, timeout: Duration, err: &reqwest::Error) -> HandlerError {
    if err.is_timeout() {
        return HandlerError::timed_out(format_args!("POST {url}"), timeout);
    }
    // reqwest's own message repeats the URL; its causes say what happened ("Connection refused").
    let mut message = format!("POST {url}");
    let mut cause: Option<&dyn Error> = err.source().or(Some(err));
    while let Some(err) = cause {
        message.push_str(&format!(": {err}"));
        cause = err.source();
    }
    if err.is_builder() {
        HandlerError::permanent(message)
    } else {
        HandlerError::transient(message)
    }
}
