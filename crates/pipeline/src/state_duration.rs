//! `|stateDuration(lambda)`: how long each group has been in the state the expression tests, as
//! Kapacitor's `StateDurationNode`: the field (`state_duration`, or `.as()`) is the time since
//! the first point of the current run of true points, in `.unit()`s (default 1s, a float), and
//! -1 for a point outside the state. An expression that fails drops the point.

use std::collections::HashMap;

use klaxon_core::FieldValue;
use klaxon_tick::Node;

use crate::per_group::GroupLambdas;
use crate::props::{self, unknown_property};
use crate::{DefineError, GroupId, Point};

/// A compiled `|stateDuration()`.
#[derive(Debug)]
pub struct StateDuration {
    predicate: GroupLambdas,
    output: String,
    unit: i64,
    /// Per group: when the current run of true points started.
    started: HashMap<GroupId, Option<i64>>,
}

impl StateDuration {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.started.remove(group);
        self.predicate.forget(group);
    }

    const PROPERTIES: &'static [&'static str] = &["as", "unit"];

    /// Compiles `|stateDuration(lambda: ...)` and its properties.
    pub fn compile(node: &Node) -> Result<StateDuration, DefineError> {
        let predicate = crate::state_count::predicate(node)?;
        let mut out = StateDuration {
            predicate: GroupLambdas::new(vec![predicate]),
            output: "state_duration".to_owned(),
            unit: 1_000_000_000,
            started: HashMap::new(),
        };
        for p in &node.properties {
            match p.name.as_str() {
                "as" => out.output = props::string(p)?,
                "unit" => out.unit = props::positive_duration(p)?,
                _ => return Err(unknown_property("stateDuration", p, Self::PROPERTIES)),
            }
        }
        Ok(out)
    }

    /// Forgets `group`'s state: Kapacitor's node starts each batch afresh.
    pub fn reset(&mut self, group: &GroupId) {
        self.started.remove(group);
    }

    /// `point` with the state's duration added.
    pub fn apply(&mut self, point: &Point, group: &GroupId) -> Result<Point, String> {
        let pass = self.predicate.for_group(group)[0]
            .eval_bool(point)
            .map_err(|e| e.to_string())?;
        let started = self.started.entry(group.clone()).or_default();
        let time = point.time.as_nanos();
        let value = if pass {
            let start = *started.get_or_insert(time);
            (time - start) as f64 / self.unit as f64
        } else {
            *started = None;
            -1.0
        };
        let mut out = point.clone();
        out.fields
            .insert(self.output.clone(), FieldValue::Float(value));
        Ok(out)
    }
}
