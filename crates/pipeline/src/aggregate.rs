//! The aggregate nodes on windows (`|count()`, `|mean()`, `|percentile()`...): one output point
//! per batch (a batch of points for `|distinct()`), as Kapacitor's InfluxQL nodes produce them.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use klaxon_core::{FieldValue, Timestamp};
use klaxon_tick::Node;

use crate::batch::{Batch, Group, Message};
use crate::props::unknown_property;
use crate::time_sets::TimeSets;
use crate::{DefineError, Point};

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Function {
    /// Number of points that have the field (int).
    Count,
    /// Sum; int for int fields.
    Sum,
    /// Arithmetic mean (float).
    Mean,
    /// Middle value, or the mean of the two middle values (float).
    Median,
    /// Most frequent value, the smallest on ties; keeps the type.
    Mode,
    /// Smallest value; a selector.
    Min,
    /// Largest value; a selector.
    Max,
    /// Value of the earliest point; a selector.
    First,
    /// Value of the latest point; a selector.
    Last,
    /// `max - min`; keeps the type.
    Spread,
    /// Sample standard deviation (float, n - 1).
    Stddev,
    /// The value at the nearest rank `p` (0-100); a selector that keeps the type.
    Percentile(f64),
    /// One point per distinct value, sorted: a batch.
    Distinct,
}

impl Function {
    /// The node names this module compiles.
    pub const NAMES: &'static [&'static str] = &[
        "count",
        "distinct",
        "first",
        "last",
        "max",
        "mean",
        "median",
        "min",
        "mode",
        "percentile",
        "spread",
        "stddev",
        "sum",
    ];

    fn from_name(name: &str) -> Option<Function> {
        Some(match name {
            "count" => Function::Count,
            "sum" => Function::Sum,
            "mean" => Function::Mean,
            "median" => Function::Median,
            "mode" => Function::Mode,
            "min" => Function::Min,
            "max" => Function::Max,
            "first" => Function::First,
            "last" => Function::Last,
            "spread" => Function::Spread,
            "stddev" => Function::Stddev,
            "percentile" => Function::Percentile(0.0),
            "distinct" => Function::Distinct,
            _ => return None,
        })
    }

    /// Functions that accept strings and bools as well as numbers.
    fn any_type(self) -> bool {
        matches!(
            self,
            Function::Count
                | Function::First
                | Function::Last
                | Function::Mode
                | Function::Distinct
        )
    }
}

/// A compiled aggregate node.
#[derive(Debug)]
pub struct Aggregate {
    node: String,
    function: Function,
    field: String,
    output: String,
    point_times: bool,
    /// Directly on a stream: each group's points at its current time.
    on_stream: TimeSets,
}

/// The properties of Kapacitor's InfluxQL nodes (the aggregates, `top`, `bottom`).
const PROPERTIES: &[&str] = &["as", "usePointTimes"];

/// An InfluxQL node's `.as('name')` (default: the node's name) and `.usePointTimes()`.
pub(crate) fn output_properties(node: &Node) -> Result<(String, bool), DefineError> {
    let mut output = node.name.clone();
    let mut point_times = false;
    for p in &node.properties {
        match p.name.as_str() {
            "as" => {
                p.expect_args(1, 1)?;
                output = p.arg(0).as_str()?.to_owned();
            }
            "usePointTimes" => {
                p.expect_args(0, 0)?;
                point_times = true;
            }
            _ => return Err(unknown_property(&node.name, p, PROPERTIES)),
        }
    }
    Ok((output, point_times))
}

