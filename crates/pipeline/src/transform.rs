//! InfluxQL's stream transformations as Kapacitor runs them on points: `|difference('f')`,
//! `|cumulativeSum('f')`, `|movingAverage('f', n)` and `|elapsed('f', unit)`. Each keeps what it
//! needs of a group's earlier points and gives, for a point of the group, a point with the
//! group's tags and one field (named after the node, or `.as()`), at the point's time.

use std::collections::{HashMap, VecDeque};

use klaxon_core::{FieldValue, Timestamp};
use klaxon_tick::Node;

use crate::batch::Group;
use crate::derivative::numeric;
use crate::props::unknown_property;
use crate::{DefineError, GroupId, Point};

/// Which transformation, with its argument.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// The value minus the previous one (integers stay integers).
    Difference,
    /// The sum of the values so far (integers stay integers), from the first point on.
    CumulativeSum,
    /// The mean of the last `n` values, once there are `n`.
    MovingAverage(usize),
    /// The time since the previous point, in whole `unit`s (nanoseconds), as an integer.
    Elapsed(i64),
}

/// What a transformation keeps of a group.
#[derive(Debug, Default)]
struct GroupState {
    previous: Option<(FieldValue, Timestamp)>,
    sum: Option<FieldValue>,
    window: VecDeque<f64>,
}

/// A compiled stream transformation.
#[derive(Debug)]
pub struct Transform {
    kind: Kind,
    field: String,
    output: String,
    groups: HashMap<GroupId, GroupState>,
}

