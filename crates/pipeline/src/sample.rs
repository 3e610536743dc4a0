//! `|sample(n)` or `|sample(d)`: keeps every `n`-th point of each group (the first, then every
//! `n`), or the points whose time is a multiple of `d`, as Kapacitor's `SampleNode`.

use std::collections::HashMap;

use klaxon_tick::{ArgValue, Node};

use crate::props::unknown_property;
use crate::{DefineError, GroupId, Point};

/// A compiled `|sample()`.
#[derive(Debug)]
pub struct Sample {
    rate: Rate,
    counts: HashMap<GroupId, i64>,
}

#[derive(Debug, Clone, Copy)]
enum Rate {
    Count(i64),
    Every(i64),
}

impl Sample {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.counts.remove(group);
    }

    /// Compiles `|sample(10)` or `|sample(10s)`.
    pub fn compile(node: &Node) -> Result<Sample, DefineError> {
        node.expect_args(1, 1)?;
        let rate = match node.args[0].value {
            ArgValue::Int(n) if n > 0 => Rate::Count(n),
            ArgValue::Duration(d) if d > 0 => Rate::Every(d),
            _ => {
                return Err(DefineError::new(
                    node.args[0].span,
                    "|sample() takes a positive count (sample(10)) or duration (sample(10s))",
                ));
            }
        };
        if let Some(p) = node.properties.first() {
            return Err(unknown_property("sample", p, &[]));
        }
        Ok(Sample {
            rate,
            counts: HashMap::new(),
        })
    }

    /// Whether `point` of `group` is kept.
    pub fn accept(&mut self, point: &Point, group: &GroupId) -> bool {
        match self.rate {
            Rate::Every(d) => point.time.as_nanos().rem_euclid(d) == 0,
            Rate::Count(n) => {
                let count = self.counts.entry(group.clone()).or_default();
                let keep = *count % n == 0;
                *count += 1;
                keep
            }
        }
    }
}
