//! `|derivative('field')`: the rate of change of a field per group, with `.unit()` (default 1s),
//! `.nonNegative()` and `.as()` (default: the field itself), as Kapacitor's `DerivativeNode`:
//! each point after a group's first gets `(value - previous) / (elapsed / unit)`; a point at the
//! same time as the previous, or with a negative change under `.nonNegative()`, emits nothing.
//! On a batch (a window, a batch query's series) the same is done within the batch, from its
//! first point, as Kapacitor's node starts each batch afresh.

use std::collections::HashMap;

use klaxon_core::FieldValue;
use klaxon_tick::Node;

use crate::batch::Batch;
use crate::props::{self, unknown_property};
use crate::{DefineError, GroupId, Point};

/// A compiled `|derivative()`.
#[derive(Debug)]
pub struct Derivative {
    field: String,
    output: String,
    unit: i64,
    non_negative: bool,
    /// Per group: the previous point's time and value.
    previous: HashMap<GroupId, (i64, f64)>,
}

impl Derivative {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.previous.remove(group);
    }

    const PROPERTIES: &'static [&'static str] = &["as", "nonNegative", "unit"];

    /// Compiles `|derivative('field')` and its properties.
    pub fn compile(node: &Node) -> Result<Derivative, DefineError> {
        node.expect_args(1, 1)?;
        let field = node.arg(0).as_str()?.to_owned();
        let mut out = Derivative {
            output: field.clone(),
            field,
            unit: 1_000_000_000,
            non_negative: false,
            previous: HashMap::new(),
        };
        for p in &node.properties {
            match p.name.as_str() {
                "as" => out.output = props::string(p)?,
                "unit" => out.unit = props::positive_duration(p)?,
                "nonNegative" => {
                    p.expect_args(0, 0)?;
                    out.non_negative = true;
                }
                _ => return Err(unknown_property("derivative", p, Self::PROPERTIES)),
            }
        }
        Ok(out)
    }

    /// The point to emit for `point` of `group`, if any.
    pub fn apply(&mut self, point: &Point, group: &GroupId) -> Result<Option<Point>, String> {
        let value = numeric(point.fields.get(&self.field)).ok_or_else(|| {
            format!(
                "cannot perform derivative: field {:?} is missing or not a number",
                self.field
            )
        })?;
        let time = point.time.as_nanos();
        let previous = self.previous.insert(group.clone(), (time, value));
        let Some((before, old)) = previous else {
            return Ok(None);
        };
        let elapsed = (time - before) as f64;
        if elapsed == 0.0 {
            return Err("cannot perform derivative: elapsed time was 0".to_owned());
        }
        let diff = value - old;
        if self.non_negative && diff < 0.0 {
            return Ok(None);
        }
        let mut out = point.clone();
        out.fields.insert(
            self.output.clone(),
            FieldValue::Float(diff / (elapsed / self.unit as f64)),
        );
        Ok(Some(out))
    }
}

impl Derivative {
    /// The derivative of each point of `batch` after its first, within the batch; a point
    /// without the field is reported in `errors` and left out.
    pub fn batch(&self, batch: &Batch, errors: &mut Vec<String>) -> Batch {
        let mut previous: Option<(i64, f64)> = None;
        let mut points = Vec::with_capacity(batch.points.len());
        for point in &batch.points {
            let Some(value) = numeric(point.fields.get(&self.field)) else {
                errors.push(format!(
                    "cannot perform derivative: field {:?} is missing or not a number",
                    self.field
                ));
                continue;
            };
            let time = point.time.as_nanos();
            let Some((before, old)) = previous.replace((time, value)) else {
                continue;
            };
            let elapsed = (time - before) as f64;
            if elapsed == 0.0 {
                errors.push("cannot perform derivative: elapsed time was 0".to_owned());
                continue;
            }
            let diff = value - old;
            if self.non_negative && diff < 0.0 {
                continue;
            }
            let mut out = point.clone();
            out.fields.insert(
                self.output.clone(),
                FieldValue::Float(diff / (elapsed / self.unit as f64)),
            );
            points.push(out);
        }
        Batch {
            name: batch.name.clone(),
            tags: batch.tags.clone(),
            time: batch.time,
            points,
        }
    }
}

/// A number field as a float, as Kapacitor's `numToFloat`.
pub fn numeric(value: Option<&FieldValue>) -> Option<f64> {
    match value? {
        FieldValue::Float(f) => Some(*f),
        FieldValue::Int(i) => Some(*i as f64),
        FieldValue::UInt(u) => Some(*u as f64),
        _ => None,
    }
}
