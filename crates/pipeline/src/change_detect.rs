//! `|changeDetect('field', ...)`: passes a group's point only when one of the fields differs
//! from the last point it passed (the first point always passes), as Kapacitor's
//! `ChangeDetectNode`.

use std::collections::HashMap;

use klaxon_tick::Node;

use crate::props::unknown_property;
use crate::{DefineError, GroupId, Point};

/// A compiled `|changeDetect()`.
#[derive(Debug)]
pub struct ChangeDetect {
    fields: Vec<String>,
    previous: HashMap<GroupId, Point>,
}

impl ChangeDetect {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.previous.remove(group);
    }

    /// Compiles `|changeDetect('field', ...)`.
    pub fn compile(node: &Node) -> Result<ChangeDetect, DefineError> {
        if node.args.is_empty() {
            return Err(DefineError::new(
                node.span,
                "|changeDetect() needs at least one field name",
            ));
        }
        let fields = (0..node.args.len())
            .map(|i| Ok(node.arg(i).as_str()?.to_owned()))
            .collect::<Result<Vec<_>, DefineError>>()?;
        if let Some(p) = node.properties.first() {
            return Err(unknown_property("changeDetect", p, &[]));
        }
        Ok(ChangeDetect {
            fields,
            previous: HashMap::new(),
        })
    }

    /// Forgets `group`'s previous point: Kapacitor's node starts each batch afresh.
    pub fn reset(&mut self, group: &GroupId) {
        self.previous.remove(group);
    }

    /// Whether `point` of `group` changed one of the fields.
    pub fn accept(&mut self, point: &Point, group: &GroupId) -> bool {
        // A point without the fields tells nothing about them (Kapacitor's test drops it).
        if self.fields.iter().any(|f| !point.fields.contains_key(f)) {
            return false;
        }
        let changed = match self.previous.get(group) {
            None => true,
            Some(previous) => self
                .fields
                .iter()
                .any(|f| previous.fields.get(f) != point.fields.get(f)),
        };
        if changed {
            self.previous.insert(group.clone(), point.clone());
        }
        changed
    }
}
