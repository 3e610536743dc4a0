//! The groups each node of a task holds: Kapacitor's `working_cardinality` node statistic.
//!
//! Kapacitor runs most nodes behind a grouped consumer (`edge.NewGroupedConsumer`), which makes
//! a receiver for each group the first time a message of that group arrives and forgets it only
//! when a delete-group message (`|barrier().delete(TRUE)`) passes; its gauge is the number of
//! receivers. The nodes without one (`stream`, `from`, `default`, `delete`, `shift`, `union`,
//! `influxDBOut`, `stats`...) report 0, and `|groupBy()` reports the windows it buffers. Klaxon
//! counts the same groups here, by node, whatever state the node itself keeps, so the number
//! does not depend on how a node stores its groups.
//!
//! One exception, for memory: the alert node keeps a state for every group it has seen anyway,
//! so its own table is the count ([`Counting::Own`]) instead of a second set of a million group
//! IDs; only the groups a barrier brought before any point (which have no alert state yet) are
//! kept here, so the figure stays Kapacitor's.

use std::collections::HashSet;

use crate::GroupId;
use crate::counters::NodeCounters;

/// How a node's groups are counted.
#[derive(Debug)]
pub(crate) enum Counting {
    /// Not counted: Kapacitor reports 0.
    No,
    /// The groups the node has seen.
    Seen(HashSet<GroupId>),
    /// The node's own per-group table is the count, plus the groups only a barrier brought.
    Own { barrier_only: HashSet<GroupId> },
}

impl Counting {
    /// How a node counts: not at all, in a set, or (`own`) by its own table.
    pub(crate) fn new(counted: bool, own: bool) -> Counting {
        match (counted, own) {
            (false, _) => Counting::No,
            (true, false) => Counting::Seen(HashSet::new()),
            (true, true) => Counting::Own {
                barrier_only: HashSet::new(),
            },
        }
    }
}

/// What a node that counts its groups by its own table holds: how many groups, and whether it
/// holds a given one (asked only near the limit or for a barrier, so that a point does not pay
/// a second lookup in the node's table).
#[derive(Clone, Copy)]
pub(crate) struct Held<'a> {
    pub(crate) count: usize,
    pub(crate) table: &'a dyn GroupTable,
}

/// A node's own per-group table.
pub(crate) trait GroupTable {
    /// Whether it holds `group`.
    fn holds(&self, group: &GroupId) -> bool;
}

/// The groups seen by each node that counts them, by node index.
#[derive(Debug)]
pub(crate) struct Cardinality {
    nodes: Vec<Counting>,
    /// The most groups one node may hold (`[limits] max-series`).
    max: usize,
}

impl Cardinality {
    /// `nodes[i]`: how node `i` counts its groups; each holds at most `max`.
    pub(crate) fn new(nodes: impl IntoIterator<Item = Counting>, max: usize) -> Cardinality {
        Cardinality {
            nodes: nodes.into_iter().collect(),
            max,
        }
    }

