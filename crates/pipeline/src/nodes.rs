//! The stream nodes before the alert node: `from`, `where` and `eval`.

use klaxon_core::FieldValue;
use klaxon_tick::{Lambda, Node};

use crate::batch::Group;
use crate::group_by::Grouping;
use crate::per_group::GroupLambdas;
use crate::props::{self, unknown_property};
use crate::{DefineError, GroupId, Point};

/// `|from()`: selects points by database, retention policy and measurement, filters them with
/// `.where()`, and groups them with `.groupBy()`.
#[derive(Debug)]
pub struct From {
    database: Option<String>,
    retention_policy: Option<String>,
    measurement: Option<String>,
    /// The `.where()` expressions, ANDed (Kapacitor: "multiple calls are ANDed").
    filters: Vec<Lambda>,
    grouping: Grouping,
}

impl From {
    const PROPERTIES: &'static [&'static str] = &[
        "database",
        "retentionPolicy",
        "measurement",
        "where",
        "groupBy",
        "groupByMeasurement",
    ];

    /// Compiles `|from()` and its properties.
    pub fn compile(node: &Node) -> Result<From, DefineError> {
        node.expect_args(0, 0)?;
        let mut from = From {
            database: None,
            retention_policy: None,
            measurement: None,
            filters: Vec::new(),
            grouping: Grouping::default(),
        };
        for p in &node.properties {
            let single = |p: &klaxon_tick::Property| -> Result<String, DefineError> {
                p.expect_args(1, 1)?;
                Ok(p.arg(0).as_str()?.to_owned())
            };
            match p.name.as_str() {
                "database" => from.database = Some(single(p)?),
                "retentionPolicy" => from.retention_policy = Some(single(p)?),
                "measurement" => from.measurement = Some(single(p)?),
                "where" => from.filters.push(props::predicate(p)?),
                "groupBy" => from.grouping.set_keys(p)?,
                "groupByMeasurement" => {
                    p.expect_args(0, 0)?;
                    from.grouping.by_measurement();
                }
                _ => return Err(unknown_property("from", p, Self::PROPERTIES)),
            }
        }
        Ok(from)
    }

    /// The measurement this node selects, if it names one (used to route points).
    pub fn measurement(&self) -> Option<&str> {
        self.measurement.as_deref()
    }

    /// Whether `point` passes; its group when it does. A `.where()` that fails to evaluate drops
    /// the point and reports why.
    pub fn accept(&mut self, point: &Point) -> Result<Option<Group>, String> {
        let selected = self
            .database
            .as_ref()
            .is_none_or(|db| **db == *point.database)
            && self
                .retention_policy
                .as_ref()
                .is_none_or(|rp| **rp == *point.retention_policy)
            && self.measurement.as_ref().is_none_or(|m| *m == point.name);
        if !selected {
            return Ok(None);
        }
        for filter in &mut self.filters {
            if !filter.eval_bool(point).map_err(|e| e.to_string())? {
                return Ok(None);
            }
        }
        Ok(Some(self.grouping.group(point)))
    }
}

/// `|where(lambda)`; a stateful expression keeps its state per group.
#[derive(Debug)]
pub struct Where {
    filter: GroupLambdas,
}

impl Where {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.filter.forget(group);
    }

    /// Compiles `|where(lambda: ...)`.
    pub fn compile(node: &Node) -> Result<Where, DefineError> {
        node.expect_args(1, 1)?;
        let expr = node.arg(0).as_lambda()?;
        let filter = klaxon_tick::compile_lambda(expr, &props::compile_options())?;
        filter.require_bool(expr)?;
        if let Some(p) = node.properties.first() {
            return Err(unknown_property("where", p, &[]));
        }
        Ok(Where {
            filter: GroupLambdas::new(vec![filter]),
        })
    }

    /// Whether `point` of `group` passes.
    pub fn accept(&mut self, point: &Point, group: &GroupId) -> Result<bool, String> {
        self.filter.for_group(group)[0]
            .eval_bool(point)
            .map_err(|e| e.to_string())
    }
}

/// `|eval(lambdas...).as(names...)` with `.keep()` and `.tags()`; stateful expressions keep
/// their state per group.
#[derive(Debug)]
pub struct Eval {
    lambdas: GroupLambdas,
    names: Vec<String>,
    keep: Option<Vec<String>>,
    tags: Vec<String>,
}