impl Aggregate {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.on_stream.forget(group);
    }

    /// Whether `name` is an aggregate node.
    pub fn is_aggregate(name: &str) -> bool {
        Function::from_name(name).is_some()
    }

    /// Compiles `|count('field')`, `|percentile('field', 90.0)`... and `.as()`,
    /// `.usePointTimes()`.
    pub fn compile(node: &Node) -> Result<Aggregate, DefineError> {
        let Some(mut function) = Function::from_name(&node.name) else {
            return Err(DefineError::new(
                node.span,
                format!("|{}() is not an aggregate", node.name),
            ));
        };
        if let Function::Percentile(_) = function {
            node.expect_args(2, 2)?;
            let p = node.arg(1).as_float()?;
            if !(0.0..=100.0).contains(&p) {
                return Err(DefineError::new(
                    node.args[1].span,
                    format!("|percentile() rank {p} is outside 0 to 100; give a percentage"),
                ));
            }
            function = Function::Percentile(p);
        } else {
            node.expect_args(1, 1)?;
        }
        let field = node.arg(0).as_str()?.to_owned();
        let (output, point_times) = output_properties(node)?;
        Ok(Aggregate {
            node: node.name.clone(),
            function,
            field,
            output,
            point_times,
            on_stream: TimeSets::default(),
        })
    }

    /// A point of a stream (an aggregate directly after `|from()`, as Kapacitor allows): the
    /// points of a group that share a time are aggregated together, once a point of that group
    /// with another time arrives.
    pub fn stream_point(
        &mut self,
        point: &Point,
        group: &Group,
        errors: &mut Vec<String>,
    ) -> Option<Message> {
        let set = self.on_stream.point(point, group)?;
        self.apply(&set, errors)
    }

    /// Aggregates one batch. `None` when the batch gives no value (no point has the field, a
    /// standard deviation of one point...); problems with single points are pushed to `errors`
    /// and those points left out.
    pub fn apply(&self, batch: &Batch, errors: &mut Vec<String>) -> Option<Message> {
        let mut values: Vec<(Timestamp, &FieldValue)> = Vec::with_capacity(batch.points.len());
        for p in &batch.points {
            let Some(v) = p.fields.get(&self.field) else {
                continue;
            };
            if !self.function.any_type() && !is_numeric(v) {
                errors.push(format!(
                    "|{}() needs a numeric field, but \"{}\" is a {} at {}; aggregate a number field",
                    self.node,
                    self.field,
                    v.type_name(),
                    p.time.to_rfc3339_nano()
                ));
                continue;
            }
            if let Some((_, first)) = values.first()
                && kind(first) != kind(v)
            {
                errors.push(format!(
                    "field \"{}\" is a {} at {} but a {} earlier in the window; write one type per field",
                    self.field,
                    v.type_name(),
                    p.time.to_rfc3339_nano(),
                    first.type_name()
                ));
                continue;
            }
            values.push((p.time, v));
        }
        if values.is_empty() {
            // Kapacitor's count is the one function that reports an empty window (as 0).
            return (batch.points.is_empty() && self.function == Function::Count)
                .then(|| self.point(batch, FieldValue::Int(0), batch.time));
        }
        let selected = match self.function {
            Function::Count => return self.single(batch, FieldValue::Int(values.len() as i64)),
            Function::Sum => return self.single(batch, sum(&values)),
            Function::Mean => return self.single(batch, FieldValue::Float(mean(&values))),
            Function::Median => return self.single(batch, FieldValue::Float(median(&values))),
            Function::Mode => return self.single(batch, mode(&values)),
            Function::Spread => return self.single(batch, spread(&values)),
            Function::Stddev => return self.single(batch, FieldValue::Float(stddev(&values)?)),
            Function::Distinct => return Some(Message::Batch(self.distinct(batch, &values))),
            Function::Min => select(&values, |a, b| compare(a, b) == Ordering::Less),
            Function::Max => select(&values, |a, b| compare(a, b) == Ordering::Greater),
            Function::First => select_time(&values, |a, b| a < b),
            Function::Last => select_time(&values, |a, b| a >= b),
            Function::Percentile(p) => percentile(&values, p)?,
        };
        Some(Message::Point(self.selection(batch, selected)))
    }

    /// The output point of a function that computes a value: the group's tags and that value.
    fn single(&self, batch: &Batch, value: FieldValue) -> Option<Message> {
        Some(self.point(batch, value, batch.time))
    }

    /// The output point of a selector, as Kapacitor's: the selected point's tags and other
    /// fields, the selected value under the output name, at the window's time (the point's
    /// with `.usePointTimes()`).
    fn selection(&self, batch: &Batch, (time, value): (Timestamp, &FieldValue)) -> Point {
        let chosen = batch.points.iter().find(|p| {
            p.fields
                .get(&self.field)
                .is_some_and(|v| std::ptr::eq(v, value))
        });
        let time = if self.point_times { time } else { batch.time };
        let mut out = self.output_point(batch, value.clone(), time);
        if let Some(point) = chosen {
            out.tags = point.tags.clone();
            for (name, field) in &point.fields {
                if *name != self.field && *name != self.output {
                    out.fields.insert(name.clone(), field.clone());
                }
            }
        }
        out
    }

    fn point(&self, batch: &Batch, value: FieldValue, time: Timestamp) -> Message {
        Message::Point(self.output_point(batch, value, time))
    }

    fn output_point(&self, batch: &Batch, value: FieldValue, time: Timestamp) -> Point {
        let (database, retention_policy) = batch
            .points
            .first()
            .map(|p| (p.database.clone(), p.retention_policy.clone()))
            .unwrap_or_default();
        Point {
            database,
            retention_policy,
            name: batch.name.clone(),
            tags: batch.tags.clone(),
            fields: BTreeMap::from([(self.output.clone(), value)]),
            time,
        }
    }

    fn distinct(&self, batch: &Batch, values: &[(Timestamp, &FieldValue)]) -> Batch {
        // In the order values are first seen, as Kapacitor's distinct.
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<&FieldValue> = values
            .iter()
            .map(|(_, v)| *v)
            .filter(|v| seen.insert(distinct_key(v)))
            .collect();
        Batch {
            name: batch.name.clone(),
            tags: batch.tags.clone(),
            time: batch.time,
            points: unique
                .into_iter()
                .map(|v| self.output_point(batch, v.clone(), batch.time))
                .collect(),
        }
    }
}

