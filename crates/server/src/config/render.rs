//! `klaxond config`: the configuration as TOML with a comment on every key.
//!
//! Comments come from the doc comments of the configuration types (through their JSON schemas),
//! so a key cannot be added without its explanation: the server's tests and each handler crate's
//! `assert_documented` test check that every key has one.

use klaxon_core::Registry;
use serde_json::{Map, Value};

use super::{Config, ServerSections};

const HEADER: &str = "\
# Klaxon configuration.
#
# Every key is shown with its current value (the built-in default unless a file or the
# environment changed it). Start klaxond with --config FILE (or KLAXON_CONFIG=FILE). Any key can
# also be set with an environment variable KLAXON_<SECTION>_<KEY>, writing '-' as '_', for
# example KLAXON_HTTP_BIND_ADDRESS=127.0.0.1:9092.
";

/// Renders `config` (server sections and every registered handler's section) as commented TOML.
pub fn render(config: &Config, registry: &Registry) -> String {
    let mut out = String::from(HEADER);
    let server_schema = schemars::schema_for!(ServerSections);
    let mut server_value = serde_json::to_value(&config.server).unwrap_or(Value::Null);
    redact_credentials(&mut server_value);
    let Value::Object(server_value) = server_value else {
        return out;
    };
    let top = Schema::new(&server_schema);
    // Top-level scalars first: TOML puts everything after a [section] header into that section.
    for (key, value) in &server_value {
        if !value.is_object() {
            out.push('\n');
            write_key(&mut out, key, value, top.field_doc(key).as_deref());
        }
    }
    for (key, value) in &server_value {
        if let Value::Object(table) = value {
            let doc = top.field_doc(key);
            let schema = top.field_schema(key);
            write_table(&mut out, key, table, doc.as_deref(), schema.as_ref());
        }
    }
    for registration in registry.iter() {
        let kind = registration.kind();
        let Value::Object(mut table) = config.handler_section(kind, registry) else {
            continue;
        };
        for key in registration.secrets() {
            redact(table.get_mut(*key));
        }
        let schema = registration.config_schema();
        let doc = format!("{kind}: {}", registration.description());
        write_table(
            &mut out,
            kind,
            &table,
            Some(&doc),
            Some(&Schema::new(&schema).owned()),
        );
    }
    out
}

/// What a secret shows instead of its value: configuration printed to a terminal or pasted in
/// an issue must not carry password hashes (which can be attacked offline) or tokens.
pub const REDACTED: &str = "(redacted; set it in the configuration file)";

/// Replaces a non-empty secret string with [`REDACTED`].
fn redact(value: Option<&mut Value>) {
    if let Some(value) = value
        && value.as_str().is_some_and(|s| !s.is_empty())
    {
        *value = Value::String(REDACTED.to_owned());
    }
}

/// Redacts `[[http.users]]` password hashes and `[[http.tokens]]` token hashes.
fn redact_credentials(server: &mut Value) {
    for (table, key) in [("users", "password"), ("tokens", "hash")] {
        if let Some(Value::Array(entries)) =
            server.get_mut("http").and_then(|http| http.get_mut(table))
        {
            for entry in entries {
                redact(entry.get_mut(key));
            }
        }
    }
}

/// A JSON schema with its `$defs`, for looking up field descriptions through `$ref`s.
struct Schema<'a> {
    root: &'a Value,
    node: &'a Value,
}

impl<'a> Schema<'a> {
    fn new(schema: &'a schemars::Schema) -> Self {
        let root = schema.as_value();
        Schema { root, node: root }
    }

    fn owned(&self) -> OwnedSchema {
        OwnedSchema {
            root: self.root.clone(),
            node: self.node.clone(),
        }
    }

    fn property(&self, key: &str) -> Option<&'a Value> {
        self.node.get("properties")?.get(key)
    }

    fn field_doc(&self, key: &str) -> Option<String> {
        let property = self.property(key)?;
        description(property).or_else(|| description(resolve(self.root, property)?))
    }

    fn field_schema(&self, key: &str) -> Option<OwnedSchema> {
        let property = self.property(key)?;
        let node = resolve(self.root, property).unwrap_or(property);
        Some(OwnedSchema {
            root: self.root.clone(),
            node: node.clone(),
        })
    }
}

struct OwnedSchema {
    root: Value,
    node: Value,
}

impl OwnedSchema {
    fn view(&self) -> Schema<'_> {
        Schema {
            root: &self.root,
            node: &self.node,
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

fn write_table(
    out: &mut String,
    name: &str,
    table: &Map<String, Value>,
    doc: Option<&str>,
    schema: Option<&OwnedSchema>,
) {
    out.push('\n');
    if let Some(doc) = doc {
        write_comment(out, doc);
    }
    out.push_str(&format!("[{name}]\n"));
    let view = schema.map(OwnedSchema::view);
    for (key, value) in table {
        if !value.is_object() {
            let doc = view.as_ref().and_then(|s| s.field_doc(key));
            write_key(out, key, value, doc.as_deref());
        }
    }
    for (key, value) in table {
        if let Value::Object(sub) = value {
            let doc = view.as_ref().and_then(|s| s.field_doc(key));
            let sub_schema = view.as_ref().and_then(|s| s.field_schema(key));
            write_table(
                out,
                &format!("{name}.{key}"),
                sub,
                doc.as_deref(),
                sub_schema.as_ref(),
            );
        }
    }
}

fn write_key(out: &mut String, key: &str, value: &Value, doc: Option<&str>) {
    if let Some(doc) = doc {
        write_comment(out, doc);
    }
    if value.is_null() {
        out.push_str(&format!("# {key} is not set\n"));
        return;
    }
    let mut table = toml::Table::new();
    match toml::Value::try_from(value) {
        Ok(v) => {
            table.insert(key.to_owned(), v);
            out.push_str(&toml::to_string(&table).unwrap_or_default());
        }
        Err(_) => out.push_str(&format!("# {key} = {value}\n")),
    }
}

/// Writes `text` as `# ` comment lines wrapped at 100 columns, keeping paragraph breaks.
fn write_comment(out: &mut String, text: &str) {
    for (i, paragraph) in text.split("\n\n").enumerate() {
        if i > 0 {
            out.push_str("#\n");
        }
        let mut line = String::from("#");
        for word in paragraph.split_whitespace() {
            if line.len() + 1 + word.len() > 100 && line.len() > 1 {
                out.push_str(&line);
                out.push('\n');
                line = String::from("#");
            }
            line.push(' ');
            line.push_str(word);
        }
        out.push_str(&line);
        out.push('\n');
    }
}
