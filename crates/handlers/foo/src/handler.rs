//! The foo handler: posts `{"room", "message"}` to the Foo chat service for each alert.

use std::sync::Arc;

use klaxon_core::{
    Chained, Event, Handler, HandlerError, Init, Invalid, Live, Service, TickShape, async_trait,
};
use klaxon_http::header::CONTENT_TYPE;
use klaxon_http::{Clients, Method, StatusCode};
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
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_foo::{Config, FooService, Options};
///
/// let config = Config {
///     enabled: true,
///     url: "http://127.0.0.1:8088/".into(),
///     room: "alerts".into(),
///     ..Config::default()
/// };
/// let service = FooService::new(Init::new(config)).unwrap();
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

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let service = Foo {
            config: init.config,
            clients: Clients::default(),
        };
        // A CA file that cannot be used refuses to start, rather than failing every alert.
        service.reconfigure(&service.config.get())?;
        Ok(FooService { foo: service })
    }

    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        self.foo.reconfigure(config)
    }

    /// An empty room (the default options) follows the configured room, including later changes
    /// to it.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        Ok(Arc::new(FooHandler {
            room: options.room,
            foo: self.foo.clone(),
        }))
    }

    fn test_options(&self) -> TestOptions {
        TestOptions {
            room: self.foo.config.get().room.clone(),
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

/// The Foo service client, shared by the service and its handlers: the live configuration, and
/// the HTTP client for its TLS settings (one connection pool).
#[derive(Debug, Clone)]
struct Foo {
    config: Live<Config>,
    clients: Clients,
}

/// The body of a post to the Foo server.
#[derive(Serialize)]
struct PostMessage<'a> {
    room: &'a str,
    message: &'a str,
}

impl Foo {
    /// Builds the client for `config`'s TLS settings, refusing files that cannot be used.
    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        self.clients
            .get(&config.client())
            .map(|_| ())
            .map_err(|e| Invalid::new(e.to_string()))
    }

    /// Posts `message` to `room`, or to the configured room when `room` is empty.
    async fn alert(&self, room: &str, message: &str) -> Result<(), HandlerError> {
        let config = self.config.get();
        if !config.enabled {
            return Err(HandlerError::permanent("service is not enabled"));
        }
        let room = if room.is_empty() { &config.room } else { room };
        // Encoded as Kapacitor's Go service encodes it, byte for byte.
        let body = klaxon_core::json::to_go_string(&PostMessage { room, message });
        let timeout = config.timeout.to_std();
        let client = self
            .clients
            .get(&config.client())
            .map_err(|e| HandlerError::permanent(e.to_string()))?;
        let request = client
            .request(Method::POST, &config.url)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let response = client.send(request, timeout).await?;
        let status = response.status();
        if status == StatusCode::OK {
            return Ok(());
        }
        // Kapacitor's Foo example wants exactly 200; the rest is failure, retryable as HTTP says.
        let message = format!(
            "unexpected response code {} from Foo service",
            status.as_u16()
        );
        let what = format!("POST {}", config.url);
        match klaxon_http::failure::check_status(&what, status, response.headers(), None) {
            Err(e) if e.is_retryable() => {
                let error = HandlerError::transient(message);
                Err(match e.retry_after() {
                    Some(after) => error.with_retry_after(after),
                    None => error,
                })
            }
            _ => Err(HandlerError::permanent(message)),
        }
    }
}
