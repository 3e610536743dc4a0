//! The fuzzing corpus, replayed on every test run: every file under `tests/corpus/<parser>/` goes
//! through the function that definitions and writes use, which must answer `Ok` or `Err`, never
//! panic or hang. Add a file there for each crash or hang found (by hand, proptest or a fuzzer).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use klaxon_core::testing::{corpus_result as result, replay_corpus};
use klaxon_core::{FieldValue, GoDuration, Level, Registry, Timestamp};
use klaxon_pipeline::alert::{TemplateInput, Templates};
use klaxon_pipeline::ingest::{Precision, parse_with};
use klaxon_pipeline::{Limits, ServerInfo, Task};
use klaxon_tick::{CompileOptions, MatchExpr};
// Linked so that scripts naming a handler reach its options decoder.
use klaxon_fixture_handler as _;

fn corpus(parser: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(parser)
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))
}

#[test]
fn tickscript_corpus() {
    let results = replay_corpus(&corpus("tickscript"), |bytes| {
        let registry = Registry::linked().map_err(|e| e.to_string())?;
        let task = Task::compile_with(
            "corpus",
            text(bytes)?,
            &registry,
            &ServerInfo::default(),
            &Limits::default(),
        )
        .map_err(|e| e.to_string())?;
        Ok(format!("{} dbrps", task.dbrps().len()))
    });
    assert!(result(&results, "valid_alert.tick").is_ok());
    for deep in [
        "deep_parens.tick",
        "deep_unary.tick",
        "deep_not.tick",
        "long_and_chain.tick",
    ] {
        let err = result(&results, deep).as_ref().unwrap_err();
        assert!(
            err.contains("[limits] max-expression-depth is 128"),
            "{deep}: {err}"
        );
    }
    let err = result(&results, "regex_huge.tick").as_ref().unwrap_err();
    assert!(err.contains("[limits] max-regex-size"), "{err}");
}

#[test]
fn match_expression_corpus() {
    let results = replay_corpus(&corpus("match"), |bytes| {
        MatchExpr::parse_with(text(bytes)?, &CompileOptions::default())
            .map(|_| "compiled".to_owned())
            .map_err(|e| e.to_string())
    });
    assert!(result(&results, "valid.txt").is_ok());
    let err = result(&results, "deep_parens.txt").as_ref().unwrap_err();
    assert!(
        err.contains("[limits] max-expression-depth is 128"),
        "{err}"
    );
}

#[test]
fn template_corpus() {
    let results = replay_corpus(&corpus("template"), |bytes| {
        let source = text(bytes)?;
        let templates =
            Templates::new(Some(source), Some(source), Some(source)).map_err(|e| e.to_string())?;
        let tags = BTreeMap::from([("host".to_owned(), "serverA".to_owned())]);
        let fields = BTreeMap::from([("value".to_owned(), FieldValue::Float(1.5))]);
        let server = ServerInfo::default();
        let input = TemplateInput {
            name: "cpu",
            task_name: "corpus",
            group: "nil",
            tags: &tags,
            fields: &fields,
            server: &server,
        };
        let id = templates.id(&input)?;
        let (level, time, duration) = (Level::Critical, Timestamp::EPOCH, GoDuration::ZERO);
        let message = templates.message(&input, &id, level, time, duration)?;
        let details = templates.details(&input, &id, level, time, duration, &message)?;
        Ok(format!("{id}|{message}|{details}"))
    });
    assert_eq!(
        result(&results, "default_id.tmpl").as_deref(),
        Ok("cpu:nil|cpu:nil|cpu:nil")
    );
    for refused in [
        "env.tmpl",
        "getenv.tmpl",
        "read_file.tmpl",
        "huge_range.tmpl",
        "printf_padding.tmpl",
    ] {
        assert!(result(&results, refused).is_err(), "{refused} rendered");
    }
}

#[test]
fn line_protocol_corpus() {
    let results = replay_corpus(&corpus("line_protocol"), |bytes| {
        parse_with(
            text(bytes)?,
            "db",
            "autogen",
            Precision::Nanoseconds,
            Timestamp::EPOCH,
            &Limits::default(),
        )
        .map(|points| format!("{} points", points.len()))
        .map_err(|e| e.to_string())
    });
    assert_eq!(result(&results, "valid.lp").as_deref(), Ok("2 points"));
    let err = result(&results, "many_fields.lp").as_ref().unwrap_err();
    assert!(
        err.contains("[limits] max-fields-per-point is 10000"),
        "{err}"
    );
    // The parser's reason quotes the trailing content; the error keeps only an excerpt.
    let err = result(&results, "trailing_content_long.lp")
        .as_ref()
        .unwrap_err();
    assert!(
        err.starts_with("line 1: could not parse entire line"),
        "{err}"
    );
    assert!(err.len() < 1_000, "{} bytes", err.len());
}