impl Transform {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &GroupId) {
        self.groups.remove(group);
    }

    /// Whether `name` is a node this module compiles.
    pub fn is_transform(name: &str) -> bool {
        matches!(
            name,
            "difference" | "cumulativeSum" | "movingAverage" | "elapsed"
        )
    }

    /// Compiles the node with its arguments and `.as()`.
    pub fn compile(node: &Node) -> Result<Transform, DefineError> {
        let kind = match node.name.as_str() {
            "movingAverage" => {
                node.expect_args(2, 2)?;
                let n = node.arg(1).as_int()?;
                if n < 1 {
                    return Err(DefineError::new(
                        node.span,
                        format!("|movingAverage() needs a window of at least 1 point, got {n}"),
                    ));
                }
                Kind::MovingAverage(usize::try_from(n).unwrap_or(usize::MAX))
            }
            "elapsed" => {
                node.expect_args(2, 2)?;
                let unit = node.arg(1).as_duration()?;
                if unit <= 0 {
                    return Err(DefineError::new(
                        node.span,
                        "|elapsed() needs a positive unit, such as 1s",
                    ));
                }
                Kind::Elapsed(unit)
            }
            "cumulativeSum" => {
                node.expect_args(1, 1)?;
                Kind::CumulativeSum
            }
            _ => {
                node.expect_args(1, 1)?;
                Kind::Difference
            }
        };
        let mut out = Transform {
            kind,
            field: node.arg(0).as_str()?.to_owned(),
            output: node.name.clone(),
            groups: HashMap::new(),
        };
        for p in &node.properties {
            match p.name.as_str() {
                "as" => {
                    p.expect_args(1, 1)?;
                    out.output = p.arg(0).as_str()?.to_owned();
                }
                _ => return Err(unknown_property(&node.name, p, &["as"])),
            }
        }
        Ok(out)
    }

    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Difference => "difference",
            Kind::CumulativeSum => "cumulativeSum",
            Kind::MovingAverage(_) => "movingAverage",
            Kind::Elapsed(_) => "elapsed",
        }
    }

    /// The point to emit for `point` of `group`, if any.
    pub fn apply(&mut self, point: &Point, group: &Group) -> Result<Option<Point>, String> {
        let value = point.fields.get(&self.field).cloned().ok_or_else(|| {
            format!(
                "field {:?} is missing; |{}() needs it",
                self.field,
                self.name()
            )
        })?;
        let (name, field) = (self.name(), &self.field);
        let not_a_number = || format!("|{name}() needs a number in {field:?}");
        let state = self.groups.entry(group.id.clone()).or_default();
        let previous = state.previous.replace((value.clone(), point.time));
        let result = match self.kind {
            Kind::Difference => {
                let Some((previous, _)) = previous else {
                    return Ok(None);
                };
                match (&value, &previous) {
                    (FieldValue::Int(a), FieldValue::Int(b)) => FieldValue::Int(a.wrapping_sub(*b)),
                    (a, b) => match (numeric(Some(a)), numeric(Some(b))) {
                        (Some(a), Some(b)) => FieldValue::Float(a - b),
                        _ => return Err(not_a_number()),
                    },
                }
            }
            Kind::CumulativeSum => {
                let sum = match (&state.sum, &value) {
                    (None | Some(FieldValue::Int(_)), FieldValue::Int(v)) => {
                        FieldValue::Int(match state.sum {
                            Some(FieldValue::Int(s)) => s.wrapping_add(*v),
                            _ => *v,
                        })
                    }
                    (sum, v) => {
                        let v = numeric(Some(v)).ok_or_else(not_a_number)?;
                        FieldValue::Float(numeric(sum.as_ref()).unwrap_or(0.0) + v)
                    }
                };
                state.sum = Some(sum.clone());
                sum
            }
            Kind::MovingAverage(n) => {
                let v = numeric(Some(&value)).ok_or_else(not_a_number)?;
                state.window.push_back(v);
                if state.window.len() > n {
                    state.window.pop_front();
                }
                if state.window.len() < n {
                    return Ok(None);
                }
                FieldValue::Float(state.window.iter().sum::<f64>() / n as f64)
            }
            Kind::Elapsed(unit) => {
                let Some((_, then)) = previous else {
                    return Ok(None);
                };
                FieldValue::Int((point.time.as_nanos() - then.as_nanos()) / unit)
            }
        };
        let mut out = Point::new(&point.database, &point.retention_policy, &point.name, 0);
        out.time = point.time;
        out.tags = group.tags_of(point);
        out.fields.insert(self.output.clone(), result);
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, values: &[(i64, FieldValue)]) -> Vec<Option<FieldValue>> {
        let program = klaxon_tick::compile_script(script).unwrap();
        let mut transform = Transform::compile(&program.nodes[2]).unwrap();
        let output = program.nodes[2]
            .properties
            .iter()
            .find(|p| p.name == "as")
            .map_or(program.nodes[2].name.clone(), |p| {
                p.arg(0).as_str().unwrap().to_owned()
            });
        values
            .iter()
            .map(|(second, v)| {
                let point =
                    Point::new("db", "rp", "m", second * 1_000_000_000).field("f", v.clone());
                transform
                    .apply(&point, &Group::nil())
                    .unwrap()
                    .map(|p| p.fields[&output].clone())
            })
            .collect()
    }

    #[test]
    fn each_transformation_gives_what_influxql_gives() {
        use FieldValue::{Float, Int};
        let ints = [(0, Int(1)), (2, Int(4)), (5, Int(9))];
        assert_eq!(
            run("stream|from()|difference('f')", &ints),
            [None, Some(Int(3)), Some(Int(5))]
        );
        assert_eq!(
            run("stream|from()|cumulativeSum('f').as('s')", &ints),
            [Some(Int(1)), Some(Int(5)), Some(Int(14))]
        );
        assert_eq!(
            run("stream|from()|movingAverage('f', 2)", &ints),
            [None, Some(Float(2.5)), Some(Float(6.5))]
        );
        assert_eq!(
            run("stream|from()|elapsed('f', 1s)", &ints),
            [None, Some(Int(2)), Some(Int(3))]
        );
        assert_eq!(
            run(
                "stream|from()|cumulativeSum('f')",
                &[(0, Float(0.5)), (1, Int(2))]
            ),
            [Some(Float(0.5)), Some(Float(2.5))]
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        for (script, expected) in [
            ("stream|from()|movingAverage('f', 0)", "at least 1 point"),
            ("stream|from()|elapsed('f', 0s)", "positive unit"),
            ("stream|from()|cumulativeSum('f').window(2)", "window"),
        ] {
            let program = klaxon_tick::compile_script(script).unwrap();
            let err = Transform::compile(&program.nodes[2]).unwrap_err();
            assert!(err.to_string().contains(expected), "{script}: {err}");
        }
    }
}
