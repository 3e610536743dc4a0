//! The log handler through the real path: options decoded by the registry, real files, real
//! renames.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use klaxon_core::testing::{assert_documented, assert_registered_and_builds, option_error};
use klaxon_core::{
    AlertResult, DynService, Event, EventData, EventState, FieldValue, GoDuration, Handler, Level,
    Row, Service, TestError, Timestamp,
};
use serde_json::{Value, json};

use crate::LogService;

/// The line Kapacitor writes for the alert of kapacitor-compat.md 1.5 (`TestServer_AlertHandlers`,
/// case log): `json.NewEncoder(f).Encode(alertData)`.
const KAPACITOR_LINE: &str = concat!(
    r#"{"id":"id","message":"message","details":"details","time":"1970-01-01T00:00:00Z","#,
    r#""duration":0,"level":"CRITICAL","data":{"series":[{"name":"alert","columns":["time","value"],"#,
    r#""values":[["1970-01-01T00:00:00Z",1]]}]},"previousLevel":"OK","recoverable":true}"#,
    "\n"
);

/// The event of kapacitor-compat.md 1.5, with its message.
fn event(message: &str) -> Event {
    let fields = BTreeMap::from([("value".to_owned(), FieldValue::Float(1.0))]);
    let time = Timestamp::EPOCH;
    Event {
        topic: "test".into(),
        state: EventState {
            id: "id".into(),
            message: message.into(),
            details: "details".into(),
            time,
            duration: GoDuration::ZERO,
            level: Level::Critical,
        },
        data: EventData {
            name: "alert".into(),
            recoverable: true,
            result: AlertResult {
                series: vec![Row::from_point("alert", &BTreeMap::new(), &fields, time)],
            },
            fields,
            ..EventData::default()
        },
        previous_level: Level::Ok,
    }
}

fn service() -> Arc<dyn DynService> {
    klaxon_core::testing::service::<LogService>(&Value::Null)
}

