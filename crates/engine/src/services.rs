//! The running handler services: one per registered kind, built from its configuration section.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::{DisabledKind, DynService, Registry, ServerContext, ServiceError};
use serde_json::Value;

/// Every handler service of this server, by kind.
///
/// ```
/// let registry = klaxon_core::Registry::linked().unwrap();
/// let services = klaxon_engine::Services::build(&Default::default(), &registry).unwrap();
/// assert_eq!(services.kinds().count(), registry.len());
/// ```
#[derive(Debug, Default)]
pub struct Services {
    by_kind: BTreeMap<&'static str, Arc<dyn DynService>>,
    /// Linked kinds the registry had disabled: no service, but definitions are told why.
    disabled: BTreeMap<&'static str, DisabledKind>,
}

impl Services {
    /// Builds every registered service from its configuration section in `sections` (by section
    /// name; an absent section uses its defaults), as for tests and tools ([`ServerContext::default`]).
    pub fn build(
        sections: &BTreeMap<String, Value>,
        registry: &Registry,
    ) -> Result<Services, ServiceError> {
        Services::build_with(sections, registry, &ServerContext::default())
    }

    /// [`Services::build`] with what the running server provides in `context`.
    pub fn build_with(
        sections: &BTreeMap<String, Value>,
        registry: &Registry,
        context: &ServerContext,
    ) -> Result<Services, ServiceError> {
        let mut by_kind = BTreeMap::new();
        for registration in registry.iter() {
            let section = sections
                .get(registration.section())
                .cloned()
                .unwrap_or_default();
            by_kind.insert(
                registration.kind(),
                registration.build_with(&section, context)?,
            );
        }
        let disabled = registry
            .disabled_registrations()
            .filter_map(|r| Some((r.kind(), registry.disabled(r.kind())?)))
            .collect();
        Ok(Services { by_kind, disabled })
    }

    /// Why there is no service of `kind`, when the registry had it disabled
    /// ([`Registry::without`]).
    pub fn disabled(&self, kind: &str) -> Option<&DisabledKind> {
        self.disabled.get(kind)
    }

    /// The service of `kind`.
    pub fn get(&self, kind: &str) -> Option<&Arc<dyn DynService>> {
        self.by_kind.get(kind)
    }

    /// The service whose configuration section (and service-test name) is `section`.
    pub fn by_section(&self, section: &str) -> Option<&Arc<dyn DynService>> {
        self.by_kind.values().find(|s| s.section() == section)
    }

    /// The services, sorted by kind.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn DynService>> {
        self.by_kind.values()
    }

    /// The kinds, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.by_kind.keys().copied()
    }

    /// Opens every service; the first failure stops startup.
    pub async fn open_all(&self) -> Result<(), ServiceError> {
        for service in self.by_kind.values() {
            service.open().await?;
            tracing::debug!(kind = service.kind(), "service opened");
        }
        Ok(())
    }

    /// Closes every service.
    pub async fn close_all(&self) {
        for service in self.by_kind.values() {
            service.close().await;
            tracing::debug!(kind = service.kind(), "service closed");
        }
    }
}