    /// Node `node` receives a message of `group`: whether it may (a group it holds, or a new
    /// one while it holds fewer than the limit, which then counts). `Err` holds the limit
    /// reached. `held` is what an [`Counting::Own`] node holds (ignored for the others).
    pub(crate) fn admit(
        &mut self,
        node: usize,
        group: &GroupId,
        held: Option<Held<'_>>,
        counters: &NodeCounters,
    ) -> Result<(), usize> {
        match self.nodes.get_mut(node) {
            Some(Counting::Seen(groups)) => {
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
            Some(Counting::Own { barrier_only }) => {
                let Some(held) = held else { return Ok(()) };
                if held.count + barrier_only.len() < self.max {
                    return Ok(());
                }
                if held.table.holds(group) || barrier_only.contains(group) {
                    return Ok(());
                }
                if held.count + barrier_only.len() >= self.max {
                    return Err(self.max);
                }
                // Counted once the node has taken it: see `Cardinality::took`.
                Ok(())
            }
            Some(Counting::No) | None => Ok(()),
        }
    }

    /// A [`Counting::Own`] node processed a message of `group` and now holds `count` groups.
    pub(crate) fn took(
        &mut self,
        node: usize,
        group: &GroupId,
        count: usize,
        counters: &NodeCounters,
    ) {
        if let Some(Counting::Own { barrier_only }) = self.nodes.get_mut(node) {
            if !barrier_only.is_empty() {
                barrier_only.remove(group);
            }
            counters.set_cardinality(node, count + barrier_only.len());
        }
    }

    /// Node `node` receives a message of `group` that it cannot refuse (a barrier): a group
    /// new to it counts, past the limit too.
    pub(crate) fn observe(
        &mut self,
        node: usize,
        group: &GroupId,
        held: Option<Held<'_>>,
        counters: &NodeCounters,
    ) {
        match self.nodes.get_mut(node) {
            Some(Counting::Seen(groups)) => {
                if !groups.contains(group) {
                    groups.insert(group.clone());
                    counters.set_cardinality(node, groups.len());
                }
            }
            Some(Counting::Own { barrier_only }) => {
                let Some(held) = held else { return };
                if !held.table.holds(group) && !barrier_only.contains(group) {
                    barrier_only.insert(group.clone());
                    counters.set_cardinality(node, held.count + barrier_only.len());
                }
            }
            Some(Counting::No) | None => {}
        }
    }

    /// Node `node` forgets `group` (a delete-group message passed it); an
    /// [`Counting::Own`] node has forgotten it already and holds `held`.
    pub(crate) fn forget(
        &mut self,
        node: usize,
        group: &GroupId,
        held: Option<Held<'_>>,
        counters: &NodeCounters,
    ) {
        match self.nodes.get_mut(node) {
            Some(Counting::Seen(groups)) => {
                if groups.remove(group) {
                    counters.set_cardinality(node, groups.len());
                }
            }
            Some(Counting::Own { barrier_only }) => {
                barrier_only.remove(group);
                let count = held.map_or(0, |h| h.count);
                counters.set_cardinality(node, count + barrier_only.len());
            }
            Some(Counting::No) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_counts_each_group_once_until_it_forgets_it() {
        let counters = NodeCounters::new(2);
        let mut cardinality =
            Cardinality::new([Counting::No, Counting::new(true, false)], usize::MAX);
        let a = GroupId::from("host=a");
        let b = GroupId::from("host=b");
        for group in [&a, &b, &a] {
            cardinality.observe(0, group, None, &counters);
            cardinality.observe(1, group, None, &counters);
        }
        assert_eq!(counters.get(0).cardinality, 0);
        assert_eq!(counters.get(1).cardinality, 2);
        cardinality.forget(1, &a, None, &counters);
        assert_eq!(counters.get(1).cardinality, 1);
        cardinality.forget(1, &a, None, &counters);
        assert_eq!(counters.get(1).cardinality, 1);
    }

    #[test]
    fn past_the_limit_a_new_group_is_refused_and_the_held_ones_go_on() {
        let counters = NodeCounters::new(2);
        let mut cardinality = Cardinality::new([Counting::No, Counting::new(true, false)], 2);
        let [a, b, c] = ["a", "b", "c"].map(|h| GroupId::from(format!("host={h}")));
        assert_eq!(cardinality.admit(1, &a, None, &counters), Ok(()));
        assert_eq!(cardinality.admit(1, &b, None, &counters), Ok(()));
        assert_eq!(cardinality.admit(1, &c, None, &counters), Err(2));
        assert_eq!(cardinality.admit(1, &a, None, &counters), Ok(()));
        assert_eq!(counters.get(1).cardinality, 2);
        // A node that does not count its groups holds nothing per group: no limit.
        assert_eq!(cardinality.admit(0, &c, None, &counters), Ok(()));
        // A forgotten group makes room.
        cardinality.forget(1, &a, None, &counters);
        assert_eq!(cardinality.admit(1, &c, None, &counters), Ok(()));
    }

    #[test]
    fn a_node_counted_by_its_own_table_adds_only_the_groups_a_barrier_brought() {
        let counters = NodeCounters::new(1);
        let mut cardinality = Cardinality::new([Counting::new(true, true)], 3);
        let [a, b, c, d] = ["a", "b", "c", "d"].map(|h| GroupId::from(format!("host={h}")));
        struct Table(bool);
        impl GroupTable for Table {
            fn holds(&self, _: &GroupId) -> bool {
                self.0
            }
        }
        let (yes, no) = (Table(true), Table(false));
        let held = |group: bool, count| {
            Some(Held {
                count,
                table: if group { &yes } else { &no },
            })
        };
        // The node took a and b: its table holds 2.
        assert_eq!(cardinality.admit(0, &a, held(false, 0), &counters), Ok(()));
        cardinality.took(0, &a, 1, &counters);
        cardinality.took(0, &b, 2, &counters);
        assert_eq!(counters.get(0).cardinality, 2);
        // A barrier of c, which the node has no state for, counts; one of a does not again.
        cardinality.observe(0, &c, held(false, 2), &counters);
        cardinality.observe(0, &a, held(true, 2), &counters);
        assert_eq!(counters.get(0).cardinality, 3);
        // Full: a new group is refused, c (barrier only) and a (held) go on.
        assert_eq!(cardinality.admit(0, &d, held(false, 2), &counters), Err(3));
        assert_eq!(cardinality.admit(0, &c, held(false, 2), &counters), Ok(()));
        assert_eq!(cardinality.admit(0, &a, held(true, 2), &counters), Ok(()));
        // c's point reaches the node: now in its table, no longer counted twice.
        cardinality.took(0, &c, 3, &counters);
        assert_eq!(counters.get(0).cardinality, 3);
        // The node forgot a.
        cardinality.forget(0, &a, held(false, 2), &counters);
        assert_eq!(counters.get(0).cardinality, 2);
    }
}
