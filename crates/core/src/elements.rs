//! Configuration sections that are lists: `[[httppost]]` endpoints, `[[slack]]` workspaces,
//! `[[mqtt]]` brokers, each element named by a key of its own (Kapacitor's "element key"), with
//! the elements Kapacitor has when the section is absent, and, for the lists whose handlers may
//! name no element, Kapacitor's rules of the default element (`Configs.Validate`).

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::decode::{Noun, decode_into};
use crate::{Global, Invalid, ServiceConfig};

/// One element of a list section, such as one `[[httppost]]` endpoint.
///
/// Derive as for a [`ServiceConfig`] (with `Default` giving each element's defaults), name the
/// key that identifies an element, and check an element's values in `validate`. A kind with a
/// built-in element gives it in `defaults`; a list whose handlers may name no element sets
/// `HAS_DEFAULT` and `SECTION` and reads its `default` key in `is_default` (and its `enabled`,
/// `global` and `state-changes-only` keys, if it has them, in `is_enabled` and `global`).
///
/// ```
/// use klaxon_core::{ElementConfig, Elements, Invalid, ServiceConfig};
///
/// /// One `[[httppost]]` endpoint.
/// #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
/// pub struct Endpoint {
///     /// The name handlers use.
///     pub endpoint: String,
///     /// Where alerts are posted.
///     pub url: String,
/// }
///
/// impl ElementConfig for Endpoint {
///     const ELEMENT_KEY: &'static str = "endpoint";
///     fn name(&self) -> &str { &self.endpoint }
///     fn defaults() -> Vec<Self> {
///         vec![Endpoint { endpoint: "example".into(), url: "http://example.com".into() }]
///     }
/// }
///
/// // Without the section there is Kapacitor's built-in endpoint; an empty list has none.
/// let builtin = Elements::<Endpoint>::decode(&serde_json::Value::Null).unwrap();
/// assert_eq!(builtin.names(), "example");
/// assert!(Elements::<Endpoint>::decode(&serde_json::json!([])).unwrap().is_empty());
///
/// let toml = serde_json::json!([
///     {"endpoint": "example", "url": "http://example.com/"},
///     {"endpoint": "ops", "url": "https://ops.example.com/"},
/// ]);
/// let endpoints = Elements::<Endpoint>::decode(&toml).unwrap();
/// assert_eq!(endpoints.get("ops").unwrap().url, "https://ops.example.com/");
///
/// // A single table is one element, as Kapacitor reads `[httppost]`.
/// let one = Elements::<Endpoint>::decode(&serde_json::json!({"endpoint": "e", "url": "u"})).unwrap();
/// assert_eq!(one.len(), 1);
///
/// let twice = serde_json::json!([{"endpoint": "e"}, {"endpoint": "e"}]);
/// assert_eq!(
///     Elements::<Endpoint>::decode(&twice).unwrap_err().to_string(),
///     "endpoint \"e\" appears twice; each element needs its own endpoint"
/// );
/// ```
pub trait ElementConfig:
    Serialize + DeserializeOwned + JsonSchema + Default + Clone + fmt::Debug + Send + Sync + 'static
{
    /// The key naming an element: `endpoint` for `[[httppost]]`, `workspace` for `[[slack]]`.
    const ELEMENT_KEY: &'static str;

    /// Keys whose values are secret: redacted by the config API and never logged.
    const SECRETS: &'static [&'static str] = &[];

    /// The section, as messages about the whole list name it: `slack` gives `[[slack]]`; an
    /// element without a name is named so too. Lists with a default element set it; others may
    /// leave it empty, as their messages name elements by their key only.
    const SECTION: &'static str = "";

    /// Whether handlers may name no element and then use the default one (Kapacitor's
    /// `[[slack]]` workspaces): of several elements, each must have a name and exactly one
    /// must be the default ([`ElementConfig::is_default`]). Lists whose elements are always
    /// named, as `[[httppost]]` endpoints are, keep the default, `false`.
    const HAS_DEFAULT: bool = false;

    /// The element's name: the value of its [`ElementConfig::ELEMENT_KEY`].
    fn name(&self) -> &str;

    /// Checks values that the types alone do not. [`Elements`] names the element in front of
    /// the error.
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }

    /// Whether the element says it is the default one, its `default` key; at most one may.
    /// `false` unless the list has a default element.
    fn is_default(&self) -> bool {
        false
    }

    /// Whether the element is enabled, its `enabled` key: a disabled default element asks
    /// nothing of alert nodes ([`Elements::global`]). `true` unless the element has the key.
    fn is_enabled(&self) -> bool {
        true
    }

    /// The element's `global` and `state-changes-only` keys as written ([`Global::from_keys`]
    /// would drop a `state-changes-only` without `global`): only the default element may set
    /// them, and `state-changes-only` only with `global`. [`Global::OFF`] unless the element has
    /// the keys.
    fn global(&self) -> Global {
        Global::OFF
    }

    /// The elements of the section when the configuration has none: Kapacitor's built-in
    /// element, such as the disabled default `[[slack]]` workspace or the `example`
    /// `[[httppost]]` endpoint. None unless the kind has one.
    fn defaults() -> Vec<Self> {
        Vec::new()
    }

    /// How messages name the element: `workspace "ops"`, or `[[slack]]` for an element without
    /// a name in a list with a [`ElementConfig::SECTION`].
    fn label(&self) -> String {
        if self.name().is_empty() && !Self::SECTION.is_empty() {
            format!("[[{}]]", Self::SECTION)
        } else {
            format!("{} {:?}", Self::ELEMENT_KEY, self.name())
        }
    }
}

