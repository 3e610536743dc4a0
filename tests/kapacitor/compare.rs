//! Comparing what klaxond answered with what Kapacitor's test expects, the way Kapacitor's
//! helpers do (`integrations/helpers_test.go`): results decoded from JSON, where every number is
//! a float64 (so `10` equals `10.0`), times compared as times, and series in order unless the
//! test ignores their order.

use serde_json::{Map, Value};

/// Compares two `{"series": [...]}` results; `Err` says what differs.
pub fn results(expected: &Value, got: &Value, ignore_order: bool) -> Result<(), String> {
    let expected = series(expected);
    let got = series(got);
    if expected.len() != got.len() {
        return Err(format!(
            "unexpected number of series: exp {} got {}\nexp {}\ngot {}",
            expected.len(),
            got.len(),
            Value::Array(expected),
            Value::Array(got)
        ));
    }
    let mut unmatched: Vec<usize> = (0..got.len()).collect();
    for (i, exp) in expected.iter().enumerate() {
        let j = if ignore_order {
            let found = unmatched.iter().position(|j| {
                exp.get("name") == got[*j].get("name") && exp.get("tags") == got[*j].get("tags")
            });
            let Some(k) = found else {
                return Err(format!(
                    "could not find matching series: {exp}\ngot {}",
                    Value::Array(got.clone())
                ));
            };
            unmatched.remove(k)
        } else {
            i
        };
        if exp != &got[j] {
            return Err(format!("series {i} differs:\nexp {exp}\ngot {}", got[j]));
        }
    }
    Ok(())
}

/// Kapacitor's `compareAlertData`: every field of the alert data equal, with Go's zero value
/// for those the expectation leaves out, and the `data` results compared as results.
pub fn alert_data(expected: &Value, got: &Value, ignore_data: bool) -> Result<(), String> {
    let defaults = [
        ("id", Value::from("")),
        ("message", Value::from("")),
        ("details", Value::from("")),
        ("time", Value::from("0001-01-01T00:00:00Z")),
        ("duration", Value::from(0)),
        ("level", Value::from("OK")),
        ("previousLevel", Value::from("OK")),
        ("recoverable", Value::from(false)),
    ];
    for (key, default) in defaults {
        let exp = expected.get(key).unwrap_or(&default);
        let got = got.get(key).unwrap_or(&Value::Null);
        if normalize(exp) != normalize(got) {
            return Err(format!(
                "alert field {key}: exp {exp} got {got}\nexp {expected}\ngot {got}"
            ));
        }
    }
    if ignore_data {
        return Ok(());
    }
    let empty = Value::Object(Map::new());
    results(
        expected.get("data").unwrap_or(&empty),
        got.get("data").unwrap_or(&empty),
        false,
    )
}

/// The series of a result, normalized.
fn series(result: &Value) -> Vec<Value> {
    match result.get("series") {
        Some(Value::Array(rows)) => rows.iter().map(normalize_row).collect(),
        _ => Vec::new(),
    }
}

/// A row as Go decodes it: no `tags` when there are none (`omitempty`), numbers as floats.
fn normalize_row(row: &Value) -> Value {
    let mut out = Map::new();
    let Value::Object(fields) = row else {
        return row.clone();
    };
    for (key, value) in fields {
        match (key.as_str(), value) {
            ("tags", Value::Object(tags)) if tags.is_empty() => {}
            ("tags" | "values" | "columns" | "name", Value::Null) => {}
            ("values", Value::Array(rows)) if rows.is_empty() => {}
            _ => {
                out.insert(key.clone(), normalize(value));
            }
        }
    }
    Value::Object(out)
}

/// Whether `got`, decoded by Go into the struct `expected` lists every field of, equals
/// `expected`: a field left out or `null` has its zero value, keys the struct does not have are
/// ignored; the fields named in `maps` are Go maps and compare whole.
pub fn decoded_as(expected: &Value, got: &Value, maps: &[String]) -> bool {
    match (expected, got) {
        (Value::Object(fields), Value::Object(got)) => fields.iter().all(|(key, exp)| {
            let value = got.get(key).unwrap_or(&Value::Null);
            if maps.contains(key) {
                normalize(exp) == normalize(value) || (is_zero(exp) && is_zero(value))
            } else {
                decoded_as(exp, value, maps)
            }
        }),
        (Value::Array(items), Value::Array(got)) => {
            items.len() == got.len()
                && items
                    .iter()
                    .zip(got)
                    .all(|(exp, got)| decoded_as(exp, got, maps))
        }
        (exp, Value::Null) => is_zero(exp),
        (exp, got) => normalize(exp) == normalize(got),
    }
}

/// Go's zero value of a field as the case writes it: `""`, `0`, `false`, or `null` (a nil
/// slice, map or pointer; an empty object stands for a struct of zero fields).
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(_) => false,
        Value::Object(fields) => fields.values().all(is_zero),
    }
}

/// Numbers as f64, as `encoding/json` decodes them into `interface{}`.
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Kapacitor's `testStreamerCardinality`: the task's node statistics equal the expected ones,
/// node for node and counter for counter (`reflect.DeepEqual`), but for `avg_exec_time_ns`:
/// Kapacitor's test runs with a timing service that measures nothing (`noOpTimingService`), so
/// its 0 says nothing, and Klaxon does not measure it (docs/kapacitor-differences.md).
pub fn node_stats(expected: &Value, got: &Value) -> Result<(), String> {
    let untimed = |stats: &Value| -> Value {
        let mut stats = stats.clone();
        if let Some(nodes) = stats.as_object_mut() {
            for counters in nodes.values_mut() {
                if let Some(counters) = counters.as_object_mut() {
                    counters.remove("avg_exec_time_ns");
                }
            }
        }
        stats
    };
    let (expected, got) = (untimed(expected), untimed(got));
    if expected != got {
        return Err(format!("node stats differ:\nexp {expected}\ngot {got}"));
    }
    Ok(())
}
