//! `|sideload()` with a file source (`.source('file:///dir')`, `.order()`, `.field()`,
//! `.tag()`): sets fields and tags of each point from YAML or JSON files, as Kapacitor's
//! `SideloadNode`. `.order()` templates over the point's tags name the files to look in, first
//! first; a key no file has takes the default given with it.
//!
//! The pipeline reads no files: the engine loads the source's files when the task starts
//! ([`crate::Task::sideload_sources`], [`crate::Task::resolve_sideload`]), as Kapacitor's
//! sideload service loads them when the task is created.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;
use klaxon_core::FieldValue;
use klaxon_tick::{ArgValue, Node, Property};

use crate::alert::{render_text, text_template};
use crate::props::{string, unknown_property};
use crate::{DefineError, Point};

/// A source's files: the path of each relative to the source directory (`t0/a.yml`) and the
/// values it holds, as JSON (Go's decoding: every number a float).
pub type SideloadFiles = BTreeMap<String, serde_json::Map<String, serde_json::Value>>;

/// A compiled `|sideload()`.
pub struct Sideload {
    /// The source directory (absolute).
    dir: String,
    order: Vec<(String, Arc<gotmpl::Template>)>,
    fields: Vec<(String, FieldValue)>,
    tags: Vec<(String, String)>,
    files: Option<Arc<SideloadFiles>>,
    span: klaxon_tick::Span,
}

impl std::fmt::Debug for Sideload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let order: Vec<&str> = self.order.iter().map(|(text, _)| text.as_str()).collect();
        f.debug_struct("Sideload")
            .field("dir", &self.dir)
            .field("order", &order)
            .field("fields", &self.fields)
            .field("tags", &self.tags)
            .field("loaded", &self.files.is_some())
            .finish()
    }
}

