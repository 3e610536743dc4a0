//! Decoding the server's own sections by their type alone: which top-level keys are tables
//! (sections) and which keys each table has come from the type's JSON schema, so a new section is
//! a field of [`super::ServerSections`] and nothing else.
//!
//! Each section decodes as [`klaxon_core::decode::decode_into`] decodes a handler's: into its
//! defaults, absent and `null` keys keeping them, unknown keys refused with the known ones listed,
//! a value of the wrong type named by its key, and the section named in front of the message.

use std::collections::BTreeMap;

use klaxon_core::Invalid;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::schema::Schema;

/// The top-level keys of a sections type, read from its JSON schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionKeys {
    /// Keys that hold a table, each with the keys that table has, sorted.
    sections: BTreeMap<String, Vec<String>>,
    /// Keys that hold a single value, sorted.
    top_level: Vec<String>,
    /// The sections that are lists of tables (`[[influxdb]]`), a subset of `sections`.
    lists: Vec<String>,
}

impl SectionKeys {
    /// The keys of `T`'s fields: a field whose type is a struct is a section.
    pub(super) fn of<T: JsonSchema>() -> SectionKeys {
        let schema = schemars::schema_for!(T);
        let root = Schema::new(&schema);
        let mut sections = BTreeMap::new();
        let mut top_level = Vec::new();
        let mut lists = Vec::new();
        for name in root.property_names() {
            let list = root
                .field(name)
                .and_then(|f| f.items())
                .filter(Schema::is_table);
            if let Some(element) = list {
                let mut keys: Vec<String> = element
                    .property_names()
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                keys.sort_unstable();
                sections.insert(name.to_owned(), keys);
                lists.push(name.to_owned());
                continue;
            }
            match root.field(name).filter(Schema::is_table) {
                Some(table) => {
                    let mut keys: Vec<String> = table
                        .property_names()
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                    keys.sort_unstable();
                    sections.insert(name.to_owned(), keys);
                }
                None => top_level.push(name.to_owned()),
            }
        }
        top_level.sort_unstable();
        SectionKeys {
            sections,
            top_level,
            lists,
        }
    }

    /// Whether `key` is one of the type's top-level keys.
    pub fn contains(&self, key: &str) -> bool {
        self.sections.contains_key(key) || self.top_level.iter().any(|k| k == key)
    }

    /// The keys of section `name`, sorted; `None` when it is not a section.
    pub fn section_keys(&self, name: &str) -> Option<&[String]> {
        self.sections.get(name).map(Vec::as_slice)
    }

    /// The keys that hold a table, sorted.
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.keys().map(String::as_str)
    }

    /// The keys that hold a single value, sorted.
    pub fn top_level(&self) -> &[String] {
        &self.top_level
    }
}

/// Decodes `given` (an object of this type's top-level keys) into `T`'s defaults.
pub(super) fn decode<T>(given: &Map<String, Value>, keys: &SectionKeys) -> Result<T, Invalid>
where
    T: Default + Serialize + DeserializeOwned,
{
    let mut merged = match serde_json::to_value(T::default()) {
        Ok(Value::Object(map)) => map,
        Ok(_) | Err(_) => Map::new(),
    };
    // Keys are merged in field order and a badly shaped one stops the merge: the type errors the
    // decode below finds are then all in earlier fields, and the first problem in field order is
    // the one reported, as when each section had a decoder of its own.
    let mut shape_error = None;
    for (name, current) in merged.iter_mut() {
        let Some(value) = given.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let Some(known) = keys.sections.get(name) else {
            *current = value.clone();
            continue;
        };
        if keys.lists.contains(name) {
            match merge_list(name, value, known) {
                Ok(list) => *current = list,
                Err(e) => {
                    shape_error = Some(e);
                    break;
                }
            }
            continue;
        }
        if let Err(e) = merge_section(name, current, value, known) {
            shape_error = Some(e);
            break;
        }
    }
    let decoded = serde_path_to_error::deserialize(Value::Object(merged)).map_err(|err| {
        let path = err.path().to_string();
        located(&path, err.into_inner().to_string(), keys)
    })?;
    match shape_error {
        Some(e) => Err(e),
        None => Ok(decoded),
    }
}

/// A list section (`[[name]]`, or a single `[name]` table as its only element), each element's
/// keys checked; absent keys take the element type's defaults when it is decoded.
fn merge_list(name: &str, given: &Value, known: &[String]) -> Result<Value, Invalid> {
    let elements = match given {
        Value::Array(elements) => elements.clone(),
        Value::Object(_) => vec![given.clone()],
        _ => return Err(Invalid::new(format!("[[{name}]] must be a list of tables"))),
    };
    for element in &elements {
        let Value::Object(table) = element else {
            return Err(Invalid::new(format!("[[{name}]] must be a list of tables")));
        };
        if let Some(unknown) = table.keys().find(|k| !known.contains(k)) {
            return Err(Invalid::new(format!(
                "[[{name}]]: unknown key {unknown:?}, expected one of: {}",
                known.join(", ")
            )));
        }
    }
    let elements = elements
        .into_iter()
        .map(|element| match element {
            Value::Object(table) => {
                Value::Object(table.into_iter().filter(|(_, v)| !v.is_null()).collect())
            }
            other => other,
        })
        .collect();
    Ok(Value::Array(elements))
}

/// Sets the keys of table `given` in section `name`'s `current` value.
fn merge_section(
    name: &str,
    current: &mut Value,
    given: &Value,
    known: &[String],
) -> Result<(), Invalid> {
    let Value::Object(given) = given else {
        return Err(Invalid::new(format!("[{name}] must be a table")));
    };
    if let Some(unknown) = given.keys().find(|k| !known.contains(k)) {
        return Err(Invalid::new(format!(
            "[{name}]: unknown key {unknown:?}, expected one of: {}",
            known.join(", ")
        )));
    }
    if let Value::Object(current) = current {
        for (key, value) in given {
            if !value.is_null() {
                current.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(())
}

/// `message` about the value at `path` (serde_path_to_error's form, such as
/// `http.users[0].name`), said the way a section's own decoder says it:
/// `[http]: key "users[0].name": ...`.
fn located(path: &str, message: String, keys: &SectionKeys) -> Invalid {
    let cut = path.find(['.', '[']).unwrap_or(path.len());
    let (name, rest) = path.split_at(cut);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    if keys.sections.contains_key(name) {
        if rest.is_empty() {
            return Invalid::new(format!("[{name}]: {message}"));
        }
        return Invalid::new(format!("[{name}]: key {rest:?}: {message}"));
    }
    // A top-level value whose own type already names it (data-dir's) is not named twice.
    if name.is_empty() || message.starts_with(name) {
        return Invalid::new(message);
    }
    Invalid::new(format!("key {path:?}: {message}"))
}