/// A list section: the elements in the order written, each decoded into its own defaults.
/// Serialized as a list (`[[name]]` tables in TOML); read from a list or, as Kapacitor reads it,
/// from a single table. Element names are unique.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Elements<E>(Vec<E>);

impl<E: ElementConfig> Default for Elements<E> {
    /// The section when the configuration has none: [`ElementConfig::defaults`].
    fn default() -> Self {
        Elements(E::defaults())
    }
}

impl<E: ElementConfig> Elements<E> {
    /// The elements of `list`.
    pub fn new(list: Vec<E>) -> Self {
        Elements(list)
    }

    /// The element named `name`.
    pub fn get(&self, name: &str) -> Option<&E> {
        self.0.iter().find(|e| e.name() == name)
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> {
        self.0.iter()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the section has no element.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The element names, comma-separated, or `none` (for error messages).
    pub fn names(&self) -> String {
        if self.0.is_empty() {
            return "none".to_owned();
        }
        self.0.iter().map(E::name).collect::<Vec<_>>().join(", ")
    }

    /// The default element, which handlers that name none use: the only element, or the one
    /// marked default ([`ElementConfig::is_default`]).
    ///
    /// ```
    /// # use klaxon_core::{ElementConfig, Elements, ServiceConfig};
    /// # #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # #[serde(default)]
    /// # struct Workspace { workspace: String, default: bool }
    /// # impl ElementConfig for Workspace {
    /// #     const ELEMENT_KEY: &'static str = "workspace";
    /// #     const HAS_DEFAULT: bool = true;
    /// #     fn name(&self) -> &str { &self.workspace }
    /// #     fn is_default(&self) -> bool { self.default }
    /// # }
    /// let two = serde_json::json!([{"workspace": "a"}, {"workspace": "b", "default": true}]);
    /// let workspaces = Elements::<Workspace>::decode(&two).unwrap();
    /// assert_eq!(workspaces.default_element().unwrap().workspace, "b");
    /// let one = Elements::<Workspace>::decode(&serde_json::json!({"workspace": "a"})).unwrap();
    /// assert_eq!(one.default_element().unwrap().workspace, "a");
    /// ```
    pub fn default_element(&self) -> Option<&E> {
        if let [only] = self.0.as_slice() {
            return Some(only);
        }
        self.0.iter().find(|e| e.is_default())
    }

    /// The element a handler naming `name` uses: the one of that name, or the default one for
    /// an empty name. The error names the elements there are.
    ///
    /// ```
    /// # use klaxon_core::{ElementConfig, Elements, ServiceConfig};
    /// # #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # #[serde(default)]
    /// # struct Workspace { workspace: String, default: bool }
    /// # impl ElementConfig for Workspace {
    /// #     const ELEMENT_KEY: &'static str = "workspace";
    /// #     const SECTION: &'static str = "slack";
    /// #     const HAS_DEFAULT: bool = true;
    /// #     fn name(&self) -> &str { &self.workspace }
    /// #     fn is_default(&self) -> bool { self.default }
    /// # }
    /// let two = serde_json::json!([{"workspace": "a", "default": true}, {"workspace": "b"}]);
    /// let workspaces = Elements::<Workspace>::decode(&two).unwrap();
    /// assert_eq!(workspaces.named_or_default("").unwrap().workspace, "a");
    /// assert_eq!(workspaces.named_or_default("b").unwrap().workspace, "b");
    /// assert_eq!(
    ///     workspaces.named_or_default("c").unwrap_err().to_string(),
    ///     r#"unknown workspace "c"; the [[slack]] workspaces are: "a", "b""#
    /// );
    /// ```
    pub fn named_or_default(&self, name: &str) -> Result<&E, Invalid> {
        if self.0.is_empty() {
            return Err(Invalid::new(format!(
                "no [[{}]] {} is configured",
                E::SECTION,
                E::ELEMENT_KEY
            )));
        }
        let found = if name.is_empty() {
            self.default_element()
        } else {
            self.get(name)
        };
        found.ok_or_else(|| {
            Invalid::new(format!(
                "unknown {} {name:?}; {}",
                E::ELEMENT_KEY,
                self.known()
            ))
        })
    }

    /// What the default element asks of alert nodes ([`Service::global`](crate::Service)): its
    /// `global` and `state-changes-only` while it is enabled, else nothing.
    ///
    /// ```
    /// # use klaxon_core::{ElementConfig, Elements, Global, ServiceConfig};
    /// # #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # #[serde(default, rename_all = "kebab-case")]
    /// # struct Workspace { enabled: bool, global: bool, state_changes_only: bool }
    /// # impl ElementConfig for Workspace {
    /// #     const ELEMENT_KEY: &'static str = "workspace";
    /// #     fn name(&self) -> &str { "" }
    /// #     fn is_enabled(&self) -> bool { self.enabled }
    /// #     fn global(&self) -> Global {
    /// #         Global { handler: self.global, state_changes_only: self.state_changes_only }
    /// #     }
    /// # }
    /// let on = serde_json::json!({"enabled": true, "global": true});
    /// assert_eq!(Elements::<Workspace>::decode(&on).unwrap().global(), Global::from_keys(true, false));
    /// let off = serde_json::json!({"enabled": false, "global": true});
    /// assert_eq!(Elements::<Workspace>::decode(&off).unwrap().global(), Global::OFF);
    /// ```
    pub fn global(&self) -> Global {
        match self.default_element() {
            Some(element) if element.is_enabled() => {
                let keys = element.global();
                Global::from_keys(keys.handler, keys.state_changes_only)
            }
            _ => Global::OFF,
        }
    }

    /// The elements there are, for messages.
    fn known(&self) -> String {
        let (section, key) = (E::SECTION, E::ELEMENT_KEY);
        if self.0.iter().all(|e| e.name().is_empty()) {
            return format!("[[{section}]] has only its unnamed default {key}: leave {key} empty");
        }
        let names: Vec<String> = self.0.iter().map(|e| format!("{:?}", e.name())).collect();
        format!("the [[{section}]] {key}s are: {}", names.join(", "))
    }

    /// Kapacitor's rules of the default element (`Configs.Validate`), with two of its gaps
    /// closed: a single element counts as the default for `global` too, and two defaults are
    /// refused instead of the last one silently winning.
    fn validate_default(&self) -> Result<(), Invalid> {
        let (section, key) = (E::SECTION, E::ELEMENT_KEY);
        let defaults: Vec<String> = self
            .0
            .iter()
            .filter(|e| e.is_default())
            .map(|e| format!("{:?}", e.name()))
            .collect();
        if defaults.len() > 1 {
            return Err(Invalid::new(format!(
                "only one [[{section}]] {key} may have default = true; {} do",
                defaults.join(" and ")
            )));
        }
        if E::HAS_DEFAULT && self.0.len() > 1 && defaults.is_empty() {
            return Err(Invalid::new(format!(
                "one [[{section}]] {key} must have default = true; {}",
                self.known()
            )));
        }
        let default = self.default_element().map(E::name);
        for element in &self.0 {
            let is_default = default == Some(element.name());
            let keys = element.global();
            if keys.handler && !is_default {
                return Err(Invalid::new(format!(
                    "{}: global = true is only allowed on the default {key}",
                    element.label()
                )));
            }
            if keys.state_changes_only && !(is_default && keys.handler) {
                return Err(Invalid::new(format!(
                    "{}: state-changes-only = true needs global = true on the default {key}",
                    element.label()
                )));
            }
        }
        Ok(())
    }
}

impl<'de, E: ElementConfig> Deserialize<'de> for Elements<E> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Elements::decode(&value).map_err(serde::de::Error::custom)
    }
}

