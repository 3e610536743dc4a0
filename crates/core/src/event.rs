//! Alert events and the alert JSON that handlers deliver.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::json;
use crate::{GoDuration, Level, Timestamp};

/// The value of a field, or of a cell in a result row.
///
/// ```
/// use klaxon_core::FieldValue;
/// assert_eq!(klaxon_core::json::to_go_string(&FieldValue::Float(10.0)), "10");
/// assert_eq!(klaxon_core::json::to_go_string(&FieldValue::Int(7)), "7");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A float, line protocol's default number type.
    Float(f64),
    /// A signed integer (`7i`).
    Int(i64),
    /// An unsigned integer (`7u`).
    UInt(u64),
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
}

impl FieldValue {
    /// The type name used in error messages: `float`, `int`, `uint`, `string` or `bool`.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Float(_) => "float",
            FieldValue::Int(_) => "int",
            FieldValue::UInt(_) => "uint",
            FieldValue::String(_) => "string",
            FieldValue::Bool(_) => "bool",
        }
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Float(f) => serializer.serialize_f64(*f),
            FieldValue::Int(i) => serializer.serialize_i64(*i),
            FieldValue::UInt(u) => serializer.serialize_u64(*u),
            FieldValue::String(s) => serializer.serialize_str(s),
            FieldValue::Bool(b) => serializer.serialize_bool(*b),
        }
    }
}

/// One cell of a [`Row`]: the point's time, a field or tag value, or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum RowValue {
    /// A time, written as RFC3339Nano text.
    Time(Timestamp),
    /// A field (or, in batch rows, a tag) value.
    Field(FieldValue),
    /// A missing value, written as `null`.
    Null,
}

impl Serialize for RowValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RowValue::Time(t) => t.serialize(serializer),
            RowValue::Field(v) => v.serialize(serializer),
            RowValue::Null => serializer.serialize_unit(),
        }
    }
}

/// A series in InfluxDB's result shape: `{"name","tags","columns","values"}`, every key omitted
/// when empty, as Kapacitor's `models.Row` does.
///
/// ```
/// use klaxon_core::{FieldValue, Row, RowValue, Timestamp};
///
/// let row = Row {
///     name: "cpu".into(),
///     tags: Default::default(),
///     columns: vec!["time".into(), "value".into()],
///     values: vec![vec![RowValue::Time(Timestamp::EPOCH), RowValue::Field(FieldValue::Float(1.0))]],
/// };
/// assert_eq!(
///     klaxon_core::json::to_go_string(&row),
///     r#"{"name":"cpu","columns":["time","value"],"values":[["1970-01-01T00:00:00Z",1]]}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Row {
    /// The measurement.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The tags of the point, or the group tags of a batch.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// `time` followed by the field names, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// One row of cells per point, in column order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Vec<RowValue>>,
}

impl Row {
    /// The row for one stream point: columns are `time` and the field names in sorted order, and
    /// the tags are all the point's tags (Kapacitor's `pointMessage.ToRow`).
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use klaxon_core::{FieldValue, Row, Timestamp};
    ///
    /// let fields = BTreeMap::from([("value".to_string(), FieldValue::Float(6.0))]);
    /// let row = Row::from_point("cpu", &BTreeMap::new(), &fields, Timestamp::EPOCH);
    /// assert_eq!(row.columns, ["time", "value"]);
    /// ```
    pub fn from_point(
        name: &str,
        tags: &BTreeMap<String, String>,
        fields: &BTreeMap<String, FieldValue>,
        time: Timestamp,
    ) -> Row {
        let mut columns = Vec::with_capacity(fields.len() + 1);
        let mut values = Vec::with_capacity(fields.len() + 1);
        columns.push("time".to_owned());
        values.push(RowValue::Time(time));
        for (key, value) in fields {
            columns.push(key.clone());
            values.push(RowValue::Field(value.clone()));
        }
        Row {
            name: name.to_owned(),
            tags: tags.clone(),
            columns,
            values: vec![values],
        }
    }
}

/// A set of series: `{"series":[...]}`. An empty set writes `"series":null`, as Go does for a nil
/// slice.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertResult {
    /// The series, one per point or batch.
    pub series: Vec<Row>,
}

impl Serialize for AlertResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Result", 1)?;
        if self.series.is_empty() {
            s.serialize_field("series", &None::<()>)?;
        } else {
            s.serialize_field("series", &self.series)?;
        }
        s.end()
    }
}

