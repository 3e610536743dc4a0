//! What templates see as dot: Kapacitor's `alert.TemplateData` of an event, or the fields of it
//! that another Kapacitor service gives its templates, in Go's field names, times and durations
//! printed as Go prints a `time.Time` and a `time.Duration`.

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;

use crate::{Event, FieldValue};

/// A field of an alert as templates name it (`.ID`, `.TaskName`...), taken from an [`Event`].
///
/// ```
/// use klaxon_core::Event;
/// use klaxon_core::template::{DotField, Value};
///
/// let mut event = Event::default();
/// event.state.id = "cpu:web01".into();
/// assert_eq!(DotField::Id.go_name(), "ID");
/// assert_eq!(DotField::Id.value(&event), Value::String("cpu:web01".into()));
/// assert_eq!(DotField::Recoverable.value(&event), Value::Bool(false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DotField {
    /// `.ID`, the alert's ID.
    Id,
    /// `.Message`.
    Message,
    /// `.Level`, the level's name (`CRITICAL`).
    Level,
    /// `.Time`, as Go prints a `time.Time` (`1970-01-01 00:00:00 +0000 UTC`).
    Time,
    /// `.Duration`, as Go prints a `time.Duration` (`10s`).
    Duration,
    /// `.Details`.
    Details,
    /// `.Name`, the measurement.
    Name,
    /// `.TaskName`.
    TaskName,
    /// `.Category`, the alert node's `.category()`.
    Category,
    /// `.Group`, the group key.
    Group,
    /// `.Tags`, a map of strings.
    Tags,
    /// `.Fields`, a map of the fields' values ([`field_value`]).
    Fields,
    /// `.Recoverable`, a boolean.
    Recoverable,
}

impl DotField {
    /// Kapacitor's `alert.TemplateData`, what most handlers' templates see: `.ID`, `.Message`,
    /// `.Level`, `.Time`, `.Duration`, `.Details`, `.Name`, `.TaskName`, `.Group`, `.Tags`,
    /// `.Fields`.
    pub const TEMPLATE_DATA: [DotField; 11] = [
        DotField::Id,
        DotField::Message,
        DotField::Level,
        DotField::Time,
        DotField::Duration,
        DotField::Details,
        DotField::Name,
        DotField::TaskName,
        DotField::Group,
        DotField::Tags,
        DotField::Fields,
    ];

    /// The field's Go name, what a template writes after the dot.
    pub const fn go_name(self) -> &'static str {
        match self {
            DotField::Id => "ID",
            DotField::Message => "Message",
            DotField::Level => "Level",
            DotField::Time => "Time",
            DotField::Duration => "Duration",
            DotField::Details => "Details",
            DotField::Name => "Name",
            DotField::TaskName => "TaskName",
            DotField::Category => "Category",
            DotField::Group => "Group",
            DotField::Tags => "Tags",
            DotField::Fields => "Fields",
            DotField::Recoverable => "Recoverable",
        }
    }

    /// The field's value in `event`.
    pub fn value(self, event: &Event) -> Value {
        let (state, data) = (&event.state, &event.data);
        match self {
            DotField::Id => string(&state.id),
            DotField::Message => string(&state.message),
            DotField::Level => string(state.level.as_str()),
            DotField::Time => string(&state.time.to_go_string()),
            DotField::Duration => string(&state.duration.to_string()),
            DotField::Details => string(&state.details),
            DotField::Name => string(&data.name),
            DotField::TaskName => string(&data.task_name),
            DotField::Category => string(&data.category),
            DotField::Group => string(&data.group),
            DotField::Tags => map(data.tags.iter().map(|(k, v)| (k.as_str(), string(v)))),
            DotField::Fields => map(data
                .fields
                .iter()
                .map(|(k, v)| (k.as_str(), field_value(v)))),
            DotField::Recoverable => Value::Bool(data.recoverable),
        }
    }
}

