//! Points as they flow through a task, and the group they belong to.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::{FieldValue, Timestamp};
use smol_str::SmolStr;

/// One data point: what a line of line protocol carries, plus the database and retention policy
/// it was written to.
///
/// ```
/// use klaxon_pipeline::Point;
/// let p = Point::new("telegraf", "autogen", "cpu", 0)
///     .tag("host", "serverA")
///     .field("usage_idle", klaxon_core::FieldValue::Float(5.0));
/// assert_eq!(p.tags["host"], "serverA");
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Point {
    /// The database (`db` of the write). Shared by every point of a write: a body of a million
    /// points holds one copy of it, not a million.
    pub database: Arc<str>,
    /// The retention policy (`rp` of the write, `autogen` when absent), shared like `database`.
    pub retention_policy: Arc<str>,
    /// The measurement.
    pub name: String,
    /// Tags, sorted by key.
    pub tags: BTreeMap<String, String>,
    /// Fields, sorted by key.
    pub fields: BTreeMap<String, FieldValue>,
    /// The point's time.
    pub time: Timestamp,
}

impl Point {
    /// A point with no tags or fields at `time_nanos`.
    pub fn new(database: &str, retention_policy: &str, name: &str, time_nanos: i64) -> Point {
        Point {
            database: Arc::from(database),
            retention_policy: Arc::from(retention_policy),
            name: name.to_owned(),
            tags: BTreeMap::new(),
            fields: BTreeMap::new(),
            time: Timestamp::from_nanos(time_nanos),
        }
    }

    /// Adds a tag.
    #[must_use]
    pub fn tag(mut self, key: &str, value: &str) -> Point {
        self.tags.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Adds a field.
    #[must_use]
    pub fn field(mut self, key: &str, value: FieldValue) -> Point {
        self.fields.insert(key.to_owned(), value);
        self
    }
}

impl klaxon_tick::Point for Point {
    fn field(&self, name: &str) -> Option<klaxon_tick::FieldValue<'_>> {
        self.fields.get(name).map(|value| match value {
            FieldValue::Float(f) => klaxon_tick::FieldValue::Float(*f),
            FieldValue::Int(i) => klaxon_tick::FieldValue::Int(*i),
            FieldValue::UInt(u) => klaxon_tick::FieldValue::UInt(*u),
            FieldValue::String(s) => klaxon_tick::FieldValue::Str(s),
            FieldValue::Bool(b) => klaxon_tick::FieldValue::Bool(*b),
        })
    }

    fn tag(&self, name: &str) -> Option<&str> {
        self.tags.get(name).map(String::as_str)
    }

    fn time(&self) -> i64 {
        self.time.as_nanos()
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// The group a point belongs to after `groupBy`: Kapacitor's group ID, `nil` without grouping,
/// `host=a,region=b` (keys sorted) with it, and `<measurement>\n<k=v,...>` with
/// `groupByMeasurement()`.
///
/// Stored inline up to 23 bytes (most IDs: `host=web-042`), so making one for a point allocates
/// nothing and a node's per-group table holds no separate string; longer IDs are shared behind
/// one reference-counted allocation, so the nodes of a task that keep something per group hold
/// clones of one string.
///
/// ```
/// use klaxon_pipeline::GroupId;
/// let group = GroupId::from("host=a".to_owned());
/// assert_eq!(group.as_str(), "host=a");
/// assert_eq!(GroupId::nil().as_str(), "nil");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub SmolStr);

impl GroupId {
    /// The group of all points when there is no `groupBy`.
    pub fn nil() -> GroupId {
        GroupId(SmolStr::new_static("nil"))
    }

    /// The group ID as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl From<String> for GroupId {
    fn from(id: String) -> GroupId {
        GroupId(SmolStr::from(id))
    }
}

impl From<&str> for GroupId {
    fn from(id: &str) -> GroupId {
        GroupId(SmolStr::new(id))
    }
}
