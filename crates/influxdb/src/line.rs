//! Encoding points as InfluxDB line protocol, with InfluxDB's escaping rules and Kapacitor's
//! write precisions.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use klaxon_core::{FieldValue, Precision};

/// One point to write.
///
/// ```
/// use klaxon_influxdb::{LinePoint, Precision};
/// use klaxon_core::FieldValue;
/// let point = LinePoint {
///     name: "alerts".into(),
///     tags: [("host".to_owned(), "server A".to_owned())].into(),
///     fields: [("value".to_owned(), FieldValue::Float(5.0))].into(),
///     time: 1_500_000_000,
/// };
/// let mut out = String::new();
/// point.write_to(&mut out, Precision::Seconds);
/// assert_eq!(out, "alerts,host=server\\ A value=5 1\n");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LinePoint {
    /// The measurement.
    pub name: String,
    /// Tags; those with an empty key or value are left out, as InfluxDB's client does.
    pub tags: BTreeMap<String, String>,
    /// Fields; a point needs at least one.
    pub fields: BTreeMap<String, FieldValue>,
    /// Nanoseconds since the epoch.
    pub time: i64,
}

impl LinePoint {
    /// Appends the point's line, truncating its time to `precision`.
    pub fn write_to(&self, out: &mut String, precision: Precision) {
        escape(out, &self.name, &[',', ' ']);
        for (key, value) in &self.tags {
            if key.is_empty() || value.is_empty() {
                continue;
            }
            out.push(',');
            escape(out, key, &[',', '=', ' ']);
            out.push('=');
            escape(out, value, &[',', '=', ' ']);
        }
        let mut separator = ' ';
        for (key, value) in &self.fields {
            out.push(separator);
            separator = ',';
            escape(out, key, &[',', '=', ' ']);
            out.push('=');
            match value {
                FieldValue::Float(f) => {
                    // Go's strconv 'g'-like shortest form; Rust's Display is shortest round-trip.
                    let _ = write!(out, "{f}");
                }
                FieldValue::Int(i) => {
                    let _ = write!(out, "{i}i");
                }
                FieldValue::UInt(u) => {
                    let _ = write!(out, "{u}u");
                }
                FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                FieldValue::String(s) => {
                    out.push('"');
                    for c in s.chars() {
                        if matches!(c, '"' | '\\') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                }
            }
        }
        let _ = writeln!(out, " {}", self.time.div_euclid(precision.nanos()));
    }
}

fn escape(out: &mut String, text: &str, special: &[char]) {
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            c if special.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_influxdb_reads_it() {
        let point = LinePoint {
            name: "m,x y".into(),
            tags: [
                ("a=b".to_owned(), "c,d".to_owned()),
                ("empty".to_owned(), String::new()),
            ]
            .into(),
            fields: [
                ("s".to_owned(), FieldValue::String("say \"hi\" \\o/".into())),
                ("i".to_owned(), FieldValue::Int(-3)),
                ("u".to_owned(), FieldValue::UInt(3)),
                ("b".to_owned(), FieldValue::Bool(true)),
                ("f".to_owned(), FieldValue::Float(0.5)),
            ]
            .into(),
            time: 1_500,
        };
        let mut out = String::new();
        point.write_to(&mut out, Precision::Nanoseconds);
        assert_eq!(
            out,
            "m\\,x\\ y,a\\=b=c\\,d b=true,f=0.5,i=-3i,s=\"say \\\"hi\\\" \\\\o/\",u=3u 1500\n"
        );
    }
}
