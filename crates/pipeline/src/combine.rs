//! `|combine(lambda, lambda...)`: every combination of a group's points of one time (within
//! `.tolerance()`) that the lambdas select in order, each joined into one point whose fields and
//! non-group tags are named prefix (`.as()`), `.delimiter()`, name, as Kapacitor's `CombineNode`
//! (combine.go). A group's points are combined when a point of a later time arrives (or, from
//! windows, at the end of each window), and `.max()` bounds the combinations tried.

use std::collections::{BTreeMap, HashMap};

use klaxon_core::Timestamp;
use klaxon_tick::Node;

use crate::batch::{Batch, Group};
use crate::joining;
use crate::per_group::GroupLambdas;
use crate::props::{self, unknown_property};
use crate::{DefineError, GroupId, Point};

/// Kapacitor's default `.max()`.
const DEFAULT_MAX: i64 = 1_000_000;

/// A compiled `|combine()` and the points of each group's current time.
#[derive(Debug)]
pub struct Combine {
    lambdas: GroupLambdas,
    names: Vec<String>,
    delimiter: String,
    tolerance: i64,
    max: i64,
    buffers: HashMap<GroupId, Buffer>,
}

/// One group's points of one time (Kapacitor's `combineBuffer`).
#[derive(Debug)]
struct Buffer {
    /// `None` at the start of a window (Kapacitor's zero time).
    time: Option<i64>,
    name: String,
    points: Vec<Point>,
}

impl Combine {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its buffered points and its stateful lambdas.
    pub fn forget(&mut self, group: &GroupId) {
        self.buffers.remove(group);
        self.lambdas.forget(group);
    }

