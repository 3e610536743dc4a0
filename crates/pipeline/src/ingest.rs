//! Line protocol in, points out: a scanner for plain lines, InfluxData's parser for the rest (and
//! for every error), Kapacitor's precisions, and errors that name the line.

use std::ops::ControlFlow;
use std::sync::Arc;

use influxdb_line_protocol::parse_lines;
use klaxon_core::{FieldValue, Timestamp};

use crate::{Limits, Point};

mod lines;
mod scan;

use lines::Lines;
use scan::{Line, Value};

pub use klaxon_core::{InvalidPrecision, Precision};

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
    let target = Target {
        database: Arc::from(database),
        retention_policy: Arc::from(retention_policy),
        precision,
        now,
    };
    parse_chunks(body, &target, limits, usize::MAX, |chunk| {
        points.extend(chunk);
    })?;
    Ok(points)
}

/// Where the points of a body go and how their timestamps read: what every point of one write
/// shares.
#[derive(Debug, Clone)]
pub struct Target {
    /// The database, shared by every point made.
    pub database: Arc<str>,
    /// The retention policy, shared by every point made.
    pub retention_policy: Arc<str>,
    /// The unit of the timestamps.
    pub precision: Precision,
    /// The time of points without a timestamp.
    pub now: Timestamp,
}

/// Checks every line of `body` as [`parse_with`] would, without making a single point, and
/// returns how many points it holds. A write checks its whole body first, then makes and
/// processes its points a chunk at a time with [`parse_chunks`]: a bad last line still refuses
/// the whole body, and a body of a million points never holds a million points at once.
///
/// ```
/// use klaxon_pipeline::Limits;
/// use klaxon_pipeline::ingest::{check_with, Precision};
/// assert_eq!(check_with("cpu v=1\n\nmem v=2 10", Precision::Seconds, &Limits::default()), Ok(2));
/// assert_eq!(check_with("cpu v=1\ncpu", Precision::Seconds, &Limits::default()).unwrap_err().line, 2);
/// ```
pub fn check_with(body: &str, precision: Precision, limits: &Limits) -> Result<usize, LineError> {
    each_line(body, 0, precision, Timestamp::EPOCH, limits, |_, _| {
        ControlFlow::Continue(())
    })
    .map(|pass| pass.count)
}

/// Parses `body` into points, handing them to `each` in chunks of at most `chunk` points, and
/// returns how many there were. It stops at the first bad line, after the chunks before it
/// were handed over: call [`check_with`] first when a bad line must refuse the whole body.
///
/// ```
/// use std::sync::Arc;
/// use klaxon_pipeline::Limits;
/// use klaxon_pipeline::ingest::{parse_chunks, Precision, Target};
/// let target = Target {
///     database: Arc::from("telegraf"),
///     retention_policy: Arc::from("autogen"),
///     precision: Precision::Seconds,
///     now: klaxon_core::Timestamp::EPOCH,
/// };
/// let mut sizes = Vec::new();
/// let n = parse_chunks("a v=1\nb v=2\nc v=3", &target, &Limits::default(), 2, |points| {
///     assert!(Arc::ptr_eq(&points[0].database, &target.database));
///     sizes.push(points.len());
/// });
/// assert_eq!((n, sizes), (Ok(3), vec![2, 1]));
/// ```
pub fn parse_chunks(
    body: &str,
    target: &Target,
    limits: &Limits,
    chunk: usize,
    each: impl FnMut(Vec<Point>),
) -> Result<usize, LineError> {
    parse_chunks_from(body, 0, target, limits, chunk, each)
}

