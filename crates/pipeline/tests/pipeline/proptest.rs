//! Property tests for the pipeline's parsers of outside input: line protocol
//! ([`klaxon_pipeline::ingest::parse_with`]) and the alert node's message templates
//! ([`Templates`]). Whatever the input, they answer `Ok` or a typed error, never panic; valid
//! points parse back to what was generated, and literal template text renders as itself. Case
//! counts are modest so the suite stays quick on two cores in a debug build; inputs that ever fail
//! go to `tests/corpus/<parser>/`, which `tests/corpus.rs` replays on every run.

use std::collections::BTreeMap;

use klaxon_core::{FieldValue, GoDuration, Level, Timestamp};
use klaxon_pipeline::alert::{TemplateInput, Templates};
use klaxon_pipeline::ingest::{Precision, Target, parse_checked, parse_with};
use klaxon_pipeline::{Limits, ServerInfo};
use proptest::prelude::*;

/// Up to `max` tokens of `alphabet`, concatenated: input that gets past a parser's first
/// character, unlike uniformly random text.
fn soup(alphabet: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 0..max).prop_map(|parts| parts.concat())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Regressions go to the corpus by hand, not to files beside the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The non-empty, non-comment lines of a body: no body yields more points than these.
fn candidate_lines(body: &str) -> usize {
    body.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// A generated point, kept as values to compare with what the parser returns.
#[derive(Debug, Clone)]
struct Generated {
    name: String,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, FieldValue>,
    time: Option<i64>,
}

/// Names with the characters line protocol escapes (space, comma, equals) and some that it
/// does not (dots, dashes, non-ASCII).
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_., =é-]{0,11}"
        .prop_filter("trailing space is trimmed by some writers", |s| {
            !s.ends_with(' ') && s != "time"
        })
}

fn escape(text: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Int),
        any::<u64>().prop_map(FieldValue::UInt),
        any::<bool>().prop_map(FieldValue::Bool),
        "[a-z \"\\\\,=é]{0,12}".prop_map(FieldValue::String),
    ]
}

fn point() -> impl Strategy<Value = Generated> {
    (
        name(),
        prop::collection::btree_map(name(), "[a-zA-Z0-9_., =é-]{1,8}", 0..4),
        prop::collection::btree_map(name(), field_value(), 1..5),
        prop::option::of(-(1i64 << 60)..(1i64 << 60)),
    )
        .prop_filter("a tag value may not end in a space", |(_, tags, _, _)| {
            tags.values().all(|v| !v.ends_with(' '))
        })
        .prop_map(|(name, tags, fields, time)| Generated {
            name,
            tags,
            fields,
            time,
        })
}

fn line(p: &Generated) -> String {
    let mut out = escape(&p.name, &[',', ' ']);
    for (key, value) in &p.tags {
        out.push(',');
        out.push_str(&escape(key, &[',', '=', ' ']));
        out.push('=');
        out.push_str(&escape(value, &[',', '=', ' ']));
    }
    for (i, (key, value)) in p.fields.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(&escape(key, &[',', '=', ' ']));
        out.push('=');
        match value {
            FieldValue::Float(f) => out.push_str(&format!("{f}")),
            FieldValue::Int(i) => out.push_str(&format!("{i}i")),
            FieldValue::UInt(u) => out.push_str(&format!("{u}u")),
            FieldValue::Bool(b) => out.push_str(if *b { "true" } else { "f" }),
            FieldValue::String(s) => out.push_str(&format!("\"{}\"", escape(s, &['"', '\\']))),
        }
    }
    if let Some(t) = p.time {
        out.push_str(&format!(" {t}"));
    }
    out
}

/// Line protocol's own alphabet, so that random sequences get past the first character.
fn lp_soup() -> impl Strategy<Value = String> {
    soup(
        &[
            "cpu",
            "m",
            ",",
            "=",
            " ",
            "\\",
            "\"",
            "\n",
            "\r\n",
            "#",
            "1",
            "-",
            "1.5",
            "i",
            "u",
            "t",
            "true",
            "e9",
            "9223372036854775808",
            "é",
            "\t",
            "x=1",
            "host=a",
            "0",
        ][..],
        60,
    )
}

fn parse(body: &str, limits: &Limits) -> Result<Vec<klaxon_pipeline::Point>, String> {
    parse_with(
        body,
        "db",
        "rp",
        Precision::Nanoseconds,
        Timestamp::EPOCH,
        limits,
    )
    .map_err(|e| e.to_string())
}

