//! `|httpOut('name')`: keeps the latest output of each group so the engine can serve it at
//! `GET /kapacitor/v1/tasks/<task>/<name>`.

use std::collections::HashMap;

use klaxon_core::{AlertResult, Row};
use klaxon_tick::Node;

use crate::batch::Message;
use crate::props::unknown_property;
use crate::{DefineError, GroupId};

/// A compiled `|httpOut()`.
#[derive(Debug)]
pub struct HttpOut {
    name: String,
    /// One row per group, in the order groups first appeared (as Kapacitor's result).
    rows: Vec<Row>,
    index: HashMap<GroupId, usize>,
}

impl HttpOut {
    /// Compiles `|httpOut('name')`.
    pub fn compile(node: &Node) -> Result<HttpOut, DefineError> {
        node.expect_args(1, 1)?;
        let name = node.arg(0).as_str()?.to_owned();
        if name.is_empty() || name.contains('/') {
            return Err(DefineError::new(
                node.args[0].span,
                format!("|httpOut({name:?}) needs a name without '/' to serve it under"),
            ));
        }
        if let Some(p) = node.properties.first() {
            return Err(unknown_property("httpOut", p, &[]));
        }
        Ok(HttpOut {
            name,
            rows: Vec::new(),
            index: HashMap::new(),
        })
    }

    /// The endpoint name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records `message` as the latest output of `group`.
    pub fn record(&mut self, message: &Message, group: &GroupId) {
        let row = message.to_row();
        match self.index.get(group) {
            Some(i) => self.rows[*i] = row,
            None => {
                self.index.insert(group.clone(), self.rows.len());
                self.rows.push(row);
            }
        }
    }

    /// Forgets `group`'s row (a delete-group message from `|barrier().delete(TRUE)` passed),
    /// as Kapacitor's `httpOutGroup.DeleteGroup`.
    pub fn forget(&mut self, group: &GroupId) {
        let Some(removed) = self.index.remove(group) else {
            return;
        };
        self.rows.remove(removed);
        for i in self.index.values_mut() {
            if *i > removed {
                *i -= 1;
            }
        }
    }

    /// The latest output: `{"series":[...]}`, one row per group.
    pub fn result(&self) -> AlertResult {
        AlertResult {
            series: self.rows.clone(),
        }
    }
}
