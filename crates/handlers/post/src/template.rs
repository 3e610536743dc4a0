//! The post handler's templates: the `url` (of an endpoint or a handler) and an endpoint's
//! `alert-template`, Go text/templates (through gotmpl) executed with Kapacitor's `alert.Data` as
//! dot, with Kapacitor's `json` and `jsonCompact` functions.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use klaxon_core::template::{Template, TemplateError, TemplateOptions, Value, field_value, gotmpl};
use klaxon_core::{AlertResult, Event, GoDuration, Level, Row, RowValue, Timestamp};

/// How many `range` iterations one execution may take: far more than any alert has series or
/// values, few enough that a template cannot spin.
const MAX_ITERATIONS: u64 = 100_000;

/// How much text one execution may produce (the pipeline's limit for alert templates).
const MAX_OUTPUT: usize = 1 << 20;

/// Kapacitor's service test posts the zero `alert.Data`, whose time is Go's zero time (year 1,
/// before what a [`Timestamp`] holds): this is its JSON, as Go's encoder writes it.
pub(crate) const ZERO_ALERT_JSON: &str = concat!(
    r#"{"id":"","message":"","details":"","time":"0001-01-01T00:00:00Z","duration":0,"#,
    r#""level":"OK","data":{"series":null},"previousLevel":"OK","recoverable":false}"#,
    "\n"
);

/// Parses `source`. Every template gets `json` and `jsonCompact`, file templates included
/// (Kapacitor gives them only to inline templates).
pub(crate) fn parse(source: &str) -> Result<Template, TemplateError> {
    TemplateOptions::new()
        .max_iterations(MAX_ITERATIONS)
        // The dot stands for Go structs, where a field that does not exist is an error, not
        // "<no value>": a typo in a field name should say so rather than post a wrong body.
        .missing_key_error()
        .func("json", json_func(true))
        .func("jsonCompact", json_func(false))
        .parse("body", source)
}

/// Output that refuses to grow past [`MAX_OUTPUT`], which stops the template.
#[derive(Default)]
struct Bounded {
    text: String,
    exceeded: bool,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.text.len() + s.len() > MAX_OUTPUT {
            self.exceeded = true;
            return Err(fmt::Error);
        }
        self.text.push_str(s);
        Ok(())
    }
}

/// The alert a post is about: its JSON, and its template data, made only when a template needs
/// it (most posts have a plain URL and no body template).
#[derive(Debug)]
pub(crate) struct Alert<'a> {
    event: Option<&'a Event>,
    view: OnceCell<AlertView>,
}

impl<'a> Alert<'a> {
    /// An event's alert.
    pub(crate) fn of(event: &'a Event) -> Alert<'a> {
        Alert {
            event: Some(event),
            view: OnceCell::new(),
        }
    }

    /// Kapacitor's zero `alert.Data`, which its service test posts.
    pub(crate) fn zero() -> Alert<'static> {
        Alert {
            event: None,
            view: OnceCell::new(),
        }
    }

    /// The alert JSON as Kapacitor's encoder writes it, with its newline.
    pub(crate) fn json(&self) -> String {
        match self.event {
            Some(event) => event.alert_json(),
            None => ZERO_ALERT_JSON.to_owned(),
        }
    }

    /// Executes `template` with the alert as dot. A template without actions is its text, and
    /// needs no template data.
    pub(crate) fn render(&self, template: &Template) -> Result<String, String> {
        if template.is_plain() {
            return Ok(template.source().to_owned());
        }
        let alert = self.view();
        let _table = JsonTable::install(Arc::clone(&alert.json));
        let mut out = Bounded::default();
        match template.render_to(&mut out, &alert.data) {
            Ok(()) => Ok(out.text),
            Err(_) if out.exceeded => Err(format!(
                "its output would exceed {MAX_OUTPUT} bytes; keep templates to what a webhook needs"
            )),
            Err(e) => Err(e.to_string()),
        }
    }

    fn view(&self) -> &AlertView {
        self.view.get_or_init(|| match self.event {
            Some(event) => AlertView::of(event),
            None => AlertView::zero(),
        })
    }
}