impl<E: ElementConfig> ServiceConfig for Elements<E> {
    const SECRETS: &'static [&'static str] = E::SECRETS;
    const ELEMENT_KEY: Option<&'static str> = Some(E::ELEMENT_KEY);

    /// An absent section (`null`) is [`ElementConfig::defaults`]; a list, even an empty one, or
    /// a single table is exactly the elements given, each decoded into the element's `Default`.
    fn decode(section: &Value) -> Result<Self, Invalid> {
        let given: Vec<&Value> = match section {
            Value::Null => {
                let elements = Elements::default();
                elements.validate()?;
                return Ok(elements);
            }
            Value::Array(list) => list.iter().collect(),
            table @ Value::Object(_) => vec![table],
            other => {
                return Err(Invalid::new(format!(
                    "expected a list of tables, got {}",
                    crate::decode::json_type_name(other)
                )));
            }
        };
        let mut elements = Vec::with_capacity(given.len());
        for (index, value) in given.into_iter().enumerate() {
            let element: E = decode_into(&E::default(), value, Noun::Key)
                .map_err(|e| Invalid::new(format!("element {}: {e}", index + 1)))?;
            elements.push(element);
        }
        let elements = Elements(elements);
        elements.validate()?;
        Ok(elements)
    }

    /// Names unique, each element valid, and the rules of the default element.
    fn validate(&self) -> Result<(), Invalid> {
        let several = self.0.len() > 1;
        let mut seen = BTreeSet::new();
        for (index, element) in self.0.iter().enumerate() {
            if !seen.insert(element.name()) {
                return Err(Invalid::new(format!(
                    "{} {:?} appears twice; each element needs its own {0}",
                    E::ELEMENT_KEY,
                    element.name()
                )));
            }
            if E::HAS_DEFAULT && several && element.name().is_empty() {
                let key = E::ELEMENT_KEY;
                return Err(Invalid::new(format!(
                    "[[{}]] element {} has no {key} name; each of several {key}s needs one, \
                     such as {key} = \"alerts\"",
                    E::SECTION,
                    index + 1
                )));
            }
            element
                .validate()
                .map_err(|e| Invalid::new(format!("{}: {e}", element.label())))?;
        }
        self.validate_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A `[[slack]]`-like workspace: a list with a default element.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
    struct Workspace {
        workspace: String,
        default: bool,
        enabled: bool,
        url: String,
        global: bool,
        state_changes_only: bool,
    }

    impl ElementConfig for Workspace {
        const ELEMENT_KEY: &'static str = "workspace";
        const SECTION: &'static str = "chat";
        const HAS_DEFAULT: bool = true;

        fn name(&self) -> &str {
            &self.workspace
        }

        fn validate(&self) -> Result<(), Invalid> {
            if self.enabled && self.url.is_empty() {
                return Err(Invalid::new("url is required when enabled"));
            }
            Ok(())
        }

        fn is_default(&self) -> bool {
            self.default
        }

        fn is_enabled(&self) -> bool {
            self.enabled
        }

        fn global(&self) -> Global {
            Global {
                handler: self.global,
                state_changes_only: self.state_changes_only,
            }
        }

        fn defaults() -> Vec<Self> {
            vec![Workspace {
                default: true,
                ..Workspace::default()
            }]
        }
    }

    fn decode(section: Value) -> Result<Elements<Workspace>, String> {
        Elements::decode(&section).map_err(|e| e.to_string())
    }

    #[test]
    fn an_absent_section_is_the_built_in_default_element() {
        let builtin = decode(Value::Null).unwrap();
        assert_eq!(builtin, Elements::default());
        assert_eq!(builtin.default_element(), Some(&Workspace::defaults()[0]));
        assert_eq!(builtin.named_or_default("").unwrap().workspace, "");
        assert_eq!(
            builtin.named_or_default("x").unwrap_err().to_string(),
            r#"unknown workspace "x"; [[chat]] has only its unnamed default workspace: leave workspace empty"#
        );
        let none = decode(json!([])).unwrap();
        assert_eq!(
            none.named_or_default("").unwrap_err().to_string(),
            "no [[chat]] workspace is configured"
        );
    }

    #[test]
    fn the_rules_of_the_default_element_are_kapacitors() {
        decode(json!([{"workspace": "a", "default": true}, {"workspace": "b"}])).unwrap();
        let cases = [
            (
                json!([{"workspace": "a"}, {"workspace": "b"}]),
                r#"one [[chat]] workspace must have default = true; the [[chat]] workspaces are: "a", "b""#,
            ),
            (
                json!([{"workspace": "a", "default": true}, {"workspace": "b", "default": true}]),
                r#"only one [[chat]] workspace may have default = true; "a" and "b" do"#,
            ),
            (
                json!([{"workspace": "a", "default": true}, {}]),
                r#"[[chat]] element 2 has no workspace name; each of several workspaces needs one, such as workspace = "alerts""#,
            ),
            (
                json!([{"workspace": "a", "default": true}, {"workspace": "b", "global": true}]),
                r#"workspace "b": global = true is only allowed on the default workspace"#,
            ),
            (
                json!({"state-changes-only": true}),
                "[[chat]]: state-changes-only = true needs global = true on the default workspace",
            ),
            (
                json!({"enabled": true}),
                "[[chat]]: url is required when enabled",
            ),
            (
                json!([{"workspace": "a", "enabled": true, "default": true}, {"workspace": "b"}]),
                r#"workspace "a": url is required when enabled"#,
            ),
        ];
        for (section, expected) in cases {
            assert_eq!(decode(section.clone()).unwrap_err(), expected, "{section}");
        }
    }

    #[test]
    fn global_is_the_enabled_default_elements() {
        let lone = json!({"enabled": true, "url": "u", "global": true, "state-changes-only": true});
        assert_eq!(
            decode(lone).unwrap().global(),
            Global::from_keys(true, true)
        );
        let disabled = json!({"url": "u", "global": true});
        assert_eq!(decode(disabled).unwrap().global(), Global::OFF);
        let two = json!([{"workspace": "a", "default": true, "enabled": true, "url": "u",
                          "global": true}, {"workspace": "b"}]);
        assert_eq!(
            decode(two).unwrap().global(),
            Global::from_keys(true, false)
        );
    }
}