/// Kapacitor's `alert.TemplateData` of `event` ([`DotField::TEMPLATE_DATA`]): the dot of most
/// handlers' templates. Make it once when several templates render the same event.
///
/// ```
/// use klaxon_core::Event;
/// use klaxon_core::template::{Template, template_data};
///
/// let mut event = Event::default();
/// event.data.name = "cpu".into();
/// let data = template_data(&event);
/// let host = Template::parse("host", "{{ .Name }}-{{ .Level }}")?;
/// assert_eq!(host.render_with(&data)?, "cpu-OK");
/// # Ok::<(), klaxon_core::template::TemplateError>(())
/// ```
pub fn template_data(event: &Event) -> Value {
    dot(event, &DotField::TEMPLATE_DATA)
}

/// The dot made of `fields` of `event`, for a handler whose Kapacitor service gives its templates
/// other data than `alert.TemplateData` (alerta's `event` option sees only the ID's fields, smtp's
/// recipients `alert.EventData`).
///
/// ```
/// use klaxon_core::Event;
/// use klaxon_core::template::{DotField, Template, dot};
///
/// let mut event = Event::default();
/// event.data.category = "db".into();
/// let data = dot(&event, &[DotField::Category, DotField::Recoverable]);
/// let to = Template::parse("to", "{{ .Category }}@example.com {{ .Recoverable }}")?;
/// assert_eq!(to.render_with(&data)?, "db@example.com false");
/// assert!(Template::parse("to", "{{ .Message }}")?.render_with(&data)?.contains("no value"));
/// # Ok::<(), klaxon_core::template::TemplateError>(())
/// ```
pub fn dot(event: &Event, fields: &[DotField]) -> Value {
    map(fields
        .iter()
        .map(|field| (field.go_name(), field.value(event))))
}

/// A field's value as templates see it: a float, a signed or unsigned integer, a string or a
/// boolean, so that `{{ if gt .value 10.0 }}` compares numbers.
///
/// ```
/// use klaxon_core::FieldValue;
/// use klaxon_core::template::{Value, field_value};
///
/// assert_eq!(field_value(&FieldValue::Int(7)), Value::Int(7));
/// assert_eq!(field_value(&FieldValue::UInt(7)), Value::Uint(7));
/// ```
pub fn field_value(value: &FieldValue) -> Value {
    match value {
        FieldValue::Float(f) => Value::Float(*f),
        FieldValue::Int(i) => Value::Int(*i),
        FieldValue::UInt(u) => Value::Uint(*u),
        FieldValue::String(s) => string(s),
        FieldValue::Bool(b) => Value::Bool(*b),
    }
}

fn string(s: &str) -> Value {
    Value::String(s.into())
}

fn map<'a>(entries: impl Iterator<Item = (&'a str, Value)>) -> Value {
    let entries: BTreeMap<Arc<str>, Value> = entries.map(|(k, v)| (Arc::from(k), v)).collect();
    Value::Map(Arc::new(entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;
    use crate::{GoDuration, Level, Timestamp};

    #[test]
    fn template_data_is_kapacitors_alert_template_data() {
        let mut event = Event::default();
        event.state.id = "cpu:web01".into();
        event.state.message = "high".into();
        event.state.details = "<b>high</b>".into();
        event.state.level = Level::Critical;
        event.state.time = Timestamp::EPOCH;
        event.state.duration = GoDuration::from_nanos(10_000_000_000);
        event.data.name = "cpu".into();
        event.data.task_name = "cpu_alert".into();
        event.data.category = "not in TemplateData".into();
        event.data.group = "host=web01".into();
        event.data.tags.insert("host".into(), "web01".into());
        event.data.fields.insert("f".into(), FieldValue::Float(1.5));
        event.data.fields.insert("i".into(), FieldValue::Int(-2));
        event.data.fields.insert("u".into(), FieldValue::UInt(3));
        event
            .data
            .fields
            .insert("s".into(), FieldValue::String("x".into()));
        event.data.fields.insert("b".into(), FieldValue::Bool(true));
        let every_key = Template::parse("t", "{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}")
            .and_then(|t| t.render(&event))
            .unwrap();
        assert_eq!(
            every_key,
            "Details=<b>high</b>;Duration=10s;Fields=map[b:true f:1.5 i:-2 s:x u:3];\
             Group=host=web01;ID=cpu:web01;Level=CRITICAL;Message=high;Name=cpu;\
             Tags=map[host:web01];TaskName=cpu_alert;Time=1970-01-01 00:00:00 +0000 UTC;"
        );
    }
}