/// An alert as template data: Kapacitor's `alert.Data` (`.ID`, `.Message`, `.Details`, `.Time`,
/// `.Duration`, `.Level`, `.Data.Series`, `.PreviousLevel`, `.Recoverable`), printed as Go prints
/// those types (`.Time` as `1970-01-01 00:00:00 +0000 UTC`, `.Duration` as `10s`).
///
/// Go's `json` function encodes the same values differently (a time as RFC3339, a duration in
/// nanoseconds, the struct in field order), which gotmpl's values cannot carry. So the view also
/// keeps the Go JSON of each value it made, keyed by the value's allocation: `json` finds what
/// it is given there, whatever path the template took to it.
#[derive(Debug)]
struct AlertView {
    data: Value,
    json: Arc<HashMap<usize, String>>,
}

impl AlertView {
    /// The view of `event`.
    fn of(event: &Event) -> AlertView {
        let mut json = event.alert_json();
        json.pop();
        Builder::default().alert(&AlertParts {
            id: &event.state.id,
            message: &event.state.message,
            details: &event.state.details,
            time: Time::of(event.state.time),
            duration: event.state.duration,
            level: event.state.level,
            result: &event.data.result,
            previous_level: event.previous_level,
            recoverable: event.data.recoverable,
            json,
        })
    }

    /// The view of Kapacitor's zero `alert.Data`.
    fn zero() -> AlertView {
        let mut json = ZERO_ALERT_JSON.to_owned();
        json.pop();
        Builder::default().alert(&AlertParts {
            id: "",
            message: "",
            details: "",
            time: Time {
                text: "0001-01-01 00:00:00 +0000 UTC".to_owned(),
                json: "\"0001-01-01T00:00:00Z\"".to_owned(),
            },
            duration: GoDuration::ZERO,
            level: Level::Ok,
            result: &AlertResult::default(),
            previous_level: Level::Ok,
            recoverable: false,
            json,
        })
    }
}

/// A time as a template prints it and as `json` encodes it.
struct Time {
    text: String,
    json: String,
}

impl Time {
    fn of(time: Timestamp) -> Time {
        Time {
            text: time.to_go_string(),
            json: klaxon_core::json::to_go_string(&time),
        }
    }
}

struct AlertParts<'a> {
    id: &'a str,
    message: &'a str,
    details: &'a str,
    time: Time,
    duration: GoDuration,
    level: Level,
    result: &'a AlertResult,
    previous_level: Level,
    recoverable: bool,
    /// The whole alert's JSON, without the encoder's newline.
    json: String,
}

/// Makes template values and records the Go JSON of those whose `json` would otherwise differ.
#[derive(Default)]
struct Builder {
    json: HashMap<usize, String>,
}

impl Builder {
    fn remember(&mut self, value: Value, json: String) -> Value {
        if let Some(key) = allocation(&value) {
            self.json.insert(key, json);
        }
        value
    }

    fn alert(mut self, alert: &AlertParts<'_>) -> AlertView {
        let time = self.remember(
            Value::String(alert.time.text.as_str().into()),
            alert.time.json.clone(),
        );
        let duration = self.remember(
            Value::String(alert.duration.to_string().into()),
            alert.duration.as_nanos().to_string(),
        );
        let data = self.result(alert.result);
        let fields = BTreeMap::from([
            (Arc::from("ID"), string(alert.id)),
            (Arc::from("Message"), string(alert.message)),
            (Arc::from("Details"), string(alert.details)),
            (Arc::from("Time"), time),
            (Arc::from("Duration"), duration),
            (Arc::from("Level"), string(alert.level.as_str())),
            (Arc::from("Data"), data),
            (
                Arc::from("PreviousLevel"),
                string(alert.previous_level.as_str()),
            ),
            (Arc::from("Recoverable"), Value::Bool(alert.recoverable)),
        ]);
        let data = self.remember(Value::Map(Arc::new(fields)), alert.json.clone());
        AlertView {
            data,
            json: Arc::new(self.json),
        }
    }

    fn result(&mut self, result: &AlertResult) -> Value {
        let rows: Vec<Value> = result.series.iter().map(|row| self.row(row)).collect();
        let series_json = if result.series.is_empty() {
            // Go's nil slice.
            "null".to_owned()
        } else {
            klaxon_core::json::to_go_string(&result.series)
        };
        let series = self.remember(Value::List(rows.into()), series_json);
        let fields = BTreeMap::from([
            (Arc::from("Series"), series),
            (Arc::from("Err"), Value::Nil),
        ]);
        self.remember(
            Value::Map(Arc::new(fields)),
            klaxon_core::json::to_go_string(result),
        )
    }