impl Eval {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.lambdas.forget(group);
    }

    const PROPERTIES: &'static [&'static str] = &["as", "keep", "tags"];

    /// Compiles `|eval(...)` and its properties.
    pub fn compile(node: &Node) -> Result<Eval, DefineError> {
        if node.args.is_empty() {
            return Err(DefineError::new(
                node.span,
                "|eval() needs at least one lambda expression",
            ));
        }
        let lambdas = (0..node.args.len())
            .map(|i| {
                let expr = node.arg(i).as_lambda()?;
                Ok(klaxon_tick::compile_lambda(
                    expr,
                    &props::compile_options(),
                )?)
            })
            .collect::<Result<Vec<_>, DefineError>>()?;
        let mut eval = Eval {
            lambdas: GroupLambdas::new(lambdas),
            names: Vec::new(),
            keep: None,
            tags: Vec::new(),
        };
        let mut as_span = node.span;
        for p in &node.properties {
            match p.name.as_str() {
                "as" => {
                    eval.names = props::strings(p)?;
                    as_span = p.span;
                }
                "keep" => eval.keep = Some(props::strings(p)?),
                "tags" => eval.tags = props::strings(p)?,
                _ => return Err(unknown_property("eval", p, Self::PROPERTIES)),
            }
        }
        if eval.names.len() != eval.lambdas.len() {
            return Err(DefineError::new(
                as_span,
                format!(
                    "|eval() has {} expressions but .as() names {}; give one name per expression",
                    eval.lambdas.len(),
                    eval.names.len()
                ),
            ));
        }
        Ok(eval)
    }

    /// Evaluates the expressions in order (each sees the results before it) and builds the
    /// output point as Kapacitor's `EvalNode.eval` does: without `.keep()` only the results
    /// (those named in `.tags()` become tags instead, and must be strings); with `.keep()` the
    /// point's fields and every result; with `.keep('a', ...)` exactly the listed fields, each a
    /// result or else a field of the point.
    pub fn apply(&mut self, point: &Point, group: &GroupId) -> Result<Point, String> {
        let mut work = point.clone();
        let mut results = Vec::with_capacity(self.lambdas.len());
        let lambdas = self.lambdas.for_group(group);
        for (lambda, name) in lambdas.iter_mut().zip(&self.names) {
            let value = lambda.eval(&work).map_err(|e| e.to_string())?;
            let value = match value {
                klaxon_tick::Value::Int(i)
                | klaxon_tick::Value::Duration(i)
                | klaxon_tick::Value::Time(i) => FieldValue::Int(i),
                klaxon_tick::Value::Float(f) => FieldValue::Float(f),
                klaxon_tick::Value::String(s) => FieldValue::String(s),
                klaxon_tick::Value::Bool(b) => FieldValue::Bool(b),
            };
            work.fields.insert(name.clone(), value.clone());
            results.push((name.clone(), value));
        }
        let mut out = point.clone();
        for name in &self.tags {
            let Some((_, value)) = results.iter().rev().find(|(n, _)| n == name) else {
                continue;
            };
            let FieldValue::String(text) = value else {
                return Err(format!(
                    "result of a tag expression must be of type string, got {}",
                    type_name(value)
                ));
            };
            out.tags.insert(name.clone(), text.clone());
        }
        match &self.keep {
            None => {
                out.fields.clear();
                for (name, value) in results {
                    if !self.tags.contains(&name) {
                        out.fields.insert(name, value);
                    }
                }
            }
            Some(keep) if keep.is_empty() => out.fields.extend(results),
            Some(keep) => {
                let mut fields = std::collections::BTreeMap::new();
                for name in keep {
                    // The results first, then the point's own fields, as Kapacitor looks them up.
                    let value = match results.iter().rev().find(|(n, _)| n == name) {
                        Some((_, value)) => value.clone(),
                        None => point.fields.get(name).cloned().ok_or_else(|| {
                            format!("cannot keep field {name:?}, field does not exist")
                        })?,
                    };
                    fields.insert(name.clone(), value);
                }
                out.fields = fields;
            }
        }
        Ok(out)
    }
}

/// Go's name of a field value's type, for errors worded as Kapacitor's.
fn type_name(value: &FieldValue) -> &'static str {
    match value {
        FieldValue::Float(_) => "float64",
        FieldValue::Int(_) => "int64",
        FieldValue::UInt(_) => "uint64",
        FieldValue::String(_) => "string",
        FieldValue::Bool(_) => "bool",
    }
}
