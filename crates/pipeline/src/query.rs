//! `batch|query('SELECT ...')`: a batch task's source, as Kapacitor's `QueryNode`. It holds the
//! statement and its schedule (`.every()` or `.cron()`, `.align()`), the time range of each run
//! (`.period()`, `.offset()`), the `GROUP BY` it adds (`.groupBy()`, `.alignGroup()`), `.fill()`,
//! `.groupByMeasurement()` and `.cluster()`; and it turns the series InfluxDB answers into
//! batches. The engine runs the schedule and the queries; this stays pure.

use std::collections::BTreeMap;
use std::str::FromStr;

use klaxon_core::{FieldValue, Timestamp};
use klaxon_tick::{ArgValue, ExprKind, Node, Property};

use crate::batch::{Batch, Group};
use crate::influxql::{Bounds, SelectStatement, format_duration, quote_ident};
use crate::props::unknown_property;
use crate::{DefineError, Point};

/// When a query runs.
#[derive(Debug, Clone)]
enum Schedule {
    /// Every `every` nanoseconds; with `align`, on the multiples of `every`.
    Every { every: i64, align: bool },
    /// At the times of a cron expression, in the server's time zone.
    Cron(Box<croner::Cron>),
}

/// One `GROUP BY` dimension.
#[derive(Debug, Clone, PartialEq)]
enum Dimension {
    Time { length: i64, offset: i64 },
    Tag(String),
    Star,
}

/// One run of a query: its statement and time range.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRun {
    /// The InfluxQL sent.
    pub statement: String,
    /// The start of the range (inclusive).
    pub start: Timestamp,
    /// The end of the range (exclusive): the batches' time unless grouped by time.
    pub stop: Timestamp,
}

/// A compiled `|query()`.
#[derive(Debug, Clone)]
pub struct Query {
    select: SelectStatement,
    period: i64,
    offset: i64,
    schedule: Schedule,
    align_group: bool,
    dimensions: Vec<Dimension>,
    by_measurement: bool,
    fill: Option<String>,
    cluster: String,
}

