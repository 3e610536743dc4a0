//! The message template: a Go text/template (through gotmpl) executed with Kapacitor's
//! `alert.Data` as dot (`.ID`, `.Message`, `.Details`, `.Time`, `.Duration`, `.Level`,
//! `.Data.Series`, `.PreviousLevel`, `.Recoverable`), the same data the alert JSON is.

use std::collections::BTreeMap;

use klaxon_core::template::{Template, TemplateError, TemplateOptions};
use klaxon_core::{Event, Row, RowValue};
use serde::Serialize;

/// How many `range` iterations one message may take: far more than any alert has series or
/// values, few enough that a template cannot spin.
const MAX_ITERATIONS: u64 = 100_000;

/// Parses the message template `source`; the error is gotmpl's reason.
pub(crate) fn parse(source: &str) -> Result<Template, TemplateError> {
    TemplateOptions::new()
        .max_iterations(MAX_ITERATIONS)
        // The dot stands for a Go struct, where a field that does not exist is an error: a typo
        // should say so rather than write a wrong message.
        .missing_key_error()
        .parse("kafka", source)
}

/// The message `template` gives for `event`.
pub(crate) fn render(template: &Template, event: &Event) -> Result<String, String> {
    if template.is_plain() {
        return Ok(template.source().to_owned());
    }
    let data = gotmpl::to_value(&AlertData::of(event)).map_err(|e| e.to_string())?;
    template.render_with(&data).map_err(|e| e.to_string())
}

/// Kapacitor's `alert.Data`, in its Go field names. `.Time` and `.Duration` print as Go prints a
/// `time.Time` and a `time.Duration`; `.Level` and `.PreviousLevel` as level names.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AlertData<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    message: &'a str,
    details: &'a str,
    time: String,
    duration: String,
    level: &'a str,
    data: ResultData<'a>,
    previous_level: &'a str,
    recoverable: bool,
}

/// `models.Result`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResultData<'a> {
    series: Vec<RowData<'a>>,
}

/// `models.Row`; times in values print in RFC 3339.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RowData<'a> {
    name: &'a str,
    tags: &'a BTreeMap<String, String>,
    columns: &'a [String],
    values: Vec<Vec<serde_json::Value>>,
}

impl<'a> AlertData<'a> {
    fn of(event: &'a Event) -> AlertData<'a> {
        let state = &event.state;
        AlertData {
            id: &state.id,
            message: &state.message,
            details: &state.details,
            time: state.time.to_go_string(),
            duration: state.duration.to_string(),
            level: state.level.as_str(),
            data: ResultData {
                series: event.data.result.series.iter().map(RowData::of).collect(),
            },
            previous_level: event.previous_level.as_str(),
            recoverable: event.data.recoverable,
        }
    }
}

impl<'a> RowData<'a> {
    fn of(row: &'a Row) -> RowData<'a> {
        let cell = |value: &RowValue| serde_json::to_value(value).unwrap_or_default();
        RowData {
            name: &row.name,
            tags: &row.tags,
            columns: &row.columns,
            values: row
                .values
                .iter()
                .map(|values| values.iter().map(cell).collect())
                .collect(),
        }
    }
}
