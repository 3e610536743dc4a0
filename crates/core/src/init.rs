//! What a service is built with: [`Init`], and the live configuration handle [`Live`] and the
//! server's URL [`ServerUrl`] inside it.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use crate::Invalid;

/// Everything the server hands a service when it builds it ([`Service::new`](crate::Service::new)).
///
/// It is `#[non_exhaustive]`, so new inputs (a shared HTTP client, a logger) can join without
/// breaking any handler crate: a crate reads the fields it needs and ignores the rest.
///
/// ```
/// use klaxon_core::Init;
///
/// let init = Init::new(String::from("section"));
/// assert_eq!(*init.config.get(), "section");
/// ```
#[non_exhaustive]
#[derive(Debug)]
pub struct Init<C> {
    /// The configuration section, live: the server replaces it when the config API changes it,
    /// and every clone (keep one in each handler) sees the new one on its next
    /// [`Live::get`].
    pub config: Live<C>,
    /// A directory the service may keep files in, `<data-dir>/services/<kind>` under the
    /// server's data directory. It is not created until the service creates it.
    pub data_dir: PathBuf,
    /// The URL of the server's API, which some services send so that a receiver can link back
    /// (PagerDuty's `client_url`). Known once the server listens: read it when sending.
    pub server_url: ServerUrl,
}

impl<C> Init<C> {
    /// An `Init` with this configuration and a data directory under the system's temporary
    /// directory, for tests and tools; the server builds its own through the registry.
    pub fn new(config: C) -> Init<C> {
        Init {
            config: Live::new(config),
            data_dir: std::env::temp_dir().join("klaxon-services"),
            server_url: ServerUrl::default(),
        }
    }

    /// The same `Init` with `data_dir` as the service's data directory.
    pub fn with_data_dir(mut self, data_dir: PathBuf) -> Init<C> {
        self.data_dir = data_dir;
        self
    }

    /// The same `Init` with `server_url` as the server's URL.
    ///
    /// ```
    /// use klaxon_core::{Init, ServerUrl};
    ///
    /// let url = ServerUrl::default();
    /// let init = Init::new(()).with_server_url(url.clone());
    /// url.set("http://klaxon.example.com:9092/kapacitor/v1");
    /// assert_eq!(init.server_url.get(), "http://klaxon.example.com:9092/kapacitor/v1");
    /// ```
    pub fn with_server_url(mut self, server_url: ServerUrl) -> Init<C> {
        self.server_url = server_url;
        self
    }
}

/// The URL of the server's API as Kapacitor's handlers send it, `http(s)://<hostname>:<port>/kapacitor/v1`,
/// where a service links back to the alert's source (PagerDuty's `client_url`).
///
/// The server learns its port when it listens, after it built the services; so a service keeps
/// this handle and reads it when it sends. Every clone sees the URL once the server set it;
/// before that, and in services built outside a server (tests, tools), it is empty.
///
/// ```
/// use klaxon_core::ServerUrl;
///
/// let url = ServerUrl::default();
/// let service_copy = url.clone();
/// assert_eq!(service_copy.get(), "");
/// url.set("https://klaxon.example.com:9092/kapacitor/v1");
/// assert_eq!(service_copy.get(), "https://klaxon.example.com:9092/kapacitor/v1");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServerUrl(Arc<OnceLock<String>>);

impl ServerUrl {
    /// The URL, or `""` while the server has not set it.
    pub fn get(&self) -> &str {
        self.0.get().map_or("", String::as_str)
    }

    /// Sets the URL for every clone. The server sets it once, when it listens; later calls
    /// change nothing.
    pub fn set(&self, url: impl Into<String>) {
        let _ = self.0.set(url.into());
    }
}

