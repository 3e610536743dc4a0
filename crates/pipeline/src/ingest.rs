//! Line protocol in, points out: InfluxData's parser, Kapacitor's precisions, and errors that name
//! the line.

use std::str::FromStr;

use influxdb_line_protocol::{FieldValue as LpValue, parse_lines, split_lines};
use klaxon_core::{FieldValue, Timestamp};

use crate::{Limits, Point};

/// The unit of the timestamps in a write (`precision=` of `/write`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// `n` or `ns` (the default).
    #[default]
    Nanoseconds,
    /// `u`, `us` or `µ`.
    Microseconds,
    /// `ms`.
    Milliseconds,
    /// `s`.
    Seconds,
    /// `m`.
    Minutes,
    /// `h`.
    Hours,
}

impl Precision {
    fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }
}

/// A `precision` that is not one of Kapacitor's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid precision {0:?}; use n, u, ms, s, m or h")]
pub struct InvalidPrecision(pub String);

impl FromStr for Precision {
    type Err = InvalidPrecision;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "" | "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            other => return Err(InvalidPrecision(other.to_owned())),
        })
    }
}

/// A line that is not valid line protocol: which line (1-based) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// The line number in the body, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Parses a whole body with the default [`Limits`]; the first bad line rejects all of it, so
/// nothing from a rejected body is processed. Points without a timestamp get `now`.
///
/// ```
/// use klaxon_pipeline::ingest::{parse, Precision};
/// let points = parse("cpu,host=a usage_idle=5 10\n", "telegraf", "autogen", Precision::Seconds, klaxon_core::Timestamp::EPOCH).unwrap();
/// assert_eq!(points[0].time.as_nanos(), 10_000_000_000);
/// let err = parse("cpu usage_idle=\n", "db", "rp", Precision::Nanoseconds, klaxon_core::Timestamp::EPOCH).unwrap_err();
/// assert_eq!(err.line, 1);
/// ```
pub fn parse(
    body: &str,
    database: &str,
    retention_policy: &str,
    precision: Precision,
    now: Timestamp,
) -> Result<Vec<Point>, LineError> {
    parse_with(
        body,
        database,
        retention_policy,
        precision,
        now,
        &Limits::default(),
    )
}

/// [`parse`] with the given limits: a line longer than [`Limits::max_line_length`] or a point
/// with more than [`Limits::max_fields_per_point`] fields is a bad line.
///
/// ```
/// use klaxon_pipeline::Limits;
/// use klaxon_pipeline::ingest::{parse_with, Precision};
/// let limits = Limits { max_line_length: 10, ..Limits::default() };
/// let err = parse_with("cpu usage_idle=5", "db", "rp", Precision::Nanoseconds,
///     klaxon_core::Timestamp::EPOCH, &limits).unwrap_err();
/// assert_eq!(err.to_string(), "line 1: 16 bytes long; [limits] max-line-length is 10");
/// ```
pub fn parse_with(
    body: &str,
    database: &str,
    retention_policy: &str,
    precision: Precision,
    now: Timestamp,
    limits: &Limits,
) -> Result<Vec<Point>, LineError> {
    let mut points = Vec::new();
    let start = body.as_ptr() as usize;
    for raw in split_lines(body) {
        // The line number is only needed for an error: counting the newlines before every line
        // made a body quadratic in its line count (a 5 000-line body took 0.6 s).
        let fail = |message: String| {
            let offset = (raw.as_ptr() as usize)
                .saturating_sub(start)
                .min(body.len());
            let line = body[..offset].bytes().filter(|b| *b == b'\n').count() + 1;
            LineError { line, message }
        };
        if raw.len() > limits.max_line_length {
            return Err(fail(format!(
                "{} bytes long; {} is {}",
                raw.len(),
                Limits::LINE_SETTING,
                limits.max_line_length
            )));
        }
        let Some(parsed) = parse_lines(raw).next() else {
            continue;
        };
        let parsed = parsed.map_err(|e| fail(describe(&e, raw)))?;
        if parsed.field_set.len() > limits.max_fields_per_point {
            return Err(fail(format!(
                "{} fields in one point; {} is {}",
                parsed.field_set.len(),
                Limits::FIELDS_SETTING,
                limits.max_fields_per_point
            )));
        }
        let time = match parsed.timestamp {
            None => now,
            Some(t) => {
                Timestamp::from_nanos(t.checked_mul(precision.nanos()).ok_or_else(|| {
                    fail(format!(
                        "timestamp {t} is out of range for precision {precision:?}"
                    ))
                })?)
            }
        };
        // `as_str().to_owned()`, not `to_string()`: the parser's strings format through
        // `Display`, which grows each String from empty (a tenth of the parse in a profile).
        let mut point = Point {
            database: database.to_owned(),
            retention_policy: retention_policy.to_owned(),
            name: parsed.series.measurement.as_str().to_owned(),
            time,
            ..Point::default()
        };
        for (key, value) in parsed.series.tag_set.iter().flatten() {
            point
                .tags
                .insert(key.as_str().to_owned(), value.as_str().to_owned());
        }
        for (key, value) in &parsed.field_set {
            let value = match value {
                LpValue::F64(f) => FieldValue::Float(*f),
                LpValue::I64(i) => FieldValue::Int(*i),
                LpValue::U64(u) => FieldValue::UInt(*u),
                LpValue::String(s) => FieldValue::String(s.as_str().to_owned()),
                LpValue::Boolean(b) => FieldValue::Bool(*b),
            };
            point.fields.insert(key.as_str().to_owned(), value);
        }
        points.push(point);
    }
    Ok(points)
}

