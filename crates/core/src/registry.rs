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
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::decode::{Noun, decode_into};
use crate::naming::{self, NameError};
use crate::{Handler, HandlerError, Init, Live, ServerUrl, Service, ServiceConfig, TickShape};

/// One registered handler kind: `'static` data and function pointers, made by
/// [`Registration::of`] and collected at link time.
pub struct Registration {
    kind: &'static str,
    section: &'static str,
    element_key: Option<&'static str>,
    package: &'static str,
    description: &'static str,
    tick: TickShape,
    secrets: &'static [&'static str],
    default_config: fn() -> Value,
    config_schema: fn() -> schemars::Schema,
    options_schema: fn() -> schemars::Schema,
    build: BuildFn,
}

/// Decodes a configuration section and builds the erased service.
type BuildFn = fn(&Value, &ServerContext) -> Result<Arc<dyn DynService>, ServiceError>;

inventory::collect!(Registration);

impl Registration {
    /// The registration of service `S` from the crate `package`. Used by
    /// [`register_service!`](crate::register_service), which passes the crate's package name.
    pub const fn of<S: Service>(package: &'static str) -> Registration {
        Registration {
            kind: S::KIND,
            section: S::SECTION,
            element_key: <S::Config as ServiceConfig>::ELEMENT_KEY,
            package,
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

    /// The configuration section and service-test name (the kind unless the crate says
    /// otherwise, as `post` has `httppost`).
    pub fn section(&self) -> &'static str {
        self.section
    }

    /// For a list section (`[[httppost]]`), the key naming an element.
    pub fn element_key(&self) -> Option<&'static str> {
        self.element_key
    }

    /// The package (crate) that registered the kind, for errors that must name it.
    pub fn package(&self) -> &'static str {
        self.package
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
    /// service, as for tests and tools (see [`ServerContext::default`]). Errors read
    /// `foo: must specify the Foo server URL`.
    pub fn build(&self, section: &Value) -> Result<Arc<dyn DynService>, ServiceError> {
        (self.build)(section, &ServerContext::default())
    }

    /// [`Registration::build`] with what the running server provides.
    pub fn build_with(
        &self,
        section: &Value,
        context: &ServerContext,
    ) -> Result<Arc<dyn DynService>, ServiceError> {
        (self.build)(section, context)
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("kind", &self.kind)
            .field("package", &self.package)
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
    S::Config::decode(section).map_err(|e| ServiceError::new(S::SECTION, e))
}

fn build<S: Service>(
    section: &Value,
    context: &ServerContext,
) -> Result<Arc<dyn DynService>, ServiceError> {
    let config = decode_config::<S>(section)?;
    let init = Init::new(config)
        .with_data_dir(context.data_dir.join(S::KIND))
        .with_server_url(context.server_url.clone());
    let config = init.config.clone();
    let service = S::new(init).map_err(|e| ServiceError::new(S::SECTION, e))?;
    Ok(Arc::new(Erased { service, config }))
}

/// What the running server gives every service it builds, beyond its configuration section.
/// `#[non_exhaustive]`: the server fills it with [`ServerContext::new`]; tests use the default.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ServerContext {
    /// The parent of each service's [`Init::data_dir`]: `<data-dir>/services`.
    pub data_dir: PathBuf,
    /// Every service's [`Init::server_url`], which the server sets once it listens.
    pub server_url: ServerUrl,
}

impl ServerContext {
    /// The context of a server whose data directory is `data_dir`; its URL is set later.
    ///
    /// ```
    /// let context = klaxon_core::ServerContext::new(std::path::Path::new("/var/lib/klaxon"));
    /// assert_eq!(context.data_dir, std::path::Path::new("/var/lib/klaxon/services"));
    /// context.server_url.set("http://klaxon.example.com:9092/kapacitor/v1");
    /// ```
    pub fn new(data_dir: &std::path::Path) -> ServerContext {
        ServerContext {
            data_dir: data_dir.join("services"),
            server_url: ServerUrl::default(),
        }
    }
}