impl Sideload {
    const PROPERTIES: &'static [&'static str] = &["source", "order", "field", "tag"];

    /// Compiles `|sideload()` and its properties; the source must be a `file://` URL of an
    /// absolute directory.
    pub fn compile(node: &Node) -> Result<Sideload, DefineError> {
        node.expect_args(0, 0)?;
        let mut dir = None;
        let mut order = Vec::new();
        let (mut fields, mut tags) = (Vec::new(), Vec::new());
        for p in &node.properties {
            match p.name.as_str() {
                "source" => dir = Some(source_dir(p)?),
                "order" => {
                    for i in 0..p.args.len() {
                        let text = p.arg(i).as_str()?;
                        let template = text_template("order", text).map_err(|e| {
                            DefineError::new(
                                p.args[i].span,
                                format!(".order() template {text:?} is invalid: {e}"),
                            )
                        })?;
                        order.push((text.to_owned(), Arc::new(template)));
                    }
                }
                "field" => {
                    p.expect_args(2, 2)?;
                    let key = p.arg(0).as_str()?.to_owned();
                    let default = match &p.args[1].value {
                        ArgValue::Int(i) => FieldValue::Int(*i),
                        ArgValue::Float(f) => FieldValue::Float(*f),
                        ArgValue::Bool(b) => FieldValue::Bool(*b),
                        ArgValue::Str(s) => FieldValue::String(s.clone()),
                        _ => {
                            return Err(DefineError::new(
                                p.args[1].span,
                                ".field() takes a key and a default: a number, a string or a bool, e.g. .field('cpu_limit', 0.0)",
                            ));
                        }
                    };
                    fields.push((key, default));
                }
                "tag" => {
                    p.expect_args(2, 2)?;
                    let key = p.arg(0).as_str()?.to_owned();
                    tags.push((key, p.arg(1).as_str()?.to_owned()));
                }
                _ => return Err(unknown_property("sideload", p, Self::PROPERTIES)),
            }
        }
        let Some(dir) = dir else {
            return Err(DefineError::new(
                node.span,
                "|sideload() needs .source('file:///absolute/dir')",
            ));
        };
        Ok(Sideload {
            dir,
            order,
            fields,
            tags,
            files: None,
            span: node.span,
        })
    }

    /// The source directory the engine loads.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// Where the node is in the script.
    pub fn span(&self) -> klaxon_tick::Span {
        self.span
    }

    /// Gives the node its source's files.
    pub fn resolve(&mut self, files: Arc<SideloadFiles>) {
        self.files = Some(files);
    }

    /// Sets the point's fields and tags from the files (or their defaults), with what went
    /// wrong: as Kapacitor's node, a value of the wrong type leaves the default, and an order
    /// template that fails to render leaves the point as it is; the point goes on either way.
    pub fn apply(&self, point: &Point) -> (Point, Option<String>) {
        let tags: BTreeMap<Arc<str>, Value> = point
            .tags
            .iter()
            .map(|(k, v)| (Arc::from(k.as_str()), Value::String(v.as_str().into())))
            .collect();
        let data = Value::Map(Arc::new(tags));
        let mut paths = Vec::with_capacity(self.order.len());
        for (text, template) in &self.order {
            match render_text(template, &data) {
                Ok(path) => paths.push(path),
                Err(e) => {
                    let problem = format!("failed to evaluate order template {text:?}: {e}");
                    return (point.clone(), Some(problem));
                }
            }
        }
        let mut out = point.clone();
        let mut problems = Vec::new();
        for (key, default) in &self.fields {
            let value = match self.lookup(&paths, key) {
                None => default.clone(),
                Some(found) => convert_field(found, default).unwrap_or_else(|e| {
                    problems.push(format!("failed to load key {key:?}: {e}"));
                    default.clone()
                }),
            };
            out.fields.insert(key.clone(), value);
        }
        for (key, default) in &self.tags {
            let value = match self.lookup(&paths, key) {
                None => default.clone(),
                Some(found) => convert_tag(found).unwrap_or_else(|e| {
                    problems.push(format!("failed to load key {key:?}: {e}"));
                    default.clone()
                }),
            };
            out.tags.insert(key.clone(), value);
        }
        let problems = (!problems.is_empty()).then(|| problems.join("; "));
        (out, problems)
    }

    /// Kapacitor's `fileSource.Lookup`: the key's value in the first file of `paths` that has
    /// it.
    fn lookup(&self, paths: &[String], key: &str) -> Option<&serde_json::Value> {
        let files = self.files.as_ref()?;
        paths
            .iter()
            .find_map(|path| files.get(path).and_then(|values| values.get(key)))
    }
}

/// The directory of `.source('file:///dir')`.
fn source_dir(p: &Property) -> Result<String, DefineError> {
    let source = string(p)?;
    let Some(dir) = source.strip_prefix("file://") else {
        return Err(DefineError::new(
            p.span,
            format!(
                ".source({source:?}): this server reads sideload files only; give a file:// URL of an absolute directory, e.g. 'file:///etc/klaxon/sideload'"
            ),
        ));
    };
    if !dir.starts_with('/') {
        return Err(DefineError::new(
            p.span,
            format!(".source({source:?}): the directory must be absolute, as file:///path"),
        ));
    }
    Ok(dir.trim_end_matches('/').to_owned())
}

