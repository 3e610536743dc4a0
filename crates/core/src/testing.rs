//! Checks every handler crate runs on itself: registered, builds from its sample configuration
//! and options, and documents its configuration (the Vector and Apollo Router habit).

use std::sync::Arc;

use serde_json::Value;

use crate::{DynService, Registry, Service};

/// Asserts that `S` is registered in this test binary, builds from the configuration section
/// `config` and makes a handler from `options`; returns the running service.
///
/// # Panics
///
/// When any of that fails, with the reason.
///
/// ```ignore
/// let service = klaxon_core::testing::assert_registered_and_builds::<TcpService>(
///     &serde_json::json!({"timeout": "5s"}),
///     &serde_json::json!({"address": "127.0.0.1:7777"}),
/// );
/// ```
pub fn assert_registered_and_builds<S: Service>(
    config: &Value,
    options: &Value,
) -> Arc<dyn DynService> {
    let registry = Registry::linked().expect("the registry assembles");
    let registration = registry.get(S::KIND).unwrap_or_else(|| {
        panic!(
            "kind {:?} is not registered; have: {}",
            S::KIND,
            registry.kind_list()
        )
    });
    assert_eq!(registration.tick().property, S::TICK.property);
    let service = registration
        .build(config)
        .unwrap_or_else(|e| panic!("sample configuration does not build: {e}"));
    service
        .handler(options)
        .unwrap_or_else(|e| panic!("sample options do not make a handler: {e}"));
    service
}

/// Asserts that every configuration key and every option of `S` has a doc comment, since
/// `klaxond config` prints them as comments and the docs list them.
///
/// # Panics
///
/// Naming the undocumented fields.
pub fn assert_documented<S: Service>() {
    let registration = crate::registry::Registration::of::<S>();
    for (what, schema) in [
        ("configuration key", registration.config_schema()),
        ("option", registration.options_schema()),
    ] {
        let missing = undocumented_fields(&schema);
        assert!(
            missing.is_empty(),
            "{}: {what}s without a doc comment: {}",
            S::KIND,
            missing.join(", ")
        );
    }
}

/// The top-level properties of `schema` that have no description.
pub fn undocumented_fields(schema: &schemars::Schema) -> Vec<String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, p)| {
            p.get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
        .map(|(name, _)| name.clone())
        .collect()
}
