//! The `Service` trait: everything a handler kind provides, typed for its author.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Handler, HandlerError, Invalid, TickShape};

/// A handler kind: its `[kind]` configuration section, its handler options, its service test and
/// its TICKscript form. One implementation per handler crate, registered with
/// [`register_service!`](crate::register_service).
///
/// The server builds one service per kind from its configuration section, opens it at start,
/// pushes live configuration changes through [`Service::update`], asks it for a [`Handler`] per
/// handler spec, and closes it at shutdown.
///
/// ```
/// use std::sync::{Arc, RwLock};
/// use async_trait::async_trait;
/// use klaxon_core::{Event, Handler, HandlerError, Invalid, Service, ServiceConfig, TickShape};
///
/// /// Configuration of the `[echo]` section.
/// #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// pub struct Config {
///     /// A prefix put before every message.
///     pub prefix: String,
/// }
///
/// impl ServiceConfig for Config {}
///
/// /// Options of one echo handler.
/// #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// pub struct Options {
///     /// Whether to shout.
///     pub loud: bool,
/// }
///
/// #[derive(Debug)]
/// pub struct EchoService { config: RwLock<Config> }
///
/// #[derive(Debug)]
/// struct EchoHandler { prefix: String, loud: bool }
///
/// #[async_trait]
/// impl Handler for EchoHandler {
///     async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
///         let text = format!("{}{}", self.prefix, event.state.message);
///         println!("{}", if self.loud { text.to_uppercase() } else { text });
///         Ok(())
///     }
/// }
///
/// #[async_trait]
/// impl Service for EchoService {
///     const KIND: &'static str = "echo";
///     const DESCRIPTION: &'static str = "prints each alert message";
///     const TICK: TickShape = TickShape::new("echo");
///     type Config = Config;
///     type Options = Options;
///     type TestOptions = Options;
///
///     fn new(config: Config) -> Self {
///         EchoService { config: RwLock::new(config) }
///     }
///     fn update(&self, config: Config) {
///         *self.config.write().unwrap() = config;
///     }
///     fn default_options(&self) -> Options {
///         Options::default()
///     }
///     fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
///         let prefix = self.config.read().unwrap().prefix.clone();
///         Ok(Arc::new(EchoHandler { prefix, loud: options.loud }))
///     }
///     fn test_options(&self) -> Options {
///         Options::default()
///     }
///     async fn test(&self, options: Options) -> Result<(), HandlerError> {
///         self.handler(options)
///             .map_err(|e| HandlerError::permanent(e.to_string()))?
///             .handle(&Event::sample("test echo message"))
///             .await
///     }
/// }
///
/// klaxon_core::register_service!(EchoService);
/// # fn main() {}
/// ```
#[async_trait]
pub trait Service: Sized + Send + Sync + fmt::Debug + 'static {
    /// The kind name, used in handler specs (`kind: echo`), as the configuration section
    /// (`[echo]`) and as the service-test name. Lowercase letters, digits and `-`.
    const KIND: &'static str;

    /// One line saying what the handler does, for listings and generated documentation.
    const DESCRIPTION: &'static str;

    /// How the handler is written in TICKscript.
    const TICK: TickShape;

    /// The `[kind]` configuration section.
    type Config: ServiceConfig;

    /// The options of one handler. The same type decodes handler files, the HTTP API and
    /// TICKscript calls (via [`Service::TICK`]). Use `#[serde(deny_unknown_fields)]`.
    type Options: Serialize + DeserializeOwned + JsonSchema + Send + 'static;

    /// The options of the service test (`POST /kapacitor/v1/service-tests/<kind>`).
    type TestOptions: Serialize + DeserializeOwned + JsonSchema + Send + 'static;

    /// Builds the service from a validated configuration section.
    fn new(config: Self::Config) -> Self;

    /// Applies a changed, validated configuration to the running service. Handlers made before
    /// the change should see it on their next event where that makes sense (Foo's URL and room).
    fn update(&self, config: Self::Config);

    /// The options a handler starts from before the spec's own options are decoded into them.
    /// Derived from the configuration, such as Foo's default room.
    fn default_options(&self) -> Self::Options;

    /// Checks the options (program allowed, address well formed...) and makes a handler.
    /// Errors here refuse the definition: the handler file, API call or TICKscript.
    fn handler(&self, options: Self::Options) -> Result<Arc<dyn Handler>, Invalid>;

    /// The service test's defaults; the request body is decoded into them.
    fn test_options(&self) -> Self::TestOptions;

    /// Runs the service test once with these options.
    async fn test(&self, options: Self::TestOptions) -> Result<(), HandlerError>;

    /// Called once at server start, before any handler is made.
    async fn open(&self) -> Result<(), Invalid> {
        Ok(())
    }

    /// Called once at shutdown, after deliveries have stopped.
    async fn close(&self) {}
}

/// A `[kind]` configuration section.
///
/// Derive `Serialize`, `Deserialize` and `JsonSchema`, use `#[serde(deny_unknown_fields,
/// rename_all = "kebab-case")]` and put a doc comment on every field: the doc comments become the
/// comments of `klaxond config`. `Default` gives the built-in defaults.
///
/// ```
/// use klaxon_core::{Invalid, ServiceConfig};
///
/// /// The Foo chat service.
/// #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// #[serde(deny_unknown_fields, rename_all = "kebab-case")]
/// pub struct Config {
///     /// Whether the service is on.
///     pub enabled: bool,
///     /// The URL of the Foo server.
///     pub url: String,
/// }
///
/// impl ServiceConfig for Config {
///     fn validate(&self) -> Result<(), Invalid> {
///         if self.enabled && self.url.is_empty() {
///             return Err(Invalid::new("must specify the Foo server URL"));
///         }
///         Ok(())
///     }
/// }
///
/// assert!(Config { enabled: true, url: String::new() }.validate().is_err());
/// ```
pub trait ServiceConfig:
    Serialize + DeserializeOwned + JsonSchema + Default + Clone + fmt::Debug + Send + Sync + 'static
{
    /// Keys whose values are secret: redacted by the config API and never logged.
    const SECRETS: &'static [&'static str] = &[];

    /// Checks values that the types alone do not (a URL required when enabled...).
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}
