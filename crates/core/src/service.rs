//! The `Service` trait: everything a handler kind provides, typed for its author.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Event, Handler, HandlerError, Init, Invalid, TickShape};

/// A handler kind: its `[kind]` configuration section, its handler options, its service test and
/// its TICKscript form. One implementation per handler crate, registered with
/// [`register_service!`](crate::register_service).
///
/// The server builds one service per kind from its configuration section with [`Service::new`],
/// opens it at start, asks it for a [`Handler`] per handler spec, and closes it at shutdown. A
/// configuration change through the config API is checked by [`Service::reconfigure`] and then
/// reaches the service and its handlers through the [`Live`](crate::Live) handle in [`Init`].
///
/// Three functions carry a kind's meaning and have no default: `new`, `handler` and `test`
/// ([`sample_test`] is the service test of most kinds). The others have defaults.
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use klaxon_core::{
///     Event, Handler, HandlerError, Init, Invalid, Live, Service, ServiceConfig, TickShape,
///     sample_test,
/// };
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
/// pub struct EchoService { config: Live<Config> }
///
/// #[derive(Debug)]
/// struct EchoHandler { config: Live<Config>, loud: bool }
///
/// #[async_trait]
/// impl Handler for EchoHandler {
///     async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
///         let text = format!("{}{}", self.config.get().prefix, event.state.message);
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
///     fn new(init: Init<Config>) -> Result<Self, Invalid> {
///         Ok(EchoService { config: init.config })
///     }
///     fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
///         Ok(Arc::new(EchoHandler { config: self.config.clone(), loud: options.loud }))
///     }
///     async fn test(&self, options: Options) -> Result<(), HandlerError> {
///         sample_test(self, options, "test echo message").await
///     }
/// }
///
/// klaxon_core::register_service!(EchoService);
/// # fn main() {}
/// ```
#[async_trait]
pub trait Service: Sized + Send + Sync + fmt::Debug + 'static {
    /// The kind name, used in handler specs (`kind: echo`). The rules are
    /// [`crate::naming::check_kind`]'s.
    const KIND: &'static str;

    /// The configuration section (`[echo]`) and the service-test name: the kind unless the kind
    /// differs, as Kapacitor's `post` kind has the section and test `httppost`.
    const SECTION: &'static str = Self::KIND;

    /// One line saying what the handler does, for listings and generated documentation.
    const DESCRIPTION: &'static str;

    /// How the handler is written in TICKscript. Its property must be unique among the linked
    /// crates and not one of the alert node's own ([`crate::naming::check_property`]).
    const TICK: TickShape;

    /// The `[kind]` configuration section.
    type Config: ServiceConfig;

    /// The options of one handler. The same type decodes handler files, the HTTP API and
    /// TICKscript calls (via [`Service::TICK`]), each decoded into [`Service::default_options`].
    /// Use `#[serde(default, deny_unknown_fields)]`.
    type Options: Serialize + DeserializeOwned + JsonSchema + Default + Send + 'static;

    /// The options of the service test (`POST /kapacitor/v1/service-tests/<kind>`), decoded into
    /// [`Service::test_options`].
    type TestOptions: Serialize + DeserializeOwned + JsonSchema + Default + Send + 'static;

    /// Builds the service from a validated configuration section and what the server provides.
    /// Keep `init.config` (or clones of it in handlers) to see configuration changes. An error
    /// stops the server from starting, reported as `<kind>: <error>`: build once here what the
    /// configuration implies (an allowlist, a client), so that a bad value is refused at start.
    fn new(init: Init<Self::Config>) -> Result<Self, Invalid>;

    /// Checks the options (program allowed, address well formed...) and makes a handler.
    /// Errors here refuse the definition: the handler file, API call or TICKscript.
    fn handler(&self, options: Self::Options) -> Result<Arc<dyn Handler>, Invalid>;

    /// Runs the service test once with these options.
    async fn test(&self, options: Self::TestOptions) -> Result<(), HandlerError>;

    /// The options a handler starts from before the spec's own options are decoded into them.
    /// Override it to derive defaults from the configuration.
    fn default_options(&self) -> Self::Options {
        Self::Options::default()
    }

    /// The service test's defaults; the request body is decoded into them. Override it to take
    /// defaults from the configuration (Kapacitor's tests show them in `GET /service-tests`).
    fn test_options(&self) -> Self::TestOptions {
        Self::TestOptions::default()
    }

    /// Told of a changed, validated configuration before the service and its handlers see it
    /// through their [`Live`](crate::Live) handle. Return an error to refuse the change (the
    /// config API answers 400 with it), for a key that cannot change while the server runs;
    /// rebuild here what depends on the configuration, such as a client.
    fn reconfigure(&self, _config: &Self::Config) -> Result<(), Invalid> {
        Ok(())
    }

    /// Whether every `|alert()` node gets a handler of this kind without naming it, as
    /// Kapacitor's `global = true` (and `state-changes-only = true`) keys do for the kinds that
    /// have them. Asked when a task is defined or started, from the configuration as it is then;
    /// [`Global::OFF`] unless overridden.
    fn global(&self) -> Global {
        Global::OFF
    }

    /// The named endpoints this service offers TICKscript's `|httpPost()` node for
    /// `.endpoint('name')`, from the configuration as it is now; `None` (the default) when it
    /// offers none. Asked when a task using `.endpoint()` is defined or started, so that the
    /// engine finds Kapacitor's `[[httppost]]` endpoints without naming the crate that has them.
    fn http_post_endpoints(&self) -> Option<Vec<crate::PostEndpoint>> {
        None
    }

    /// Called once at server start, before any handler is made.
    async fn open(&self) -> Result<(), Invalid> {
        Ok(())
    }

    /// Called once at shutdown, after deliveries have stopped.
    async fn close(&self) {}
}

