//! `|top(num, 'field', 'tag'...)` and `|bottom(num, 'field', 'tag'...)`: the `num` points of a
//! window with the largest (smallest) values of a field, as a batch, as Kapacitor's InfluxQL
//! `top`/`bottom` nodes produce them.
//!
//! Kapacitor runs InfluxDB's `FloatTopReducer`/`IntegerTopReducer` (and the bottom ones): a heap
//! of `num` points where a new point replaces the weakest only when it is strictly better (a
//! larger value, or an equal value at an earlier time), sorted best first when emitted. The
//! extra `'tag'` arguments only fill the reducer's auxiliary values, which Kapacitor's batch
//! emitter never reads: they select nothing and add no column, so points are not made distinct
//! by them. Each output point has the window's tags merged with the selected point's tags, the
//! one field named by `.as()` (default `top`/`bottom`), and the window's time (the point's own
//! with `.usePointTimes()`). On a stream, points of a group with the same time form the set,
//! emitted when a point with a later time arrives, as Kapacitor's stream aggregation does.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::FieldValue;
use klaxon_tick::{ArgValue, Node};

use crate::aggregate::output_properties;
use crate::batch::{Batch, Group};
use crate::time_sets::TimeSets;
use crate::{DefineError, Point};

/// A compiled `|top()` or `|bottom()`.
#[derive(Debug)]
pub struct Top {
    node: String,
    largest: bool,
    num: usize,
    field: String,
    output: String,
    point_times: bool,
    /// Stream input: the points of each group at the current time, not yet emitted.
    pending: TimeSets,
}

impl Top {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.pending.forget(group);
    }

    /// The node names this module compiles.
    pub const NAMES: &'static [&'static str] = &["bottom", "top"];

    /// Compiles `|top(5, 'value')`, `|bottom(3, 'value', 'host')` and `.as()`,
    /// `.usePointTimes()`.
    pub fn compile(node: &Node) -> Result<Top, DefineError> {
        let largest = match node.name.as_str() {
            "top" => true,
            "bottom" => false,
            other => {
                return Err(DefineError::new(
                    node.span,
                    format!("|{other}() is not top or bottom"),
                ));
            }
        };
        node.expect_args(2, usize::MAX)?;
        let num = match node.args[0].value {
            ArgValue::Int(n) if n > 0 => n as usize,
            _ => {
                return Err(DefineError::new(
                    node.args[0].span,
                    format!(
                        "|{}() takes a positive number of points first, e.g. |{}(5, 'value')",
                        node.name, node.name
                    ),
                ));
            }
        };
        let field = node.arg(1).as_str()?.to_owned();
        // The fields and tags Kapacitor accepts after the field: strings, unused in the output.
        for i in 2..node.args.len() {
            node.arg(i).as_str()?;
        }
        let (output, point_times) = output_properties(node)?;
        Ok(Top {
            node: node.name.clone(),
            largest,
            num,
            field,
            output,
            point_times,
            pending: TimeSets::default(),
        })
    }

    /// A point of a stream: joins its group's set when it has the set's time; otherwise the set
    /// is selected from and emitted (`None` when it gave nothing) and the point starts a new one.
    pub fn point(
        &mut self,
        point: &Point,
        group: &Group,
        errors: &mut Vec<String>,
    ) -> Option<Batch> {
        let set = self.pending.point(point, group)?;
        self.apply(&set, errors)
    }

    /// Selects from one batch. `None` when no point has a usable value (Kapacitor emits nothing
    /// for an empty window); points whose field is missing or of another type than the first
    /// one's are reported in `errors` and left out, as Kapacitor's reducer does.
    pub fn apply(&self, batch: &Batch, errors: &mut Vec<String>) -> Option<Batch> {
        let mut kind: Option<bool> = None; // Some(true): floats, Some(false): ints.
        let mut candidates: Vec<(Value, &Point)> = Vec::with_capacity(batch.points.len());
        for p in &batch.points {
            let Some(v) = p.fields.get(&self.field) else {
                errors.push(format!(
                    "|{}(): field \"{}\" missing from the point at {}; every point needs it",
                    self.node,
                    self.field,
                    p.time.to_rfc3339_nano()
                ));
                continue;
            };
            let value = match v {
                FieldValue::Float(f) => Value::Float(*f),
                FieldValue::Int(i) => Value::Int(*i),
                other => {
                    errors.push(format!(
                        "|{}() needs a float or integer field, but \"{}\" is a {} at {}",
                        self.node,
                        self.field,
                        other.type_name(),
                        p.time.to_rfc3339_nano()
                    ));
                    continue;
                }
            };
            let is_float = matches!(value, Value::Float(_));
            match kind {
                None => kind = Some(is_float),
                Some(k) if k != is_float => {
                    errors.push(format!(
                        "field \"{}\" is a {} at {} but a {} earlier in the window; write one type per field",
                        self.field,
                        v.type_name(),
                        p.time.to_rfc3339_nano(),
                        if k { "float" } else { "integer" }
                    ));
                    continue;
                }
                Some(_) => {}
            }
            candidates.push((value, p));
        }
        if candidates.is_empty() {
            return None;
        }
        // Best first: by value, then the earlier time, as Kapacitor's heap ranks them. Among
        // points with the same value and time the earlier arrival wins here; Kapacitor's heap
        // keeps whichever of them its layout spares, which no test can rely on.
        candidates.sort_by(|(a, pa), (b, pb)| {
            let by_value = a.cmp(b);
            let by_value = if self.largest {
                by_value.reverse()
            } else {
                by_value
            };
            by_value.then(pa.time.cmp(&pb.time))
        });
        candidates.truncate(self.num);
        let mut time = batch.time;
        let points = candidates
            .into_iter()
            .map(|(value, p)| {
                let t = if self.point_times { p.time } else { batch.time };
                time = time.max(t);
                let mut tags = batch.tags.clone();
                tags.extend(p.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
                Point {
                    database: Arc::clone(&p.database),
                    retention_policy: Arc::clone(&p.retention_policy),
                    name: batch.name.clone(),
                    tags,
                    fields: BTreeMap::from([(self.output.clone(), value.into_field())]),
                    time: t,
                }
            })
            .collect();
        Some(Batch {
            name: batch.name.clone(),
            tags: batch.tags.clone(),
            time,
            points,
        })
    }
}

