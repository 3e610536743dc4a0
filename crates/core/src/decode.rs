//! Decoding handler options and configuration sections, with errors that name the field.
//!
//! Both are JSON objects decoded *into the defaults*, as Kapacitor does: a key that is absent (or
//! `null`) keeps its default. Unknown keys are refused with the list of known ones, and a value of
//! the wrong type names its field.

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Options or configuration that cannot be used, with a message for the person who wrote them.
///
/// Handler crates return it from validation; the registry prefixes the handler kind, giving
/// messages such as `foo: must specify the Foo server URL`.
///
/// ```
/// let err = klaxon_core::Invalid::new("address must be host:port");
/// assert_eq!(err.to_string(), "address must be host:port");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(String);

impl Invalid {
    /// An error with this message (lowercase, no trailing period, naming the input).
    pub fn new(message: impl Into<String>) -> Self {
        Invalid(message.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

/// What the decoded object is called in messages: handler options or configuration keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noun {
    /// Handler options: `unknown option "adress"`.
    Option,
    /// Configuration keys: `unknown key "bind-adress"`.
    Key,
}

impl Noun {
    fn as_str(self) -> &'static str {
        match self {
            Noun::Option => "option",
            Noun::Key => "key",
        }
    }
}

/// The top-level property names of `T`'s JSON schema, sorted, or `None` when `T` is not a plain
/// struct (then unknown keys are left to serde).
///
/// ```
/// #[derive(schemars::JsonSchema)]
/// struct Options { address: String }
/// assert_eq!(klaxon_core::decode::field_names::<Options>().unwrap(), ["address"]);
/// ```
pub fn field_names<T: JsonSchema>() -> Option<Vec<String>> {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
    let properties = schema.get("properties")?.as_object()?;
    let mut names: Vec<String> = properties.keys().cloned().collect();
    names.sort();
    Some(names)
}

/// Decodes `given` (a JSON object, or `null` for "all defaults") into a copy of `defaults`.
///
/// ```
/// use klaxon_core::decode::{decode_into, Noun};
///
/// #[derive(Debug, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct Options { address: String, retries: u32 }
///
/// let defaults = Options { address: String::new(), retries: 3 };
/// let o: Options = decode_into(&defaults, &serde_json::json!({"address": "h:1"}), Noun::Option).unwrap();
/// assert_eq!((o.address.as_str(), o.retries), ("h:1", 3));
///
/// let err = decode_into(&defaults, &serde_json::json!({"adress": "h:1"}), Noun::Option).unwrap_err();
/// assert_eq!(err.to_string(), r#"unknown option "adress", expected one of: address, retries"#);
///
/// let err = decode_into(&defaults, &serde_json::json!({"retries": "many"}), Noun::Option).unwrap_err();
/// assert_eq!(err.to_string(), r#"option "retries": invalid type: string "many", expected u32"#);
/// ```
pub fn decode_into<T>(defaults: &T, given: &Value, noun: Noun) -> Result<T, Invalid>
where
    T: Serialize + DeserializeOwned + JsonSchema,
{
    let mut merged = match serde_json::to_value(defaults) {
        Ok(Value::Object(map)) => map,
        Ok(_) | Err(_) => Map::new(),
    };
    match given {
        Value::Null => {}
        Value::Object(given) => {
            if let Some(known) = field_names::<T>()
                && let Some(unknown) = given.keys().find(|k| !known.contains(k))
            {
                return Err(Invalid::new(format!(
                    "unknown {} {unknown:?}, expected one of: {}",
                    noun.as_str(),
                    known.join(", ")
                )));
            }
            for (key, value) in given {
                if !value.is_null() {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
        other => {
            return Err(Invalid::new(format!(
                "expected an object of {}s, got {}",
                noun.as_str(),
                json_type_name(other)
            )));
        }
    }
    serde_path_to_error::deserialize(Value::Object(merged)).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        if path == "." || path.is_empty() {
            Invalid::new(inner)
        } else {
            Invalid::new(format!("{} {path:?}: {inner}", noun.as_str()))
        }
    })
}

/// `object`, `array`, `string`, `number`, `bool` or `null`.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GoDuration;

    #[derive(Debug, Default, Serialize, serde::Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Sample {
        bind_address: String,
        timeout: GoDuration,
        args: Vec<String>,
    }

    #[test]
    fn null_means_all_defaults_and_null_values_keep_defaults() {
        let defaults = Sample {
            args: vec!["a".into()],
            ..Sample::default()
        };
        let s = decode_into(&defaults, &Value::Null, Noun::Key).unwrap();
        assert_eq!(s.args, ["a"]);
        let s = decode_into(&defaults, &serde_json::json!({"args": null}), Noun::Key).unwrap();
        assert_eq!(s.args, ["a"]);
    }

    #[test]
    fn durations_accept_strings_and_nanoseconds() {
        let d = Sample::default();
        let s = decode_into(&d, &serde_json::json!({"timeout": "1m30s"}), Noun::Key).unwrap();
        assert_eq!(s.timeout, GoDuration::from_secs(90));
        let s = decode_into(
            &d,
            &serde_json::json!({"timeout": 5_000_000_000i64}),
            Noun::Key,
        )
        .unwrap();
        assert_eq!(s.timeout, GoDuration::from_secs(5));
        let err = decode_into(&d, &serde_json::json!({"timeout": "soon"}), Noun::Key).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(r#"key "timeout": invalid duration "soon""#),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_use_the_serialized_names() {
        let err = decode_into(
            &Sample::default(),
            &serde_json::json!({"bind-adress": "x"}),
            Noun::Key,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unknown key "bind-adress", expected one of: args, bind-address, timeout"#
        );
    }

    #[test]
    fn non_objects_are_refused_with_their_type() {
        let err =
            decode_into(&Sample::default(), &serde_json::json!([1]), Noun::Option).unwrap_err();
        assert_eq!(err.to_string(), "expected an object of options, got array");
    }

    #[test]
    fn nested_type_errors_name_the_path() {
        let err = decode_into(
            &Sample::default(),
            &serde_json::json!({"args": ["a", 3]}),
            Noun::Option,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"option "args[1]": invalid type: integer `3`, expected a string"#
        );
    }
}