impl Default for ServerContext {
    /// Services' data directories under the system's temporary directory, and no server URL.
    fn default() -> Self {
        ServerContext {
            data_dir: std::env::temp_dir().join("klaxon-services"),
            server_url: ServerUrl::default(),
        }
    }
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

    /// The configuration section and service-test name ([`Service::SECTION`]).
    fn section(&self) -> &'static str;

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

    /// The kind's `global` setting now ([`Service::global`]).
    fn global(&self) -> crate::Global;

    /// The endpoints offered to `|httpPost()` ([`Service::http_post_endpoints`]).
    fn http_post_endpoints(&self) -> Option<Vec<crate::PostEndpoint>>;

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
    /// The same handle the service got in its `Init`: replacing it here reaches the service.
    config: Live<S::Config>,
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

    fn section(&self) -> &'static str {
        S::SECTION
    }

    fn config(&self) -> Value {
        serde_json::to_value(&*self.config.get()).unwrap_or(Value::Null)
    }

    fn update(&self, section: &Value) -> Result<(), ServiceError> {
        let config = decode_config::<S>(section)?;
        self.service
            .reconfigure(&config)
            .map_err(|e| ServiceError::new(S::SECTION, e))?;
        self.config.replace(config);
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

    fn global(&self) -> crate::Global {
        self.service.global()
    }

    fn http_post_endpoints(&self) -> Option<Vec<crate::PostEndpoint>> {
        self.service.http_post_endpoints()
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
            $crate::registry::Registration::of::<$service>(env!("CARGO_PKG_NAME"))
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
    /// The same registrations by TICKscript property, disabled ones included (a property naming
    /// a disabled kind is refused as disabled, not as unknown).
    by_property: BTreeMap<&'static str, &'static Registration>,
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

/// The registry could not be assembled: every problem found among the linked crates, so that
/// one start reports them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct RegistryError {
    problems: Vec<RegistryProblem>,
}

impl RegistryError {
    /// The problems, in the order they were found.
    pub fn problems(&self) -> &[RegistryProblem] {
        &self.problems
    }
}

/// One problem among the linked handler crates.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryProblem {
    /// A crate's kind or TICKscript property breaks a naming rule ([`crate::naming`]).
    #[error("{package}: {error}")]
    Name {
        /// The crate that registered it.
        package: &'static str,
        /// The rule broken.
        error: NameError,
    },
    /// Two linked crates register the same kind.
    #[error(
        "handler kind {kind:?} is registered twice, by {first} and {second}; remove one from \
         the server binary's dependencies"
    )]
    DuplicateKind {
        /// The kind.
        kind: &'static str,
        /// The crate registered first.
        first: &'static str,
        /// The crate registered second.
        second: &'static str,
    },
    /// Two linked crates claim the same configuration section (and service-test name).
    #[error(
        "configuration section [{section}] is claimed twice, by {first} (kind {first_kind:?}) and \
         {second} (kind {second_kind:?}); remove one from the server binary's dependencies"
    )]
    DuplicateSection {
        /// The section.
        section: &'static str,
        /// The crate registered first.
        first: &'static str,
        /// Its kind.
        first_kind: &'static str,
        /// The crate registered second.
        second: &'static str,
        /// Its kind.
        second_kind: &'static str,
    },
    /// Two linked crates claim the same TICKscript property.
    #[error(
        "TICKscript property .{property}() is claimed twice, by {first} (kind {first_kind:?}) and \
         {second} (kind {second_kind:?}); remove one from the server binary's dependencies or \
         rename one property"
    )]
    DuplicateProperty {
        /// The property.
        property: &'static str,
        /// The crate registered first.
        first: &'static str,
        /// Its kind.
        first_kind: &'static str,
        /// The crate registered second.
        second: &'static str,
        /// Its kind.
        second_kind: &'static str,
    },
}

impl Registry {
    /// Every registration linked into this binary.
    pub fn linked() -> Result<Registry, RegistryError> {
        Registry::from_registrations(inventory::iter::<Registration>())
    }

