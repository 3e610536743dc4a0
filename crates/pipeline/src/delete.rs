//! `|delete()`: `.field('name')` and `.tag('name')` remove fields and tags, as Kapacitor's
//! `DeleteNode`.

use klaxon_tick::Node;

use crate::props::unknown_property;
use crate::{DefineError, Point};

/// A compiled `|delete()`.
#[derive(Debug)]
pub struct Delete {
    fields: Vec<String>,
    tags: Vec<String>,
}

impl Delete {
    const PROPERTIES: &'static [&'static str] = &["field", "tag"];

    /// Compiles `|delete()` and its `.field()` and `.tag()` calls.
    pub fn compile(node: &Node) -> Result<Delete, DefineError> {
        node.expect_args(0, 0)?;
        let mut out = Delete {
            fields: Vec::new(),
            tags: Vec::new(),
        };
        for p in &node.properties {
            p.expect_args(1, 1)?;
            let name = p.arg(0).as_str()?.to_owned();
            match p.name.as_str() {
                "field" => out.fields.push(name),
                "tag" => out.tags.push(name),
                _ => return Err(unknown_property("delete", p, Self::PROPERTIES)),
            }
        }
        Ok(out)
    }

    /// The tags this node deletes (they also leave the group).
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// Removes the fields and tags from `point`.
    pub fn apply(&self, point: &mut Point) {
        for name in &self.fields {
            point.fields.remove(name);
        }
        for name in &self.tags {
            point.tags.remove(name);
        }
    }
}
