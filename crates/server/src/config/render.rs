//! `klaxond config`: the configuration as TOML with a comment on every key.
//!
//! Comments come from the doc comments of the configuration types (through their JSON schemas),
//! so a key cannot be added without its explanation: the server's tests and each handler crate's
//! `assert_documented` test check that every key has one.

use klaxon_core::Registry;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::Config;
use super::schema::Schema;

const HEADER: &str = "\
# Klaxon configuration.
#
# Every key is shown with its current value (the built-in default unless a file or the
# environment changed it). Start klaxond with --config FILE (or KLAXON_CONFIG=FILE). Any key can
# also be set with an environment variable KLAXON_<SECTION>_<KEY>, writing '-' as '_', for
# example KLAXON_HTTP_BIND_ADDRESS=127.0.0.1:9092.
";

/// Renders `config` (server sections and every registered handler's section) as commented TOML,
/// secrets redacted.
pub fn render(config: &Config, registry: &Registry) -> String {
    render_with(config, registry, true)
}

/// Renders `config` with its secrets as they are: the klaxon.toml that
/// `klaxond config --from-kapacitor` translates a Kapacitor file into must load and work as the
/// file did, so it carries the file's own passwords and tokens.
pub fn render_with_secrets(config: &Config, registry: &Registry) -> String {
    render_with(config, registry, false)
}

fn render_with(config: &Config, registry: &Registry, redacted: bool) -> String {
    let redact = |value: Option<&mut Value>| {
        if redacted {
            redact(value);
        }
    };
    let mut out = String::from(HEADER);
    write_sections_with(&mut out, &config.server, redacted);
    for registration in registry.iter() {
        let name = registration.section();
        let schema = registration.config_schema();
        let schema = Schema::new(&schema);
        let doc = format!("{}: {}", registration.kind(), registration.description());
        match config.handler_section(name, registry) {
            Value::Object(mut table) => {
                for key in registration.secrets() {
                    redact(table.get_mut(*key));
                }
                write_table(&mut out, name, &table, Some(&doc), Some(schema));
            }
            Value::Array(elements) => {
                out.push('\n');
                write_comment(&mut out, &doc);
                if elements.is_empty() {
                    out.push_str(&format!("# [[{name}]] has no element.\n"));
                }
                for element in elements {
                    let Value::Object(mut table) = element else {
                        continue;
                    };
                    for key in registration.secrets() {
                        redact(table.get_mut(*key));
                    }
                    out.push_str(&format!("[[{name}]]\n"));
                    write_values(&mut out, &table, schema.items());
                    write_tables(&mut out, name, &table, schema.items());
                }
            }
            _ => {}
        }
    }
    out
}

/// The server's own keys and sections (a [`super::ServerSections`] in the server; any sections type in
/// tests), with secrets redacted.
#[cfg(test)]
pub(super) fn write_sections<T: Serialize + JsonSchema>(out: &mut String, sections: &T) {
    write_sections_with(out, sections, true);
}

fn write_sections_with<T: Serialize + JsonSchema>(out: &mut String, sections: &T, redacted: bool) {
    let schema = schemars::schema_for!(T);
    let top = Schema::new(&schema);
    let mut value = serde_json::to_value(sections).unwrap_or(Value::Null);
    if redacted {
        redact_secrets(&mut value, top);
    }
    let Value::Object(value) = value else {
        return;
    };
    // Top-level values first: TOML puts everything after a [section] header into that section.
    for (key, value) in &value {
        if !is_table_like(value) {
            out.push('\n');
            write_key(out, key, value, top.field_doc(key).as_deref());
        }
    }
    write_tables(out, "", &value, Some(top));
}

/// What a secret shows instead of its value: configuration printed to a terminal or pasted in
/// an issue must not carry password hashes (which can be attacked offline) or tokens.
pub const REDACTED: &str = "(redacted; set it in the configuration file)";

/// Replaces a non-empty secret string with [`REDACTED`]; in a secret table or list (an HTTP
/// basic-auth `{username, password}`), every non-empty string, so that the printed file still
/// has the shape the key needs and loads back.
fn redact(value: Option<&mut Value>) {
    let Some(value) = value else { return };
    match value {
        Value::String(s) if !s.is_empty() => *value = Value::String(REDACTED.to_owned()),
        Value::Object(map) => map.values_mut().for_each(|v| redact(Some(v))),
        Value::Array(items) => items.iter_mut().for_each(|v| redact(Some(v))),
        _ => {}
    }
}

/// Redacts every value whose field the schema marks secret (`[[http.users]]` password hashes,
/// `[[http.tokens]]` token hashes), at any depth.
fn redact_secrets(value: &mut Value, schema: Schema<'_>) {
    let Value::Object(map) = value else { return };
    for (key, value) in map.iter_mut() {
        if schema.is_secret(key) {
            redact(Some(value));
            continue;
        }
        let Some(field) = schema.field(key) else {
            continue;
        };
        match value {
            Value::Object(_) => redact_secrets(value, field),
            Value::Array(items) => {
                if let Some(item) = field.items() {
                    for value in items {
                        redact_secrets(value, item);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether `value` is written under a header of its own: a table, or a non-empty array of
/// tables (`[[name]]`). Everything else is a `key = value` line.
fn is_table_like(value: &Value) -> bool {
    match value {
        Value::Object(_) => true,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_object),
        _ => false,
    }
}

/// `[name]` with its doc comment, its values, then its tables.
fn write_table(
    out: &mut String,
    name: &str,
    table: &Map<String, Value>,
    doc: Option<&str>,
    schema: Option<Schema<'_>>,
) {
    out.push('\n');
    if let Some(doc) = doc {
        write_comment(out, doc);
    }
    out.push_str(&format!("[{name}]\n"));
    write_values(out, table, schema);
    write_tables(out, name, table, schema);
}

/// The `key = value` lines of `table`, each after its doc comment.
fn write_values(out: &mut String, table: &Map<String, Value>, schema: Option<Schema<'_>>) {
    for (key, value) in table {
        if !is_table_like(value) {
            let doc = schema.and_then(|s| s.field_doc(key));
            write_key(out, key, value, doc.as_deref());
        }
    }
}

/// The tables and arrays of tables of `table` (whose own name is `parent`, empty at the top),
/// each under its full dotted name, as TOML requires of a header.
fn write_tables(
    out: &mut String,
    parent: &str,
    table: &Map<String, Value>,
    schema: Option<Schema<'_>>,
) {
    for (key, value) in table {
        let name = if parent.is_empty() {
            key.clone()
        } else {
            format!("{parent}.{key}")
        };
        let doc = schema.and_then(|s| s.field_doc(key));
        let field = schema.and_then(|s| s.field(key));
        match value {
            Value::Object(sub) => write_table(out, &name, sub, doc.as_deref(), field),
            Value::Array(entries) if is_table_like(value) => {
                let item = field.and_then(|f| f.items());
                for (i, entry) in entries.iter().filter_map(Value::as_object).enumerate() {
                    out.push('\n');
                    if i == 0
                        && let Some(doc) = &doc
                    {
                        write_comment(out, doc);
                    }
                    out.push_str(&format!("[[{name}]]\n"));
                    write_values(out, entry, item);
                    write_tables(out, &name, entry, item);
                }
            }
            _ => {}
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
