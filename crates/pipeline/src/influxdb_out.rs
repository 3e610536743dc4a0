//! `|influxDBOut()`: the points (or every point of a batch) written to an InfluxDB cluster, as
//! Kapacitor's InfluxDBOutNode. The node is pure: it hands an [`InfluxDbWrite`] to the task's
//! [`crate::Context`], and the engine buffers and writes it.

use std::collections::BTreeMap;

use klaxon_tick::Node;

use crate::batch::Message;
use crate::props::unknown_property;
use crate::{DefineError, Point};

/// Kapacitor's defaults: `.buffer(1000)`, `.flushInterval(10s)`.
const DEFAULT_BUFFER: i64 = 1000;
const DEFAULT_FLUSH_INTERVAL: i64 = 10_000_000_000;

/// What an `|influxDBOut()` node was given, read by the engine to set up its writer.
#[derive(Debug, Clone, PartialEq)]
pub struct InfluxDbOutSettings {
    /// `.cluster()`: the `[[influxdb]]` name; empty for the default cluster.
    pub cluster: String,
    /// `.database()`; empty to keep each point's own database.
    pub database: String,
    /// `.retentionPolicy()`; empty to keep each point's own.
    pub retention_policy: String,
    /// `.measurement()`; empty to keep each point's own.
    pub measurement: String,
    /// `.precision()`: `ns` (default), `u`, `ms`, `s`, `m` or `h`.
    pub precision: klaxon_core::Precision,
    /// `.buffer()`: points that wait before a write.
    pub buffer: usize,
    /// `.flushInterval()` in nanoseconds.
    pub flush_interval: i64,
    /// `.tag(key, value)`: tags added to every point.
    pub tags: BTreeMap<String, String>,
    /// `.create()`: `CREATE DATABASE` (with the retention policy) before writing.
    pub create: bool,
}

/// Points an `|influxDBOut()` node writes: given to [`crate::Context::influxdb_write`].
#[derive(Debug, Clone, PartialEq)]
pub struct InfluxDbWrite {
    /// The node ID (`influxdb_out3`).
    pub node: String,
    /// The database.
    pub database: String,
    /// The retention policy; empty for the database's default.
    pub retention_policy: String,
    /// The points, with the node's measurement and tags applied.
    pub points: Vec<Point>,
}

/// A compiled `|influxDBOut()`.
#[derive(Debug)]
pub struct InfluxDbOut {
    settings: InfluxDbOutSettings,
}

impl InfluxDbOut {
    const PROPERTIES: &'static [&'static str] = &[
        "buffer",
        "cluster",
        "create",
        "database",
        "flushInterval",
        "measurement",
        "precision",
        "retentionPolicy",
        "tag",
        "writeConsistency",
    ];

    /// Compiles `|influxDBOut()` and its properties.
    pub fn compile(node: &Node) -> Result<InfluxDbOut, DefineError> {
        node.expect_args(0, 0)?;
        let mut settings = InfluxDbOutSettings {
            cluster: String::new(),
            database: String::new(),
            retention_policy: String::new(),
            measurement: String::new(),
            precision: klaxon_core::Precision::Nanoseconds,
            buffer: DEFAULT_BUFFER as usize,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            tags: BTreeMap::new(),
            create: false,
        };
        for p in &node.properties {
            let text = |p: &klaxon_tick::Property| -> Result<String, DefineError> {
                p.expect_args(1, 1)?;
                Ok(p.arg(0).as_str()?.to_owned())
            };
            match p.name.as_str() {
                "cluster" => settings.cluster = text(p)?,
                "database" => settings.database = text(p)?,
                "retentionPolicy" => settings.retention_policy = text(p)?,
                "measurement" => settings.measurement = text(p)?,
                // Kapacitor passes it on to InfluxDB Enterprise; InfluxDB 1.x OSS ignores it.
                "writeConsistency" => {
                    text(p)?;
                }
                "precision" => {
                    let precision = text(p)?;
                    settings.precision = precision.parse().map_err(|_| {
                        DefineError::new(
                            p.span,
                            format!(
                                ".precision({precision:?}) is not one of 'ns', 'u', 'ms', 's', 'm' or 'h'"
                            ),
                        )
                    })?;
                }
                "buffer" => {
                    p.expect_args(1, 1)?;
                    let n = p.arg(0).as_int()?;
                    if n < 1 {
                        return Err(DefineError::new(
                            p.span,
                            format!(".buffer({n}) must be at least 1"),
                        ));
                    }
                    settings.buffer = usize::try_from(n).unwrap_or(usize::MAX);
                }
                "flushInterval" => {
                    p.expect_args(1, 1)?;
                    let d = p.arg(0).as_duration()?;
                    if d <= 0 {
                        return Err(DefineError::new(
                            p.span,
                            ".flushInterval() must be a positive duration such as 10s",
                        ));
                    }
                    settings.flush_interval = d;
                }
                "tag" => {
                    p.expect_args(2, 2)?;
                    settings
                        .tags
                        .insert(p.arg(0).as_str()?.to_owned(), p.arg(1).as_str()?.to_owned());
                }
                "create" => {
                    p.expect_args(0, 0)?;
                    settings.create = true;
                }
                _ => return Err(unknown_property("influxDBOut", p, Self::PROPERTIES)),
            }
        }
        if settings.create && settings.database.is_empty() {
            return Err(DefineError::new(
                node.span,
                "|influxDBOut().create() needs .database('name') to know what to create",
            ));
        }
        Ok(InfluxDbOut { settings })
    }

    /// The node's settings.
    pub fn settings(&self) -> &InfluxDbOutSettings {
        &self.settings
    }

    /// The write for `message`: a point keeps its own database and retention policy unless the
    /// node sets them; a batch has none of its own (as in Kapacitor). `None` when there is
    /// nothing to write.
    pub fn write(&self, node: &str, message: &Message) -> Result<Option<InfluxDbWrite>, String> {
        let (database, retention_policy, points): (&str, &str, Vec<&Point>) = match message {
            Message::Point(p) => (&p.database, &p.retention_policy, vec![p]),
            Message::Batch(b) => ("", "", b.points.iter().collect()),
        };
        if points.is_empty() {
            return Ok(None);
        }
        let database = first_set(&self.settings.database, database);
        if database.is_empty() {
            return Err(
                "no database to write to: the batch has none of its own; set .database('name')"
                    .to_owned(),
            );
        }
        let retention_policy = first_set(&self.settings.retention_policy, retention_policy);
        let points = points
            .into_iter()
            .map(|p| {
                let mut out = p.clone();
                if !self.settings.measurement.is_empty() {
                    out.name.clone_from(&self.settings.measurement);
                } else if let Message::Batch(b) = message {
                    out.name.clone_from(&b.name);
                }
                for (k, v) in &self.settings.tags {
                    out.tags.insert(k.clone(), v.clone());
                }
                out
            })
            .filter(|p| !p.fields.is_empty())
            .collect::<Vec<_>>();
        if points.is_empty() {
            return Ok(None);
        }
        Ok(Some(InfluxDbWrite {
            node: node.to_owned(),
            database: database.to_owned(),
            retention_policy: retention_policy.to_owned(),
            points,
        }))
    }
}

fn first_set<'a>(setting: &'a str, own: &'a str) -> &'a str {
    if setting.is_empty() { own } else { setting }
}
