//! The log handler against a real klaxond: `.log()` in TICKscript writing one line per alert,
//! a `mv` of the file losing nothing, Kapacitor's documented handler file with `mode: 0644`, and
//! bad paths refused.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use klaxon_e2e::{Klaxond, KlaxondBuilder, wait_for};
use serde_json::{Value, json};

use crate::topic_handlers::{TEST_EVENTS, post_event};

/// Starts klaxond. The harness's blocking HTTP client is reqwest with rustls and no crypto
/// provider of its own, which panics unless the process installed one: klaxon-http's does.
fn start(builder: KlaxondBuilder) -> Klaxond {
    klaxon_http::install_crypto_provider();
    builder.start()
}

/// Kapacitor's documented TICKscript, with the path given.
fn documented_tickscript(path: &Path) -> String {
    format!(
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('{{{{ .Time }}}}: CPU usage over 90%')\n    .log('{}')\n",
        path.display()
    )
}

/// Kapacitor's documented handler file.
const DOCUMENTED_HANDLER: &str = "id: handler-id
topic: topic-name
kind: log
options:
  path: '/tmp/alerts.log'
  mode: 0644
";

/// What Kapacitor writes for the event of kapacitor-compat.md 1.5.
const NORMAL_LINE: &str = concat!(
    r#"{"id":"id","message":"message","details":"details","time":"1970-01-01T00:00:00Z","#,
    r#""duration":0,"level":"CRITICAL","data":{"series":[{"name":"alert","columns":["time","value"],"#,
    r#""values":[["1970-01-01T00:00:00Z",1]]}]},"previousLevel":"OK","recoverable":true}"#,
    "\n"
);

/// `cpu,host=serverA usage_idle=<idle>` at second `second`.
fn write_point(server: &Klaxond, idle: u32, second: u32) {
    let response = server.send(
        "POST",
        "/write?db=telegraf&rp=autogen&precision=s",
        &format!("cpu,host=serverA usage_idle={idle} {second}"),
    );
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

/// The lines of `path` once it holds `count` whole lines.
fn wait_for_lines(path: &Path, count: usize) -> Vec<Value> {
    let mut text = String::new();
    wait_for(&format!("{count} lines in {}", path.display()), || {
        text = std::fs::read_to_string(path).unwrap_or_default();
        text.ends_with('\n') && text.lines().count() >= count
    });
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a line of alert JSON"))
        .collect();
    assert_eq!(lines.len(), count, "{text}");
    lines
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// What a file created with `mode` gets under this process's umask (klaxond inherits it).
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
fn tickscript_log_writes_one_line_per_alert_and_a_mv_loses_nothing() {
    let server = start(Klaxond::builder());
    let path = server.dir().join("alerts.log");
    let rotated = server.dir().join("alerts.log.1");
    let (status, body) = server.define_task(
        "cpu_log",
        &documented_tickscript(&path),
        &[("telegraf", "autogen")],
    );
    assert_eq!(status, 200, "{body}");
    // The file exists from the definition on, with Kapacitor's default mode.
    assert_eq!(mode_of(&path), created_mode(server.dir(), 0o600));

    write_point(&server, 5, 10);
    write_point(&server, 6, 11);
    let lines = wait_for_lines(&path, 2);
    assert_eq!(
        lines[0]["message"],
        "1970-01-01 00:00:10 +0000 UTC: CPU usage over 90%"
    );
    assert_eq!(lines[1]["time"], "1970-01-01T00:00:11Z");
    assert_eq!(lines[1]["data"]["series"][0]["values"][0][1], 6);

    // What logrotate does without copytruncate.
    let mv = Command::new("mv")
        .arg(&path)
        .arg(&rotated)
        .status()
        .expect("run mv");
    assert!(mv.success());
    write_point(&server, 7, 12);

    let fresh = wait_for_lines(&path, 1);
    assert_eq!(fresh[0]["time"], "1970-01-01T00:00:12Z");
    assert_eq!(wait_for_lines(&rotated, 2).len(), 2);
}

#[test]
fn the_documented_handler_file_with_mode_0644_writes_kapacitors_line() {
    let server = start(Klaxond::builder().config(TEST_EVENTS));
    let path = server.dir().join("alerts.log");
    let file = server.dir().join("log.yaml");
    // The documented file, only its path moved into this test's directory.
    let text = DOCUMENTED_HANDLER.replace("/tmp/alerts.log", &path.display().to_string());
    std::fs::write(&file, text).expect("write the handler file");
    let output = server.cli(&["define-topic-handler", "log.yaml"]);
    assert!(output.status.success(), "{output:?}");

    post_event(
        &server,
        "topic-name",
        json!({"id": "id", "message": "message",
        "details": "details", "time": "1970-01-01T00:00:00Z", "level": "CRITICAL",
        "name": "alert", "fields": {"value": 1}}),
    );

    wait_for_lines(&path, 1);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), NORMAL_LINE);
    // YAML's 0644 is the mode 0644, as in Kapacitor.
    assert_eq!(mode_of(&path), created_mode(server.dir(), 0o644));

    // TICKscript's octal literal: `.mode(0640)`.
    let moded = server.dir().join("moded.log");
    let script = format!(
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).log('{}').mode(0640)",
        moded.display()
    );
    let (status, body) = server.define_task("moded", &script, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(mode_of(&moded), created_mode(server.dir(), 0o640));
}

#[test]
fn relative_and_unwritable_paths_and_bad_modes_are_refused() {
    let server = start(Klaxond::builder().config(TEST_EVENTS));
    let task = |script: &str| -> String {
        let (status, body) = server.define_task("bad_log", script, &[]);
        assert_ne!(status, 200, "{script}");
        body.to_string()
    };
    let body =
        task("stream|from().measurement('cpu')|alert().crit(lambda: TRUE).log('alerts.log')");
    assert!(
        body.contains(r#"path \"alerts.log\" is relative; write an absolute path"#),
        "{body}"
    );
    let missing = server.dir().join("missing").join("alerts.log");
    let body = task(&format!(
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).log('{}')",
        missing.display()
    ));
    assert!(
        body.contains("No such file or directory (os error 2)"),
        "{body}"
    );
    let body = task(&format!(
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).log('{}').mode(0444)",
        server.dir().join("ro.log").display()
    ));
    assert!(
        body.contains("mode 0444 (-r--r--r--) must be user writable"),
        "{body}"
    );

    let spec = json!({"id": "bad", "kind": "log", "options": {"path": "alerts.log"}});
    let response = server.send(
        "POST",
        "/kapacitor/v1/alerts/topics/bad/handlers",
        &spec.to_string(),
    );
    assert_ne!(response.status(), 200);
    let text = response.text().unwrap();
    assert!(
        text.contains(r#"path \"alerts.log\" is relative"#),
        "{text}"
    );
}