impl Query {
    const PROPERTIES: &'static [&'static str] = &[
        "period",
        "every",
        "cron",
        "offset",
        "align",
        "alignGroup",
        "groupBy",
        "groupByMeasurement",
        "fill",
        "cluster",
    ];

    /// Compiles `|query('SELECT ...')` and its properties, with Kapacitor's checks: one
    /// `SELECT` statement, one of `.every()` and `.cron()`, a valid cron expression and fill.
    pub fn compile(node: &Node) -> Result<Query, DefineError> {
        if node.args.is_empty() {
            return Err(DefineError::new(
                node.span,
                "|query() needs the InfluxQL to run, as |query('SELECT mean(usage_idle) FROM \"telegraf\".\"autogen\".\"cpu\"')",
            ));
        }
        node.expect_args(1, 1)?;
        let text = node.arg(0).as_str()?;
        let arg_span = node.args[0].span;
        let select = SelectStatement::parse(text).map_err(|e| DefineError::new(arg_span, e))?;
        let (mut period, mut every, mut cron, mut offset) = (None, None, None, None);
        let mut query = Query {
            select,
            period: 0,
            offset: 0,
            schedule: Schedule::Every {
                every: 0,
                align: false,
            },
            align_group: false,
            dimensions: Vec::new(),
            by_measurement: false,
            fill: None,
            cluster: String::new(),
        };
        let mut align = false;
        for p in &node.properties {
            match p.name.as_str() {
                "period" => period = Some(duration(p)?),
                "every" => every = Some((duration(p)?, p.span)),
                "offset" => offset = Some(duration(p)?),
                "cron" => {
                    p.expect_args(1, 1)?;
                    cron = Some((parse_cron(p.arg(0).as_str()?, p)?, p.span));
                }
                "align" => {
                    p.expect_args(0, 0)?;
                    align = true;
                }
                "alignGroup" => {
                    p.expect_args(0, 0)?;
                    query.align_group = true;
                }
                "groupByMeasurement" => {
                    p.expect_args(0, 0)?;
                    query.by_measurement = true;
                }
                "groupBy" => query.dimensions = dimensions(p)?,
                "fill" => query.fill = Some(fill(p)?),
                "cluster" => {
                    p.expect_args(1, 1)?;
                    query.cluster = p.arg(0).as_str()?.to_owned();
                }
                _ => return Err(unknown_property("query", p, Self::PROPERTIES)),
            }
        }
        query.period = period.unwrap_or(0);
        query.offset = offset.unwrap_or(0);
        query.schedule = match (every, cron) {
            (Some((_, span)), Some(_)) => {
                return Err(DefineError::new(
                    span,
                    "must not set both 'every' and 'cron' properties; keep one",
                ));
            }
            (Some((every, span)), None) if every <= 0 => {
                return Err(DefineError::new(
                    span,
                    "'every' duration must be positive, as .every(1m)",
                ));
            }
            (Some((every, _)), None) => Schedule::Every { every, align },
            (None, Some((cron, _))) => Schedule::Cron(Box::new(cron)),
            (None, None) => {
                return Err(DefineError::new(
                    node.span,
                    "must define one of 'every' or 'cron'; add .every(1m) or .cron('*/5 * * * *')",
                ));
            }
        };
        Ok(query)
    }

    /// The `[[influxdb]]` cluster it queries (empty: the default one).
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The time of the run after `after`: `after + every` (on a multiple of `every` with
    /// `.align()`), or the cron expression's next time; `None` when the cron expression has
    /// no time left.
    ///
    /// ```
    /// use klaxon_core::Timestamp;
    /// let registry = klaxon_core::Registry::linked().unwrap();
    /// let task = klaxon_pipeline::Task::compile("t",
    ///     "batch|query('SELECT v FROM m').period(10s).every(10s).align()",
    ///     &registry, &klaxon_pipeline::ServerInfo::default()).unwrap();
    /// let (_, query) = task.queries().next().unwrap();
    /// let next = query.next_run(Timestamp::from_nanos(12_000_000_000)).unwrap();
    /// assert_eq!(next, Timestamp::from_nanos(20_000_000_000));
    /// ```
    pub fn next_run(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.schedule {
            Schedule::Every { every, align } => {
                let mut next = after.as_nanos().checked_add(*every)?;
                if *align {
                    next -= next.rem_euclid(*every);
                }
                Some(Timestamp::from_nanos(next))
            }
            Schedule::Cron(cron) => {
                let zone = jiff::tz::TimeZone::system();
                let now = jiff::Timestamp::from_nanosecond(i128::from(after.as_nanos()))
                    .ok()?
                    .to_zoned(zone);
                let next = cron.find_next_occurrence(&now, false).ok()?;
                i64::try_from(next.timestamp().as_nanosecond())
                    .ok()
                    .map(Timestamp::from_nanos)
            }
        }
    }

    /// The run at `now`: `[now - offset - period, now - offset)`, with the `GROUP BY` and fill.
    pub fn run(&self, now: Timestamp) -> QueryRun {
        let stop = now.as_nanos().saturating_sub(self.offset);
        let start = stop.saturating_sub(self.period);
        let dimensions: Vec<String> = self
            .dimensions
            .iter()
            .map(|d| match d {
                Dimension::Time { length, offset } => {
                    // Kapacitor's alignGroup replaces the offset by the start's phase.
                    let offset = if self.align_group {
                        start % length
                    } else {
                        *offset
                    };
                    format!(
                        "time({}, {})",
                        format_duration(*length),
                        format_duration(offset)
                    )
                }
                Dimension::Tag(tag) => quote_ident(tag),
                Dimension::Star => "*".to_owned(),
            })
            .collect();
        let (start, stop) = (Timestamp::from_nanos(start), Timestamp::from_nanos(stop));
        let statement = self.select.render(&Bounds {
            start,
            stop,
            dimensions: &dimensions,
            fill: self.fill.as_deref(),
        });
        QueryRun {
            statement,
            start,
            stop,
        }
    }

    /// Whether `.groupBy()` has a time dimension: the batches then take their last point's
    /// time, else the run's stop time.
    pub fn grouped_by_time(&self) -> bool {
        self.dimensions
            .iter()
            .any(|d| matches!(d, Dimension::Time { .. }))
    }

    /// One series of InfluxDB's answer as a batch and its group, as Kapacitor's
    /// `ResultToBufferedBatches`: numbers become floats, nulls are left out, a row without a
    /// value is no point; the points carry the series tags; the batch time is its last
    /// point's when grouped by time, else `run.stop`.
    pub fn batch(
        &self,
        run: &QueryRun,
        name: &str,
        tags: &BTreeMap<String, String>,
        columns: &[String],
        rows: &[Vec<serde_json::Value>],
    ) -> Result<(Batch, Group), String> {
        let points = series_points(name, tags, columns, rows)?;
        let latest = points.iter().map(|p| p.time).max();
        let time = match latest {
            Some(t) if self.grouped_by_time() => t,
            _ => run.stop,
        };
        let group = Group::of_series(name, tags, self.by_measurement);
        let batch = Batch {
            name: name.to_owned(),
            tags: tags.clone(),
            time,
            points,
        };
        Ok((batch, group))
    }
}

