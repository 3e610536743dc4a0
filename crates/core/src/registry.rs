//! The link-time registry of handler kinds.
//!
//! Each handler crate registers its [`Service`] with [`register_service!`](crate::register_service),
//! which submits a [`Registration`] through `inventory`. The registry is whatever the final binary
//! links: a server binary names its handler crates (`use klaxon_handler_tcp as _;`) and nothing
//! else lists kinds. A crate that nothing names is not linked and its registration is absent, so
//! server binaries carry `#![deny(unused_crate_dependencies)]` to make a forgotten line a compile
//! error.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde_json::Value;

use crate::decode::{Noun, decode_into};
use crate::{Handler, HandlerError, Service, ServiceConfig, TickShape};

/// One registered handler kind: `'static` data and function pointers, made by
/// [`Registration::of`] and collected at link time.
pub struct Registration {
    kind: &'static str,
    description: &'static str,
    tick: TickShape,
    secrets: &'static [&'static str],
    default_config: fn() -> Value,
    config_schema: fn() -> schemars::Schema,
    options_schema: fn() -> schemars::Schema,
    build: fn(&Value) -> Result<Arc<dyn DynService>, ServiceError>,
}

inventory::collect!(Registration);

impl Registration {
    /// The registration of service `S`. Used by [`register_service!`](crate::register_service).
    pub const fn of<S: Service>() -> Registration {
        Registration {
            kind: S::KIND,
            description: S::DESCRIPTION,
            tick: S::TICK,
            secrets: <S::Config as ServiceConfig>::SECRETS,
            default_config: default_config::<S>,
            config_schema: schema_of::<S::Config>,
            options_schema: schema_of::<S::Options>,
            build: build::<S>,
        }
    }

    /// The kind name.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// One line saying what the handler does.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The handler's TICKscript form.
    pub fn tick(&self) -> &TickShape {
        &self.tick
    }

    /// Configuration keys that are secret.
    pub fn secrets(&self) -> &'static [&'static str] {
        self.secrets
    }

    /// The built-in default configuration section, as JSON.
    pub fn default_config(&self) -> Value {
        (self.default_config)()
    }

    /// The JSON schema of the configuration section (field docs are its descriptions).
    pub fn config_schema(&self) -> schemars::Schema {
        (self.config_schema)()
    }

    /// The JSON schema of the handler options.
    pub fn options_schema(&self) -> schemars::Schema {
        (self.options_schema)()
    }

    /// Decodes and validates a configuration section (`null` for the defaults) and builds the
    /// service. Errors read `foo: must specify the Foo server URL`.
    pub fn build(&self, section: &Value) -> Result<Arc<dyn DynService>, ServiceError> {
        (self.build)(section)
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("kind", &self.kind)
            .field("tick", &self.tick)
            .finish_non_exhaustive()
    }
}

fn default_config<S: Service>() -> Value {
    serde_json::to_value(S::Config::default()).unwrap_or(Value::Null)
}

fn schema_of<T: schemars::JsonSchema>() -> schemars::Schema {
    schemars::SchemaGenerator::default().into_root_schema_for::<T>()
}

fn decode_config<S: Service>(section: &Value) -> Result<S::Config, ServiceError> {
    let config = decode_into(&S::Config::default(), section, Noun::Key)
        .map_err(|e| ServiceError::new(S::KIND, e))?;
    config
        .validate()
        .map_err(|e| ServiceError::new(S::KIND, e))?;
    Ok(config)
}

fn build<S: Service>(section: &Value) -> Result<Arc<dyn DynService>, ServiceError> {
    let config = decode_config::<S>(section)?;
    Ok(Arc::new(Erased {
        service: S::new(config.clone()),
        config: RwLock::new(config),
    }))
}

/// An error that belongs to one handler kind; it reads `<kind>: <message>`.
///
/// ```
/// let err = klaxon_core::ServiceError::new("tcp", klaxon_core::Invalid::new("bad address"));
/// assert_eq!(err.to_string(), "tcp: bad address");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ServiceError {
    kind: String,
    message: String,
}

