//! `|default()`: `.field('name', value)` and `.tag('name', 'value')` set what a point lacks (a
//! missing field, a missing or empty tag), as Kapacitor's `DefaultNode`.

use std::collections::BTreeMap;

use klaxon_core::FieldValue;
use klaxon_tick::{ArgValue, Node};

use crate::props::unknown_property;
use crate::{DefineError, Point};

/// A compiled `|default()`.
#[derive(Debug)]
pub struct Default {
    fields: BTreeMap<String, FieldValue>,
    tags: BTreeMap<String, String>,
}

impl Default {
    const PROPERTIES: &'static [&'static str] = &["field", "tag"];

    /// Compiles `|default()` and its `.field()` and `.tag()` calls.
    pub fn compile(node: &Node) -> Result<Default, DefineError> {
        node.expect_args(0, 0)?;
        let mut out = Default {
            fields: BTreeMap::new(),
            tags: BTreeMap::new(),
        };
        for p in &node.properties {
            p.expect_args(2, 2)?;
            let name = p.arg(0).as_str()?.to_owned();
            match p.name.as_str() {
                "field" => {
                    let value = match p.args.get(1).map(|a| &a.value) {
                        Some(ArgValue::Float(f)) => FieldValue::Float(*f),
                        Some(ArgValue::Int(i)) => FieldValue::Int(*i),
                        Some(ArgValue::Str(s)) => FieldValue::String(s.clone()),
                        Some(ArgValue::Bool(b)) => FieldValue::Bool(*b),
                        _ => {
                            return Err(DefineError::new(
                                p.span,
                                ".field() default must be a float, an int, a string or a bool",
                            ));
                        }
                    };
                    out.fields.insert(name, value);
                }
                "tag" => {
                    out.tags.insert(name, p.arg(1).as_str()?.to_owned());
                }
                _ => return Err(unknown_property("default", p, Self::PROPERTIES)),
            }
        }
        Ok(out)
    }

    /// Sets the defaults `point` lacks.
    pub fn apply(&self, point: &mut Point) {
        for (name, value) in &self.fields {
            if !point.fields.contains_key(name) {
                point.fields.insert(name.clone(), value.clone());
            }
        }
        for (name, value) in &self.tags {
            // Kapacitor tests `tags[tag] == ""`: an empty tag gets the default too.
            if point.tags.get(name).is_none_or(String::is_empty) {
                point.tags.insert(name.clone(), value.clone());
            }
        }
    }
}
