//! Lambdas with state kept per group, as Kapacitor keeps it in `|where()`, `|eval()`,
//! `|stateDuration()`, `|stateCount()` and `|combine()`: each group gets its own copy of the
//! node's expressions (`CopyReset` in Kapacitor), so `count()` or `sigma()` in
//! `groupBy('host')|eval(...)` counts per host.

use std::collections::HashMap;

use klaxon_tick::Lambda;

use crate::GroupId;

/// A node's compiled lambdas and, when one of them is stateful, a fresh copy per group.
#[derive(Debug)]
pub struct GroupLambdas {
    template: Vec<Lambda>,
    stateful: bool,
    groups: HashMap<GroupId, Vec<Lambda>>,
}

impl GroupLambdas {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.groups.remove(group);
    }

    /// The node's lambdas, as compiled.
    pub fn new(template: Vec<Lambda>) -> GroupLambdas {
        let stateful = template.iter().any(Lambda::is_stateful);
        GroupLambdas {
            template,
            stateful,
            groups: HashMap::new(),
        }
    }

    /// The lambdas to evaluate for `group`: the group's own copies when they keep state, the
    /// node's otherwise (nothing to keep apart, and no copy per group).
    pub fn for_group(&mut self, group: &GroupId) -> &mut [Lambda] {
        if !self.stateful {
            return &mut self.template;
        }
        if !self.groups.contains_key(group) {
            let fresh = self.template.iter().map(Lambda::fresh).collect();
            self.groups.insert(group.clone(), fresh);
        }
        self.groups
            .get_mut(group)
            .map_or(&mut [], Vec::as_mut_slice)
    }

    /// How many lambdas the node has.
    pub fn len(&self) -> usize {
        self.template.len()
    }
}
