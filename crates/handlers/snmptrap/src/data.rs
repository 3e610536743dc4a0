//! The `data-list` option: the variable bindings a trap carries after its own two, each an OID,
//! a type letter and a value (a template of the alert), written as Kapacitor writes them.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One variable binding of the trap: `{"oid": "1.3.6.1.4.1.1.5", "type": "s", "value": "{{ .Level }}"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Data {
    /// The variable's OID, such as "1.3.6.1.4.1.1.5".
    pub oid: String,
    /// Its type: "c" counter (Counter64), "i" integer, "n" null, "s" string, "t" time ticks.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its value, a Go template of the alert ("{{ .Message }}"); a number for c, i and t, ignored
    /// for n. A number or boolean written without quotes is taken as its text.
    #[serde(deserialize_with = "text")]
    pub value: String,
}

/// The data of a trap, in order. Written as a list of `{oid, type, value}` objects, or as
/// TICKscript's `.data(oid, type, value)` calls give them: their arguments one after the other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct DataList(pub Vec<Data>);

impl<'de> Deserialize<'de> for DataList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DataList, D::Error> {
        struct ListVisitor;

        impl<'de> Visitor<'de> for ListVisitor {
            type Value = DataList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of {oid, type, value} objects")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DataList, A::Error> {
                let mut items: Vec<Value> = Vec::new();
                while let Some(item) = seq.next_element::<Value>()? {
                    items.push(item);
                }
                if items.iter().all(Value::is_object) {
                    return items
                        .into_iter()
                        .map(|item| serde_json::from_value(item).map_err(de::Error::custom))
                        .collect::<Result<_, _>>()
                        .map(DataList);
                }
                from_arguments(&items)
                    .map(DataList)
                    .map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_seq(ListVisitor)
    }
}

/// The data of `.data(oid, type, value)` calls, whose arguments TICKscript gives one after the
/// other.
fn from_arguments(items: &[Value]) -> Result<Vec<Data>, String> {
    if !items.len().is_multiple_of(3) || items.iter().any(Value::is_object) {
        return Err(
            "give each data as {oid, type, value}, or in TICKscript as .data(oid, type, value)"
                .to_owned(),
        );
    }
    items
        .chunks(3)
        .map(|call| {
            let text = |value: &Value| {
                value_text(value).ok_or_else(|| {
                    format!(".data() takes three strings: oid, type and value; got {value}")
                })
            };
            Ok(Data {
                oid: text(&call[0])?,
                kind: text(&call[1])?,
                value: text(&call[2])?,
            })
        })
        .collect()
}

/// A value as text: a string as it is, a number or boolean as JSON writes it.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Deserializes a value's text (see [`value_text`]).
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let value = Value::deserialize(deserializer)?;
    value_text(&value).ok_or_else(|| {
        de::Error::custom(format!(
            "expected a string, a number or a boolean, got {value}"
        ))
    })
}

/// The SNMP type of a data, from its letter (net-snmp's `snmptrap` letters, as Kapacitor reads
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `c`: Counter64 (Kapacitor sends 64-bit counters, not Counter32).
    Counter,
    /// `i`: INTEGER (32-bit).
    Integer,
    /// `n`: NULL; the value is ignored.
    Null,
    /// `s`: OCTET STRING, the value's bytes.
    String,
    /// `t`: TimeTicks (hundredths of a second, 32-bit).
    TimeTicks,
}

impl Kind {
    /// The type of `letter`. The error says why, naming the data's OID.
    pub(crate) fn of(letter: &str, oid: &str) -> Result<Kind, String> {
        let unsupported = |what: &str| {
            Err(format!(
                "data {oid:?} has type {letter:?} ({what}), which Kapacitor does not send; \
                 use c, i, n, s or t"
            ))
        };
        match letter {
            "c" => Ok(Kind::Counter),
            "i" => Ok(Kind::Integer),
            "n" => Ok(Kind::Null),
            "s" => Ok(Kind::String),
            "t" => Ok(Kind::TimeTicks),
            "a" => unsupported("IP address"),
            "d" => unsupported("decimal string"),
            "o" => unsupported("object ID"),
            "u" => unsupported("unsigned integer"),
            "x" => unsupported("hexadecimal string"),
            _ => Err(format!(
                "unsupported data type {letter:?} for data entry {oid:?}; use c (counter), \
                 i (integer), n (null), s (string) or t (time ticks)"
            )),
        }
    }
}