/// An error names its line and stays short whatever the line: at most 160 characters of the
/// parser's reason and 80 of the line, each escaped.
fn check_error(body: &str, err: &str) {
    assert!(err.starts_with("line "), "{err}");
    assert!(err.len() <= 2_000, "{} bytes: {err}", err.len());
    let n: usize = err[5..]
        .split(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line number: {err}"));
    assert!(
        n >= 1 && n <= body.split('\n').count(),
        "line {n} of {}",
        body.len()
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_gets_points_or_a_line_error(body in "\\PC{0,200}") {
        match parse(&body, &Limits::default()) {
            Ok(points) => prop_assert!(points.len() <= candidate_lines(&body)),
            Err(err) => check_error(&body, &err),
        }
    }

    #[test]
    fn line_protocol_soup_gets_points_or_a_line_error(body in lp_soup()) {
        match parse(&body, &Limits::default()) {
            Ok(points) => prop_assert!(points.len() <= candidate_lines(&body)),
            Err(err) => check_error(&body, &err),
        }
    }

    #[test]
    fn an_error_stays_short_however_long_the_line(
        junk in "\\PC{1,40}",
        repeat in 1usize..400,
    ) {
        // Found by this file: the parser's "trailing content" reason quoted the whole rest of
        // the line (corpus: line_protocol/trailing_content_long.lp).
        let body = format!("cpu x=1 1 {}", junk.repeat(repeat));
        match parse(&body, &Limits::default()) {
            Ok(points) => prop_assert!(points.len() <= 1),
            Err(err) => check_error(&body, &err),
        }
    }

    #[test]
    fn tight_limits_are_errors_naming_the_setting(
        body in lp_soup(),
        max_line_length in 1usize..40,
        max_fields_per_point in 1usize..3,
    ) {
        let limits = Limits { max_line_length, max_fields_per_point, ..Limits::default() };
        match parse(&body, &limits) {
            Ok(points) => {
                prop_assert!(points.iter().all(|p| p.fields.len() <= max_fields_per_point));
            }
            Err(err) => check_error(&body, &err),
        }
    }

    #[test]
    fn generated_points_parse_back_to_what_was_written(
        points in prop::collection::vec(point(), 1..6),
        blank_between in any::<bool>(),
    ) {
        let separator = if blank_between { "\n\n# a comment\n" } else { "\n" };
        let body = points.iter().map(line).collect::<Vec<_>>().join(separator);
        let parsed = parse(&body, &Limits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
        prop_assert_eq!(parsed.len(), points.len());
        for (want, got) in points.iter().zip(&parsed) {
            prop_assert_eq!(&got.name, &want.name);
            prop_assert_eq!(&got.tags, &want.tags);
            prop_assert_eq!(&got.fields, &want.fields);
            prop_assert_eq!(got.time.as_nanos(), want.time.unwrap_or(0));
            prop_assert_eq!(&*got.database, "db");
        }
    }
}

/// Valid bodies of several points (so that they span several chunks), or soup.
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(point(), 1..8)
            .prop_map(|points| { points.iter().map(line).collect::<Vec<_>>().join("\n") }),
        lp_soup(),
    ]
}

/// What `/write` gets from [`parse_checked`]: every chunk handed over, or the error and how many
/// chunks were handed over before it.
fn parse_in_chunks(
    body: &str,
    chunk: usize,
) -> (Result<usize, String>, Vec<Vec<klaxon_pipeline::Point>>) {
    let target = Target {
        database: "db".into(),
        retention_policy: "rp".into(),
        precision: Precision::Nanoseconds,
        now: Timestamp::EPOCH,
    };
    let mut chunks = Vec::new();
    let result = parse_checked(body, &target, &Limits::default(), chunk, |points| {
        chunks.push(points)
    })
    .map_err(|e| e.to_string());
    (result, chunks)
}

/// The points InfluxData's parser alone makes of `body` (the parser ingest used before it had a
/// scanner and its own line splitting), or `None` when it refuses a line.
fn reference(body: &str) -> Option<Vec<klaxon_pipeline::Point>> {
    use influxdb_line_protocol::FieldValue as Lp;
    influxdb_line_protocol::parse_lines(body)
        .map(|line| {
            let line = line.ok()?;
            let mut point = klaxon_pipeline::Point::new(
                "db",
                "rp",
                line.series.measurement.as_str(),
                line.timestamp.unwrap_or(0),
            );
            for (key, value) in line.series.tag_set.iter().flatten() {
                point = point.tag(key.as_str(), value.as_str());
            }
            for (key, value) in &line.field_set {
                let value = match value {
                    Lp::F64(f) => FieldValue::Float(*f),
                    Lp::I64(i) => FieldValue::Int(*i),
                    Lp::U64(u) => FieldValue::UInt(*u),
                    Lp::String(s) => FieldValue::String(s.as_str().to_owned()),
                    Lp::Boolean(b) => FieldValue::Bool(*b),
                };
                point = point.field(key.as_str(), value);
            }
            Some(point)
        })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// The one-pass parse of `/write` against the whole-body parse: the same points, in chunks
    /// of the size asked, or the same error with nothing handed over.
    #[test]
    fn parse_checked_gives_what_parse_with_gives(body in body(), chunk in 1usize..4) {
        let (result, chunks) = parse_in_chunks(&body, chunk);
        match parse(&body, &Limits::default()) {
            Ok(points) => {
                prop_assert_eq!(result, Ok(points.len()));
                prop_assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= chunk));
                prop_assert_eq!(chunks.concat(), points);
            }
            Err(err) => {
                prop_assert_eq!(result, Err(err));
                prop_assert!(chunks.is_empty());
            }
        }
    }

    /// Against InfluxData's parser on its own: a body it reads whole gives the same points,
    /// and one it refuses is refused.
    #[test]
    fn ingest_reads_bodies_as_influxdatas_parser_does(body in body()) {
        let (result, chunks) = parse_in_chunks(&body, 3);
        match reference(&body) {
            Some(points) => {
                prop_assert_eq!(result, Ok(points.len()));
                prop_assert_eq!(chunks.concat(), points);
            }
            None => prop_assert!(result.is_err(), "{:?}", chunks),
        }
    }
}