impl ServiceError {
    /// An error of `kind` with the message of `err`.
    pub fn new(kind: &str, err: impl fmt::Display) -> Self {
        ServiceError {
            kind: kind.to_owned(),
            message: err.to_string(),
        }
    }

    /// The kind the error belongs to.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The message without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Why a service test did not run or did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestError {
    /// The test options could not be decoded.
    #[error(transparent)]
    Options(ServiceError),
    /// The test ran and failed; the message is the handler's error.
    #[error("{0}")]
    Failed(HandlerError),
}

/// A running service, type-erased: what the server and engine hold per kind.
///
/// Options and configuration cross this boundary as JSON and are decoded by the service's own
/// types, so the server never names a handler's types or kinds.
#[async_trait]
pub trait DynService: Send + Sync + fmt::Debug {
    /// The kind name.
    fn kind(&self) -> &'static str;

    /// The current configuration section.
    fn config(&self) -> Value;

    /// Decodes, validates and applies a whole new configuration section.
    fn update(&self, section: &Value) -> Result<(), ServiceError>;

    /// The default handler options, derived from the configuration.
    fn default_options(&self) -> Value;

    /// Decodes options into the defaults and makes a handler; errors name the kind and field.
    fn handler(&self, options: &Value) -> Result<Arc<dyn Handler>, ServiceError>;

    /// Checks options as [`DynService::handler`] would, without keeping the handler.
    fn check_options(&self, options: &Value) -> Result<(), ServiceError> {
        self.handler(options).map(|_| ())
    }

    /// The service test's default options.
    fn test_options(&self) -> Value;

    /// Decodes `options` into the test defaults (`null` keeps them all) and runs the test.
    async fn test(&self, options: &Value) -> Result<(), TestError>;

    /// Opens the service.
    async fn open(&self) -> Result<(), ServiceError>;

    /// Closes the service.
    async fn close(&self);
}

struct Erased<S: Service> {
    service: S,
    config: RwLock<S::Config>,
}

impl<S: Service> fmt::Debug for Erased<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.service.fmt(f)
    }
}

#[async_trait]
impl<S: Service> DynService for Erased<S> {
    fn kind(&self) -> &'static str {
        S::KIND
    }

    fn config(&self) -> Value {
        let config = self.config.read().unwrap_or_else(|e| e.into_inner());
        serde_json::to_value(&*config).unwrap_or(Value::Null)
    }

    fn update(&self, section: &Value) -> Result<(), ServiceError> {
        let config = decode_config::<S>(section)?;
        self.service.update(config.clone());
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }

    fn default_options(&self) -> Value {
        serde_json::to_value(self.service.default_options()).unwrap_or(Value::Null)
    }

    fn handler(&self, options: &Value) -> Result<Arc<dyn Handler>, ServiceError> {
        let options = decode_into(&self.service.default_options(), options, Noun::Option)
            .map_err(|e| ServiceError::new(S::KIND, e))?;
        self.service
            .handler(options)
            .map_err(|e| ServiceError::new(S::KIND, e))
    }

    fn test_options(&self) -> Value {
        serde_json::to_value(self.service.test_options()).unwrap_or(Value::Null)
    }

    async fn test(&self, options: &Value) -> Result<(), TestError> {
        let options = decode_into(&self.service.test_options(), options, Noun::Option)
            .map_err(|e| TestError::Options(ServiceError::new(S::KIND, e)))?;
        self.service.test(options).await.map_err(TestError::Failed)
    }

    async fn open(&self) -> Result<(), ServiceError> {
        self.service
            .open()
            .await
            .map_err(|e| ServiceError::new(S::KIND, e))
    }

    async fn close(&self) {
        self.service.close().await;
    }
}