/// A value as a hashable key for `distinct` (floats by their bits: one window holds one type).
fn distinct_key(v: &FieldValue) -> (u8, u64, Option<&str>) {
    match v {
        FieldValue::Float(f) => (0, f.to_bits(), None),
        FieldValue::Int(i) => (1, *i as u64, None),
        FieldValue::UInt(u) => (2, *u, None),
        FieldValue::Bool(b) => (3, u64::from(*b), None),
        FieldValue::String(text) => (4, 0, Some(text)),
    }
}

fn is_numeric(v: &FieldValue) -> bool {
    matches!(
        v,
        FieldValue::Float(_) | FieldValue::Int(_) | FieldValue::UInt(_)
    )
}

fn kind(v: &FieldValue) -> &'static str {
    v.type_name()
}

fn as_f64(v: &FieldValue) -> f64 {
    match v {
        FieldValue::Float(f) => *f,
        FieldValue::Int(i) => *i as f64,
        FieldValue::UInt(u) => *u as f64,
        FieldValue::Bool(b) => f64::from(u8::from(*b)),
        FieldValue::String(_) => f64::NAN,
    }
}

/// Orders two values of one type (the caller keeps one type per window).
fn compare(a: &FieldValue, b: &FieldValue) -> Ordering {
    match (a, b) {
        (FieldValue::Int(x), FieldValue::Int(y)) => x.cmp(y),
        (FieldValue::UInt(x), FieldValue::UInt(y)) => x.cmp(y),
        (FieldValue::String(x), FieldValue::String(y)) => x.cmp(y),
        (FieldValue::Bool(x), FieldValue::Bool(y)) => x.cmp(y),
        _ => as_f64(a).total_cmp(&as_f64(b)),
    }
}

fn sum(values: &[(Timestamp, &FieldValue)]) -> FieldValue {
    match values[0].1 {
        // Go's int64 addition wraps; so does Kapacitor's integer sum.
        FieldValue::Int(_) => FieldValue::Int(values.iter().fold(0i64, |acc, (_, v)| match v {
            FieldValue::Int(i) => acc.wrapping_add(*i),
            _ => acc,
        })),
        FieldValue::UInt(_) => FieldValue::UInt(values.iter().fold(0u64, |acc, (_, v)| match v {
            FieldValue::UInt(u) => acc.wrapping_add(*u),
            _ => acc,
        })),
        _ => FieldValue::Float(values.iter().map(|(_, v)| as_f64(v)).sum()),
    }
}

fn mean(values: &[(Timestamp, &FieldValue)]) -> f64 {
    values.iter().map(|(_, v)| as_f64(v)).sum::<f64>() / values.len() as f64
}

fn sorted(values: &[(Timestamp, &FieldValue)]) -> Vec<(Timestamp, FieldValue)> {
    let mut out: Vec<(Timestamp, FieldValue)> =
        values.iter().map(|(t, v)| (*t, (*v).clone())).collect();
    // Stable: equal values stay in time order.
    out.sort_by(|a, b| compare(&a.1, &b.1));
    out
}

fn median(values: &[(Timestamp, &FieldValue)]) -> f64 {
    let s = sorted(values);
    let n = s.len();
    if n % 2 == 1 {
        as_f64(&s[n / 2].1)
    } else {
        let (a, b) = (as_f64(&s[n / 2 - 1].1), as_f64(&s[n / 2].1));
        a + (b - a) / 2.0
    }
}