    /// A registry of the given registrations. Fails, listing every problem, when a kind or
    /// property breaks a naming rule ([`crate::naming`]) or two registrations share a kind or a
    /// TICKscript property.
    pub fn from_registrations(
        registrations: impl IntoIterator<Item = &'static Registration>,
    ) -> Result<Registry, RegistryError> {
        let mut entries: BTreeMap<&'static str, &'static Registration> = BTreeMap::new();
        let mut by_property: BTreeMap<&'static str, &'static Registration> = BTreeMap::new();
        let mut problems = Vec::new();
        // Sorted, so that which crate an error names first does not depend on link order.
        let mut registrations: Vec<&'static Registration> = registrations.into_iter().collect();
        registrations.sort_by_key(|r| (r.kind, r.package));
        for registration in registrations {
            let package = registration.package;
            let names = naming::check_kind(registration.kind)
                .and_then(|()| naming::check_section(registration.section))
                .and_then(|()| naming::check_property(registration.tick.property));
            if let Err(error) = names {
                problems.push(RegistryProblem::Name { package, error });
                continue;
            }
            if let Some(first) = entries.get(registration.kind) {
                problems.push(RegistryProblem::DuplicateKind {
                    kind: registration.kind,
                    first: first.package,
                    second: package,
                });
                continue;
            }
            if let Some(first) = by_property.get(registration.tick.property) {
                problems.push(RegistryProblem::DuplicateProperty {
                    property: registration.tick.property,
                    first: first.package,
                    first_kind: first.kind,
                    second: package,
                    second_kind: registration.kind,
                });
                continue;
            }
            if let Some(first) = entries.values().find(|r| r.section == registration.section) {
                problems.push(RegistryProblem::DuplicateSection {
                    section: registration.section,
                    first: first.package,
                    first_kind: first.kind,
                    second: package,
                    second_kind: registration.kind,
                });
                continue;
            }
            entries.insert(registration.kind, registration);
            by_property.insert(registration.tick.property, registration);
        }
        if !problems.is_empty() {
            return Err(RegistryError { problems });
        }
        Ok(Registry {
            entries,
            by_property,
            disabled: BTreeMap::new(),
        })
    }

