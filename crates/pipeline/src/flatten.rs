//! `|flatten()`: a group's points of one time (within `.tolerance()`) flattened into one whose
//! fields are named by the `.on()` tag values, `.delimiter()`, and the field name (or the tag
//! values alone with `.dropOriginalFieldName()`), as Kapacitor's `FlattenNode` (flatten.go).
//! A group's points are flattened when a point of a later time arrives, at the end of a
//! window, or when a barrier passes their time.

use std::collections::{BTreeMap, HashMap};

use klaxon_core::{FieldValue, Timestamp};
use klaxon_tick::Node;

use crate::batch::{Batch, Group};
use crate::joining::{self, round};
use crate::props::{self, unknown_property};
use crate::{DefineError, GroupId, Point};

/// A compiled `|flatten()` and the points of each group's current time.
#[derive(Debug)]
pub struct Flatten {
    on: Vec<String>,
    delimiter: String,
    tolerance: i64,
    drop_original_field_name: bool,
    buffers: HashMap<GroupId, Buffer>,
}

/// One group's points of one time (Kapacitor's `flattenBuffer`).
#[derive(Debug)]
struct Buffer {
    /// `None` at the start of a window (Kapacitor's zero time).
    time: Option<i64>,
    name: String,
    points: Vec<Point>,
}

