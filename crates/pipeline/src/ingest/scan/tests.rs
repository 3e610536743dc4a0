//! The scanner against InfluxData's parser: whenever the scanner takes a line, the parser must
//! take it too and make the same of it.

use std::path::Path;

use influxdb_line_protocol::{parse_lines, split_lines};
use proptest::prelude::*;

use super::{Line, Value, scan};

/// What InfluxData's parser makes of one line: `None` for a blank or comment line.
fn reference(raw: &str) -> Option<Result<Line<'_>, String>> {
    parse_lines(raw).next().map(|parsed| {
        parsed
            .map(|parsed| {
                let mut line = Line::default();
                line.fill_from(parsed);
                line
            })
            .map_err(|e| e.to_string())
    })
}

/// Every line of `body` the scanner takes is one the parser takes, with the same result.
/// Returns how many lines the scanner took.
fn agree(body: &str) -> usize {
    let mut taken = 0;
    let mut line = Line::default();
    for raw in split_lines(body) {
        if scan(raw, &mut line) {
            taken += 1;
            match reference(raw) {
                Some(Ok(expected)) => assert_eq!(line, expected, "{raw:?}"),
                other => panic!("scanned {raw:?} as {line:?}; the parser says {other:?}"),
            }
        }
    }
    taken
}

#[test]
fn plain_lines_are_scanned_as_the_parser_reads_them() {
    let body = "cpu,host=host00001,region=region1 usage_idle=87.5,usage_user=8.75,usage_system=3.75 1700000000\n\
                m v=1i,u=2u,s=\"a, b=c d\",e=\"\",b=t,c=FALSE,x=-1.5e-3,y=1E9,z=-0 -5  \n\
                m,a=é v=2,v=3\n\
                m  v=1  1\n";
    assert_eq!(agree(body), 4);
    let mut line = Line::default();
    assert!(scan("cpu,host=a usage_idle=5 10", &mut line));
    assert_eq!(line.measurement, "cpu");
    assert_eq!(line.tags, [("host".into(), "a".into())]);
    assert_eq!(line.fields, [("usage_idle".into(), Value::Float(5.0))]);
    assert_eq!(line.timestamp, Some(10));
}

#[test]
fn unusual_lines_go_to_the_parser() {
    for raw in [
        "",
        "# comment",
        " cpu v=1",
        "c\\ pu v=1",
        "cpu,a\\=b=c v=1",
        "cpu v=\"a\\\"b\"",
        "cpu v=1 1\r",
        "cpu\tv=1",
        "cpu v=99999999999999999999i",
        "cpu v=18446744073709551616u",
        "cpu v=1 99999999999999999999",
        "cpu v=1 ",
        "cpu v=1,",
        "cpu, v=1",
        "cpu,a= v=1",
        "cpu,a=b=c v=1",
        "a=b v=1",
        "cpu v=",
        "cpu v=1.",
        "cpu v=.5",
        "cpu v=1e",
        "cpu v=tru",
        "cpu v=nan",
        "cpu v=-5u",
        "cpu v=\"open",
        "cpu",
    ] {
        assert!(!scan(raw, &mut Line::default()), "{raw:?}");
    }
}

#[test]
fn the_corpora_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut taken = 0;
    for dir in [
        root.join("tests/corpus/line_protocol"),
        root.join("../server/tests/corpus/write"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let bytes = std::fs::read(entry.expect("a directory entry").path()).expect("readable");
            if let Ok(body) = std::str::from_utf8(&bytes) {
                taken += agree(body);
            }
        }
    }
    assert!(taken > 10, "the scanner took only {taken} corpus lines");
}

/// Names from bytes the scanner treats specially and bytes it does not.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(
            &[
                "a", "b", "é", "_", ".", "-", "1", "#", "\\", "=", ",", " ", "\"", "\t", "\0", "\r",
            ][..],
        ),
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

/// Values the parser reads, and near misses.
fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(
            &[
                "1",
                "0",
                "-",
                "12",
                ".",
                "5",
                "e",
                "E",
                "+",
                "i",
                "u",
                "t",
                "T",
                "true",
                "True",
                "TRUE",
                "f",
                "false",
                "FALSE",
                "nan",
                "\"",
                "\\",
                "x",
                " ",
                ",",
                "9223372036854775807",
                "9223372036854775808",
                "18446744073709551616",
                "é",
            ][..],
        ),
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

/// Values of every type, written as writers write them.
fn plain_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        any::<i64>().prop_map(|i| format!("{i}i")),
        any::<u64>().prop_map(|u| format!("{u}u")),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z ,=é]{0,8}".prop_map(|s| format!("\"{s}\"")),
    ]
}

/// A line's measurement, tags, fields (key and value as written) and timestamp text.
type Parts = (
    String,
    Vec<(String, String)>,
    Vec<(String, String)>,
    Option<String>,
);

fn line_of(parts: Parts) -> String {
    let (measurement, tags, fields, timestamp) = parts;
    let mut out = measurement;
    for (key, value) in tags {
        out.push_str(&format!(",{key}={value}"));
    }
    for (i, (key, value)) in fields.into_iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(&format!("{key}={value}"));
    }
    if let Some(t) = timestamp {
        out.push_str(&t);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_lines_agree(parts in (
        name(),
        prop::collection::vec((name(), name()), 0..3),
        prop::collection::vec((name(), value()), 0..4),
        prop::option::of(prop::sample::select(&[" 1", "  -12 ", " ", " 99999999999999999999", " 1x", "1", " -"][..]).prop_map(str::to_owned)),
    )) {
        agree(&line_of(parts));
    }

    /// The plain shape is always taken: the scanner is the path of ordinary writes.
    #[test]
    fn plain_lines_are_taken(
        measurement in "[a-zé_.1-]{1,6}",
        tags in prop::collection::vec(("[a-zé_.1-]{1,6}", "[a-zé_.1-]{1,6}"), 0..3),
        fields in prop::collection::vec(("[a-zé_.1-]{1,6}", plain_value()), 1..4),
        timestamp in prop::option::of(any::<i64>()),
    ) {
        let line = line_of((measurement, tags, fields, timestamp.map(|t| format!(" {t}"))));
        prop_assert_eq!(agree(&line), 1, "{:?}", line);
    }

    #[test]
    fn soup_agrees(body in prop::collection::vec(prop::sample::select(&[
        "cpu", "m", ",", "=", " ", "\\", "\"", "\n", "\r\n", "#", "1", "-", "1.5", "i", "u", "t",
        "true", "e9", "9223372036854775808", "é", "\t", "x=1", "host=a", "0", "\0",
    ][..]), 0..40).prop_map(|parts| parts.concat())) {
        agree(&body);
    }
}