/// The state of one alert (one event ID) at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventState {
    /// The rendered `.id()` template; the key of the alert within its topic.
    pub id: String,
    /// The rendered `.message()` template.
    pub message: String,
    /// The rendered `.details()` template.
    pub details: String,
    /// The time of the data point that produced the event (not the wall clock).
    pub time: Timestamp,
    /// How long the alert has been in a non-OK state.
    pub duration: GoDuration,
    /// The level.
    pub level: Level,
}

/// What the event is about: the task, the series and the data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventData {
    /// The measurement.
    pub name: String,
    /// The task that produced the event.
    pub task_name: String,
    /// The `.category()` of the alert node.
    pub category: String,
    /// The group key, `k1=v1,k2=v2` with tag keys sorted, empty without `groupBy`.
    pub group: String,
    /// The tags of the point.
    pub tags: BTreeMap<String, String>,
    /// The fields of the point.
    pub fields: BTreeMap<String, FieldValue>,
    /// `false` when the alert node used `.noRecoveries()`.
    pub recoverable: bool,
    /// The data as InfluxDB result series.
    pub result: AlertResult,
}

/// One alert event, as a topic collects it and its handlers receive it.
///
/// ```
/// use klaxon_core::{Event, Level};
///
/// let mut event = Event::default();
/// event.state.id = "cpu:nil".into();
/// event.state.level = Level::Critical;
/// assert!(event.alert_json().starts_with(r#"{"id":"cpu:nil","#));
/// assert!(event.alert_json().ends_with("\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// The topic the event was collected into.
    pub topic: String,
    /// The alert state.
    pub state: EventState,
    /// The data behind the alert.
    pub data: EventData,
    /// The level last stored for this event ID in this topic (`OK` if none). Set by the topic when
    /// it collects the event.
    pub previous_level: Level,
}

impl Event {
    /// The alert JSON exactly as Kapacitor's handlers write it (Go's `json.Encoder`): compact,
    /// Go's escaping and number forms, and a trailing newline.
    ///
    /// Field order is Kapacitor's `alert.Data`: `id, message, details, time, duration, level, data,
    /// previousLevel, recoverable`; `duration` is integer nanoseconds.
    pub fn alert_json(&self) -> String {
        let mut out = Vec::with_capacity(512);
        self.write_alert_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends [`Event::alert_json`] (with its trailing newline) to `out`. During a delivery
    /// whose engine rendered this event's JSON already ([`crate::Handler::sends_alert_json`]),
    /// it copies that rendering.
    pub fn write_alert_json(&self, out: &mut Vec<u8>) {
        crate::delivery::with_rendered_alert_json(self, |rendered| match rendered {
            Some(json) => out.extend_from_slice(json),
            None => self.render_alert_json(out),
        });
    }

    /// Encodes [`Event::alert_json`] into `out`, never copying a rendering made before.
    pub fn render_alert_json(&self, out: &mut Vec<u8>) {
        json::write_go(out, &self.alert_data());
        out.push(b'\n');
    }

    /// The serializable `alert.Data` view of this event.
    pub fn alert_data(&self) -> AlertData<'_> {
        AlertData {
            id: &self.state.id,
            message: &self.state.message,
            details: &self.state.details,
            time: self.state.time,
            duration: self.state.duration.as_nanos(),
            level: self.state.level,
            data: &self.data.result,
            previous_level: self.previous_level,
            recoverable: self.data.recoverable,
        }
    }
}

/// Kapacitor's `alert.Data`, the object handlers deliver. Built by [`Event::alert_data`].
#[derive(Debug, Serialize)]
pub struct AlertData<'a> {
    /// See [`EventState::id`].
    pub id: &'a str,
    /// See [`EventState::message`].
    pub message: &'a str,
    /// See [`EventState::details`].
    pub details: &'a str,
    /// See [`EventState::time`].
    pub time: Timestamp,
    /// See [`EventState::duration`], in nanoseconds.
    pub duration: i64,
    /// See [`EventState::level`].
    pub level: Level,
    /// See [`EventData::result`].
    pub data: &'a AlertResult,
    /// See [`Event::previous_level`].
    #[serde(rename = "previousLevel")]
    pub previous_level: Level,
    /// See [`EventData::recoverable`].
    pub recoverable: bool,
}