    fn row(&mut self, row: &Row) -> Value {
        let tags = row
            .tags
            .iter()
            .map(|(k, v)| (Arc::from(k.as_str()), string(v)))
            .collect();
        let columns: Vec<Value> = row.columns.iter().map(|c| string(c)).collect();
        let values: Vec<Value> = row
            .values
            .iter()
            .map(|cells| {
                let json = klaxon_core::json::to_go_string(cells);
                let cells: Vec<Value> = cells.iter().map(|cell| self.cell(cell)).collect();
                self.remember(Value::List(cells.into()), json)
            })
            .collect();
        let values = self.remember(
            Value::List(values.into()),
            klaxon_core::json::to_go_string(&row.values),
        );
        let fields = BTreeMap::from([
            (Arc::from("Name"), string(&row.name)),
            (Arc::from("Tags"), Value::Map(Arc::new(tags))),
            (Arc::from("Columns"), Value::List(columns.into())),
            (Arc::from("Values"), values),
        ]);
        self.remember(
            Value::Map(Arc::new(fields)),
            klaxon_core::json::to_go_string(row),
        )
    }

    fn cell(&mut self, cell: &RowValue) -> Value {
        match cell {
            RowValue::Time(time) => {
                let time = Time::of(*time);
                self.remember(Value::String(time.text.into()), time.json)
            }
            RowValue::Field(field) => field_value(field),
            RowValue::Null => Value::Nil,
        }
    }
}

fn string(s: &str) -> Value {
    Value::String(s.into())
}

/// The address of the allocation behind a string, list or map value: what identifies a value
/// the builder made, in every clone the template makes of it.
fn allocation(value: &Value) -> Option<usize> {
    match value {
        Value::String(s) => Some(Arc::as_ptr(s).cast::<u8>().addr()),
        Value::List(l) => Some(Arc::as_ptr(l).cast::<u8>().addr()),
        Value::Map(m) => Some(Arc::as_ptr(m).cast::<u8>().addr()),
        _ => None,
    }
}

thread_local! {
    /// The JSON table of the alert whose template runs on this thread. Templates execute
    /// synchronously, so the table of one execution is never seen by another.
    static JSON_TABLE: RefCell<Option<Arc<HashMap<usize, String>>>> = const { RefCell::new(None) };
}

/// Installs a table for one execution and removes it when dropped, also on an error.
struct JsonTable;

impl JsonTable {
    fn install(table: Arc<HashMap<usize, String>>) -> JsonTable {
        JSON_TABLE.with(|slot| *slot.borrow_mut() = Some(table));
        JsonTable
    }
}

impl Drop for JsonTable {
    fn drop(&mut self) {
        JSON_TABLE.with(|slot| *slot.borrow_mut() = None);
    }
}

/// Kapacitor's `json` (Go's encoder: JSON and a newline) and `jsonCompact` (the same without the
/// newline) template functions.
fn json_func(newline: bool) -> impl Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync + 'static {
    move |args: &[Value]| {
        let value = args.first().unwrap_or(&Value::Nil);
        let mut text = JSON_TABLE.with(|slot| {
            let slot = slot.borrow();
            let empty = HashMap::new();
            let table = slot.as_deref().unwrap_or(&empty);
            match allocation(value).and_then(|key| table.get(&key)) {
                Some(known) => known.clone(),
                None => klaxon_core::json::to_go_string(&go_json(value, table)),
            }
        });
        if newline {
            text.push('\n');
        }
        Ok(Value::String(text.into()))
    }
}

/// `value` as JSON, using the recorded JSON of the values the builder made.
fn go_json(value: &Value, table: &HashMap<usize, String>) -> serde_json::Value {
    if let Some(known) = allocation(value).and_then(|key| table.get(&key))
        && let Ok(parsed) = serde_json::from_str(known)
    {
        return parsed;
    }
    match value {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Uint(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(|v| go_json(v, table)).collect())
        }
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), go_json(v, table)))
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}
