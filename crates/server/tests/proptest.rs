//! Property tests for the server's parsers of outside input, through the functions the server
//! itself calls: the `/write` route's `parse_request` (query, gzip, body size, line protocol),
//! handler files and API bodies (`load::parse_spec` for YAML, serde for JSON), the configuration
//! file and environment (`Config::load`) and the config API's overrides (`config::overrides::apply`).
//! Whatever the input: `Ok` or a typed error, never a panic; plus round trips where they are
//! cheap. (The handler PATCH and task bodies are checked in their modules, whose functions are
//! private.) Case counts are modest so the suite stays quick on two cores in a debug build; an
//! input that ever fails goes to `tests/corpus/<parser>/`, which the corpus tests replay.

use std::io::Write as _;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use klaxon_core::Registry;
use klaxon_engine::{HandlerSpec, Services, Store};
use klaxon_pipeline::Limits;
use klaxon_server::Config;
use klaxon_server::http::write::{WriteQuery, parse_request};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
// A handler kind whose `[fixture]` section the configuration properties reach.
use klaxon_fixture_handler as _;

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

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn query(db: &str, precision: &str) -> WriteQuery {
    serde_json::from_value(json!({"db": db, "precision": precision})).expect("a write query")
}

fn headers(gzipped: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers
}