/// A kind's `global` setting: whether every alert node of every TICKscript task gets a handler of
/// this kind with the default options, unless the node already names one (Kapacitor's
/// `[slack] global = true`), and whether that also makes every alert node state-changes-only
/// (`state-changes-only = true`, which Kapacitor applies to all nodes, whatever their handlers).
///
/// ```
/// let global = klaxon_core::Global { handler: true, state_changes_only: false };
/// assert_ne!(global, klaxon_core::Global::OFF);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Global {
    /// Every alert node that names no handler of this kind gets one.
    pub handler: bool,
    /// With `handler`, every alert node emits only state changes.
    pub state_changes_only: bool,
}

impl Global {
    /// Neither: the kind's handlers are only those named.
    pub const OFF: Global = Global {
        handler: false,
        state_changes_only: false,
    };

    /// From Kapacitor's two keys: `state-changes-only` counts only with `global`.
    pub fn from_keys(global: bool, state_changes_only: bool) -> Global {
        Global {
            handler: global,
            state_changes_only: global && state_changes_only,
        }
    }
}

/// The service test of most kinds: makes a handler from `options` and sends it one sample alert
/// ([`Event::sample`]) whose message is `message`. A refused option fails the test with the
/// refusal's text.
///
/// ```
/// # use std::sync::Arc;
/// # use klaxon_core::{async_trait, Event, Handler, HandlerError, Init, Invalid, Service, ServiceConfig, TickShape};
/// # #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// # pub struct Config {}
/// # impl ServiceConfig for Config {}
/// # #[derive(Debug)]
/// # struct Refuse;
/// # #[async_trait]
/// # impl Handler for Refuse {
/// #     async fn handle(&self, e: &Event) -> Result<(), HandlerError> {
/// #         Err(HandlerError::permanent(format!("refused {:?}", e.state.message)))
/// #     }
/// # }
/// # #[derive(Debug)]
/// # struct Pager;
/// # #[async_trait]
/// # impl Service for Pager {
/// #     const KIND: &'static str = "pager";
/// #     const DESCRIPTION: &'static str = "pages";
/// #     const TICK: TickShape = TickShape::new("pager");
/// #     type Config = Config;
/// #     type Options = Config;
/// #     type TestOptions = Config;
/// #     fn new(_: Init<Config>) -> Result<Self, Invalid> { Ok(Pager) }
/// #     fn handler(&self, _: Config) -> Result<Arc<dyn Handler>, Invalid> { Ok(Arc::new(Refuse)) }
/// #     async fn test(&self, o: Config) -> Result<(), HandlerError> {
/// #         klaxon_core::sample_test(self, o, "test pager message").await
/// #     }
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pager = Pager::new(Init::new(Config {})).unwrap();
/// let err = pager.test(Config {}).await.unwrap_err();
/// assert_eq!(err.message(), "refused \"test pager message\"");
/// # });
/// ```
pub async fn sample_test<S: Service>(
    service: &S,
    options: S::Options,
    message: &str,
) -> Result<(), HandlerError> {
    let handler = service
        .handler(options)
        .map_err(|e| HandlerError::permanent(e.message()))?;
    handler.handle(&Event::sample(message)).await
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

    /// For a list section (`[[httppost]]`, an [`Elements`](crate::Elements)), the key naming an
    /// element; `None` for a single table.
    const ELEMENT_KEY: Option<&'static str> = None;

    /// Checks values that the types alone do not (a URL required when enabled...).
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }

    /// Decodes a section as written (`null` for none) into the defaults and validates it:
    /// absent keys keep their defaults, unknown keys are refused listing the known ones.
    fn decode(section: &serde_json::Value) -> Result<Self, Invalid> {
        let config: Self =
            crate::decode::decode_into(&Self::default(), section, crate::decode::Noun::Key)?;
        config.validate()?;
        Ok(config)
    }
}
