//! `|log()` (`.level()`, `.prefix()`): logs every point or window that passes, and passes it
//! on, as Kapacitor's `LogNode`: a `point` record per point; for a window a `begin batch`
//! record, a `batch point` record per point and an `end batch` record. The pipeline has no log
//! of its own: it hands each [`LogRecord`] to the engine ([`crate::Context::log`]).

use std::fmt::Write as _;

use klaxon_core::FieldValue;
use klaxon_tick::Node;

use crate::batch::{Batch, Group, Message};
use crate::props::{string, unknown_property};
use crate::{DefineError, Point};

/// The level a `|log()` node logs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `DEBUG`.
    Debug,
    /// `INFO`, the default.
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
}

/// One record of a `|log()` node.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Its level.
    pub level: LogLevel,
    /// Kapacitor's message: `point`, `begin batch`, `batch point` or `end batch`.
    pub message: &'static str,
    /// Kapacitor's fields in its order, as `key=value` pairs (`prefix=... name=cpu db=...
    /// group=host=a tag_host=a field_value=1 time=...`), values quoted when they hold a space,
    /// a quote or `=`.
    pub data: String,
}

/// A compiled `|log()`.
#[derive(Debug)]
pub struct Log {
    level: LogLevel,
    prefix: String,
}

impl Log {
    const PROPERTIES: &'static [&'static str] = &["level", "prefix"];

    /// Compiles `|log()` with `.level('DEBUG'|'INFO'|'WARN'|'ERROR')` (any case, default
    /// `INFO`) and `.prefix('text')`.
    pub fn compile(node: &Node) -> Result<Log, DefineError> {
        node.expect_args(0, 0)?;
        let mut log = Log {
            level: LogLevel::Info,
            prefix: String::new(),
        };
        for p in &node.properties {
            match p.name.as_str() {
                "level" => {
                    let level = string(p)?;
                    log.level = match level.to_uppercase().as_str() {
                        "DEBUG" => LogLevel::Debug,
                        "INFO" => LogLevel::Info,
                        "WARN" => LogLevel::Warn,
                        "ERROR" => LogLevel::Error,
                        _ => {
                            return Err(DefineError::new(
                                p.span,
                                format!(
                                    ".level('{level}') is not a level; use DEBUG, INFO, WARN or ERROR"
                                ),
                            ));
                        }
                    };
                }
                "prefix" => log.prefix = string(p)?,
                _ => return Err(unknown_property("log", p, Self::PROPERTIES)),
            }
        }
        Ok(log)
    }

    /// The records for `message` of `group`.
    pub fn records(&self, message: &Message, group: &Group) -> Vec<LogRecord> {
        match message {
            Message::Point(point) => vec![self.point(point, group)],
            Message::Batch(batch) => self.batch(batch, group),
        }
    }

    fn record(&self, message: &'static str, data: String) -> LogRecord {
        LogRecord {
            level: self.level,
            message,
            data,
        }
    }

    /// Kapacitor's `LogPointData`.
    fn point(&self, point: &Point, group: &Group) -> LogRecord {
        let mut data = String::new();
        pair(&mut data, "prefix", &self.prefix);
        pair(&mut data, "name", &point.name);
        pair(&mut data, "db", &point.database);
        pair(&mut data, "rp", &point.retention_policy);
        pair(&mut data, "group", &group.id.0);
        pair(&mut data, "dimension", &group.keys.join(","));
        tags_and_fields(&mut data, point);
        pair(&mut data, "time", &point.time.to_rfc3339_nano());
        self.record("point", data)
    }

    /// Kapacitor's `LogBatchData`.
    fn batch(&self, batch: &Batch, group: &Group) -> Vec<LogRecord> {
        let head = |message: &'static str| {
            let mut data = String::new();
            pair(&mut data, "prefix", &self.prefix);
            pair(&mut data, "name", &batch.name);
            pair(&mut data, "group", &group.id.0);
            for (k, v) in &batch.tags {
                pair(&mut data, &format!("tag_{k}"), v);
            }
            pair(&mut data, "time", &batch.time.to_rfc3339_nano());
            self.record(message, data)
        };
        let mut out = Vec::with_capacity(batch.points.len() + 2);
        out.push(head("begin batch"));
        for point in &batch.points {
            let mut data = String::new();
            pair(&mut data, "prefix", &self.prefix);
            pair(&mut data, "name", &batch.name);
            pair(&mut data, "group", &group.id.0);
            tags_and_fields(&mut data, point);
            pair(&mut data, "time", &point.time.to_rfc3339_nano());
            out.push(self.record("batch point", data));
        }
        out.push(head("end batch"));
        out
    }
}

