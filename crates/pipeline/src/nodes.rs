//! The stream nodes before the alert node: `from`, `where` and `eval`.

use std::sync::Arc;

use klaxon_core::FieldValue;
use klaxon_tick::{Lambda, Node};

use crate::batch::Group;
use crate::props::{self, once, unknown_property};
use crate::{DefineError, GroupId, Point};

/// `|from()`: selects points by database, retention policy and measurement, filters them with
/// `.where()`, and groups them with `.groupBy()`.
#[derive(Debug)]
pub struct From {
    database: Option<String>,
    retention_policy: Option<String>,
    measurement: Option<String>,
    filter: Option<Lambda>,
    group_by: Vec<String>,
    group_by_all: bool,
    by_measurement: bool,
    /// The `groupBy` keys, sorted and deduplicated (unused with `groupBy(*)`).
    keys: Arc<[String]>,
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
            filter: None,
            group_by: Vec::new(),
            group_by_all: false,
            by_measurement: false,
            keys: Arc::from(Vec::new()),
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
                "where" => {
                    once(&from.filter, p)?;
                    from.filter = Some(props::predicate(p)?);
                }
                "groupBy" => {
                    if p.args.len() == 1 && p.arg(0).is_star() {
                        from.group_by_all = true;
                    } else {
                        from.group_by = props::strings(p)?;
                    }
                }
                "groupByMeasurement" => {
                    p.expect_args(0, 0)?;
                    from.by_measurement = true;
                }
                _ => return Err(unknown_property("from", p, Self::PROPERTIES)),
            }
        }
        let mut keys = from.group_by.clone();
        keys.sort();
        keys.dedup();
        from.keys = Arc::from(keys);
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
            .is_none_or(|db| *db == point.database)
            && self
                .retention_policy
                .as_ref()
                .is_none_or(|rp| *rp == point.retention_policy)
            && self.measurement.as_ref().is_none_or(|m| *m == point.name);
        if !selected {
            return Ok(None);
        }
        if let Some(filter) = &mut self.filter
            && !filter.eval_bool(point).map_err(|e| e.to_string())?
        {
            return Ok(None);
        }
        let keys = if self.group_by_all {
            let mut keys: Vec<String> = point.tags.keys().cloned().collect();
            keys.sort();
            Arc::from(keys)
        } else {
            self.keys.clone()
        };
        Ok(Some(Group {
            id: self.group(point),
            keys,
        }))
    }

    fn group(&self, point: &Point) -> GroupId {
        let mut keys: Vec<&String> = if self.group_by_all {
            point.tags.keys().collect()
        } else {
            self.group_by.iter().collect()
        };
        keys.sort();
        keys.dedup();
        if keys.is_empty() && !self.by_measurement {
            return GroupId::nil();
        }
        let pairs: Vec<String> = keys
            .iter()
            .map(|k| format!("{k}={}", point.tags.get(*k).map_or("", String::as_str)))
            .collect();
        let tags = pairs.join(",");
        if self.by_measurement {
            GroupId(format!("{}\n{tags}", point.name))
        } else {
            GroupId(tags)
        }
    }
}

/// `|where(lambda)`.
#[derive(Debug)]
pub struct Where {
    filter: Lambda,
}

impl Where {
    /// Compiles `|where(lambda: ...)`.
    pub fn compile(node: &Node) -> Result<Where, DefineError> {
        node.expect_args(1, 1)?;
        let expr = node.arg(0).as_lambda()?;
        let filter = klaxon_tick::compile_lambda(expr, &props::compile_options())?;
        filter.require_bool(expr)?;
        if let Some(p) = node.properties.first() {
            return Err(unknown_property("where", p, &[]));
        }
        Ok(Where { filter })
    }

    /// Whether `point` passes.
    pub fn accept(&mut self, point: &Point) -> Result<bool, String> {
        self.filter.eval_bool(point).map_err(|e| e.to_string())
    }
}

/// `|eval(lambdas...).as(names...)` with `.keep()` and `.tags()`.
#[derive(Debug)]
pub struct Eval {
    lambdas: Vec<Lambda>,
    names: Vec<String>,
    keep: Option<Vec<String>>,
    tags: Vec<String>,
}

impl Eval {
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
            lambdas,
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
    /// output point.
    pub fn apply(&mut self, point: &Point) -> Result<Point, String> {
        let mut work = point.clone();
        let mut results = Vec::with_capacity(self.lambdas.len());
        for (lambda, name) in self.lambdas.iter_mut().zip(&self.names) {
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
        match &self.keep {
            None => out.fields.clear(),
            Some(keep) if keep.is_empty() => {}
            Some(keep) => out.fields.retain(|k, _| keep.contains(k)),
        }
        for (name, value) in results {
            if self.tags.contains(&name) {
                let text = match &value {
                    FieldValue::String(s) => s.clone(),
                    other => klaxon_core::json::to_go_string(other),
                };
                out.tags.insert(name, text);
            } else {
                out.fields.insert(name, value);
            }
        }
        Ok(out)
    }
}