/// A value the reducers take: Kapacitor has float and integer ones only.
#[derive(Debug, Clone, Copy)]
enum Value {
    Float(f64),
    Int(i64),
}

impl Value {
    /// Ordering within one type (a window's values all have the first one's type). NaN sorts
    /// as Go's `<` treats it: never less, never greater, so it ties.
    fn cmp(&self, other: &Value) -> std::cmp::Ordering {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => {
                a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
            }
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Int(b)) => a
                .partial_cmp(&(*b as f64))
                .unwrap_or(std::cmp::Ordering::Equal),
            (Value::Int(a), Value::Float(b)) => (*a as f64)
                .partial_cmp(b)
                .unwrap_or(std::cmp::Ordering::Equal),
        }
    }

    fn into_field(self) -> FieldValue {
        match self {
            Value::Float(f) => FieldValue::Float(f),
            Value::Int(i) => FieldValue::Int(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_core::Timestamp;

    fn compile(script: &str) -> Top {
        let program = klaxon_tick::compile_script(script).unwrap();
        Top::compile(program.nodes.last().unwrap()).unwrap()
    }

    fn point(secs: i64, host: &str, value: FieldValue) -> Point {
        Point::new("db", "rp", "cpu", secs * 1_000_000_000)
            .tag("host", host)
            .field("value", value)
    }

    fn batch(points: Vec<Point>) -> Batch {
        Batch {
            name: "cpu".into(),
            tags: BTreeMap::new(),
            time: Timestamp::from_nanos(10_000_000_000),
            points,
        }
    }

    /// (host, value, time in seconds) of each output point.
    fn rows(out: &Batch, field: &str) -> Vec<(String, FieldValue, i64)> {
        out.points
            .iter()
            .map(|p| {
                (
                    p.tags["host"].clone(),
                    p.fields[field].clone(),
                    p.time.as_nanos() / 1_000_000_000,
                )
            })
            .collect()
    }

    #[test]
    fn top_keeps_the_largest_best_first_at_the_window_time() {
        let top = compile("stream|from()|window().period(10s)|top(2, 'value')");
        let b = batch(vec![
            point(1, "a", FieldValue::Float(1.0)),
            point(2, "b", FieldValue::Float(9.0)),
            point(3, "c", FieldValue::Float(5.0)),
        ]);
        let out = top.apply(&b, &mut Vec::new()).unwrap();
        assert_eq!(
            rows(&out, "top"),
            vec![
                ("b".into(), FieldValue::Float(9.0), 10),
                ("c".into(), FieldValue::Float(5.0), 10)
            ]
        );
        assert_eq!(out.points[0].fields.len(), 1, "only the selected value");
    }

    #[test]
    fn ties_go_to_the_earlier_point_then_the_earlier_arrival() {
        let top = compile("stream|from()|window().period(10s)|top(2, 'value').usePointTimes()");
        let b = batch(vec![
            point(5, "late", FieldValue::Int(7)),
            point(3, "first", FieldValue::Int(7)),
            point(3, "second", FieldValue::Int(7)),
            point(1, "small", FieldValue::Int(2)),
        ]);
        let out = top.apply(&b, &mut Vec::new()).unwrap();
        assert_eq!(
            rows(&out, "top"),
            vec![
                ("first".into(), FieldValue::Int(7), 3),
                ("second".into(), FieldValue::Int(7), 3)
            ]
        );
        let bottom = compile("stream|from()|window().period(10s)|bottom(2, 'value').as('low')");
        let out = bottom.apply(&b, &mut Vec::new()).unwrap();
        assert_eq!(
            rows(&out, "low"),
            vec![
                ("small".into(), FieldValue::Int(2), 10),
                ("first".into(), FieldValue::Int(7), 10)
            ]
        );
    }

    #[test]
    fn fewer_points_than_num_gives_them_all_and_an_empty_window_nothing() {
        let bottom = compile("stream|from()|window().period(10s)|bottom(5, 'value')");
        let b = batch(vec![
            point(1, "a", FieldValue::Float(3.0)),
            point(2, "b", FieldValue::Float(-1.0)),
        ]);
        let out = bottom.apply(&b, &mut Vec::new()).unwrap();
        assert_eq!(
            rows(&out, "bottom"),
            vec![
                ("b".into(), FieldValue::Float(-1.0), 10),
                ("a".into(), FieldValue::Float(3.0), 10)
            ]
        );
        assert_eq!(bottom.apply(&batch(Vec::new()), &mut Vec::new()), None);
    }

    #[test]
    fn tag_arguments_do_not_make_points_distinct_as_in_kapacitor() {
        // Kapacitor passes the tags to the reducer as auxiliary values its batch output never
        // reads: two points of host "a" both make the top.
        let top = compile("stream|from()|window().period(10s)|top(2, 'value', 'host')");
        let b = batch(vec![
            point(1, "a", FieldValue::Float(9.0)),
            point(2, "a", FieldValue::Float(8.0)),
            point(3, "b", FieldValue::Float(7.0)),
        ]);
        let out = top.apply(&b, &mut Vec::new()).unwrap();
        assert_eq!(
            rows(&out, "top"),
            vec![
                ("a".into(), FieldValue::Float(9.0), 10),
                ("a".into(), FieldValue::Float(8.0), 10)
            ]
        );
    }

    #[test]
    fn other_types_are_reported_and_left_out() {
        let top = compile("stream|from()|window().period(10s)|top(3, 'value')");
        let b = batch(vec![
            point(1, "a", FieldValue::Float(1.0)),
            point(2, "b", FieldValue::Int(9)),
            point(3, "c", FieldValue::String("x".into())),
        ]);
        let mut errors = Vec::new();
        let out = top.apply(&b, &mut errors).unwrap();
        assert_eq!(
            rows(&out, "top"),
            vec![("a".into(), FieldValue::Float(1.0), 10)]
        );
        assert_eq!(errors.len(), 2, "{errors:?}");
    }

    #[test]
    fn a_stream_set_is_emitted_when_a_later_time_arrives() {
        let mut top = compile("stream|from()|top(1, 'value')");
        let group = Group::nil();
        let mut errors = Vec::new();
        assert_eq!(
            top.point(&point(1, "a", FieldValue::Float(1.0)), &group, &mut errors),
            None
        );
        assert_eq!(
            top.point(&point(1, "b", FieldValue::Float(2.0)), &group, &mut errors),
            None
        );
        let out = top
            .point(&point(2, "c", FieldValue::Float(0.5)), &group, &mut errors)
            .unwrap();
        assert_eq!(
            rows(&out, "top"),
            vec![("b".into(), FieldValue::Float(2.0), 1)]
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn num_must_be_positive() {
        let program = klaxon_tick::compile_script("stream|from()|top(0, 'value')").unwrap();
        assert!(Top::compile(program.nodes.last().unwrap()).is_err());
    }
}