/// Registers a [`Service`] so that any binary linking the crate has its kind.
///
/// ```ignore
/// klaxon_core::register_service!(FooService);
/// ```
///
/// It expands to `inventory::submit!` through klaxon-core's re-export, so a handler crate needs
/// no dependency on `inventory` itself.
#[macro_export]
macro_rules! register_service {
    ($service:ty) => {
        $crate::inventory::submit! {
            $crate::registry::Registration::of::<$service>()
        }
    };
}

/// The handler kinds a binary was built with, by kind name.
///
/// ```
/// let registry = klaxon_core::Registry::linked().expect("no duplicate kinds");
/// for kind in registry.kinds() {
///     println!("{kind}");
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    entries: BTreeMap<&'static str, &'static Registration>,
    /// Linked kinds removed by [`Registry::without`], with the setting that removed them.
    disabled: BTreeMap<&'static str, (&'static Registration, Arc<str>)>,
}

/// A linked handler kind that the server's configuration disabled: what every definition naming
/// it is refused with. The setting is the server's, so this crate names none.
///
/// ```
/// use klaxon_core::registry::DisabledKind;
///
/// let err = DisabledKind::new("echo", "--disable-handlers / [server] disable-handlers");
/// assert_eq!(err.kind(), "echo");
/// assert_eq!(
///     err.to_string(),
///     "handler kind \"echo\" is disabled by --disable-handlers / [server] disable-handlers"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("handler kind {kind:?} is disabled by {setting}")]
pub struct DisabledKind {
    kind: String,
    setting: String,
}

impl DisabledKind {
    /// `kind` disabled by `setting` (as the operator writes it, such as `--disable-handlers`).
    pub fn new(kind: &str, setting: &str) -> Self {
        DisabledKind {
            kind: kind.to_owned(),
            setting: setting.to_owned(),
        }
    }

    /// The disabled kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The setting that disabled it.
    pub fn setting(&self) -> &str {
        &self.setting
    }
}

/// The registry could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two linked crates register the same kind.
    #[error(
        "handler kind {0:?} is registered twice: two linked handler crates claim it; remove one \
         from the server binary's dependencies"
    )]
    DuplicateKind(String),
    /// A kind name breaks the naming rule.
    #[error(
        "handler kind {0:?} is not a valid name: use lowercase letters, digits and '-', starting \
         with a letter"
    )]
    InvalidKind(String),
    /// A kind name is reserved for a kind built into the engine.
    #[error("handler kind {0:?} is reserved by the engine; rename the handler")]
    ReservedKind(String),
}

impl Registry {
    /// Every registration linked into this binary.
    pub fn linked() -> Result<Registry, RegistryError> {
        Registry::from_registrations(inventory::iter::<Registration>())
    }

    /// A registry of the given registrations; fails on a duplicate or malformed kind.
    pub fn from_registrations(
        registrations: impl IntoIterator<Item = &'static Registration>,
    ) -> Result<Registry, RegistryError> {
        let mut entries = BTreeMap::new();
        for registration in registrations {
            let kind = registration.kind;
            if !is_valid_kind(kind) {
                return Err(RegistryError::InvalidKind(kind.to_owned()));
            }
            if entries.insert(kind, registration).is_some() {
                return Err(RegistryError::DuplicateKind(kind.to_owned()));
            }
        }
        Ok(Registry {
            entries,
            disabled: BTreeMap::new(),
        })
    }

    /// Fails if a linked kind uses one of the `reserved` names.
    pub fn check_reserved(&self, reserved: &[&str]) -> Result<(), RegistryError> {
        match reserved.iter().find(|r| self.entries.contains_key(*r)) {
            Some(kind) => Err(RegistryError::ReservedKind((*kind).to_owned())),
            None => Ok(()),
        }
    }