/// [`check_with`] then [`parse_chunks`], in one pass over the lines when the body holds at most
/// `chunk` points: the first chunk is made while its lines are checked, and handed over only
/// once the rest of the body (if any) is checked too. So a bad line anywhere still refuses the
/// whole body before any point is handed over, and at most `chunk` points are held at once.
///
/// ```
/// use std::sync::Arc;
/// use klaxon_pipeline::Limits;
/// use klaxon_pipeline::ingest::{parse_checked, Precision, Target};
/// let target = Target {
///     database: Arc::from("telegraf"),
///     retention_policy: Arc::from("autogen"),
///     precision: Precision::Seconds,
///     now: klaxon_core::Timestamp::EPOCH,
/// };
/// let mut sizes = Vec::new();
/// let n = parse_checked("a v=1\nb v=2\nc v=3", &target, &Limits::default(), 2, |points| {
///     sizes.push(points.len());
/// });
/// assert_eq!((n, sizes), (Ok(3), vec![2, 1]));
/// let mut handed = 0;
/// let err = parse_checked("a v=1\nb v=2\nc v=", &target, &Limits::default(), 2, |_| handed += 1);
/// assert_eq!((err.unwrap_err().line, handed), (3, 0));
/// ```
pub fn parse_checked(
    body: &str,
    target: &Target,
    limits: &Limits,
    chunk: usize,
    mut each: impl FnMut(Vec<Point>),
) -> Result<usize, LineError> {
    let chunk = chunk.max(1);
    let mut points = Vec::with_capacity(chunk_capacity(body, chunk));
    let first = each_line(
        body,
        0,
        target.precision,
        target.now,
        limits,
        |line, time| {
            points.push(to_point(line, target, time));
            if points.len() >= chunk {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    let Some(rest) = first.stopped_at else {
        if !points.is_empty() {
            each(points);
        }
        return Ok(first.count);
    };
    // A body of more than a chunk: the rest is checked before any point leaves, then made a
    // chunk at a time.
    each_line(body, rest, target.precision, target.now, limits, |_, _| {
        ControlFlow::Continue(())
    })?;
    each(points);
    let later = parse_chunks_from(body, rest, target, limits, chunk, each)?;
    Ok(first.count + later)
}

/// Room for a chunk's points: no more than the body could hold, so a small body with a huge
/// chunk size allocates little.
fn chunk_capacity(body: &str, chunk: usize) -> usize {
    chunk.min(body.len() / 4 + 1)
}

/// [`parse_chunks`] of the lines from byte `from` (a line's start).
fn parse_chunks_from(
    body: &str,
    from: usize,
    target: &Target,
    limits: &Limits,
    chunk: usize,
    mut each: impl FnMut(Vec<Point>),
) -> Result<usize, LineError> {
    let chunk = chunk.max(1);
    let capacity = chunk_capacity(body, chunk);
    let mut points = Vec::with_capacity(capacity);
    let pass = each_line(
        body,
        from,
        target.precision,
        target.now,
        limits,
        |line, time| {
            points.push(to_point(line, target, time));
            if points.len() >= chunk {
                each(std::mem::replace(&mut points, Vec::with_capacity(capacity)));
            }
            ControlFlow::Continue(())
        },
    )?;
    if !points.is_empty() {
        each(points);
    }
    Ok(pass.count)
}

/// How far a pass over the lines of a body went.
#[derive(Debug, Clone, Copy)]
struct Pass {
    /// Lines that are points.
    count: usize,
    /// Where the lines not yet seen start, when the pass was stopped before the body's end.
    stopped_at: Option<usize>,
}

/// Hands every checked line of `body` from byte `from` (a line's start) with its time to `each`,
/// until `each` breaks or the body ends, and says how many there were; the first bad line is the
/// error. Every check of a line happens here, so [`check_with`], [`parse_chunks`] and
/// [`parse_checked`] cannot disagree about a body. A line of the plain shape is read by
/// [`scan`], borrowing from the body; any other goes to InfluxData's parser, whose results and
/// errors are the reference.
fn each_line<'a>(
    body: &'a str,
    from: usize,
    precision: Precision,
    now: Timestamp,
    limits: &Limits,
    mut each: impl FnMut(&Line<'a>, Timestamp) -> ControlFlow<()>,
) -> Result<Pass, LineError> {
    let start = body.as_ptr() as usize;
    let mut line = Line::default();
    let mut count = 0;
    let mut lines = Lines::from(body, from);
    while let Some(raw) = lines.next() {
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
        if !scan::scan(raw, &mut line) {
            match parse_lines(raw).next() {
                // A blank or comment line.
                None => continue,
                Some(Ok(parsed)) => line.fill_from(parsed),
                Some(Err(e)) => return Err(fail(describe(&e, raw))),
            }
        }
        if line.fields.len() > limits.max_fields_per_point {
            return Err(fail(format!(
                "{} fields in one point; {} is {}",
                line.fields.len(),
                Limits::FIELDS_SETTING,
                limits.max_fields_per_point
            )));
        }
        let time = match line.timestamp {
            None => now,
            Some(t) => match t.checked_mul(precision.nanos()) {
                Some(nanos) => Timestamp::from_nanos(nanos),
                None => {
                    return Err(fail(format!(
                        "timestamp {t} is out of range for precision {precision:?}"
                    )));
                }
            },
        };
        count += 1;
        if each(&line, time).is_break() {
            let stopped_at = (lines.offset() < body.len()).then(|| lines.offset());
            return Ok(Pass { count, stopped_at });
        }
    }
    Ok(Pass {
        count,
        stopped_at: None,
    })
}

/// The point a checked line describes.
fn to_point(line: &Line<'_>, target: &Target, time: Timestamp) -> Point {
    let mut point = Point {
        database: Arc::clone(&target.database),
        retention_policy: Arc::clone(&target.retention_policy),
        name: String::from(&*line.measurement),
        time,
        ..Point::default()
    };
    for (key, value) in &line.tags {
        point
            .tags
            .insert(String::from(&**key), String::from(&**value));
    }
    for (key, value) in &line.fields {
        let value = match value {
            Value::Float(f) => FieldValue::Float(*f),
            Value::Int(i) => FieldValue::Int(*i),
            Value::UInt(u) => FieldValue::UInt(*u),
            Value::Str(s) => FieldValue::String(String::from(&**s)),
            Value::Bool(b) => FieldValue::Bool(*b),
        };
        point.fields.insert(String::from(&**key), value);
    }
    point
}

/// The parser's reason, readable, with the offending line (shortened).
fn describe(err: &influxdb_line_protocol::Error, line: &str) -> String {
    let reason = match err {
        influxdb_line_protocol::Error::GenericParsingError { .. } => {
            "not line protocol; expected measurement[,tag=value...] field=value[,field=value...] [timestamp]"
                .to_owned()
        }
        // The parser reads an unclosed string as a line without fields: say what is wrong.
        influxdb_line_protocol::Error::FieldSetMissing if has_unclosed_string(line) => {
            "a string field value is never closed; end it with \" (write a \" inside a string \
             as \\\")"
                .to_owned()
        }
        // Some of the parser's reasons quote the rest of the line ("found trailing content:
        // '...'"), which can be a megabyte: the answer and the log get a bounded excerpt.
        other => shorten(&lowercase_first(&other.to_string()), 160),
    };
    format!("{reason}: {:?}", Shown(line))
}

/// Whether `line` opens a double-quoted string it never closes (`\"` escapes a quote).
fn has_unclosed_string(line: &str) -> bool {
    let mut open = false;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => open = !open,
            _ => {}
        }
    }
    open
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
            (&*p.database, &*p.retention_policy, p.name.as_str()),
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

    /// Issue #16: an unterminated string field was reported as `no fields were provided`.
    #[test]
    fn an_unclosed_string_is_reported_as_such() {
        let err = parse(
            "cpu,host=a message=\"disk full",
            "d",
            "r",
            Precision::Nanoseconds,
            Timestamp::EPOCH,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: a string field value is never closed; end it with \" (write a \" inside a \
             string as \\\"): \"cpu,host=a message=\\\"disk full\""
        );
        assert!(has_unclosed_string(r#"m v="a \"quoted"#));
        assert!(!has_unclosed_string(r#"m v="a \"quoted\" word""#));
        assert!(!has_unclosed_string(r#"m v="ends in \\""#));
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
