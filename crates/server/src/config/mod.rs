//! The server's configuration: embedded defaults, then an optional TOML file, then environment
//! overrides `KLAXON_<SECTION>_<KEY>`.
//!
//! The server's own sections are typed here; each handler kind's `[kind]` section is discovered
//! from the registry and decoded by the handler's own `Config` type, so this module names no kind.

mod decode;
mod env;
pub mod kapacitor;
mod limits;
pub mod overrides;
mod render;
mod schema;
mod sections;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use klaxon_core::{Invalid, Registry};
use serde_json::Value;

pub use decode::SectionKeys;
pub use limits::LimitsConfig;
pub use render::{render, render_with_secrets};
pub use sections::{
    AlertConfig, ConfigOverrideConfig, DataDir, DeadmanConfig, HttpConfig, LoadConfig, LogFormat,
    LoggingConfig, Permission, ServerConfig, ServerSections, TokenConfig, UserConfig,
};

/// The whole configuration: the server's sections and the raw section of each handler kind.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The server's own sections.
    pub server: ServerSections,
    /// Handler sections as given (file and environment), by section name (the kind's
    /// `SECTION`, such as `httppost` for the kind `post`): a table, or for a list section
    /// (`[[httppost]]`) a list of tables. Absent sections use their defaults.
    pub handlers: BTreeMap<String, Value>,
    /// What the file has of Kapacitor's configuration that Klaxon does not implement yet (set
    /// aside, named in one warning at startup).
    pub unimplemented: kapacitor::Unimplemented,
}

/// A configuration that cannot be used; the message names the file, section and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    origin: String,
    message: String,
}

impl ConfigError {
    fn new(origin: &str, message: impl std::fmt::Display) -> Self {
        ConfigError {
            origin: origin.to_owned(),
            message: message.to_string(),
        }
    }
}

impl Config {
    /// Reads the configuration: defaults, then the file (if any), then `KLAXON_*` variables from
    /// `env`; checks every section against its type and every handler section against its kind.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        registry: &Registry,
    ) -> Result<Config, ConfigError> {
        let mut table = toml::Table::new();
        let mut origin = "configuration".to_owned();
        if let Some(path) = file {
            origin = format!("config file {}", path.display());
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(
                    &origin,
                    format!("cannot read it: {e}; check the path given to --config"),
                )
            })?;
            table = text.parse::<toml::Table>().map_err(|e| {
                ConfigError::new(
                    &origin,
                    format!("invalid TOML: {}", e.to_string().trim_end()),
                )
            })?;
        }
        let unimplemented =
            kapacitor::translate(&mut table, registry).map_err(|e| ConfigError::new(&origin, e))?;
        let mut config =
            Config::from_table(table, registry).map_err(|e| ConfigError::new(&origin, e))?;
        config.unimplemented = unimplemented;
        let overrides = env::overrides(env, &config, registry)
            .map_err(|e| ConfigError::new("environment", e))?;
        if !overrides.is_empty() {
            let mut merged = config.to_json(registry);
            for o in overrides {
                o.apply(&mut merged);
            }
            let unimplemented = std::mem::take(&mut config.unimplemented);
            config = Config::from_json(merged, registry)
                .map_err(|e| ConfigError::new("environment", e))?;
            config.unimplemented = unimplemented;
        }
        config
            .validate(registry)
            .map_err(|e| ConfigError::new(&origin, e))?;
        Ok(config)
    }

    /// Decodes a parsed TOML document.
    pub fn from_table(table: toml::Table, registry: &Registry) -> Result<Config, Invalid> {
        let json = serde_json::to_value(table).map_err(|e| Invalid::new(e.to_string()))?;
        Config::from_json(json, registry)
    }

    /// Decodes the configuration from its JSON form (TOML converted, or merged overrides).
    fn from_json(json: Value, registry: &Registry) -> Result<Config, Invalid> {
        let Value::Object(map) = json else {
            return Err(Invalid::new("expected a table at the top level"));
        };
        let mut server = serde_json::Map::new();
        let mut handlers = BTreeMap::new();
        for (key, value) in map {
            if let Some(registration) = registry.by_section(&key) {
                let is_list = registration.element_key().is_some();
                let shaped = value.is_object() || (is_list && value.is_array());
                if !shaped {
                    let form = if is_list {
                        format!("a list of tables ([[{key}]])")
                    } else {
                        "a table".to_owned()
                    };
                    return Err(Invalid::new(format!("[{key}] must be {form}")));
                }
                handlers.insert(key, value);
            } else if ServerSections::keys().contains(&key) {
                server.insert(key, value);
            } else {
                return Err(unknown_section(&key, registry));
            }
        }
        let server = ServerSections::decode(&server)?;
        Ok(Config {
            server,
            handlers,
            unimplemented: kapacitor::Unimplemented::default(),
        })
    }

    /// Builds every handler section through its kind, so a bad section fails at startup.
    fn validate(&self, registry: &Registry) -> Result<(), Invalid> {
        self.server.validate()?;
        self.check_disabled(registry, "[server] disable-handlers")?;
        for (name, section) in &self.handlers {
            if let Some(registration) = registry.by_section(name) {
                registration
                    .build(section)
                    .map_err(|e| Invalid::new(format!("[{name}]: {}", e.message())))?;
            }
        }
        Ok(())
    }

    /// Fails if `[server] disable-handlers` names a kind this binary does not have: a typo
    /// there would otherwise leave the kind enabled without a word. `setting` names where the
    /// list came from in the message.
    pub fn check_disabled(&self, registry: &Registry, setting: &str) -> Result<(), Invalid> {
        match self
            .server
            .server
            .disable_handlers
            .iter()
            .find(|kind| registry.get(kind).is_none())
        {
            Some(kind) => Err(Invalid::new(format!(
                "{setting}: no handler kind {kind:?} in this server; it has: {}",
                registry.kind_list()
            ))),
            None => Ok(()),
        }
    }

    /// The whole configuration as JSON, handler sections filled in with their defaults.
    pub fn to_json(&self, registry: &Registry) -> Value {
        let mut map = match serde_json::to_value(&self.server) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        for registration in registry.iter() {
            let name = registration.section();
            let section = self.handler_section(name, registry);
            map.insert(name.to_owned(), section);
        }
        Value::Object(map)
    }

    /// A handler's section by name (its kind's `SECTION`), with defaults filled in for absent
    /// keys. A list section given in the file replaces the default list whole: each element
    /// gets its defaults when the kind decodes it.
    pub fn handler_section(&self, name: &str, registry: &Registry) -> Value {
        let mut section = registry
            .by_section(name)
            .map(|r| r.default_config())
            .unwrap_or(Value::Null);
        match (&mut section, self.handlers.get(name)) {
            (Value::Object(base), Some(Value::Object(given))) => {
                for (k, v) in given {
                    base.insert(k.clone(), v.clone());
                }
            }
            (_, Some(given)) => section = given.clone(),
            (_, None) => {}
        }
        section
    }

    /// The data directory.
    pub fn data_dir(&self) -> &PathBuf {
        &self.server.data_dir
    }
}

fn unknown_section(name: &str, registry: &Registry) -> Invalid {
    let keys = ServerSections::keys();
    let mut known: Vec<&str> = keys.sections().collect();
    known.extend(registry.sections());
    known.sort_unstable();
    let hint = if keys.top_level().is_empty() {
        String::new()
    } else {
        format!(" (top-level keys: {})", keys.top_level().join(", "))
    };
    Invalid::new(format!(
        "unknown section [{name}]; known sections: {}{hint}",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests;