impl Event {
    /// A CRITICAL event for service tests, stamped with the current time.
    ///
    /// ```
    /// let event = klaxon_core::Event::sample("test exec message");
    /// assert_eq!(event.state.message, "test exec message");
    /// assert_eq!(event.state.level, klaxon_core::Level::Critical);
    /// ```
    pub fn sample(message: &str) -> Event {
        let time = Timestamp::now();
        let fields = BTreeMap::from([("value".to_owned(), FieldValue::Float(1.0))]);
        let tags = BTreeMap::from([("host".to_owned(), "klaxon".to_owned())]);
        Event {
            topic: "service-test".to_owned(),
            state: EventState {
                id: "service-test".to_owned(),
                message: message.to_owned(),
                details: String::new(),
                time,
                duration: GoDuration::ZERO,
                level: Level::Critical,
            },
            data: EventData {
                name: "service-test".to_owned(),
                task_name: "service-test".to_owned(),
                recoverable: true,
                result: AlertResult {
                    series: vec![Row::from_point("service-test", &tags, &fields, time)],
                },
                tags,
                fields,
                ..EventData::default()
            },
            previous_level: Level::Ok,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point_event(id: &str, message: &str, time: i64, tags: &[(&str, &str)], value: f64) -> Event {
        let tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let fields = BTreeMap::from([("value".to_string(), FieldValue::Float(value))]);
        let time = Timestamp::from_nanos(time);
        Event {
            topic: "test".into(),
            state: EventState {
                id: id.into(),
                message: message.into(),
                details: "details".into(),
                time,
                duration: GoDuration::ZERO,
                level: Level::Critical,
            },
            data: EventData {
                name: "cpu".into(),
                recoverable: true,
                result: AlertResult {
                    series: vec![Row::from_point("cpu", &tags, &fields, time)],
                },
                tags,
                fields,
                ..EventData::default()
            },
            previous_level: Level::Ok,
        }
    }

    /// Reference 1.5, first example (`TestServer_AlertJSON` "normal_json").
    #[test]
    fn normal_json_matches_kapacitor_byte_for_byte() {
        let mut event = point_event("id", "message", 0, &[], 1.0);
        event.data.result.series[0].name = "alert".into();
        assert_eq!(
            event.alert_json(),
            concat!(
                r#"{"id":"id","message":"message","details":"details","time":"1970-01-01T00:00:00Z","#,
                r#""duration":0,"level":"CRITICAL","data":{"series":[{"name":"alert","columns":["time","value"],"#,
                r#""values":[["1970-01-01T00:00:00Z",1]]}]},"previousLevel":"OK","recoverable":true}"#,
                "\n"
            )
        );
    }

    /// Reference 1.5, second example (`TestStream_AlertDuration` request 3).
    #[test]
    fn recovery_with_tags_matches_kapacitor_byte_for_byte() {
        let t = 31_536_004_000_000_000;
        let mut event = point_event(
            "kapacitor/cpu/serverA",
            "kapacitor/cpu/serverA is OK",
            t,
            &[("type", "idle"), ("host", "serverA")],
            6.0,
        );
        event.state.level = Level::Ok;
        event.state.duration = GoDuration::from_secs(4);
        event.previous_level = Level::Warning;
        assert_eq!(
            event.alert_json(),
            concat!(
                r#"{"id":"kapacitor/cpu/serverA","message":"kapacitor/cpu/serverA is OK","details":"details","#,
                r#""time":"1971-01-01T00:00:04Z","duration":4000000000,"level":"OK","data":{"series":[{"name":"cpu","#,
                r#""tags":{"host":"serverA","type":"idle"},"columns":["time","value"],"values":[["1971-01-01T00:00:04Z",6]]}]},"#,
                r#""previousLevel":"WARNING","recoverable":true}"#,
                "\n"
            )
        );
    }

    #[test]
    fn details_with_html_entities_are_escaped_like_go() {
        let mut event = point_event("id", "m", 0, &[], 1.0);
        event.state.details = "{&#34;Name&#34;:&#34;cpu&#34;}\n".into();
        assert!(
            event
                .alert_json()
                .contains(r#""details":"{\u0026#34;Name\u0026#34;:\u0026#34;cpu\u0026#34;}\n""#)
        );
    }

    #[test]
    fn empty_result_writes_null_series_and_integers_stay_integers() {
        let mut event = Event::default();
        event.data.fields.insert("n".into(), FieldValue::Int(3));
        let json = event.alert_json();
        assert!(json.contains(r#""data":{"series":null}"#), "{json}");
        let row = Row::from_point(
            "m",
            &BTreeMap::new(),
            &event.data.fields,
            Timestamp::from_nanos(1_500),
        );
        assert_eq!(
            json::to_go_string(&row),
            r#"{"name":"m","columns":["time","n"],"values":[["1970-01-01T00:00:00.0000015Z",3]]}"#
        );
    }
}