fn handler(options: Value) -> Arc<dyn Handler> {
    service()
        .handler(&options)
        .unwrap_or_else(|e| panic!("the options {options} are refused: {e}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn mode_of(path: &Path) -> u32 {
    let metadata = std::fs::metadata(path).expect("metadata");
    metadata.permissions().mode() & 0o777
}

/// What a file created with `mode` gets under this process's umask: the umask is read back from
/// a file created with every permission.
fn created_mode(dir: &Path, mode: u32) -> u32 {
    let probe = dir.join(".umask-probe");
    std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new().create_new(true).write(true),
        0o777,
    )
    .open(&probe)
    .expect("create the probe");
    let allowed = mode_of(&probe);
    std::fs::remove_file(&probe).expect("remove the probe");
    mode & allowed
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("alerts.log");
    assert_registered_and_builds::<LogService>(&json!({}), &json!({"path": path, "mode": 420}));
    assert_documented::<LogService>();
}

#[test]
fn defaults_are_kapacitors_0600_and_the_section_has_no_keys() {
    assert_eq!(service().config(), json!({}));
    assert_eq!(
        service().default_options(),
        json!({"path": "", "mode": 384})
    );
    assert_eq!(service().test_options(), json!({"path": "", "mode": 384}));
    let err =
        klaxon_core::testing::build::<LogService>(&json!({"path": "/tmp/x"})).expect_err("no keys");
    assert_eq!(
        err.to_string(),
        r#"log: key "path": unknown field `path`, there are no fields"#
    );
}

#[test]
fn tickscript_takes_the_path_and_an_octal_mode() {
    // `.log('/tmp/alerts.log').mode(0644)`: the lexer reads 0644 as octal, 420.
    let options = LogService::TICK
        .build_options(&[json!("/tmp/alerts.log")], &[("mode", vec![json!(0o644)])])
        .expect("valid");
    assert_eq!(options, json!({"path": "/tmp/alerts.log", "mode": 420}));
    let err = LogService::TICK
        .build_options(&[], &[])
        .expect_err("the path is required");
    assert_eq!(err.to_string(), ".log(path) takes 1 argument, got 0");
}

#[tokio::test]
async fn appends_kapacitors_line_for_each_alert() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("alert.log");
    let handler = handler(json!({ "path": path }));

    handler.handle(&event("message")).await.expect("written");
    assert_eq!(read(&path), KAPACITOR_LINE);

    handler.handle(&event("second")).await.expect("written");
    let text = read(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(format!("{}\n", lines[0]), KAPACITOR_LINE);
    assert!(lines[1].contains(r#""message":"second""#), "{text}");
}

#[tokio::test]
async fn the_file_is_created_at_definition_with_the_mode() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // The mode as each surface gives it: the default, TICKscript's octal literal and Kapacitor's
    // JSON (a number), and a YAML handler file's `mode: 0644` (which YAML 1.2 reads as text).
    let cases = [
        ("default.log", json!(null), 0o600),
        ("number.log", json!(420), 0o644),
        ("yaml.log", json!("0644"), 0o644),
        ("kapacitor-test.log", json!(0o604), 0o604),
        ("prefixed.log", json!("0o640"), 0o640),
    ];
    for (name, mode, expected) in cases {
        let path = dir.path().join(name);
        handler(json!({ "path": path, "mode": mode }));
        assert!(path.exists(), "{name}");
        assert_eq!(
            mode_of(&path),
            created_mode(dir.path(), expected),
            "{name} with mode {mode}"
        );
        assert_eq!(read(&path), "");
    }
}

#[tokio::test]
async fn an_existing_file_is_appended_to_and_keeps_its_mode() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("alert.log");
    std::fs::write(&path, "earlier\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let handler = handler(json!({ "path": path, "mode": 0o600 }));

    handler.handle(&event("message")).await.expect("written");

    assert_eq!(read(&path), format!("earlier\n{KAPACITOR_LINE}"));
    assert_eq!(mode_of(&path), 0o640);
}

#[tokio::test]
async fn a_file_rotated_away_is_created_afresh_by_the_next_alert() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("alerts.log");
    let rotated = dir.path().join("alerts.log.1");
    let handler = handler(json!({ "path": path, "mode": 0o644 }));
    handler.handle(&event("before")).await.expect("written");

    std::fs::rename(&path, &rotated).expect("rotate");
    handler.handle(&event("after")).await.expect("written");

    assert!(read(&rotated).contains(r#""message":"before""#));
    let fresh = read(&path);
    assert_eq!(fresh.lines().count(), 1, "{fresh}");
    assert!(fresh.contains(r#""message":"after""#), "{fresh}");
    assert_eq!(mode_of(&path), created_mode(dir.path(), 0o644));

    std::fs::remove_file(&path).expect("delete");
    handler.handle(&event("deleted")).await.expect("written");
    assert!(read(&path).contains(r#""message":"deleted""#));
}

#[tokio::test]
async fn concurrent_handlers_of_one_file_keep_every_line_whole() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("shared.log");
    let handlers = [
        handler(json!({ "path": path })),
        handler(json!({ "path": path })),
    ];
    let long = "x".repeat(20_000);
    let writes = handlers.iter().flat_map(|h| {
        (0..25).map(|_| {
            let event = event(&long);
            let h = Arc::clone(h);
            tokio::spawn(async move { h.handle(&event).await })
        })
    });
    for write in writes.collect::<Vec<_>>() {
        write.await.expect("joined").expect("written");
    }

    let text = read(&path);
    assert_eq!(text.lines().count(), 50);
    for line in text.lines() {
        let alert: Value = serde_json::from_str(line).expect("a whole JSON line");
        assert_eq!(alert["message"], long.as_str());
    }
}

#[tokio::test]
async fn a_directory_removed_after_definition_fails_the_delivery_with_the_os_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let path = logs.join("alerts.log");
    let handler = handler(json!({ "path": path }));
    std::fs::remove_dir_all(&logs).expect("remove");

    let err = handler
        .handle(&event("lost"))
        .await
        .expect_err("nowhere to write");

    assert_eq!(
        err.message(),
        format!(
            "open {}: No such file or directory (os error 2)",
            path.display()
        )
    );
    assert!(!err.is_retryable());
}

#[test]
fn bad_options_are_refused_naming_the_field_and_value() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("alerts.log");
    let missing = dir.path().join("missing").join("alerts.log");
    let cases = [
        (
            json!({}),
            r#"log: path is required; write an absolute path such as "/var/log/klaxon/alerts.log""#
                .to_owned(),
        ),
        (
            json!({"path": "alert.log"}),
            r#"log: path "alert.log" is relative; write an absolute path"#.to_owned(),
        ),
        (
            json!({"path": path, "mode": 0o444}),
            "log: mode 0444 (-r--r--r--) must be user writable; use a mode such as 0600 or 0644"
                .to_owned(),
        ),
        (
            json!({"path": path, "mode": 0}),
            "log: mode 0 (----------) must be user writable; use a mode such as 0600 or 0644"
                .to_owned(),
        ),
        (
            json!({"path": path, "mode": 0o4644}),
            "log: mode 04644 has bits beyond the permissions 0777; give permissions only, such as 0644"
                .to_owned(),
        ),
        (
            json!({"path": path, "mode": "644"}),
            r#"log: option "mode": mode "644" is ambiguous; write octal text with a leading 0, such as "0644", or a number"#
                .to_owned(),
        ),
        (
            json!({"path": path, "mode": "0689"}),
            r#"log: option "mode": mode "0689" is not octal; write it like "0644", with the digits 0 to 7"#
                .to_owned(),
        ),
        (
            json!({"path": path, "mode": -1}),
            r#"log: option "mode": mode -1 is negative"#.to_owned(),
        ),
        (
            json!({"path": path, "mode": 1.5}),
            r#"log: option "mode": mode 1.5 is not a file mode"#.to_owned(),
        ),
        (
            json!({"path": path, "mode": true}),
            r#"log: option "mode": invalid type: boolean `true`, expected a file mode: a number such as 420, or octal text such as "0644""#
                .to_owned(),
        ),
        (
            json!({"path": missing}),
            format!(
                "log: cannot open path {:?}: No such file or directory (os error 2)",
                missing.display().to_string()
            ),
        ),
        (
            json!({"path": dir.path()}),
            format!(
                "log: cannot open path {:?}: Is a directory (os error 21)",
                dir.path().display().to_string()
            ),
        ),
        (
            json!({"file": path}),
            r#"log: unknown option "file", expected one of: mode, path"#.to_owned(),
        ),
    ];
    for (options, expected) in cases {
        assert_eq!(
            option_error::<LogService>(&options),
            expected,
            "options {options}"
        );
    }
    assert!(!path.exists(), "a refused definition creates no file");
}

#[tokio::test]
async fn the_service_test_appends_a_sample_alert_to_the_given_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("test.log");

    service()
        .test(&json!({ "path": path }))
        .await
        .expect("the test passes");

    let line = read(&path);
    assert!(line.ends_with("}\n"), "one line of JSON: {line:?}");
    let alert: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(alert["message"], "test log message");

    let err = service().test(&Value::Null).await.expect_err("no path");
    let TestError::Failed(err) = err else {
        panic!("expected a failed test, got {err:?}");
    };
    assert_eq!(
        err.message(),
        r#"path is required; write an absolute path such as "/var/log/klaxon/alerts.log""#
    );
}