/// The points of one series of an InfluxDB answer: each row a point of measurement `name` with
/// the series' `tags`, its `time` column as the time and its other non-null columns as fields
/// (a row with none is left out).
///
/// ```
/// use serde_json::json;
/// let points = klaxon_pipeline::series_points(
///     "cpu",
///     &[("host".to_owned(), "a".to_owned())].into(),
///     &["time".to_owned(), "mean".to_owned()],
///     &[vec![json!(10), json!(2.5)], vec![json!(20), json!(null)]],
/// )
/// .unwrap();
/// assert_eq!(points.len(), 1);
/// assert_eq!(points[0].time.as_nanos(), 10);
/// ```
pub fn series_points(
    name: &str,
    tags: &BTreeMap<String, String>,
    columns: &[String],
    rows: &[Vec<serde_json::Value>],
) -> Result<Vec<Point>, String> {
    let mut points = Vec::with_capacity(rows.len());
    for row in rows {
        let mut point = Point::new("", "", name, 0);
        point.tags = tags.clone();
        for (column, value) in columns.iter().zip(row) {
            if column == "time" {
                point.time = time_value(value)?;
                continue;
            }
            let field = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(f) => FieldValue::Float(f),
                    None => continue,
                },
                serde_json::Value::String(s) => FieldValue::String(s.clone()),
                serde_json::Value::Bool(b) => FieldValue::Bool(*b),
                other => FieldValue::String(other.to_string()),
            };
            point.fields.insert(column.clone(), field);
        }
        if !point.fields.is_empty() {
            points.push(point);
        }
    }
    Ok(points)
}

/// A time column: nanoseconds (`epoch=ns`) or RFC 3339.
fn time_value(value: &serde_json::Value) -> Result<Timestamp, String> {
    match value {
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Timestamp::from_nanos)
            .ok_or_else(|| format!("unexpected time value: {n}")),
        serde_json::Value::String(s) => {
            Timestamp::parse_rfc3339(s).map_err(|e| format!("unexpected time format {s:?}: {e}"))
        }
        other => Err(format!("unexpected time value: {other}")),
    }
}

fn duration(p: &Property) -> Result<i64, DefineError> {
    p.expect_args(1, 1)?;
    let nanos = p.arg(0).as_duration()?;
    if nanos < 0 {
        return Err(DefineError::new(
            p.span,
            format!(".{}() must not be negative", p.name),
        ));
    }
    Ok(nanos)
}

/// Kapacitor's cron expressions (gorhill/cronexpr): 5 fields (minute to weekday), 6 (and a
/// year), 7 (a second first, a year last), or `@hourly`-style names.
fn parse_cron(text: &str, p: &Property) -> Result<croner::Cron, DefineError> {
    let fields = text.split_whitespace().count();
    let normalized = if fields == 6 {
        format!("0 {text}")
    } else {
        text.to_owned()
    };
    croner::Cron::from_str(&normalized).map_err(|e| {
        DefineError::new(
            p.span,
            format!(
                "invalid cron expression {text:?}: {e}; write five fields (minute hour day-of-month month day-of-week), as .cron('*/5 * * * *')"
            ),
        )
    })
}

fn dimensions(p: &Property) -> Result<Vec<Dimension>, DefineError> {
    let mut out = Vec::with_capacity(p.args.len());
    let mut has_time = false;
    for arg in &p.args {
        let dimension = match &arg.value {
            ArgValue::Str(tag) => Dimension::Tag(tag.clone()),
            ArgValue::Star => Dimension::Star,
            ArgValue::Duration(length) => Dimension::Time {
                length: *length,
                offset: 0,
            },
            ArgValue::Expr(expr) => match &expr.kind {
                ExprKind::Call { name, args } if name == "time" => {
                    let mut durations = args.iter().map(|a| match a.kind {
                        ExprKind::Duration(d) => d,
                        _ => 0,
                    });
                    Dimension::Time {
                        length: durations.next().unwrap_or(0),
                        offset: durations.next().unwrap_or(0),
                    }
                }
                _ => return Err(bad_dimension(arg.span, &arg.value)),
            },
            other => return Err(bad_dimension(arg.span, other)),
        };
        if let Dimension::Time { length, .. } = dimension {
            if has_time {
                return Err(DefineError::new(
                    arg.span,
                    "groupBy cannot have more than one time dimension",
                ));
            }
            if length <= 0 {
                return Err(DefineError::new(
                    arg.span,
                    "the time dimension's length must be positive, as time(1m)",
                ));
            }
            has_time = true;
        }
        out.push(dimension);
    }
    Ok(out)
}

fn bad_dimension(span: klaxon_tick::Span, value: &ArgValue) -> DefineError {
    DefineError::new(
        span,
        format!(
            "invalid dimension {}; .groupBy() takes time(1m), tag names and '*'",
            value.describe()
        ),
    )
}

fn fill(p: &Property) -> Result<String, DefineError> {
    p.expect_args(1, 1)?;
    Ok(match &p.args[0].value {
        ArgValue::Str(s) if ["null", "none", "previous", "linear"].contains(&s.as_str()) => {
            format!("fill({s})")
        }
        ArgValue::Int(i) => format!("fill({i})"),
        ArgValue::Float(f) => format!("fill({f})"),
        other => {
            return Err(DefineError::new(
                p.span,
                format!(
                    "unexpected fill option {}; use a number, 'null', 'none', 'previous' or 'linear'",
                    match other {
                        ArgValue::Str(s) => s.clone(),
                        other => other.describe(),
                    }
                ),
            ));
        }
    })
}
