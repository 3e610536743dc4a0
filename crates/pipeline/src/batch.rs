//! Batches: the points of one window of one group, as `|window()` emits them and the nodes after
//! it consume them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use klaxon_core::{Row, RowValue, Timestamp};

use crate::{GroupId, Point};

/// The group a message belongs to: Kapacitor's group ID and the tag keys it was built from, so a
/// window can give its batch the group's tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The group ID (`nil` without `groupBy`).
    pub id: GroupId,
    /// The `groupBy` tag keys, sorted.
    pub keys: Arc<[String]>,
}

impl Group {
    /// The group of all points when there is no `groupBy`.
    pub fn nil() -> Group {
        Group {
            id: GroupId::nil(),
            keys: Arc::from(Vec::new()),
        }
    }

    /// The group of a series of an InfluxDB answer: its tags' keys, and an ID from its tags
    /// (keys sorted), with the measurement first under `groupByMeasurement()`.
    ///
    /// ```
    /// use klaxon_pipeline::Group;
    /// let tags = [("cpu".to_owned(), "cpu0".to_owned())].into();
    /// assert_eq!(Group::of_series("cpu", &tags, false).id.as_str(), "cpu=cpu0");
    /// assert_eq!(Group::of_series("cpu", &Default::default(), false), Group::nil());
    /// ```
    pub fn of_series(name: &str, tags: &BTreeMap<String, String>, by_measurement: bool) -> Group {
        let keys: Arc<[String]> = tags.keys().cloned().collect();
        let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let id = match (by_measurement, pairs.is_empty()) {
            (false, true) => GroupId::nil(),
            (false, false) => GroupId::from(pairs.join(",")),
            (true, _) => GroupId::from(format!("{name}\n{}", pairs.join(","))),
        };
        Group { id, keys }
    }

    /// The group's tags taken from `point` (a key the point lacks has the empty value, as in
    /// the group ID).
    pub fn tags_of(&self, point: &Point) -> BTreeMap<String, String> {
        self.keys
            .iter()
            .map(|k| (k.clone(), point.tags.get(k).cloned().unwrap_or_default()))
            .collect()
    }
}

/// The points of one window of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The measurement (of the window's points).
    pub name: String,
    /// The group tags (only the `groupBy` keys, as Kapacitor's batch tags).
    pub tags: BTreeMap<String, String>,
    /// The batch time: the window's end for time windows, the last point's time for count
    /// windows (Kapacitor's `TMax`).
    pub time: Timestamp,
    /// The points in time order, with all their tags and fields.
    pub points: Vec<Point>,
}

impl Batch {
    /// The batch as one result row (reference 1.3): the group tags, columns `time` then the
    /// fields of the first point and its non-group tags, sorted; one values row per point.
    pub fn to_row(&self) -> Row {
        let mut names = BTreeSet::new();
        if let Some(first) = self.points.first() {
            names.extend(first.fields.keys().cloned());
            names.extend(
                first
                    .tags
                    .keys()
                    .filter(|k| !self.tags.contains_key(*k))
                    .cloned(),
            );
        }
        let mut columns = Vec::with_capacity(names.len() + 1);
        columns.push("time".to_owned());
        columns.extend(names.iter().cloned());
        let values = self
            .points
            .iter()
            .map(|p| {
                let mut row = Vec::with_capacity(columns.len());
                row.push(RowValue::Time(p.time));
                for name in &names {
                    row.push(match (p.fields.get(name), p.tags.get(name)) {
                        (Some(v), _) => RowValue::Field(v.clone()),
                        (None, Some(t)) => {
                            RowValue::Field(klaxon_core::FieldValue::String(t.clone()))
                        }
                        (None, None) => RowValue::Null,
                    });
                }
                row
            })
            .collect();
        Row {
            name: self.name.clone(),
            tags: self.tags.clone(),
            columns,
            values,
        }
    }
}

/// What flows from one node to the next.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// One point of a stream.
    Point(Point),
    /// One window of points.
    Batch(Batch),
}

impl Message {
    /// The message as result rows: one row for a point (all its tags), one for a batch.
    pub fn to_row(&self) -> Row {
        match self {
            Message::Point(p) => Row::from_point(&p.name, &p.tags, &p.fields, p.time),
            Message::Batch(b) => b.to_row(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_core::FieldValue;

    #[test]
    fn a_batch_row_has_group_tags_and_non_group_tags_as_columns() {
        let p = |s: i64, v: f64| {
            Point::new("db", "rp", "cpu", s * 1_000_000_000)
                .tag("host", "a")
                .tag("type", "idle")
                .field("value", FieldValue::Float(v))
        };
        let batch = Batch {
            name: "cpu".into(),
            tags: BTreeMap::from([("host".to_owned(), "a".to_owned())]),
            time: Timestamp::from_nanos(2_000_000_000),
            points: vec![p(0, 1.0), p(1, 2.5)],
        };
        assert_eq!(
            klaxon_core::json::to_go_string(&batch.to_row()),
            concat!(
                r#"{"name":"cpu","tags":{"host":"a"},"columns":["time","type","value"],"#,
                r#""values":[["1970-01-01T00:00:00Z","idle",1],["1970-01-01T00:00:01Z","idle",2.5]]}"#
            )
        );
    }
}