fn render(source: &str) -> Result<(String, String, String), String> {
    let templates =
        Templates::new(Some(source), Some(source), Some(source)).map_err(|e| e.to_string())?;
    let tags = BTreeMap::from([("host".to_owned(), "serverA".to_owned())]);
    render_with(&templates, &tags)
}

/// The ID, message and details of an event of `cpu` with these tags, as the alert node renders
/// them.
fn render_with(
    templates: &Templates,
    tags: &BTreeMap<String, String>,
) -> Result<(String, String, String), String> {
    let fields = BTreeMap::from([
        ("value".to_owned(), FieldValue::Float(1.5)),
        ("n".to_owned(), FieldValue::Int(3)),
    ]);
    let server = ServerInfo::default();
    let input = TemplateInput {
        name: "cpu",
        task_name: "prop",
        group: "host=serverA",
        tags,
        fields: &fields,
        server: &server,
    };
    let id = templates.id(&input)?;
    let (level, time, duration) = (Level::Warning, Timestamp::EPOCH, GoDuration::ZERO);
    let message = templates.message(&input, &id, level, time, duration)?;
    let details = templates.details(&input, &id, level, time, duration, &message)?;
    Ok((id, message, details))
}

/// Pieces of Go templates, including ones that loop, pad, recurse and call unknown functions.
fn template_soup() -> impl Strategy<Value = String> {
    soup(
        &[
            "{{",
            "}}",
            "{{-",
            "-}}",
            ".",
            ".Name",
            ".ID",
            ".Tags",
            ".Fields",
            ".Level",
            "index .Tags \"host\"",
            "index .Fields \"value\"",
            "range",
            "end",
            "if",
            "else",
            "with",
            "define \"t\"",
            "template \"t\"",
            "block",
            "printf",
            "\"%d\"",
            "\"%65535d\"",
            "len",
            "slice",
            "eq",
            "and",
            "or",
            "not",
            "print",
            "println",
            "html",
            "js",
            "urlquery",
            "json",
            "jsonCompact",
            "env",
            "$",
            "$x",
            ":=",
            "=",
            "|",
            "(",
            ")",
            " ",
            "1",
            "1000000",
            "-1",
            "\"s\"",
            "`raw`",
            "nil",
            "true",
            "/*",
            "*/",
            "\n",
            "text",
            "é",
        ][..],
        30,
    )
}

/// The most a template renders before it is cut (the pipeline's fixed bound).
const MAX_OUTPUT: usize = Limits::MAX_TEMPLATE_OUTPUT;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_templates_parse_and_render_or_fail(source in "\\PC{0,80}") {
        if let Ok((id, message, details)) = render(&source) {
            prop_assert!(id.len() <= MAX_OUTPUT && message.len() <= MAX_OUTPUT);
            prop_assert!(details.len() <= MAX_OUTPUT);
        }
    }

    #[test]
    fn template_soup_parses_and_renders_or_fails(source in template_soup()) {
        if let Ok((id, message, details)) = render(&source) {
            prop_assert!(id.len() <= MAX_OUTPUT && message.len() <= MAX_OUTPUT);
            prop_assert!(details.len() <= MAX_OUTPUT);
        }
    }

    #[test]
    fn text_without_actions_renders_as_itself(text in "[^{}]{0,60}") {
        // .id() and .message() are text templates: literal text comes out unchanged. (The
        // details template is Go's html/template, which refuses text such as `<a` that ends
        // inside a tag, so it keeps its default here.)
        let templates = Templates::new(Some(&text), Some(&text), None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (id, message, _) =
            render_with(&templates, &BTreeMap::new()).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&id, &text);
        prop_assert_eq!(&message, &text);
    }

    #[test]
    fn printed_tags_come_out_as_the_alert_data(value in "[a-zA-Z0-9 ._-]{0,20}") {
        let templates = Templates::new(Some("{{ index .Tags \"host\" }}"), None, None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let tags = BTreeMap::from([("host".to_owned(), value.clone())]);
        let (id, _, _) = render_with(&templates, &tags).map_err(TestCaseError::fail)?;
        prop_assert_eq!(id, value);
    }
}