/// Kapacitor's grouped fields: `tag_<key>` for each tag, `field_<key>` for each field.
fn tags_and_fields(data: &mut String, point: &Point) {
    for (k, v) in &point.tags {
        pair(data, &format!("tag_{k}"), v);
    }
    for (k, v) in &point.fields {
        let value = match v {
            FieldValue::Float(f) => klaxon_core::json::go_float(*f),
            FieldValue::Int(i) => i.to_string(),
            FieldValue::UInt(u) => u.to_string(),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::String(s) => s.clone(),
        };
        pair(data, &format!("field_{k}"), &value);
    }
}

/// Appends ` key=value`, the value quoted (logfmt) when it would not read back as one value.
fn pair(data: &mut String, key: &str, value: &str) {
    if !data.is_empty() {
        data.push(' ');
    }
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '"' || c == '=' || c.is_control());
    if plain {
        let _ = write!(data, "{key}={value}");
    } else {
        let _ = write!(data, "{key}={value:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn log(script: &str) -> Result<Log, DefineError> {
        let program = klaxon_tick::compile_script(script).expect("the script compiles");
        Log::compile(&program.nodes[2])
    }

    fn point() -> Point {
        Point::new("db", "rp", "cpu", 1_000_000_000)
            .tag("host", "a b")
            .field("value", FieldValue::Float(1.5))
    }

    fn host_group() -> Group {
        Group {
            id: crate::GroupId("host=a b".into()),
            keys: Arc::from(vec!["host".to_owned()]),
        }
    }

    #[test]
    fn a_point_is_logged_with_kapacitors_fields() {
        let log = log("stream|from()|log().prefix('JOINED').level('debug')").unwrap();
        let records = log.records(&Message::Point(point()), &host_group());
        assert_eq!(
            records,
            [LogRecord {
                level: LogLevel::Debug,
                message: "point",
                data: "prefix=JOINED name=cpu db=db rp=rp group=\"host=a b\" dimension=host \
                       tag_host=\"a b\" field_value=1.5 time=1970-01-01T00:00:01Z"
                    .into(),
            }]
        );
    }

    #[test]
    fn a_window_is_logged_as_begin_points_end() {
        let log = log("stream|from()|log()").unwrap();
        let batch = Batch {
            name: "cpu".into(),
            tags: [("host".to_owned(), "a b".to_owned())].into(),
            time: klaxon_core::Timestamp::from_nanos(2_000_000_000),
            points: vec![point()],
        };
        let records = log.records(&Message::Batch(batch), &host_group());
        let messages: Vec<&str> = records.iter().map(|r| r.message).collect();
        assert_eq!(messages, ["begin batch", "batch point", "end batch"]);
        assert!(records.iter().all(|r| r.level == LogLevel::Info));
        assert_eq!(
            records[0].data,
            "prefix=\"\" name=cpu group=\"host=a b\" tag_host=\"a b\" time=1970-01-01T00:00:02Z"
        );
    }

    #[test]
    fn an_unknown_level_is_refused_naming_the_levels() {
        let err = log("stream|from()|log().level('verbose')").unwrap_err();
        assert_eq!(
            err.message,
            ".level('verbose') is not a level; use DEBUG, INFO, WARN or ERROR"
        );
    }
}