/// A service's configuration as it is now. Cloning it is cheap and every clone sees the same
/// value; the server replaces the value when the configuration changes, so a handler made
/// earlier sees the change on its next event.
///
/// ```
/// use klaxon_core::Live;
///
/// let live = Live::new(10_u32);
/// let handler_copy = live.clone();
/// assert_eq!(*handler_copy.get(), 10);
/// ```
pub struct Live<C> {
    current: Arc<RwLock<Arc<C>>>,
}

impl<C> Live<C> {
    /// A handle holding `config`.
    pub fn new(config: C) -> Live<C> {
        Live {
            current: Arc::new(RwLock::new(Arc::new(config))),
        }
    }

    /// The configuration as it is now. Hold the returned value for the length of one delivery,
    /// so that one event sees one configuration throughout.
    pub fn get(&self) -> Arc<C> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the configuration for every clone. Only the registry does this, after the
    /// service accepted the change.
    pub(crate) fn replace(&self, config: C) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
    }
}

impl<C> Clone for Live<C> {
    fn clone(&self) -> Self {
        Live {
            current: Arc::clone(&self.current),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for Live<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Live").field(&self.get()).finish()
    }
}

/// What a service computes from its live configuration (compiled templates, parsed endpoints),
/// computed once per configuration rather than at every alert: [`Derived::get`] returns the value
/// for the configuration as it is now, computing it again only after the configuration changed.
/// Check the configuration with the same function in [`Service::reconfigure`](crate::Service)
/// so that a change that cannot be derived is refused before it is applied.
///
/// ```
/// use klaxon_core::{Derived, Invalid, Live};
///
/// fn parse(text: &&'static str) -> Result<u32, Invalid> {
///     text.parse().map_err(|_| Invalid::new(format!("{text:?} is not a number")))
/// }
/// let live = Live::new("42");
/// let derived = Derived::new(live, parse).unwrap();
/// assert_eq!(*derived.get().unwrap(), 42);
/// ```
pub struct Derived<C, T> {
    config: Live<C>,
    derive: fn(&C) -> Result<T, Invalid>,
    /// The configuration last derived from, and what it gave.
    cache: Mutex<(Arc<C>, Arc<T>)>,
}

impl<C, T> Derived<C, T> {
    /// Derives the value of `config`'s current configuration with `derive`, failing as it fails.
    pub fn new(config: Live<C>, derive: fn(&C) -> Result<T, Invalid>) -> Result<Self, Invalid> {
        let current = config.get();
        let value = Arc::new(derive(&current)?);
        Ok(Derived {
            config,
            derive,
            cache: Mutex::new((current, value)),
        })
    }

    /// The value for the configuration as it is now.
    pub fn get(&self) -> Result<Arc<T>, Invalid> {
        let current = self.config.get();
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if !Arc::ptr_eq(&cache.0, &current) {
            let value = Arc::new((self.derive)(&current)?);
            *cache = (current, value);
        }
        Ok(Arc::clone(&cache.1))
    }
}

impl<C, T: fmt::Debug> fmt::Debug for Derived<C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_tuple("Derived").field(&cache.1).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_value_is_computed_again_only_after_a_change() {
        fn double(n: &u32) -> Result<u32, Invalid> {
            if *n == 0 {
                return Err(Invalid::new("zero"));
            }
            Ok(n * 2)
        }
        let live = Live::new(3);
        let derived = Derived::new(live.clone(), double).unwrap();
        let first = derived.get().unwrap();
        assert!(Arc::ptr_eq(&first, &derived.get().unwrap()), "cached");
        live.replace(5);
        assert_eq!(*derived.get().unwrap(), 10);
        live.replace(0);
        assert_eq!(derived.get().unwrap_err().to_string(), "zero");
        assert!(Derived::new(Live::new(0), double).is_err());
    }

    #[test]
    fn a_replaced_value_reaches_every_clone_and_held_values_stay() {
        let live = Live::new(1);
        let clone = live.clone();
        let held = clone.get();
        live.replace(2);
        assert_eq!(*clone.get(), 2);
        assert_eq!(*held, 1, "a delivery in progress keeps its configuration");
    }
}
