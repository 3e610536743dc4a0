//! Configuration overrides: handler sections changed at runtime (through
//! `/kapacitor/v1/config`), stored in klaxon.db and applied again at every start.
//!
//! The HTTP routes only decode the request and call [`apply`]; startup calls [`apply_stored`].
//! Neither needs the other, so the lifecycle does not reach into the HTTP layer.

use klaxon_core::{Registry, ServiceError};
use klaxon_engine::{Services, Store, StoreError};
use serde_json::{Map, Value};

/// Why an override was not applied. Nothing was changed: neither the running service nor the
/// stored overrides.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    /// No handler kind of this server has the section.
    #[error("unknown section {0}")]
    UnknownSection(String),
    /// The section's current configuration is not a table, so keys cannot be set in it.
    #[error("section {0} is not a table")]
    NotATable(String),
    /// An element was named for a table section, or add/remove were asked of one.
    #[error("section {0} is not a list section; post set and delete to /kapacitor/v1/config/{0}/")]
    NotAList(String),
    /// A list section's keys were posted without naming the element.
    #[error(
        "element not specified for list section {0}; post to /kapacitor/v1/config/{0}/<element>"
    )]
    NoElement(String),
    /// The element named is not in the list.
    #[error("section {section} has no element {element:?}")]
    UnknownElement {
        /// The section.
        section: String,
        /// The element asked for.
        element: String,
    },
    /// An element to add has no name.
    #[error("the element to add to {section} needs its {key}")]
    NoElementKey {
        /// The section.
        section: String,
        /// Its element key.
        key: String,
    },
    /// An element to add is already in the list.
    #[error("section {section} already has an element {element:?}")]
    ElementExists {
        /// The section.
        section: String,
        /// The element.
        element: String,
    },
    /// A key to delete is not one of the section's.
    #[error("unknown key {key:?} in section {section}")]
    UnknownKey {
        /// The section.
        section: String,
        /// The key asked for.
        key: String,
    },
    /// The handler refused the new configuration.
    #[error("{0}")]
    Refused(#[source] ServiceError),
    /// The stored overrides could not be read or written.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// A change to one section through the config API.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// Set keys (and put others back to their defaults) in a table section, or in the element
    /// `element` of a list section.
    Keys {
        /// The element of a list section; `None` for a table section.
        element: Option<&'a str>,
        /// Keys to set.
        set: &'a Map<String, Value>,
        /// Keys to put back to their defaults.
        delete: &'a [String],
    },
    /// Add an element to a list section (Kapacitor's `add`), named by its element key.
    Add(&'a Map<String, Value>),
    /// Remove elements of a list section by name (Kapacitor's `remove`).
    Remove(&'a [String]),
}

/// Applies `change` to section `name` of the running service, then stores the resulting
/// override: the changed keys of a table section, the whole list of a list section.
pub fn apply(
    services: &Services,
    registry: &Registry,
    store: &Store,
    name: &str,
    change: Change<'_>,
) -> Result<(), OverrideError> {
    let service = services
        .by_section(name)
        .ok_or_else(|| OverrideError::UnknownSection(name.to_owned()))?;
    let registration = registry
        .by_section(name)
        .ok_or_else(|| OverrideError::UnknownSection(name.to_owned()))?;
    let (config, stored) = match registration.element_key() {
        None => change_table(
            name,
            service.config(),
            registration.default_config(),
            store,
            change,
        )?,
        Some(key) => {
            let list = change_list(name, key, service.config(), change)?;
            (list.clone(), list)
        }
    };
    service.update(&config).map_err(OverrideError::Refused)?;
    store.set_override(name, &stored)?;
    tracing::info!(section = name, "configuration override applied");
    Ok(())
}

/// The table section after `change`, and the override to store (every key ever set).
fn change_table(
    name: &str,
    mut config: Value,
    defaults: Value,
    store: &Store,
    change: Change<'_>,
) -> Result<(Value, Value), OverrideError> {
    let Change::Keys {
        element: None,
        set,
        delete,
    } = change
    else {
        return Err(OverrideError::NotAList(name.to_owned()));
    };
    let mut stored = store
        .overrides()?
        .remove(name)
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let Value::Object(current) = &mut config else {
        return Err(OverrideError::NotATable(name.to_owned()));
    };
    for key in delete {
        let default = defaults
            .get(key)
            .cloned()
            .ok_or_else(|| OverrideError::UnknownKey {
                section: name.to_owned(),
                key: key.clone(),
            })?;
        current.insert(key.clone(), default);
        stored.remove(key);
    }
    for (key, value) in set {
        current.insert(key.clone(), value.clone());
        stored.insert(key.clone(), value.clone());
    }
    Ok((config, Value::Object(stored)))
}

/// The list section after `change`. A deleted key is left out of its element, so that decoding
/// gives it the element's default.
fn change_list(
    name: &str,
    key: &str,
    config: Value,
    change: Change<'_>,
) -> Result<Value, OverrideError> {
    let Value::Array(mut list) = config else {
        return Err(OverrideError::NotATable(name.to_owned()));
    };
    let named =
        |element: &Value, wanted: &str| element.get(key).and_then(Value::as_str) == Some(wanted);
    match change {
        Change::Keys { element: None, .. } => {
            return Err(OverrideError::NoElement(name.to_owned()));
        }
        Change::Keys {
            element: Some(element),
            set,
            delete,
        } => {
            let Some(Value::Object(target)) = list.iter_mut().find(|e| named(e, element)) else {
                return Err(OverrideError::UnknownElement {
                    section: name.to_owned(),
                    element: element.to_owned(),
                });
            };
            for gone in delete {
                target.remove(gone);
            }
            for (k, v) in set {
                target.insert(k.clone(), v.clone());
            }
        }
        Change::Add(element) => {
            let Some(element_name) = element.get(key).and_then(Value::as_str) else {
                return Err(OverrideError::NoElementKey {
                    section: name.to_owned(),
                    key: key.to_owned(),
                });
            };
            if list.iter().any(|e| named(e, element_name)) {
                return Err(OverrideError::ElementExists {
                    section: name.to_owned(),
                    element: element_name.to_owned(),
                });
            }
            list.push(Value::Object(element.clone()));
        }
        Change::Remove(names) => {
            for gone in names {
                if !list.iter().any(|e| named(e, gone)) {
                    return Err(OverrideError::UnknownElement {
                        section: name.to_owned(),
                        element: gone.clone(),
                    });
                }
                list.retain(|e| !named(e, gone));
            }
        }
    }
    Ok(Value::Array(list))
}

/// Applies the stored overrides to the services at startup. A stored override that no longer
/// applies (a key was removed from the handler) is logged and skipped.
pub fn apply_stored(services: &Services, store: &Store) -> Result<(), StoreError> {
    for (name, stored) in store.overrides()? {
        let Some(service) = services.by_section(&name) else {
            tracing::warn!(section = %name, "stored config override names no handler section of this server; ignored");
            continue;
        };
        let mut config = service.config();
        match (&mut config, &stored) {
            (Value::Object(current), Value::Object(keys)) => {
                for (k, v) in keys {
                    current.insert(k.clone(), v.clone());
                }
            }
            // A list section's override is the whole list.
            (_, Value::Array(_)) => config = stored.clone(),
            _ => {}
        }
        match service.update(&config) {
            Ok(()) => tracing::info!(section = %name, "stored config override applied"),
            Err(e) => {
                tracing::error!(section = %name, error = %e, "stored config override cannot be applied; fix it with POST /kapacitor/v1/config")
            }
        }
    }
    Ok(())
}
