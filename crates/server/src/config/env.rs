//! Environment overrides: `KLAXON_<SECTION>_<KEY>` (or `KLAXON_<KEY>` for top-level keys), with
//! `-` written as `_`, for example `KLAXON_HTTP_BIND_ADDRESS=0.0.0.0:9092`; an element of a list
//! section by its index, as Kapacitor's `KAPACITOR_HTTPPOST_0_URL`: `KLAXON_HTTPPOST_0_URL`.

use klaxon_core::{Invalid, Registry};
use serde_json::Value;

use super::Config;

/// Variables with the prefix that are not configuration keys.
const NOT_CONFIG: &[&str] = &[
    "KLAXON_CONFIG",
    "KLAXON_URL",
    "KLAXON_USERNAME",
    "KLAXON_PASSWORD",
];

/// One value set from the environment.
#[derive(Debug)]
pub(super) struct Override {
    section: Option<String>,
    /// For a list section, the element's index.
    element: Option<usize>,
    key: String,
    value: Value,
}

impl Override {
    pub(super) fn apply(self, config: &mut Value) {
        let Value::Object(root) = config else { return };
        let Some(section) = self.section else {
            root.insert(self.key, self.value);
            return;
        };
        let table = match (root.get_mut(&section), self.element) {
            (Some(Value::Object(table)), None) => table,
            (Some(Value::Array(list)), Some(index)) => match list.get_mut(index) {
                Some(Value::Object(table)) => table,
                _ => return,
            },
            _ => return,
        };
        table.insert(self.key, self.value);
    }
}

fn env_name(parts: &[&str]) -> String {
    let mut name = String::from("KLAXON");
    for part in parts {
        name.push('_');
        name.push_str(&part.to_ascii_uppercase().replace('-', "_"));
    }
    name
}

/// The overrides found in `env`, typed after the values they replace.
pub(super) fn overrides(
    env: impl IntoIterator<Item = (String, String)>,
    config: &Config,
    registry: &Registry,
) -> Result<Vec<Override>, Invalid> {
    let Value::Object(current) = config.to_json(registry) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, raw) in env {
        if !name.starts_with("KLAXON_") || NOT_CONFIG.contains(&name.as_str()) {
            continue;
        }
        if let Some(o) = find(&name, &raw, &current)? {
            out.push(o);
        }
    }
    Ok(out)
}

fn find(
    name: &str,
    raw: &str,
    current: &serde_json::Map<String, Value>,
) -> Result<Option<Override>, Invalid> {
    // Longest names first: KLAXON_FIXTURE_LIST_0_PATH belongs to [[fixture-list]], not to a
    // [fixture] section that happens to share the start of the name.
    let mut sections: Vec<(&String, &Value)> = current.iter().collect();
    sections.sort_by_key(|(key, _)| std::cmp::Reverse(key.len()));
    for (key, value) in sections {
        match value {
            Value::Object(table) => {
                let prefix = env_name(&[key]) + "_";
                let Some(_) = name.strip_prefix(&prefix) else {
                    continue;
                };
                for (field, old) in table {
                    if env_name(&[key, field]) == name {
                        return Ok(Some(Override {
                            section: Some(key.clone()),
                            element: None,
                            key: field.clone(),
                            value: typed(name, raw, old)?,
                        }));
                    }
                }
                let mut known: Vec<String> = table.keys().map(|f| env_name(&[key, f])).collect();
                known.sort();
                return Err(Invalid::new(format!(
                    "{name} names no key of [{key}]; its variables are: {}",
                    known.join(", ")
                )));
            }
            Value::Array(list) if list.iter().all(Value::is_object) => {
                let prefix = env_name(&[key]) + "_";
                let Some(rest) = name.strip_prefix(&prefix) else {
                    continue;
                };
                let index = rest.split('_').next().and_then(|i| i.parse::<usize>().ok());
                let Some(index) = index else {
                    continue;
                };
                let Some(Value::Object(element)) = list.get(index) else {
                    return Err(Invalid::new(format!(
                        "{name} names element {index} of [[{key}]], which has {} (counting from \
                         0); add the element in the configuration file",
                        list.len()
                    )));
                };
                let number = index.to_string();
                for (field, old) in element {
                    if env_name(&[key, &number, field]) == name {
                        return Ok(Some(Override {
                            section: Some(key.clone()),
                            element: Some(index),
                            key: field.clone(),
                            value: typed(name, raw, old)?,
                        }));
                    }
                }
                let mut known: Vec<String> = element
                    .keys()
                    .map(|f| env_name(&[key, &number, f]))
                    .collect();
                known.sort();
                return Err(Invalid::new(format!(
                    "{name} names no key of [[{key}]]; its variables are: {}",
                    known.join(", ")
                )));
            }
            old => {
                if env_name(&[key]) == name {
                    return Ok(Some(Override {
                        section: None,
                        element: None,
                        key: key.clone(),
                        value: typed(name, raw, old)?,
                    }));
                }
            }
        }
    }
    // Unrelated variables that merely share the prefix are left alone.
    Ok(None)
}

/// Converts the text of a variable to the type of the value it replaces.
fn typed(name: &str, raw: &str, old: &Value) -> Result<Value, Invalid> {
    let bad = |what: &str| Invalid::new(format!("{name}={raw:?}: expected {what}"));
    Ok(match old {
        Value::Bool(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        Value::Number(n) if n.is_f64() => {
            serde_json::Number::from_f64(raw.trim().parse().map_err(|_| bad("a number"))?)
                .map(Value::Number)
                .ok_or_else(|| bad("a finite number"))?
        }
        Value::Number(_) => Value::from(raw.trim().parse::<i64>().map_err(|_| bad("an integer"))?),
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        _ => Value::String(raw.to_owned()),
    })
}
