//! The groups each node of a task holds: Kapacitor's `working_cardinality` node statistic.
//!
//! Kapacitor runs most nodes behind a grouped consumer (`edge.NewGroupedConsumer`), which makes
//! a receiver for each group the first time a message of that group arrives and forgets it only
//! when a delete-group message (`|barrier().delete(TRUE)`) passes; its gauge is the number of
//! receivers. The nodes without one (`stream`, `from`, `default`, `delete`, `shift`, `union`,
//! `influxDBOut`, `stats`...) report 0, and `|groupBy()` reports the windows it buffers. Klaxon
//! counts the same groups here, by node, whatever state the node itself keeps, so the number
//! does not depend on how a node stores its groups.

use std::collections::HashSet;

use crate::GroupId;
use crate::counters::NodeCounters;

/// The groups seen by each node that counts them, by node index.
#[derive(Debug)]
pub(crate) struct Cardinality {
    nodes: Vec<Option<HashSet<GroupId>>>,
    /// The most groups one node may hold (`[limits] max-series`).
    max: usize,
}

impl Cardinality {
    /// `counted[i]`: whether node `i` counts its groups; each holds at most `max`.
    pub(crate) fn new(counted: impl IntoIterator<Item = bool>, max: usize) -> Cardinality {
        Cardinality {
            nodes: counted.into_iter().map(|c| c.then(HashSet::new)).collect(),
            max,
        }
    }

    /// Node `node` receives a message of `group`: whether it may (a group it holds, or a new
    /// one while it holds fewer than the limit, which then counts). `Err` holds the limit
    /// reached.
    pub(crate) fn admit(
        &mut self,
        node: usize,
        group: &GroupId,
        counters: &NodeCounters,
    ) -> Result<(), usize> {
        let Some(Some(groups)) = self.nodes.get_mut(node) else {
            return Ok(());
        };
        if groups.contains(group) {
            return Ok(());
        }
        if groups.len() >= self.max {
            return Err(self.max);
        }
        groups.insert(group.clone());
        counters.set_cardinality(node, groups.len());
        Ok(())
    }

    /// Node `node` receives a message of `group` that it cannot refuse (a barrier): a group
    /// new to it counts, past the limit too.
    pub(crate) fn observe(&mut self, node: usize, group: &GroupId, counters: &NodeCounters) {
        let Some(Some(groups)) = self.nodes.get_mut(node) else {
            return;
        };
        if !groups.contains(group) {
            groups.insert(group.clone());
            counters.set_cardinality(node, groups.len());
        }
    }

    /// Node `node` forgets `group` (a delete-group message passed it).
    pub(crate) fn forget(&mut self, node: usize, group: &GroupId, counters: &NodeCounters) {
        if let Some(Some(groups)) = self.nodes.get_mut(node)
            && groups.remove(group)
        {
            counters.set_cardinality(node, groups.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_counts_each_group_once_until_it_forgets_it() {
        let counters = NodeCounters::new(2);
        let mut cardinality = Cardinality::new([false, true], usize::MAX);
        let a = GroupId("host=a".into());
        let b = GroupId("host=b".into());
        for group in [&a, &b, &a] {
            cardinality.observe(0, group, &counters);
            cardinality.observe(1, group, &counters);
        }
        assert_eq!(counters.get(0).cardinality, 0);
        assert_eq!(counters.get(1).cardinality, 2);
        cardinality.forget(1, &a, &counters);
        assert_eq!(counters.get(1).cardinality, 1);
        cardinality.forget(1, &a, &counters);
        assert_eq!(counters.get(1).cardinality, 1);
    }

    #[test]
    fn past_the_limit_a_new_group_is_refused_and_the_held_ones_go_on() {
        let counters = NodeCounters::new(2);
        let mut cardinality = Cardinality::new([false, true], 2);
        let [a, b, c] = ["a", "b", "c"].map(|h| GroupId::from(format!("host={h}")));
        assert_eq!(cardinality.admit(1, &a, &counters), Ok(()));
        assert_eq!(cardinality.admit(1, &b, &counters), Ok(()));
        assert_eq!(cardinality.admit(1, &c, &counters), Err(2));
        assert_eq!(cardinality.admit(1, &a, &counters), Ok(()));
        assert_eq!(counters.get(1).cardinality, 2);
        // A node that does not count its groups holds nothing per group: no limit.
        assert_eq!(cardinality.admit(0, &c, &counters), Ok(()));
        // A forgotten group makes room.
        cardinality.forget(1, &a, &counters);
        assert_eq!(cardinality.admit(1, &c, &counters), Ok(()));
    }
}
