//! How an outbox entry is stored: the whole event (the alert JSON lacks its topic, tags and
//! field types), its idempotency key, the attempts already made and when it was queued, as
//! JSON whose number types survive the round trip.

use std::collections::BTreeMap;

use klaxon_core::{
    AlertResult, Event, EventData, EventState, FieldValue, GoDuration, Level, Row, RowValue,
    Timestamp,
};
use serde::{Deserialize, Serialize};

/// One event waiting for one handler, as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Delivery {
    /// The event, its previous level set.
    pub event: Event,
    /// The idempotency key receivers drop duplicates by.
    pub key: String,
    /// Attempts already made (0 until the first failure is recorded).
    pub attempts: u32,
    /// When the event was accepted, in Unix nanoseconds.
    pub queued_unix_nanos: i64,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    attempts: u32,
    queued: i64,
    topic: String,
    id: String,
    message: String,
    details: String,
    time: i64,
    duration: i64,
    level: Level,
    previous: Level,
    name: String,
    task: String,
    category: String,
    group: String,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, Value>,
    recoverable: bool,
    series: Vec<StoredRow>,
}

#[derive(Serialize, Deserialize)]
struct StoredRow {
    name: String,
    tags: BTreeMap<String, String>,
    columns: Vec<String>,
    values: Vec<Vec<Value>>,
}

/// A field or cell value with its type, since a float `1` and an integer `1` differ.
#[derive(Serialize, Deserialize)]
enum Value {
    F(f64),
    I(i64),
    U(u64),
    S(String),
    B(bool),
    T(i64),
    N,
}

impl From<&FieldValue> for Value {
    fn from(v: &FieldValue) -> Self {
        match v {
            FieldValue::Float(f) => Value::F(*f),
            FieldValue::Int(i) => Value::I(*i),
            FieldValue::UInt(u) => Value::U(*u),
            FieldValue::String(s) => Value::S(s.clone()),
            FieldValue::Bool(b) => Value::B(*b),
        }
    }
}

impl From<&RowValue> for Value {
    fn from(v: &RowValue) -> Self {
        match v {
            RowValue::Time(t) => Value::T(t.as_nanos()),
            RowValue::Field(f) => f.into(),
            RowValue::Null => Value::N,
        }
    }
}

impl Value {
    fn field(self) -> Option<FieldValue> {
        Some(match self {
            Value::F(f) => FieldValue::Float(f),
            Value::I(i) => FieldValue::Int(i),
            Value::U(u) => FieldValue::UInt(u),
            Value::S(s) => FieldValue::String(s),
            Value::B(b) => FieldValue::Bool(b),
            Value::T(_) | Value::N => return None,
        })
    }

    fn cell(self) -> RowValue {
        match self {
            Value::T(t) => RowValue::Time(Timestamp::from_nanos(t)),
            Value::N => RowValue::Null,
            other => other.field().map_or(RowValue::Null, RowValue::Field),
        }
    }
}

impl Delivery {
    /// The stored form.
    #[cfg(test)]
    pub fn encode(&self) -> Vec<u8> {
        Delivery::encode_parts(
            &self.event,
            &self.key,
            self.attempts,
            self.queued_unix_nanos,
        )
    }

    /// The stored form of a delivery of `e`, without copying the event first.
    pub fn encode_parts(e: &Event, key: &str, attempts: u32, queued_unix_nanos: i64) -> Vec<u8> {
        let stored = Stored {
            key: key.to_owned(),
            attempts,
            queued: queued_unix_nanos,
            topic: e.topic.clone(),
            id: e.state.id.clone(),
            message: e.state.message.clone(),
            details: e.state.details.clone(),
            time: e.state.time.as_nanos(),
            duration: e.state.duration.as_nanos(),
            level: e.state.level,
            previous: e.previous_level,
            name: e.data.name.clone(),
            task: e.data.task_name.clone(),
            category: e.data.category.clone(),
            group: e.data.group.clone(),
            tags: e.data.tags.clone(),
            fields: e
                .data
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), v.into()))
                .collect(),
            recoverable: e.data.recoverable,
            series: e
                .data
                .result
                .series
                .iter()
                .map(|r| StoredRow {
                    name: r.name.clone(),
                    tags: r.tags.clone(),
                    columns: r.columns.clone(),
                    values: r
                        .values
                        .iter()
                        .map(|row| row.iter().map(Value::from).collect())
                        .collect(),
                })
                .collect(),
        };
        // Plain data: serializing it cannot fail.
        serde_json::to_vec(&stored).unwrap_or_default()
    }

    /// Decodes a stored entry; the error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<Delivery, serde_json::Error> {
        let s: Stored = serde_json::from_slice(bytes)?;
        let event = Event {
            topic: s.topic,
            state: EventState {
                id: s.id,
                message: s.message,
                details: s.details,
                time: Timestamp::from_nanos(s.time),
                duration: GoDuration::from_nanos(s.duration),
                level: s.level,
            },
            data: EventData {
                name: s.name,
                task_name: s.task,
                category: s.category,
                group: s.group,
                tags: s.tags,
                fields: s
                    .fields
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v.field()?)))
                    .collect(),
                recoverable: s.recoverable,
                result: AlertResult {
                    series: s
                        .series
                        .into_iter()
                        .map(|r| Row {
                            name: r.name,
                            tags: r.tags,
                            columns: r.columns,
                            values: r
                                .values
                                .into_iter()
                                .map(|row| row.into_iter().map(Value::cell).collect())
                                .collect(),
                        })
                        .collect(),
                },
            },
            previous_level: s.previous,
        };
        Ok(Delivery {
            event,
            key: s.key,
            attempts: s.attempts,
            queued_unix_nanos: s.queued,
        })
    }

    /// The same entry with `attempts` recorded.
    pub fn with_attempts(bytes: &[u8], attempts: u32) -> Option<Vec<u8>> {
        let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        value
            .as_object_mut()?
            .insert("attempts".into(), attempts.into());
        serde_json::to_vec(&value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_survives_the_round_trip_with_its_number_types() {
        let mut event = Event {
            topic: "cpu".into(),
            ..Event::default()
        };
        event.state.id = "cpu:host=a".into();
        event.state.message = "hot \"x\"".into();
        event.state.time = Timestamp::from_nanos(1_700_000_000_123_456_789);
        event.state.duration = GoDuration::from_secs(3);
        event.state.level = Level::Critical;
        event.previous_level = Level::Warning;
        event.data.tags.insert("host".into(), "a".into());
        event.data.fields.insert("f".into(), FieldValue::Float(1.0));
        event.data.fields.insert("i".into(), FieldValue::Int(1));
        event
            .data
            .fields
            .insert("u".into(), FieldValue::UInt(u64::MAX));
        event.data.fields.insert("b".into(), FieldValue::Bool(true));
        event.data.result.series.push(Row::from_point(
            "cpu",
            &event.data.tags,
            &event.data.fields,
            event.state.time,
        ));
        let delivery = Delivery {
            event,
            key: "k1".into(),
            attempts: 2,
            queued_unix_nanos: 42,
        };
        let back = Delivery::decode(&delivery.encode()).unwrap();
        assert_eq!(back, delivery);
        let bumped = Delivery::with_attempts(&delivery.encode(), 3).unwrap();
        assert_eq!(Delivery::decode(&bumped).unwrap().attempts, 3);
        assert!(Delivery::decode(b"{\"key\":").is_err());
    }
}