fn mode(values: &[(Timestamp, &FieldValue)]) -> FieldValue {
    let s = sorted(values);
    let (mut best, mut best_count) = (&s[0].1, 0);
    let mut i = 0;
    while i < s.len() {
        let mut j = i;
        while j < s.len() && compare(&s[j].1, &s[i].1) == Ordering::Equal {
            j += 1;
        }
        // Strictly more: on a tie the smaller value, seen first, stays.
        if j - i > best_count {
            best = &s[i].1;
            best_count = j - i;
        }
        i = j;
    }
    best.clone()
}

/// The first point whose value beats every other by `better` (ties keep the earlier point).
fn select<'a>(
    values: &[(Timestamp, &'a FieldValue)],
    better: impl Fn(&FieldValue, &FieldValue) -> bool,
) -> (Timestamp, &'a FieldValue) {
    let mut best = values[0];
    for v in &values[1..] {
        if better(v.1, best.1) {
            best = *v;
        }
    }
    best
}

/// The point whose time wins by `better` over the one kept so far.
fn select_time<'a>(
    values: &[(Timestamp, &'a FieldValue)],
    better: impl Fn(i64, i64) -> bool,
) -> (Timestamp, &'a FieldValue) {
    let mut best = values[0];
    for v in &values[1..] {
        if better(v.0.as_nanos(), best.0.as_nanos()) {
            best = *v;
        }
    }
    best
}

fn spread(values: &[(Timestamp, &FieldValue)]) -> FieldValue {
    let (_, min) = select(values, |a, b| compare(a, b) == Ordering::Less);
    let (_, max) = select(values, |a, b| compare(a, b) == Ordering::Greater);
    match (min.clone(), max.clone()) {
        (FieldValue::Int(a), FieldValue::Int(b)) => FieldValue::Int(b.wrapping_sub(a)),
        (FieldValue::UInt(a), FieldValue::UInt(b)) => FieldValue::UInt(b - a),
        (a, b) => FieldValue::Float(as_f64(&b) - as_f64(&a)),
    }
}

/// Sample standard deviation; none for fewer than two values (InfluxQL returns nil).
fn stddev(values: &[(Timestamp, &FieldValue)]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let m = mean(values);
    let variance = values
        .iter()
        .map(|(_, v)| (as_f64(v) - m).powi(2))
        .sum::<f64>()
        / (values.len() - 1) as f64;
    Some(variance.sqrt())
}

/// InfluxQL's nearest-rank percentile: index `floor(n * p / 100 + 0.5) - 1` of the sorted
/// values; none when that falls outside.
fn percentile<'a>(
    values: &[(Timestamp, &'a FieldValue)],
    p: f64,
) -> Option<(Timestamp, &'a FieldValue)> {
    let mut s = values.to_vec();
    // Stable: equal values stay in time order.
    s.sort_by(|a, b| compare(a.1, b.1));
    let i = (s.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
    let i = usize::try_from(i).ok().filter(|i| *i < s.len())?;
    Some(s[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use FieldValue::{Float, Int};

    const S: i64 = 1_000_000_000;

    fn aggregate(call: &str) -> Aggregate {
        let script = format!("stream|from()|window().period(10s)|{call}");
        let program = klaxon_tick::compile_script(&script).unwrap();
        Aggregate::compile(&program.nodes[3]).unwrap()
    }

    /// A window ending at 10 s with `value` at 0, 1, 2... seconds.
    fn batch(values: &[FieldValue]) -> Batch {
        Batch {
            name: "cpu".into(),
            tags: BTreeMap::from([("host".to_owned(), "a".to_owned())]),
            time: Timestamp::from_nanos(10 * S),
            points: values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    Point::new("db", "rp", "cpu", i as i64 * S)
                        .tag("host", "a")
                        .field("value", v.clone())
                })
                .collect(),
        }
    }

    /// (output field, value, time in seconds), or `None` for no output.
    fn run(call: &str, b: &Batch) -> Option<(String, FieldValue, i64)> {
        let mut errors = Vec::new();
        let out = aggregate(call).apply(b, &mut errors);
        assert!(errors.is_empty(), "{call}: {errors:?}");
        match out? {
            Message::Point(p) => {
                assert_eq!(p.tags, b.tags, "{call}: output tags are the group tags");
                let (name, value) = p.fields.into_iter().next().unwrap();
                Some((name, value, p.time.as_nanos() / S))
            }
            Message::Batch(_) => panic!("{call} made a batch"),
        }
    }

    /// The expected output: (field, value, time in seconds), `None` for no output.
    type Want<'a> = Option<(&'a str, FieldValue, i64)>;

    fn check(b: &Batch, cases: &[(&str, Want<'_>)]) {
        for (call, want) in cases {
            let want = want.clone().map(|(n, v, t)| (n.to_owned(), v, t));
            assert_eq!(run(call, b), want, "{call}");
        }
    }

    #[test]
    fn float_window() {
        let b = batch(&[Float(2.0), Float(8.0), Float(4.0), Float(4.0), Float(7.0)]);
        check(
            &b,
            &[
                ("count('value')", Some(("count", Int(5), 10))),
                ("sum('value')", Some(("sum", Float(25.0), 10))),
                ("mean('value')", Some(("mean", Float(5.0), 10))),
                ("median('value')", Some(("median", Float(4.0), 10))),
                ("mode('value')", Some(("mode", Float(4.0), 10))),
                ("min('value')", Some(("min", Float(2.0), 10))),
                ("max('value')", Some(("max", Float(8.0), 10))),
                ("first('value')", Some(("first", Float(2.0), 10))),
                ("last('value')", Some(("last", Float(7.0), 10))),
                ("spread('value')", Some(("spread", Float(6.0), 10))),
                // Squared deviations 9+9+1+1+4 = 24, over n-1 = 4: sqrt(6).
                ("stddev('value')", Some(("stddev", Float(6f64.sqrt()), 10))),
                // Nearest rank: floor(5 * 0.5 + 0.5) - 1 = 2 -> sorted [2,4,4,7,8][2].
                (
                    "percentile('value', 50.0)",
                    Some(("percentile", Float(4.0), 10)),
                ),
                (
                    "percentile('value', 90)",
                    Some(("percentile", Float(8.0), 10)),
                ),
                ("mean('value').as('m')", Some(("m", Float(5.0), 10))),
            ],
        );
    }

    #[test]
    fn selectors_keep_the_point_time_with_use_point_times() {
        let b = batch(&[Float(2.0), Float(8.0), Float(4.0), Float(4.0), Float(7.0)]);
        check(
            &b,
            &[
                ("min('value').usePointTimes()", Some(("min", Float(2.0), 0))),
                ("max('value').usePointTimes()", Some(("max", Float(8.0), 1))),
                (
                    "first('value').usePointTimes()",
                    Some(("first", Float(2.0), 0)),
                ),
                (
                    "last('value').usePointTimes()",
                    Some(("last", Float(7.0), 4)),
                ),
                // The later of the two 4.0 points (stable sort by value).
                (
                    "percentile('value', 50.0).usePointTimes()",
                    Some(("percentile", Float(4.0), 3)),
                ),
                // Not a selector: the window's time regardless.
                (
                    "mean('value').usePointTimes()",
                    Some(("mean", Float(5.0), 10)),
                ),
            ],
        );
    }

    #[test]
    fn integer_window_keeps_ints_where_kapacitor_does() {
        let b = batch(&[Int(3), Int(1), Int(3), Int(6)]);
        check(
            &b,
            &[
                ("count('value')", Some(("count", Int(4), 10))),
                ("sum('value')", Some(("sum", Int(13), 10))),
                ("mean('value')", Some(("mean", Float(3.25), 10))),
                ("median('value')", Some(("median", Float(3.0), 10))),
                ("mode('value')", Some(("mode", Int(3), 10))),
                ("min('value')", Some(("min", Int(1), 10))),
                ("max('value')", Some(("max", Int(6), 10))),
                ("first('value')", Some(("first", Int(3), 10))),
                ("last('value')", Some(("last", Int(6), 10))),
                ("spread('value')", Some(("spread", Int(5), 10))),
                // Squared deviations from 3.25: 0.0625+5.0625+0.0625+7.5625 = 12.75, over 3.
                (
                    "stddev('value')",
                    Some(("stddev", Float(4.25f64.sqrt()), 10)),
                ),
                (
                    "percentile('value', 50.0)",
                    Some(("percentile", Int(3), 10)),
                ),
            ],
        );
    }

    #[test]
    fn even_median_and_mode_ties() {
        let b = batch(&[Float(1.0), Float(2.0)]);
        check(
            &b,
            &[
                ("median('value')", Some(("median", Float(1.5), 10))),
                // Each value once: the smallest wins the tie.
                ("mode('value')", Some(("mode", Float(1.0), 10))),
            ],
        );
    }

    #[test]
    fn empty_window_only_counts() {
        let b = batch(&[]);
        check(
            &b,
            &[
                ("count('value')", Some(("count", Int(0), 10))),
                ("sum('value')", None),
                ("mean('value')", None),
                ("median('value')", None),
                ("mode('value')", None),
                ("min('value')", None),
                ("max('value')", None),
                ("first('value')", None),
                ("last('value')", None),
                ("spread('value')", None),
                ("stddev('value')", None),
                ("percentile('value', 50.0)", None),
            ],
        );
        let mut errors = Vec::new();
        assert_eq!(aggregate("distinct('value')").apply(&b, &mut errors), None);
    }

    #[test]
    fn single_point() {
        let b = batch(&[Float(5.0)]);
        check(
            &b,
            &[
                ("count('value')", Some(("count", Int(1), 10))),
                ("sum('value')", Some(("sum", Float(5.0), 10))),
                ("mean('value')", Some(("mean", Float(5.0), 10))),
                ("median('value')", Some(("median", Float(5.0), 10))),
                ("mode('value')", Some(("mode", Float(5.0), 10))),
                ("min('value')", Some(("min", Float(5.0), 10))),
                ("max('value')", Some(("max", Float(5.0), 10))),
                ("first('value')", Some(("first", Float(5.0), 10))),
                ("last('value')", Some(("last", Float(5.0), 10))),
                ("spread('value')", Some(("spread", Float(0.0), 10))),
                // InfluxQL's stddev of one value is nil.
                ("stddev('value')", None),
                (
                    "percentile('value', 50.0)",
                    Some(("percentile", Float(5.0), 10)),
                ),
                // floor(1 * 0 + 0.5) - 1 = -1: no rank.
                ("percentile('value', 0.0)", None),
            ],
        );
    }

    #[test]
    fn missing_field_gives_no_output_and_partial_fields_are_counted() {
        let b = batch(&[Float(1.0), Float(2.0)]);
        for call in [
            "count('other')",
            "mean('other')",
            "max('other')",
            "sum('other')",
        ] {
            assert_eq!(run(call, &b), None, "{call}");
        }
        let mut partial = batch(&[Float(1.0), Float(3.0), Float(8.0)]);
        partial.points[1].fields.clear();
        check(
            &partial,
            &[
                ("count('value')", Some(("count", Int(2), 10))),
                ("mean('value')", Some(("mean", Float(4.5), 10))),
            ],
        );
    }

    #[test]
    fn distinct_is_a_batch_of_values_in_first_seen_order() {
        let b = batch(&[Int(3), Int(1), Int(3), Int(6)]);
        let mut errors = Vec::new();
        let Some(Message::Batch(out)) = aggregate("distinct('value')").apply(&b, &mut errors)
        else {
            panic!("distinct made no batch")
        };
        let values: Vec<(&FieldValue, i64)> = out
            .points
            .iter()
            .map(|p| (&p.fields["distinct"], p.time.as_nanos() / S))
            .collect();
        assert_eq!(values, [(&Int(3), 10), (&Int(1), 10), (&Int(6), 10)]);
        assert_eq!(out.tags, b.tags);
    }

    #[test]
    fn strings_count_but_do_not_average() {
        let b = batch(&[
            FieldValue::String("a".into()),
            FieldValue::String("b".into()),
            FieldValue::String("a".into()),
        ]);
        check(
            &b,
            &[
                ("count('value')", Some(("count", Int(3), 10))),
                (
                    "mode('value')",
                    Some(("mode", FieldValue::String("a".into()), 10)),
                ),
                (
                    "last('value')",
                    Some(("last", FieldValue::String("a".into()), 10)),
                ),
            ],
        );
        let mut errors = Vec::new();
        assert_eq!(aggregate("mean('value')").apply(&b, &mut errors), None);
        assert_eq!(errors.len(), 3);
        assert!(errors[0].contains("needs a numeric field"), "{errors:?}");
    }

    #[test]
    fn a_point_of_another_type_is_left_out_and_reported() {
        let b = batch(&[Int(2), Float(100.0), Int(4)]);
        let mut errors = Vec::new();
        let out = aggregate("sum('value')").apply(&b, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let Some(Message::Point(p)) = out else {
            panic!("no sum")
        };
        assert_eq!(p.fields["sum"], Int(6));
    }

    #[test]
    fn percentile_rank_is_checked() {
        let program =
            klaxon_tick::compile_script("stream|from()|window().period(1s)|percentile('v', 101)")
                .unwrap();
        let err = Aggregate::compile(&program.nodes[3]).unwrap_err();
        assert!(err.message.contains("outside 0 to 100"), "{}", err.message);
    }
}