    const PROPERTIES: &'static [&'static str] = &["as", "delimiter", "tolerance", "max"];

    /// Compiles `|combine(...)` and its properties.
    pub fn compile(node: &Node) -> Result<Combine, DefineError> {
        if node.args.is_empty() {
            return Err(DefineError::new(
                node.span,
                "|combine() needs a lambda per point to combine, e.g. |combine(lambda: \"service\" == 'auth', lambda: TRUE)",
            ));
        }
        let mut lambdas = Vec::with_capacity(node.args.len());
        for i in 0..node.args.len() {
            let expr = node.arg(i).as_lambda()?;
            let lambda = klaxon_tick::compile_lambda(expr, &props::compile_options())?;
            lambda.require_bool(expr)?;
            lambdas.push(lambda);
        }
        let mut names: Option<Vec<String>> = None;
        let mut delimiter = ".".to_owned();
        let mut tolerance = 0;
        let mut max = DEFAULT_MAX;
        for p in &node.properties {
            match p.name.as_str() {
                "as" => {
                    props::once(&names, p)?;
                    names = Some(props::strings(p)?);
                }
                "delimiter" => delimiter = joining::delimiter(p)?,
                "tolerance" => tolerance = joining::tolerance(p)?,
                "max" => {
                    p.expect_args(1, 1)?;
                    max = p.arg(0).as_int()?;
                }
                _ => return Err(unknown_property("combine", p, Self::PROPERTIES)),
            }
        }
        if delimiter.is_empty() {
            // Kapacitor refuses it too: every name contains the empty string.
            return Err(DefineError::new(
                node.span,
                "|combine() needs a .delimiter() that is not empty",
            ));
        }
        let names = joining::prefixes(node, names, lambdas.len(), "lambda", &delimiter)?;
        Ok(Combine {
            lambdas: GroupLambdas::new(lambdas),
            names,
            delimiter,
            tolerance,
            max,
            buffers: HashMap::new(),
        })
    }

    /// Takes a point of `group`; returns the combinations of the group's previous time when
    /// this point starts a new one. Lambda errors and too many combinations go to `errors`.
    pub fn point(&mut self, point: &Point, group: &Group, errors: &mut Vec<String>) -> Vec<Point> {
        let mut out = Vec::new();
        let mut buffer = self.buffers.remove(&group.id).unwrap_or_else(|| Buffer {
            time: Some(point.time.as_nanos()),
            name: point.name.clone(),
            points: Vec::new(),
        });
        self.add(&mut buffer, point.clone(), group, errors, &mut out);
        self.buffers.insert(group.id.clone(), buffer);
        out
    }

    /// Takes a window of `group`: its points are combined time by time, the last time at the
    /// window's end.
    pub fn batch(&mut self, batch: &Batch, group: &Group, errors: &mut Vec<String>) -> Vec<Point> {
        let mut out = Vec::new();
        let mut buffer = Buffer {
            time: None,
            name: batch.name.clone(),
            points: Vec::new(),
        };
        for p in &batch.points {
            self.add(&mut buffer, p.clone(), group, errors, &mut out);
        }
        self.combine(&buffer, group, errors, &mut out);
        out
    }

    fn add(
        &mut self,
        buffer: &mut Buffer,
        mut point: Point,
        group: &Group,
        errors: &mut Vec<String>,
        out: &mut Vec<Point>,
    ) {
        let t = joining::round(point.time.as_nanos(), self.tolerance);
        point.time = Timestamp::from_nanos(t);
        if buffer.time == Some(t) {
            buffer.points.push(point);
        } else {
            self.combine(buffer, group, errors, out);
            buffer.time = Some(t);
            buffer.points.clear();
            buffer.points.push(point);
        }
    }

    /// Emits every combination of the buffered points that the lambdas select, in Kapacitor's
    /// order (index combinations in lexicographic order; each lambda takes the first point of
    /// the combination it selects that an earlier lambda did not take).
    fn combine(
        &mut self,
        buffer: &Buffer,
        group: &Group,
        errors: &mut Vec<String>,
        out: &mut Vec<Point>,
    ) {
        let points = &buffer.points;
        if points.is_empty() {
            return;
        }
        let k = self.names.len();
        let lambdas = self.lambdas.for_group(&group.id);
        let matches: Vec<Vec<bool>> = lambdas
            .iter_mut()
            .map(|lambda| {
                points
                    .iter()
                    .map(|p| {
                        lambda.eval_bool(p).unwrap_or_else(|e| {
                            errors.push(format!("error evaluating lambda expression: {e}"));
                            false
                        })
                    })
                    .collect()
            })
            .collect();
        let n = points.len();
        let Some(count) = combinations(n, k) else {
            return;
        };
        if count > self.max {
            errors.push(format!(
                "refusing to perform combination as total combinations {count} exceeds max combinations {}",
                self.max
            ));
            return;
        }
        let mut indices: Vec<usize> = (0..k).collect();
        loop {
            let mut left = indices.clone();
            let mut set = Vec::with_capacity(k);
            for lambda_matches in &matches {
                let Some(pos) = left.iter().position(|i| lambda_matches[*i]) else {
                    break;
                };
                set.push(&points[left.remove(pos)]);
            }
            if set.len() == k {
                out.push(self.merge(&set, &buffer.name, group));
            }
            // The next combination of k indexes out of n.
            let Some(i) = (0..k).rev().find(|i| indices[*i] != i + n - k) else {
                return;
            };
            indices[i] += 1;
            for j in i + 1..k {
                indices[j] = indices[j - 1] + 1;
            }
        }
    }

    /// One point of a combination: fields and non-group tags prefixed, group tags as they are,
    /// the first point's time.
    fn merge(&self, set: &[&Point], name: &str, group: &Group) -> Point {
        let mut fields = BTreeMap::new();
        let mut tags = BTreeMap::new();
        for (i, p) in set.iter().enumerate() {
            let prefix = &self.names[i];
            for (k, v) in &p.fields {
                fields.insert(format!("{prefix}{}{k}", self.delimiter), v.clone());
            }
            for (k, v) in &p.tags {
                if group.keys.contains(k) {
                    tags.insert(k.clone(), v.clone());
                } else {
                    tags.insert(format!("{prefix}{}{k}", self.delimiter), v.clone());
                }
            }
        }
        Point {
            database: set[0].database.clone(),
            retention_policy: set[0].retention_policy.clone(),
            name: name.to_owned(),
            tags,
            fields,
            time: set[0].time,
        }
    }
}

/// n choose k; `None` when k > n (nothing to combine). Saturates at `i64::MAX`, above any
/// `.max()`.
fn combinations(n: usize, k: usize) -> Option<i64> {
    if n < k {
        return None;
    }
    let mut count: i128 = 1;
    for i in 0..k {
        count = count * (n - i) as i128 / (i + 1) as i128;
        if count > i128::from(i64::MAX) {
            return Some(i64::MAX);
        }
    }
    Some(i64::try_from(count).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_combinations() {
        assert_eq!(combinations(3, 2), Some(3));
        assert_eq!(combinations(4, 3), Some(4));
        assert_eq!(combinations(2, 3), None);
        assert_eq!(combinations(10_000, 5), Some(832_500_291_625_002_000));
    }
}