    /// The same registry without the given kinds (the server's `disable-handlers`). The removed
    /// kinds are remembered with `setting`, the name of what disabled them, so that a definition
    /// naming one is told why it is missing ([`Registry::disabled`]). Names of kinds that are not
    /// linked are ignored.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use klaxon_core::{async_trait, Handler, HandlerError, Invalid, Service, ServiceConfig, TickShape};
    /// # #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # pub struct Config {}
    /// # impl ServiceConfig for Config {}
    /// # #[derive(Debug)]
    /// # pub struct PagerService;
    /// # #[async_trait]
    /// # impl Service for PagerService {
    /// #     const KIND: &'static str = "pager";
    /// #     const DESCRIPTION: &'static str = "pages someone";
    /// #     const TICK: TickShape = TickShape::new("pager");
    /// #     type Config = Config;
    /// #     type Options = Config;
    /// #     type TestOptions = Config;
    /// #     fn new(_: Config) -> Self { PagerService }
    /// #     fn update(&self, _: Config) {}
    /// #     fn default_options(&self) -> Config { Config {} }
    /// #     fn handler(&self, _: Config) -> Result<Arc<dyn Handler>, Invalid> {
    /// #         Err(Invalid::new("not in this example"))
    /// #     }
    /// #     fn test_options(&self) -> Config { Config {} }
    /// #     async fn test(&self, _: Config) -> Result<(), HandlerError> { Ok(()) }
    /// # }
    /// use klaxon_core::{Registration, Registry};
    ///
    /// static PAGER: Registration = Registration::of::<PagerService>();
    ///
    /// let linked = Registry::from_registrations([&PAGER]).unwrap();
    /// let registry = linked.without(&["pager".to_owned()], "--disable-handlers");
    /// assert!(registry.get("pager").is_none());
    /// assert_eq!(
    ///     registry.disabled("pager").unwrap().to_string(),
    ///     "handler kind \"pager\" is disabled by --disable-handlers"
    /// );
    /// assert_eq!(registry.disabled_registrations().count(), 1);
    /// assert!(linked.disabled("pager").is_none());
    /// ```
    pub fn without(&self, disabled: &[String], setting: &str) -> Registry {
        let setting: Arc<str> = Arc::from(setting);
        let mut registry = self.clone();
        for kind in disabled {
            if let Some((kind, registration)) = registry.entries.remove_entry(kind.as_str()) {
                registry
                    .disabled
                    .insert(kind, (registration, Arc::clone(&setting)));
            }
        }
        registry
    }

    /// Why `kind` is missing, when [`Registry::without`] removed it; `None` for a kind this
    /// registry has or that was never linked.
    pub fn disabled(&self, kind: &str) -> Option<DisabledKind> {
        self.disabled
            .get(kind)
            .map(|(registration, setting)| DisabledKind::new(registration.kind, setting))
    }

    /// The registrations [`Registry::without`] removed, sorted by kind: a TICKscript property
    /// that names one of them (`TickShape::property`) is refused as disabled, not as unknown.
    pub fn disabled_registrations(&self) -> impl Iterator<Item = &'static Registration> + '_ {
        self.disabled
            .values()
            .map(|(registration, _)| *registration)
    }

    /// The registration of `kind`.
    pub fn get(&self, kind: &str) -> Option<&'static Registration> {
        self.entries.get(kind).copied()
    }

    /// The kind names, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.keys().copied()
    }

    /// The registrations, sorted by kind.
    pub fn iter(&self) -> impl Iterator<Item = &'static Registration> + '_ {
        self.entries.values().copied()
    }

    /// The number of kinds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no kinds at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The kinds as a comma-separated list, or `none` (for error messages).
    pub fn kind_list(&self) -> String {
        if self.entries.is_empty() {
            return "none".to_owned();
        }
        self.kinds().collect::<Vec<_>>().join(", ")
    }
}

/// Lowercase letters, digits and `-`, starting with a letter.
///
/// ```
/// assert!(klaxon_core::registry::is_valid_kind("pager-duty2"));
/// assert!(!klaxon_core::registry::is_valid_kind("2fa"));
/// assert!(!klaxon_core::registry::is_valid_kind("Slack"));
/// ```
pub fn is_valid_kind(kind: &str) -> bool {
    let mut chars = kind.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