    /// The registration whose TICKscript property is `property` (`.tcp()` is `tcp`), disabled
    /// or not; check [`Registry::disabled`] before using it.
    pub fn by_property(&self, property: &str) -> Option<&'static Registration> {
        self.by_property.get(property).copied()
    }

    /// The same registry without the given kinds (the server's `disable-handlers`). The removed
    /// kinds are remembered with `setting`, the name of what disabled them, so that a definition
    /// naming one is told why it is missing ([`Registry::disabled`]). Names of kinds that are not
    /// linked are ignored.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use klaxon_core::{async_trait, Handler, HandlerError, Init, Invalid, Service, ServiceConfig, TickShape};
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
    /// #     fn new(_: Init<Config>) -> Result<Self, Invalid> { Ok(PagerService) }
    /// #     fn handler(&self, _: Config) -> Result<Arc<dyn Handler>, Invalid> {
    /// #         Err(Invalid::new("not in this example"))
    /// #     }
    /// #     async fn test(&self, _: Config) -> Result<(), HandlerError> { Ok(()) }
    /// # }
    /// use klaxon_core::{Registration, Registry};
    ///
    /// static PAGER: Registration = Registration::of::<PagerService>("klaxon-handler-pager");
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

    /// The registration whose configuration section (and service-test name) is `section`.
    pub fn by_section(&self, section: &str) -> Option<&'static Registration> {
        self.entries
            .values()
            .copied()
            .find(|r| r.section == section)
    }

    /// The configuration sections, sorted.
    pub fn sections(&self) -> Vec<&'static str> {
        let mut sections: Vec<&'static str> = self.entries.values().map(|r| r.section).collect();
        sections.sort_unstable();
        sections
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Invalid, sample_test};

    #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    struct Config {}

    impl ServiceConfig for Config {}

    /// A service of any kind and property, for the registry's checks.
    macro_rules! service {
        ($name:ident, $kind:literal, $property:literal) => {
            #[derive(Debug)]
            struct $name;

            #[async_trait]
            impl Service for $name {
                const KIND: &'static str = $kind;
                const DESCRIPTION: &'static str = "a test kind";
                const TICK: TickShape = TickShape::new($property);
                type Config = Config;
                type Options = Config;
                type TestOptions = Config;

                fn new(_: Init<Config>) -> Result<Self, Invalid> {
                    Ok($name)
                }
                fn handler(&self, _: Config) -> Result<Arc<dyn Handler>, Invalid> {
                    Err(Invalid::new("no handlers here"))
                }
                async fn test(&self, options: Config) -> Result<(), HandlerError> {
                    sample_test(self, options, "test").await
                }
            }
        };
    }

    service!(Pager, "pager", "pager");
    service!(OtherPager, "pager", "otherPager");
    service!(Beeper, "beeper", "pager");
    service!(Messenger, "messenger", "message");
    service!(Publisher, "publish", "publisher");
    service!(Chat, "hipchat", "hipChat");
    service!(Shouty, "Shouty", "shouty");

    static PAGER: Registration = Registration::of::<Pager>("klaxon-handler-pager");
    static OTHER_PAGER: Registration = Registration::of::<OtherPager>("klaxon-handler-other");
    static BEEPER: Registration = Registration::of::<Beeper>("klaxon-handler-beeper");
    static MESSENGER: Registration = Registration::of::<Messenger>("klaxon-handler-messenger");
    static PUBLISHER: Registration = Registration::of::<Publisher>("klaxon-handler-publish");
    static CHAT: Registration = Registration::of::<Chat>("klaxon-handler-hipchat");
    static SHOUTY: Registration = Registration::of::<Shouty>("klaxon-handler-shouty");

    fn refusal(registrations: &[&'static Registration]) -> String {
        Registry::from_registrations(registrations.iter().copied())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn a_duplicate_kind_names_both_crates() {
        assert_eq!(
            refusal(&[&PAGER, &OTHER_PAGER]),
            "handler kind \"pager\" is registered twice, by klaxon-handler-other and \
             klaxon-handler-pager; remove one from the server binary's dependencies"
        );
    }

    #[test]
    fn a_duplicate_property_names_both_crates_and_kinds() {
        assert_eq!(
            refusal(&[&PAGER, &BEEPER]),
            "TICKscript property .pager() is claimed twice, by klaxon-handler-beeper (kind \
             \"beeper\") and klaxon-handler-pager (kind \"pager\"); remove one from the server \
             binary's dependencies or rename one property"
        );
    }

    #[test]
    fn names_that_break_a_rule_are_refused_naming_the_crate() {
        let cases: [(&'static Registration, &str); 4] = [
            (
                &MESSENGER,
                "klaxon-handler-messenger: TICKscript property \"message\" is the alert node's \
                 own (.message()); a handler cannot claim it",
            ),
            (
                &PUBLISHER,
                "klaxon-handler-publish: handler kind \"publish\" is reserved by the engine; \
                 rename the handler",
            ),
            (
                &CHAT,
                "klaxon-handler-hipchat: handler kind \"hipchat\" is a retired",
            ),
            (
                &SHOUTY,
                "klaxon-handler-shouty: handler kind \"Shouty\" is not a valid name",
            ),
        ];
        for (registration, expected) in cases {
            let err = refusal(&[registration]);
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Registry::from_registrations([&PAGER, &BEEPER, &MESSENGER]).unwrap_err();
        assert_eq!(err.problems().len(), 2, "{err}");
    }

    #[test]
    fn handlers_are_found_by_property_disabled_ones_too() {
        let registry = Registry::from_registrations([&PAGER]).expect("valid");
        assert_eq!(
            registry.by_property("pager").map(Registration::kind),
            Some("pager")
        );
        let disabled = registry.without(&["pager".to_owned()], "--disable-handlers");
        assert_eq!(
            disabled.by_property("pager").map(Registration::kind),
            Some("pager")
        );
        assert!(disabled.get("pager").is_none());
        assert!(disabled.by_property("otherPager").is_none());
    }

    #[test]
    fn a_config_change_reaches_the_service_through_its_live_handle() {
        let service = PAGER.build(&Value::Null).expect("builds");
        service.update(&serde_json::json!({})).expect("valid");
        assert_eq!(service.config(), serde_json::json!({}));
    }
}
