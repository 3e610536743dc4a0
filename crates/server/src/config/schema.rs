//! Reading the configuration types' JSON schemas (schemars): which keys a table has, which of
//! them are tables themselves, their doc comments, and which hold secrets.
//!
//! The server's sections are decoded, listed in errors and rendered from these schemas, so a new
//! section or key is a field of its type and nothing else.

use serde_json::Value;

/// The schema extension that marks a field whose value must not be shown, set on the field with
/// `#[schemars(extend("x-secret" = true))]`.
pub(super) const SECRET: &str = "x-secret";

/// One node of a JSON schema, with the root for following `$ref`s into its `$defs`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schema<'a> {
    root: &'a Value,
    node: &'a Value,
}

impl<'a> Schema<'a> {
    /// The root of `schema`, its `$ref` followed (a newtype's schema is a reference to the
    /// type it wraps).
    pub(super) fn new(schema: &'a schemars::Schema) -> Self {
        let root = schema.as_value();
        Schema {
            root,
            node: resolve(root, root).unwrap_or(root),
        }
    }

    /// The schema of property `key`, as written at the property (where its doc comment and
    /// extensions are), not yet resolved.
    fn property(&self, key: &str) -> Option<&'a Value> {
        self.node.get("properties")?.get(key)
    }

    /// The doc comment of property `key`, or of the type it refers to.
    pub(super) fn field_doc(&self, key: &str) -> Option<String> {
        let property = self.property(key)?;
        description(property).or_else(|| description(resolve(self.root, property)?))
    }

    /// The schema of property `key`, its `$ref` followed.
    pub(super) fn field(&self, key: &str) -> Option<Schema<'a>> {
        let property = self.property(key)?;
        Some(self.at(property))
    }

    /// The schema of this array's elements, their `$ref` followed.
    pub(super) fn items(&self) -> Option<Schema<'a>> {
        let items = self.node.get("items")?;
        Some(self.at(items))
    }

    /// Whether property `key` is marked [`SECRET`].
    pub(super) fn is_secret(&self, key: &str) -> bool {
        self.property(key)
            .and_then(|p| p.get(SECRET))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Whether this node describes a table (a struct), rather than a single value.
    pub(super) fn is_table(&self) -> bool {
        self.node.get("type").and_then(Value::as_str) == Some("object")
    }

    /// The property names, in the order of the type's fields.
    pub(super) fn property_names(&self) -> Vec<&'a str> {
        self.node
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| properties.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn at(&self, node: &'a Value) -> Schema<'a> {
        Schema {
            root: self.root,
            node: resolve(self.root, node).unwrap_or(node),
        }
    }
}

fn description(node: &Value) -> Option<String> {
    node.get("description")?.as_str().map(str::to_owned)
}

/// Follows a `$ref` (directly or inside `allOf`) to its definition in `$defs`.
fn resolve<'v>(root: &'v Value, node: &'v Value) -> Option<&'v Value> {
    let reference = node
        .get("$ref")
        .or_else(|| node.get("allOf")?.get(0)?.get("$ref"))?
        .as_str()?;
    let name = reference.strip_prefix("#/$defs/")?;
    root.get("$defs")?.get(name)
}
