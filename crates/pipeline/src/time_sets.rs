//! InfluxQL nodes (the aggregates, `top`, `bottom`) on a stream, as Kapacitor runs them: the
//! points of a group that share a time form a set, and the set is complete, and handed on as a
//! batch, when a point of that group with another time arrives.

use std::collections::HashMap;

use crate::batch::{Batch, Group};
use crate::{GroupId, Point};

/// Each group's set of points at its current time, not yet complete.
#[derive(Debug, Default)]
pub struct TimeSets {
    pending: HashMap<GroupId, Batch>,
}

impl TimeSets {
    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.pending.remove(group);
    }

    /// Adds `point` of `group`: the group's previous set when `point` starts a new one.
    pub fn point(&mut self, point: &Point, group: &Group) -> Option<Batch> {
        match self.pending.get_mut(&group.id) {
            Some(set) if set.time == point.time => {
                set.points.push(point.clone());
                None
            }
            Some(set) => Some(std::mem::replace(set, new_set(point, group))),
            None => {
                self.pending.insert(group.id.clone(), new_set(point, group));
                None
            }
        }
    }
}

fn new_set(point: &Point, group: &Group) -> Batch {
    Batch {
        name: point.name.clone(),
        tags: group.tags_of(point),
        time: point.time,
        points: vec![point.clone()],
    }
}
