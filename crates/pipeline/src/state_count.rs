//! `|stateCount(lambda)`: how many consecutive points of each group are in the state the
//! expression tests, as Kapacitor's `StateCountNode`: the field (`state_count`, or `.as()`) is
//! 1, 2, 3... along a run of true points and -1 for a point outside the state. An expression
//! that fails drops the point.

use std::collections::HashMap;

use klaxon_core::FieldValue;
use klaxon_tick::{Lambda, Node};

use crate::per_group::GroupLambdas;
use crate::props::{self, unknown_property};
use crate::{DefineError, GroupId, Point};

/// A compiled `|stateCount()`.
#[derive(Debug)]
pub struct StateCount {
    predicate: GroupLambdas,
    output: String,
    counts: HashMap<GroupId, i64>,
}

/// The one lambda argument of a state-tracking node, as a bool predicate.
pub fn predicate(node: &Node) -> Result<Lambda, DefineError> {
    node.expect_args(1, 1)?;
    let expr = node.arg(0).as_lambda()?;
    let lambda = klaxon_tick::compile_lambda(expr, &props::compile_options())?;
    lambda.require_bool(expr)?;
    Ok(lambda)
}

impl StateCount {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.counts.remove(group);
        self.predicate.forget(group);
    }

    /// Compiles `|stateCount(lambda: ...)` and `.as()`.
    pub fn compile(node: &Node) -> Result<StateCount, DefineError> {
        let mut out = StateCount {
            predicate: GroupLambdas::new(vec![predicate(node)?]),
            output: "state_count".to_owned(),
            counts: HashMap::new(),
        };
        for p in &node.properties {
            match p.name.as_str() {
                "as" => {
                    p.expect_args(1, 1)?;
                    out.output = p.arg(0).as_str()?.to_owned();
                }
                _ => return Err(unknown_property("stateCount", p, &["as"])),
            }
        }
        Ok(out)
    }

    /// Forgets `group`'s count: Kapacitor's node starts each batch afresh.
    pub fn reset(&mut self, group: &GroupId) {
        self.counts.remove(group);
    }

    /// `point` with the state's count added.
    pub fn apply(&mut self, point: &Point, group: &GroupId) -> Result<Point, String> {
        let pass = self.predicate.for_group(group)[0]
            .eval_bool(point)
            .map_err(|e| e.to_string())?;
        let count = self.counts.entry(group.clone()).or_default();
        let value = if pass {
            *count += 1;
            *count
        } else {
            *count = 0;
            -1
        };
        let mut out = point.clone();
        out.fields
            .insert(self.output.clone(), FieldValue::Int(value));
        Ok(out)
    }
}
