//! Grouping: `|from().groupBy()` and the `|groupBy()` node (`.byMeasurement()`, `.exclude()`),
//! which regroups points, and splits windows into one per new group, as Kapacitor's
//! `GroupByNode`.

use std::sync::Arc;

use klaxon_tick::Node;

use crate::batch::{Batch, Group, Message};
use crate::props::{self, unknown_property};
use crate::{DefineError, GroupId, Point};

/// How points are grouped: by tag keys, or by every tag (`*`) less the excluded ones, and
/// optionally by measurement.
#[derive(Debug, Clone, Default)]
pub struct Grouping {
    /// The tag keys, sorted and deduplicated (unused with `*`).
    keys: Arc<[String]>,
    all: bool,
    exclude: Vec<String>,
    by_measurement: bool,
}

impl Grouping {
    /// Reads `.groupBy(...)`'s arguments: tag names, or `*`.
    pub fn set_keys(&mut self, property: &klaxon_tick::Property) -> Result<(), DefineError> {
        if property.args.len() == 1 && property.arg(0).is_star() {
            self.all = true;
        } else {
            let mut keys = props::strings(property)?;
            keys.sort();
            keys.dedup();
            self.keys = Arc::from(keys);
        }
        Ok(())
    }

    /// Groups by measurement too (`.groupByMeasurement()`, `.byMeasurement()`).
    pub fn by_measurement(&mut self) {
        self.by_measurement = true;
    }

    /// The group of `point`: Kapacitor's group ID (`nil`, `host=a,region=b`, or
    /// `<measurement>\n<tags>`) and its tag keys.
    pub fn group(&self, point: &Point) -> Group {
        let keys: Arc<[String]> = if self.all {
            point
                .tags
                .keys()
                .filter(|k| !self.exclude.contains(k))
                .cloned()
                .collect()
        } else {
            self.keys.clone()
        };
        if keys.is_empty() && !self.by_measurement {
            return Group {
                id: GroupId::nil(),
                keys,
            };
        }
        // Written into one reused buffer, then one allocation for the shared ID: this runs for
        // every point of a grouped task.
        thread_local! {
            static ID: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let id = ID.with_borrow_mut(|id| {
            id.clear();
            if self.by_measurement {
                id.push_str(&point.name);
                id.push('\n');
            }
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    id.push(',');
                }
                id.push_str(key);
                id.push('=');
                id.push_str(point.tags.get(key).map_or("", String::as_str));
            }
            GroupId::from(id.as_str())
        });
        Group { id, keys }
    }
}

/// `group` without the tag keys in `removed` (`|delete().tag()` of a group tag), recomputed
/// for `point`; the same group when it has none of them.
pub fn without_keys(group: &Group, removed: &[String], point: &Point) -> Option<Group> {
    if !group.keys.iter().any(|k| removed.contains(k)) {
        return None;
    }
    let grouping = Grouping {
        keys: group
            .keys
            .iter()
            .filter(|k| !removed.contains(k))
            .cloned()
            .collect(),
        by_measurement: group.id.0.contains('\n'),
        ..Grouping::default()
    };
    Some(grouping.group(point))
}

/// A compiled `|groupBy()` node.
#[derive(Debug)]
pub struct GroupBy {
    grouping: Grouping,
    /// Windows regrouped but not yet emitted, and their time: Kapacitor's `GroupByNode` merges
    /// the windows of one time (from every upstream group) into the new groups and emits them
    /// when a window of another time arrives.
    pending: Vec<(Batch, Group)>,
    pending_time: Option<klaxon_core::Timestamp>,
}

impl GroupBy {
    const PROPERTIES: &'static [&'static str] = &["byMeasurement", "exclude"];

    /// Compiles `|groupBy('tag', ...)` or `|groupBy(*)` and its properties.
    pub fn compile(node: &Node) -> Result<GroupBy, DefineError> {
        let mut grouping = Grouping::default();
        let args = klaxon_tick::Property {
            name: node.name.clone(),
            args: node.args.clone(),
            span: node.span,
        };
        grouping.set_keys(&args)?;
        for p in &node.properties {
            match p.name.as_str() {
                "byMeasurement" => {
                    p.expect_args(0, 0)?;
                    grouping.by_measurement();
                }
                "exclude" => grouping.exclude.extend(props::strings(p)?),
                _ => return Err(unknown_property("groupBy", p, Self::PROPERTIES)),
            }
        }
        Ok(GroupBy {
            grouping,
            pending: Vec::new(),
            pending_time: None,
        })
    }

    /// The windows it holds for their time to end, one per new group: its
    /// `working_cardinality`, as Kapacitor's `GroupByNode` reports the groups it buffers (none
    /// on a stream, whose points it passes on at once).
    pub fn pending_groups(&self) -> usize {
        self.pending.len()
    }

    /// A barrier at `time` arrives: the windows buffered for another time go on, as a window
    /// of a new time would send them (Kapacitor's `GroupByNode.Barrier`).
    pub fn barrier(&mut self, time: klaxon_core::Timestamp) -> Vec<(Message, Group)> {
        if self.pending_time == Some(time) {
            return Vec::new();
        }
        self.pending_time = Some(time);
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(mut b, g)| {
                b.points.sort_by_key(|p| p.time);
                (Message::Batch(b), g)
            })
            .collect()
    }

    /// Forgets the windows buffered for `group` (a delete-group message passed).
    pub fn forget(&mut self, group: &GroupId) {
        self.pending.retain(|(_, g)| g.id != *group);
    }

    /// What to pass on for `message`: a point in its new group at once; for a window, the
    /// windows of the previous time (one per new group, points in time order) once a window of
    /// another time arrives, this one's points kept for its own time.
    pub fn apply(&mut self, message: &Message) -> Vec<(Message, Group)> {
        let batch = match message {
            Message::Point(point) => {
                return vec![(Message::Point(point.clone()), self.grouping.group(point))];
            }
            Message::Batch(batch) => batch,
        };
        let mut out = Vec::new();
        if self.pending_time != Some(batch.time) {
            out = std::mem::take(&mut self.pending)
                .into_iter()
                .map(|(mut b, g)| {
                    b.points.sort_by_key(|p| p.time);
                    (Message::Batch(b), g)
                })
                .collect();
            self.pending_time = Some(batch.time);
        }
        for point in &batch.points {
            let group = self.grouping.group(point);
            let found = self.pending.iter().position(|(_, g)| g.id == group.id);
            let i = match found {
                Some(i) => i,
                None => {
                    let tags = group.tags_of(point);
                    let regrouped = Batch {
                        name: batch.name.clone(),
                        tags,
                        time: batch.time,
                        points: Vec::new(),
                    };
                    self.pending.push((regrouped, group));
                    self.pending.len() - 1
                }
            };
            self.pending[i].0.points.push(point.clone());
        }
        out
    }
}