/// The parser's reason, readable, with the offending line (shortened).
fn describe(err: &influxdb_line_protocol::Error, line: &str) -> String {
    let reason = match err {
        influxdb_line_protocol::Error::GenericParsingError { .. } => {
            "not line protocol; expected measurement[,tag=value...] field=value[,field=value...] [timestamp]"
                .to_owned()
        }
        // Some of the parser's reasons quote the rest of the line ("found trailing content:
        // '...'"), which can be a megabyte: the answer and the log get a bounded excerpt.
        other => shorten(&lowercase_first(&other.to_string()), 160),
    };
    format!("{reason}: {:?}", Shown(line))
}

/// At most `max` characters of `text`, with `...` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// The first 80 characters of a line, quoted, then `...` when there is more.
struct Shown<'a>(&'a str);

impl std::fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.char_indices().nth(80) {
            Some((end, _)) => write!(f, "{:?}...", &self.0[..end]),
            None => write!(f, "{:?}", self.0),
        }
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_quotes_a_bounded_excerpt_of_a_long_line() {
        // The parser's own reason quotes all of the trailing content.
        let junk = "é".repeat(100_000);
        let body = format!("cpu x=1 1 {junk}");
        let err = parse(&body, "d", "r", Precision::Nanoseconds, Timestamp::EPOCH).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("line 1: could not parse entire line"),
            "{text}"
        );
        assert!(text.len() < 1_000, "{} bytes", text.len());
        assert_eq!(text.matches("...").count(), 2, "{text}");
        let short = parse(
            "cpu x=1 1 z",
            "d",
            "r",
            Precision::Nanoseconds,
            Timestamp::EPOCH,
        )
        .unwrap_err()
        .to_string();
        assert!(!short.contains("..."), "{short}");
        assert!(short.ends_with(": \"cpu x=1 1 z\""), "{short}");
    }

    #[test]
    fn line_length_and_field_count_limits_name_their_settings() {
        let limits = Limits {
            max_line_length: 20,
            max_fields_per_point: 2,
            ..Limits::default()
        };
        let lp = |body: &str| {
            parse_with(
                body,
                "d",
                "r",
                Precision::Nanoseconds,
                Timestamp::EPOCH,
                &limits,
            )
        };
        assert_eq!(lp("cpu a=1,b=2\ncpu b=2").unwrap().len(), 2);
        let err = lp("cpu a=1\n\ncpu a=1,b=2,c=3").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: 3 fields in one point; [limits] max-fields-per-point is 2"
        );
        let err = lp(&format!("cpu a=1\ncpu s=\"{}\"", "x".repeat(30))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: 38 bytes long; [limits] max-line-length is 20"
        );
    }

    #[test]
    fn parses_tags_fields_and_types() {
        let body = "cpu,host=serverA,type=idle usage_idle=5,n=3i,u=4u,s=\"x y\",b=true 1000\n\n# comment\nmem free=1 2000";
        let points = parse(
            body,
            "db",
            "autogen",
            Precision::Nanoseconds,
            Timestamp::EPOCH,
        )
        .unwrap();
        assert_eq!(points.len(), 2);
        let p = &points[0];
        assert_eq!(
            (
                p.database.as_str(),
                p.retention_policy.as_str(),
                p.name.as_str()
            ),
            ("db", "autogen", "cpu")
        );
        assert_eq!(p.tags["host"], "serverA");
        assert_eq!(p.fields["usage_idle"], FieldValue::Float(5.0));
        assert_eq!(p.fields["n"], FieldValue::Int(3));
        assert_eq!(p.fields["u"], FieldValue::UInt(4));
        assert_eq!(p.fields["s"], FieldValue::String("x y".into()));
        assert_eq!(p.fields["b"], FieldValue::Bool(true));
        assert_eq!(p.time.as_nanos(), 1000);
        assert_eq!(points[1].time.as_nanos(), 2000);
    }

    #[test]
    fn precisions_scale_timestamps_and_missing_times_get_now() {
        for (precision, nanos) in [
            ("n", 7),
            ("u", 7_000),
            ("ms", 7_000_000),
            ("s", 7_000_000_000),
            ("m", 420_000_000_000),
            ("h", 25_200_000_000_000),
        ] {
            let p = parse(
                "m v=1 7",
                "d",
                "r",
                precision.parse().unwrap(),
                Timestamp::EPOCH,
            )
            .unwrap();
            assert_eq!(p[0].time.as_nanos(), nanos, "{precision}");
        }
        let now = Timestamp::from_nanos(42);
        assert_eq!(
            parse("m v=1", "d", "r", Precision::Seconds, now).unwrap()[0].time,
            now
        );
        assert_eq!(
            "x".parse::<Precision>().unwrap_err().to_string(),
            "invalid precision \"x\"; use n, u, ms, s, m or h"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse(
            "cpu v=1 1\n\ncpu v=\n",
            "d",
            "r",
            Precision::Nanoseconds,
            Timestamp::EPOCH,
        )
        .unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        let err = parse("cpu\n", "d", "r", Precision::Nanoseconds, Timestamp::EPOCH).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: not line protocol; expected measurement[,tag=value...] field=value[,field=value...] [timestamp]: \"cpu\""
        );
        let err = parse(
            "cpu v=1 x",
            "d",
            "r",
            Precision::Nanoseconds,
            Timestamp::EPOCH,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("line 1: "), "{err}");
        assert!(err.to_string().ends_with(": \"cpu v=1 x\""), "{err}");
        let err = parse(
            "cpu v=1 99999999999999999",
            "d",
            "r",
            Precision::Hours,
            Timestamp::EPOCH,
        )
        .unwrap_err();
        assert!(err.message.contains("out of range"), "{err}");
    }
}
