//! A map from group to a node's per-group state, laid out for a million groups.
//!
//! A `HashMap<GroupId, V>` keeps its entries in its buckets, and hashbrown doubles the bucket
//! count once it is 7/8 full, so just past a power of two (1 000 000 groups is just past 7/8 of
//! 2^20) half the buckets, each as large as an entry, sit empty but resident: about 57 bytes a
//! group of the alert node's 315 (docs/benchmarks.md, state). Here the hash table holds only
//! `u32` positions (5 bytes a bucket with its control byte) and the entries sit densely in a
//! `Vec`, whose unused capacity is never touched and so never resident.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::GroupId;

/// Groups to `V`, densely stored. Removal moves the last entry into the hole, so iteration
/// order is unspecified, as with a `HashMap`.
///
/// Positions are `u32`: four billion groups would take hundreds of gigabytes, far past what
/// `[limits] max-series` lets a task track.
pub(crate) struct GroupMap<V> {
    positions: HashTable<u32>,
    entries: Vec<(GroupId, V)>,
    hasher: RandomState,
}

impl<V> Default for GroupMap<V> {
    fn default() -> Self {
        GroupMap {
            positions: HashTable::new(),
            entries: Vec::new(),
            hasher: RandomState::new(),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for GroupMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<V> GroupMap<V> {
    /// An empty map.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// How many groups the map holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    /// Whether the map holds no group.
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, group: &GroupId) -> Option<usize> {
        let hash = self.hasher.hash_one(group);
        self.positions
            .find(hash, |&at| self.entries[at as usize].0 == *group)
            .map(|&at| at as usize)
    }

    /// Whether `group` has a value.
    pub(crate) fn contains_key(&self, group: &GroupId) -> bool {
        self.position(group).is_some()
    }

    #[cfg(test)]
    /// `group`'s value.
    fn get(&self, group: &GroupId) -> Option<&V> {
        self.position(group).map(|at| &self.entries[at].1)
    }

    /// `group`'s value, to change.
    pub(crate) fn get_mut(&mut self, group: &GroupId) -> Option<&mut V> {
        self.position(group).map(|at| &mut self.entries[at].1)
    }

    /// `group`'s value, made by `make` first when the group has none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        group: &GroupId,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        let at = match self.position(group) {
            Some(at) => at,
            None => self.push(group.clone(), make()),
        };
        &mut self.entries[at].1
    }

    /// Sets `group`'s value; returns the one it replaces.
    pub(crate) fn insert(&mut self, group: GroupId, value: V) -> Option<V> {
        match self.position(&group) {
            Some(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            None => {
                self.push(group, value);
                None
            }
        }
    }

    /// Appends a group the map does not hold; returns its position.
    fn push(&mut self, group: GroupId, value: V) -> usize {
        let at = self.entries.len();
        let position = u32::try_from(at).expect("fewer than 2^32 groups in one node");
        let hash = self.hasher.hash_one(&group);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.positions
            .insert_unique(hash, position, |&p| hasher.hash_one(&entries[p as usize].0));
        self.entries.push((group, value));
        at
    }

    /// Removes `group`; returns its value.
    pub(crate) fn remove(&mut self, group: &GroupId) -> Option<V> {
        let hash = self.hasher.hash_one(group);
        let entries = &self.entries;
        let (at, _) = self
            .positions
            .find_entry(hash, |&at| entries[at as usize].0 == *group)
            .ok()?
            .remove();
        let at = at as usize;
        let last = self.entries.len() - 1;
        if at != last {
            // The last entry moves into the hole: its position follows it.
            let moved = self.hasher.hash_one(&self.entries[last].0);
            if let Some(slot) = self.positions.find_mut(moved, |&p| p as usize == last) {
                *slot = at as u32;
            }
        }
        Some(self.entries.swap_remove(at).1)
    }

    #[cfg(test)]
    /// Every group and its value.
    fn iter(&self) -> impl Iterator<Item = (&GroupId, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        GetOrInsert(u8, u32),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            any::<u8>().prop_map(Op::Remove),
        ]
    }

    fn key(k: u8) -> GroupId {
        // A few long keys too, so that both of SmolStr's layouts are in play.
        if k.is_multiple_of(7) {
            GroupId::from(format!("host=a-rather-long-host-name-{k}"))
        } else {
            GroupId::from(format!("host={k}"))
        }
    }

    proptest! {
        /// The invariant: after any sequence of inserts and removals the map answers every
        /// lookup as a `HashMap` given the same operations does.
        #[test]
        fn behaves_as_a_hash_map(ops in proptest::collection::vec(op(), 0..400)) {
            let mut map = GroupMap::new();
            let mut model = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(map.insert(key(k), v), model.insert(key(k), v));
                    }
                    Op::GetOrInsert(k, v) => {
                        let got = *map.get_or_insert_with(&key(k), || v);
                        prop_assert_eq!(got, *model.entry(key(k)).or_insert(v));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(map.remove(&key(k)), model.remove(&key(k)));
                    }
                }
                prop_assert_eq!(map.len(), model.len());
            }
            for k in 0..=u8::MAX {
                prop_assert_eq!(map.get(&key(k)), model.get(&key(k)));
                prop_assert_eq!(map.contains_key(&key(k)), model.contains_key(&key(k)));
            }
            let mut listed: Vec<_> = map.iter().map(|(k, v)| (k.clone(), *v)).collect();
            let mut expected: Vec<_> = model.into_iter().collect();
            listed.sort();
            expected.sort();
            prop_assert_eq!(listed, expected);
        }
    }

    #[test]
    fn removing_every_group_in_any_order_leaves_it_empty() {
        let mut map = GroupMap::new();
        for k in 0..=u8::MAX {
            map.insert(key(k), u32::from(k));
        }
        for k in (0..=u8::MAX)
            .rev()
            .step_by(2)
            .chain((0..=u8::MAX).step_by(2))
        {
            assert_eq!(map.remove(&key(k)), Some(u32::from(k)));
        }
        assert!(map.is_empty());
        assert_eq!(map.remove(&key(1)), None);
    }
}