/// Lines that could hold a point: no body yields more points than it has.
fn candidate_lines(body: &[u8]) -> usize {
    String::from_utf8_lossy(body)
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// The `/write` answer for `body` (gzipped first when asked), as the route computes it.
fn write(
    body: &[u8],
    gzipped: bool,
    max_body: usize,
    q: &WriteQuery,
) -> Result<Vec<klaxon_pipeline::Point>, klaxon_server::http::write::WriteError> {
    let bytes = if gzipped {
        Bytes::from(gzip(body))
    } else {
        Bytes::copy_from_slice(body)
    };
    parse_request(q, &headers(gzipped), &bytes, max_body, &Limits::default())
}

/// Every refusal is a client error with a short message.
fn check_refusal(err: &klaxon_server::http::write::WriteError) {
    assert!(
        err.status == 400 || err.status == 413,
        "{} {}",
        err.status,
        err.message
    );
    assert!(
        err.message.len() <= 2_000,
        "{} bytes: {}",
        err.message.len(),
        err.message
    );
}

fn lp_soup() -> impl Strategy<Value = Vec<u8>> {
    soup(
        &[
            "cpu",
            "mem",
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
            "2.5",
            "i",
            "u",
            "true",
            "e9",
            "18446744073709551616",
            "é",
            "\t",
            "v=1",
            "host=a",
            "\0",
            "\u{feff}",
        ][..],
        60,
    )
    .prop_map(String::into_bytes)
}

/// A valid point as one line, with the values it must parse to.
fn valid_line() -> impl Strategy<Value = (String, String, String, i64, i64)> {
    (
        "[a-z][a-z0-9_]{0,8}",
        "[a-zA-Z0-9_.-]{1,8}",
        "[a-z][a-z0-9_]{0,8}",
        any::<i64>(),
        -1_000_000_000i64..1_000_000_000,
    )
        .prop_filter("time is not a field key", |(_, _, field, _, _)| {
            field != "time"
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_get_points_or_a_client_error(
        body in prop::collection::vec(any::<u8>(), 0..300),
        gzipped in any::<bool>(),
    ) {
        match write(&body, gzipped, 25_000_000, &query("db", "n")) {
            Ok(points) => prop_assert!(points.len() <= candidate_lines(&body)),
            Err(err) => check_refusal(&err),
        }
    }

    #[test]
    fn bytes_labelled_gzip_that_are_not_gzip_are_refused(
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        // Not compressed, but sent as Content-Encoding: gzip.
        let bytes = Bytes::from(body.clone());
        match parse_request(&query("db", "n"), &headers(true), &bytes, 25_000_000, &Limits::default()) {
            Ok(points) => prop_assert!(points.is_empty() || body.starts_with(&[0x1f, 0x8b])),
            Err(err) => check_refusal(&err),
        }
    }

    #[test]
    fn line_protocol_soup_gets_points_or_a_client_error(
        body in lp_soup(),
        gzipped in any::<bool>(),
        max_body in prop::sample::select(&[1usize, 16, 64, 25_000_000][..]),
    ) {
        match write(&body, gzipped, max_body, &query("db", "n")) {
            Ok(points) => prop_assert!(points.len() <= candidate_lines(&body)),
            Err(err) => check_refusal(&err),
        }
    }

    #[test]
    fn a_body_over_max_body_size_is_413_before_or_after_gzip(
        body in lp_soup(),
        gzipped in any::<bool>(),
        max_body in 0usize..80,
    ) {
        let sent = if gzipped { gzip(&body).len() } else { body.len() };
        let result = write(&body, gzipped, max_body, &query("db", "n"));
        let too_large = result.as_ref().is_err_and(|e| e.status == 413);
        if sent > max_body {
            prop_assert!(too_large, "{} bytes sent, limit {max_body}", sent);
        }
        if too_large {
            // Either what was sent or what it decodes to is over the limit.
            prop_assert!(sent > max_body || (gzipped && body.len() > max_body));
        }
    }

    #[test]
    fn arbitrary_query_parameters_are_accepted_or_refused(
        db in "\\PC{0,12}",
        precision in prop::sample::select(&["", "n", "ns", "u", "us", "µ", "ms", "s", "m", "h", "x", "S", "nanoseconds"][..]),
    ) {
        match write(b"cpu v=1 1\n", false, 25_000_000, &query(&db, precision)) {
            Ok(points) => {
                prop_assert_eq!(points.len(), 1);
                prop_assert_eq!(&*points[0].database, db.as_str());
            }
            Err(err) => {
                check_refusal(&err);
                prop_assert!(
                    err.message.contains("precision") || (db.is_empty() && err.message.contains("?db=")),
                    "{}",
                    err.message
                );
            }
        }
    }

    #[test]
    fn valid_points_come_through_plain_or_gzipped_with_their_values(
        lines in prop::collection::vec(valid_line(), 1..20),
        gzipped in any::<bool>(),
        precision in prop::sample::select(&[("n", 1i64), ("u", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)][..]),
    ) {
        let body: String = lines
            .iter()
            .map(|(m, host, field, value, time)| format!("{m},host={host} {field}={value}i {time}\n"))
            .collect();
        let points = write(body.as_bytes(), gzipped, 25_000_000, &query("telegraf", precision.0))
            .map_err(|e| TestCaseError::fail(format!("{} {}\n{body}", e.status, e.message)))?;
        prop_assert_eq!(points.len(), lines.len());
        for ((m, host, field, value, time), point) in lines.iter().zip(&points) {
            prop_assert_eq!(&point.name, m);
            prop_assert_eq!(&point.tags["host"], host);
            prop_assert_eq!(&point.fields[field], &klaxon_core::FieldValue::Int(*value));
            prop_assert_eq!(point.time.as_nanos(), time * precision.1);
            prop_assert_eq!(&*point.retention_policy, "autogen");
        }
    }
}

/// A handler file as an operator writes it, from YAML's own alphabet (anchors, aliases, merge
/// keys, tags, flow collections, block scalars).
fn yaml_soup() -> impl Strategy<Value = String> {
    soup(
        &[
            "id",
            "topic",
            "kind",
            "options",
            "match",
            "retry",
            "attempts",
            ": ",
            ":",
            "\n",
            "\n  ",
            "- ",
            "&a ",
            "*a",
            "<<: ",
            "!!str ",
            "!!binary ",
            "!custom ",
            "---\n",
            "...\n",
            "{",
            "}",
            "[",
            "]",
            ", ",
            "|\n  ",
            ">\n  ",
            "\"",
            "'",
            "# c",
            "? ",
            "~",
            "null",
            "true",
            "1",
            "-1",
            "1e400",
            "0x1F",
            ".inf",
            "h",
            "cpu",
            "tcp",
            "é",
            "\t",
            "%YAML 1.2\n",
        ][..],
        50,
    )
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        "[a-zA-Z0-9 :#'\"{}\\[\\],&*!|>-]{0,12}".prop_map(Value::String),
        prop::sample::select(&["yes", "no", "null", "~", "1.0", "0x10", "true", ""][..])
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z][a-z-]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn handler_spec() -> impl Strategy<Value = HandlerSpec> {
    (
        "[a-zA-Z0-9_.-]{1,12}",
        "[a-zA-Z0-9_.-]{1,12}",
        "[a-z][a-z0-9-]{0,8}",
        prop::collection::btree_map("[a-z][a-z-]{0,8}", json_value(), 0..4),
        prop::sample::select(&["", "level() == CRITICAL", "\"host\" == 'a'", "changed()"][..]),
    )
        .prop_map(|(id, topic, kind, options, match_)| HandlerSpec {
            id,
            topic,
            kind,
            options: Value::Object(options.into_iter().collect()),
            match_: match_.to_owned(),
            retry: None,
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_is_a_handler_spec_or_an_error(text in "\\PC{0,200}") {
        let _ = klaxon_server::load::parse_spec(&text);
        let _ = serde_json::from_str::<HandlerSpec>(&text);
    }

    #[test]
    fn yaml_soup_is_a_handler_spec_or_an_error(text in yaml_soup()) {
        if let Ok(spec) = klaxon_server::load::parse_spec(&text) {
            let _ = spec.check_names();
        }
    }

    #[test]
    fn a_handler_spec_reads_back_from_its_yaml_and_json(spec in handler_spec()) {
        prop_assert!(spec.check_names().is_ok(), "{spec:?}");
        let yaml = yaml_serde::to_string(&spec).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let from_yaml = klaxon_server::load::parse_spec(&yaml)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{yaml}")))?;
        prop_assert_eq!(&from_yaml, &spec, "{}", yaml);
        let json = serde_json::to_string(&spec).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // YAML reads JSON too: a handler file may be either.
        let from_json_file = klaxon_server::load::parse_spec(&json)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(&from_json_file, &spec, "{}", json);
        let from_api: HandlerSpec = serde_json::from_str(&json)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&from_api, &spec);
    }
}

fn registry() -> Registry {
    Registry::linked().expect("the registry assembles")
}

/// `Config::load` of `text` through a file, as `--config` reads it, with `env` as the
/// environment.
fn load(text: &str, env: Vec<(String, String)>) -> Result<Config, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("klaxon.toml");
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Config::load(Some(&path), env, &registry()).map_err(|e| e.to_string())
}

fn toml_soup() -> impl Strategy<Value = String> {
    soup(
        &[
            "[limits]\n",
            "[http]\n",
            "[alert]\n",
            "[server]\n",
            "[fixture]\n",
            "[[http.users]]\n",
            "[nosuch]\n",
            "max-tasks",
            "max-line-length",
            "max-expression-depth",
            "bind-address",
            "auth-enabled",
            "disable-handlers",
            "handler-timeout",
            "timeout",
            "enabled",
            "path",
            " = ",
            "=",
            "\n",
            "0",
            "1",
            "-1",
            "9223372036854775808",
            "1e3",
            "\"1s\"",
            "\"-1s\"",
            "\"fixture\"",
            "\"nosuch\"",
            "true",
            "[",
            "]",
            "{",
            "}",
            ",",
            "\"",
            "'''",
            "# c",
            "é",
            "inf",
            "nan",
            "1979-05-27T07:32:00Z",
            "\"127.0.0.1:0\"",
        ][..],
        40,
    )
}

/// Environment variables of the `KLAXON_<SECTION>_<KEY>` form, real and not, with any value.
fn environment() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop::sample::select(
                &[
                    "KLAXON_LIMITS_MAX_TASKS",
                    "KLAXON_HTTP_BIND_ADDRESS",
                    "KLAXON_FIXTURE_ENABLED",
                    "KLAXON_FIXTURE_TIMEOUT",
                    "KLAXON_SERVER_DISABLE_HANDLERS",
                    "KLAXON_NOSUCH_KEY",
                    "KLAXON_",
                    "KLAXON_LIMITS_",
                    "PATH",
                ][..],
            ),
            "\\PC{0,12}",
        ),
        0..4,
    )
    .prop_map(|vars| vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_is_a_configuration_or_an_error(text in "\\PC{0,200}") {
        let _ = load(&text, Vec::new());
    }

    #[test]
    fn toml_soup_and_environment_are_a_configuration_or_an_error(
        text in toml_soup(),
        env in environment(),
    ) {
        if let Ok(config) = load(&text, env) {
            prop_assert!(config.server.limits.max_tasks >= 1);
        }
    }

    #[test]
    fn limits_given_in_the_file_are_the_limits_loaded(
        max_tasks in 1usize..1_000_000,
        max_line_length in 1usize..100_000_000,
        max_fields_per_point in 1usize..1_000_000,
        from_env in any::<bool>(),
    ) {
        let mut text = format!(
            "[limits]\nmax-line-length = {max_line_length}\nmax-fields-per-point = {max_fields_per_point}\n"
        );
        let mut env = Vec::new();
        if from_env {
            env.push(("KLAXON_LIMITS_MAX_TASKS".to_owned(), max_tasks.to_string()));
        } else {
            text.push_str(&format!("max-tasks = {max_tasks}\n"));
        }
        let config = load(&text, env).map_err(TestCaseError::fail)?;
        let limits = &config.server.limits;
        prop_assert_eq!(limits.max_tasks, max_tasks);
        prop_assert_eq!(limits.max_line_length, max_line_length);
        prop_assert_eq!(limits.max_fields_per_point, max_fields_per_point);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..config() })]

    /// `POST /kapacitor/v1/config/fixture/` with any `set` and `delete`: applied whole, or
    /// refused leaving the running section and the stored overrides as they were.
    #[test]
    fn a_config_override_applies_whole_or_not_at_all(
        set in prop::collection::btree_map(
            prop::sample::select(&["enabled", "path", "timeout", "nosuch", ""][..]),
            json_value(),
            0..4,
        ),
        delete in prop::collection::vec(prop::sample::select(&["enabled", "path", "timeout", "nosuch"][..]), 0..3),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let registry = registry();
        let services = Services::build(&Default::default(), &registry)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let store = Store::open(&dir.path().join("klaxon.db"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let service = services.get("fixture").expect("the fixture kind is linked");
        let before = (service.config(), store.overrides().map_err(|e| TestCaseError::fail(e.to_string()))?);
        let set: Map<String, Value> = set.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let delete: Vec<String> = delete.into_iter().map(str::to_owned).collect();
        let change = klaxon_server::config::overrides::Change::Keys { element: None, set: &set, delete: &delete };
        let result = klaxon_server::config::overrides::apply(&services, &registry, &store, "fixture", change);
        let after = (service.config(), store.overrides().map_err(|e| TestCaseError::fail(e.to_string()))?);
        match result {
            Err(_) => prop_assert_eq!(after, before),
            Ok(()) => {
                for (key, value) in &set {
                    if !delete.contains(key) {
                        prop_assert_eq!(&after.1["fixture"][key], value);
                    }
                }
            }
        }
    }
}
