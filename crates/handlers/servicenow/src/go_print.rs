//! Go's `%v`, which prints the values of `additional_info` that are not strings (strings are
//! templates).

/// A value as Go's `fmt.Sprintf("%v", v)` prints it: `666`, `1.5`, `1e+06`, `true`, `[a b]`,
/// `map[k:v]`.
pub(crate) fn go_print(value: &serde_json::Value) -> String {
    use serde_json::Value as Json;
    match value {
        Json::Null => "<nil>".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Json::String(s) => s.clone(),
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(go_print).collect();
            format!("[{}]", items.join(" "))
        }
        Json::Object(map) => {
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            let entries: Vec<String> = entries
                .into_iter()
                .map(|(key, value)| format!("{key}:{}", go_print(value)))
                .collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

/// A float as Go's `%v` prints it (`strconv`'s shortest `'g'`): the exponent form when the
/// exponent is below -4 or from 6 up, with at least two exponent digits (`1e+06`, `1e-05`).
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return match (f.is_nan(), f > 0.0) {
            (true, _) => "NaN".to_owned(),
            (false, true) => "+Inf".to_owned(),
            (false, false) => "-Inf".to_owned(),
        };
    }
    // Rust's `{:e}` is the shortest round-trip mantissa and the exponent: "1.5e6".
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if f == 0.0 || (-4..6).contains(&exponent) {
        return format!("{f}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}