/// Kapacitor's `convertType` to the default's type, the file's numbers being floats.
fn convert_field(value: &serde_json::Value, default: &FieldValue) -> Result<FieldValue, String> {
    use serde_json::Value as J;
    let mismatch = || {
        format!(
            "cannot convert {value} to the type of the default {}",
            match default {
                FieldValue::Int(_) => "int",
                FieldValue::Float(_) => "float",
                FieldValue::Bool(_) => "bool",
                FieldValue::String(_) | FieldValue::UInt(_) => "string",
            }
        )
    };
    Ok(match (default, value) {
        (FieldValue::Int(_), J::Number(n)) => {
            let f = n.as_f64().ok_or_else(mismatch)?;
            let i = f as i64;
            if i as f64 != f {
                return Err(mismatch());
            }
            FieldValue::Int(i)
        }
        (FieldValue::Int(_), J::String(s)) => FieldValue::Int(s.parse().map_err(|_| mismatch())?),
        (FieldValue::Float(_), J::Number(n)) => FieldValue::Float(n.as_f64().ok_or_else(mismatch)?),
        (FieldValue::Float(_), J::String(s)) => {
            FieldValue::Float(s.parse().map_err(|_| mismatch())?)
        }
        (FieldValue::Bool(_), J::Bool(b)) => FieldValue::Bool(*b),
        (FieldValue::Bool(_), J::String(s)) => FieldValue::Bool(go_bool(s).ok_or_else(mismatch)?),
        (FieldValue::String(_) | FieldValue::UInt(_), other) => {
            FieldValue::String(convert_tag(other).map_err(|_| mismatch())?)
        }
        _ => return Err(mismatch()),
    })
}

/// A tag's value from the file: strings as they are, numbers and bools as Go formats them.
fn convert_tag(value: &serde_json::Value) -> Result<String, String> {
    use serde_json::Value as J;
    match value {
        J::String(s) => Ok(s.clone()),
        J::Bool(b) => Ok(b.to_string()),
        J::Number(n) => n
            .as_f64()
            .map(|f| format!("{f}"))
            .ok_or_else(|| format!("cannot convert {n} to a string")),
        other => Err(format!("cannot convert {other} to a string")),
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sideload(script: &str) -> Result<Sideload, DefineError> {
        let program = klaxon_tick::compile_script(script).expect("the script compiles");
        Sideload::compile(&program.nodes[2])
    }

    fn files() -> Arc<SideloadFiles> {
        let file = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
        Arc::new(BTreeMap::from([
            (
                "hosts/a.yml".to_owned(),
                file(json!({"limit": 2, "team": "ops"})),
            ),
            (
                "default.yml".to_owned(),
                file(json!({"limit": 9.5, "on": "yes"})),
            ),
        ]))
    }

    #[test]
    fn the_first_file_in_order_with_the_key_wins_else_the_default() {
        let mut node = sideload(
            "stream|from()|sideload().source('file:///s').order('hosts/{{.host}}.yml', 'default.yml')\
             .field('limit', 0).field('other', 1.5).tag('team', 'none')",
        )
        .unwrap();
        assert_eq!(node.dir(), "/s");
        node.resolve(files());
        let a = Point::new("db", "rp", "cpu", 0).tag("host", "a");
        let (out, problem) = node.apply(&a);
        assert_eq!(problem, None);
        assert_eq!(out.fields["limit"], FieldValue::Int(2));
        assert_eq!(out.fields["other"], FieldValue::Float(1.5));
        assert_eq!(out.tags["team"], "ops");
        // No hosts/b.yml: default.yml's 9.5 is no int, so the default stays, with the error.
        let b = Point::new("db", "rp", "cpu", 0).tag("host", "b");
        let (out, problem) = node.apply(&b);
        assert_eq!(out.fields["limit"], FieldValue::Int(0));
        let problem = problem.unwrap_or_default();
        assert!(
            problem.contains("failed to load key \"limit\""),
            "{problem}"
        );
    }

    #[test]
    fn only_absolute_file_sources_are_taken() {
        let err = sideload("stream|from()|sideload().source('http://x/y')").unwrap_err();
        assert!(
            err.message
                .contains("this server reads sideload files only"),
            "{}",
            err.message
        );
        let err = sideload("stream|from()|sideload().source('file://rel/dir')").unwrap_err();
        assert!(err.message.contains("must be absolute"), "{}", err.message);
        let err = sideload("stream|from()|sideload()").unwrap_err();
        assert_eq!(
            err.message,
            "|sideload() needs .source('file:///absolute/dir')"
        );
    }
}