impl Flatten {
    const PROPERTIES: &'static [&'static str] =
        &["on", "delimiter", "tolerance", "dropOriginalFieldName"];

    /// Compiles `|flatten()` and its properties.
    pub fn compile(node: &Node) -> Result<Flatten, DefineError> {
        node.expect_args(0, 0)?;
        let mut on = Vec::new();
        let mut delimiter = ".".to_owned();
        let mut tolerance = 0;
        let mut drop_original_field_name = false;
        for p in &node.properties {
            match p.name.as_str() {
                "on" => on = props::strings(p)?,
                "delimiter" => delimiter = joining::delimiter(p)?,
                "tolerance" => tolerance = joining::tolerance(p)?,
                "dropOriginalFieldName" => {
                    p.expect_args(0, 1)?;
                    drop_original_field_name = p.args.is_empty() || p.arg(0).as_bool()?;
                }
                _ => return Err(unknown_property("flatten", p, Self::PROPERTIES)),
            }
        }
        Ok(Flatten {
            on,
            delimiter,
            tolerance,
            drop_original_field_name,
            buffers: HashMap::new(),
        })
    }

    /// Takes a point of `group`; returns the flattened point of the group's previous time when
    /// this one starts a new time. Points missing an `.on()` tag go to `errors`.
    pub fn point(
        &mut self,
        point: &Point,
        group: &Group,
        errors: &mut Vec<String>,
    ) -> Option<Point> {
        let t = round(point.time.as_nanos(), self.tolerance);
        let mut buffer = self.buffers.remove(&group.id).unwrap_or_else(|| Buffer {
            time: Some(t),
            name: point.name.clone(),
            points: Vec::new(),
        });
        let mut point = point.clone();
        point.time = Timestamp::from_nanos(t);
        let out = self.add(&mut buffer, point, errors).map(|(time, fields)| {
            self.flat_point(&buffer.name, group, &buffer.points, fields, time)
        });
        self.buffers.insert(group.id.clone(), buffer);
        out
    }

    /// Takes a window of `group`: its points flattened time by time into a window of the
    /// flattened points.
    pub fn batch(&mut self, batch: &Batch, errors: &mut Vec<String>) -> Batch {
        let mut buffer = Buffer {
            time: None,
            name: batch.name.clone(),
            points: Vec::new(),
        };
        let mut points = Vec::new();
        let mut emit = |time: i64, fields: BTreeMap<String, FieldValue>, like: Option<&Point>| {
            points.push(Point {
                database: like.map(|p| p.database.clone()).unwrap_or_default(),
                retention_policy: like.map(|p| p.retention_policy.clone()).unwrap_or_default(),
                name: batch.name.clone(),
                tags: batch.tags.clone(),
                fields,
                time: Timestamp::from_nanos(time),
            });
        };
        for p in &batch.points {
            let mut p = p.clone();
            p.time = Timestamp::from_nanos(round(p.time.as_nanos(), self.tolerance));
            if let Some((time, fields)) = self.add(&mut buffer, p, errors) {
                emit(time, fields, batch.points.first());
            }
        }
        if !buffer.points.is_empty() {
            let fields = self.flatten(&buffer.points, errors);
            emit(
                buffer.time.unwrap_or_default(),
                fields,
                batch.points.first(),
            );
        }
        Batch {
            name: batch.name.clone(),
            tags: batch.tags.clone(),
            time: batch.time,
            points,
        }
    }

    /// A barrier of `group` at `time`: the group's points, when older, are flattened now.
    pub fn barrier(
        &mut self,
        group: &Group,
        time: Timestamp,
        errors: &mut Vec<String>,
    ) -> Option<Point> {
        let mut buffer = self.buffers.remove(&group.id)?;
        let mut out = None;
        if Some(time.as_nanos()) > buffer.time && !buffer.points.is_empty() {
            let fields = self.flatten(&buffer.points, errors);
            let t = buffer.time.unwrap_or_default();
            out = Some(self.flat_point(&buffer.name, group, &buffer.points, fields, t));
            buffer.points.clear();
        }
        self.buffers.insert(group.id.clone(), buffer);
        out
    }

    /// Drops the points kept for `group` (a deleted group).
    pub fn forget(&mut self, group: &GroupId) {
        if let Some(buffer) = self.buffers.get_mut(group) {
            buffer.points.clear();
        }
    }

    /// Kapacitor's `addPoint`: a point of a new time flattens the buffered ones, returned with
    /// their time.
    fn add(
        &self,
        buffer: &mut Buffer,
        point: Point,
        errors: &mut Vec<String>,
    ) -> Option<(i64, BTreeMap<String, FieldValue>)> {
        let t = point.time.as_nanos();
        let mut out = None;
        if buffer.time != Some(t) {
            if !buffer.points.is_empty() {
                let fields = self.flatten(&buffer.points, errors);
                out = Some((buffer.time.unwrap_or_default(), fields));
                buffer.points.clear();
            }
            buffer.time = Some(t);
        }
        buffer.points.push(point);
        // Kapacitor emits only when the flattened fields are not empty.
        out.filter(|(_, fields)| !fields.is_empty())
    }

    /// The fields of `points` named by their `.on()` tag values. A point missing one of the
    /// tags is left out and reported. (Kapacitor keeps such a point's partial prefix for the
    /// next point's names, which misnames them; here each point starts afresh.)
    fn flatten(&self, points: &[Point], errors: &mut Vec<String>) -> BTreeMap<String, FieldValue> {
        let mut fields = BTreeMap::new();
        'points: for p in points {
            let mut prefix = String::new();
            for (i, tag) in self.on.iter().enumerate() {
                let Some(value) = p.tags.get(tag) else {
                    errors.push(format!(
                        "point missing tag for flatten operation: tag {tag} is missing from point"
                    ));
                    continue 'points;
                };
                if i > 0 {
                    prefix.push_str(&self.delimiter);
                }
                prefix.push_str(value);
            }
            for (name, value) in &p.fields {
                let key = if self.drop_original_field_name {
                    prefix.clone()
                } else if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}{}{name}", self.delimiter)
                };
                fields.insert(key, value.clone());
            }
        }
        fields
    }

    /// The flattened point of a stream: the group's tags only, as Kapacitor's.
    fn flat_point(
        &self,
        name: &str,
        group: &Group,
        like: &[Point],
        fields: BTreeMap<String, FieldValue>,
        time: i64,
    ) -> Point {
        let first = like.first();
        Point {
            database: first.map(|p| p.database.clone()).unwrap_or_default(),
            retention_policy: first
                .map(|p| p.retention_policy.clone())
                .unwrap_or_default(),
            name: name.to_owned(),
            tags: first.map(|p| group.tags_of(p)).unwrap_or_default(),
            fields,
            time: Timestamp::from_nanos(time),
        }
    }
}
