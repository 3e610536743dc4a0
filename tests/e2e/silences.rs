//! Silences (Klaxon's own, `/kapacitor/v1/silences` and `klaxon silence`): a silenced alert
//! reaches no handler but is in the history (marked silenced); when the silence ends, an alert
//! still firing is delivered once; bad matchers are refused naming the field; silences are
//! stored, counted in /metrics, and removed after `[alert] silence-retention`.

use klaxon_e2e::{Klaxond, TcpSink, wait_for};
use serde_json::{Value, json};

use crate::topic_handlers::post_event;

fn send_json(server: &Klaxond, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = server.send(method, path, &body.to_string());
    let status = response.status().as_u16();
    (status, response.json().expect("a JSON answer"))
}

fn get_json(server: &Klaxond, path: &str) -> Value {
    let response = server.get(path);
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().expect("a JSON answer")
}

fn cpu_event(host: &str, level: &str) -> Value {
    json!({"id": format!("cpu:host={host}"), "level": level, "name": "cpu",
           "message": format!("{host} is {level}"), "tags": {"host": host},
           "fields": {"value": 1}})
}

fn id_and_level(payload: &str) -> (String, String, String) {
    let event: Value = serde_json::from_str(payload.trim_end()).expect("a JSON alert");
    let text = |k: &str| event[k].as_str().unwrap_or_default().to_owned();
    (text("id"), text("level"), text("previousLevel"))
}

#[test]
fn a_silenced_alert_reaches_no_handler_and_is_delivered_once_when_the_silence_ends() {
    let server = Klaxond::builder()
        .config("[alert]\ntest-events = true\n")
        .start();
    let sink = TcpSink::start();
    server.define_handler(
        "cpu",
        &json!({"id": "tcp", "kind": "tcp", "options": {"address": sink.address()}}),
    );
    let (status, silence) = send_json(
        &server,
        "POST",
        "/kapacitor/v1/silences",
        &json!({"topic": "cpu", "tags": [{"name": "host", "value": "a"}], "duration": "1h",
                "created-by": "alice", "comment": "maintenance of a"}),
    );
    assert_eq!(status, 200, "{silence}");
    assert_eq!(silence["state"], "active");
    let id = silence["id"].as_str().expect("an ID").to_owned();

    post_event(&server, "cpu", cpu_event("a", "CRITICAL"));
    post_event(&server, "cpu", cpu_event("a", "CRITICAL"));
    // Another host is not silenced: its alert is the first the handler gets.
    post_event(&server, "cpu", cpu_event("b", "WARNING"));
    assert_eq!(
        id_and_level(&sink.next()),
        ("cpu:host=b".into(), "WARNING".into(), "OK".into())
    );
    let history = get_json(
        &server,
        "/kapacitor/v1/alerts/topics/cpu/history?id=cpu:host=a",
    );
    assert_eq!(history["entries"][0]["silenced"], true, "{history}");
    let topic = get_json(&server, "/kapacitor/v1/alerts/topics/cpu");
    assert_eq!(
        topic["level"], "CRITICAL",
        "the state is kept while silenced"
    );
    let metrics = server.metrics();
    assert_eq!(
        metrics.value("klaxon_events_silenced_total", &[("topic", "cpu")]),
        2.0
    );
    assert_eq!(
        metrics.value("klaxon_silences", &[("state", "active")]),
        1.0
    );

    // Expired: a, still CRITICAL, is delivered once, as a change from what the handler saw.
    let (status, expired) = send_json(
        &server,
        "DELETE",
        &format!("/kapacitor/v1/silences/{id}"),
        &Value::Null,
    );
    assert_eq!(status, 200, "{expired}");
    assert_eq!(expired["state"], "expired");
    assert_eq!(
        id_and_level(&sink.next()),
        ("cpu:host=a".into(), "CRITICAL".into(), "OK".into())
    );
    // The next delivery is the next event: nothing else was queued in between.
    post_event(&server, "cpu", cpu_event("a", "OK"));
    assert_eq!(
        id_and_level(&sink.next()),
        ("cpu:host=a".into(), "OK".into(), "CRITICAL".into())
    );
    let metrics = server.metrics();
    assert_eq!(
        metrics.value("klaxon_silences", &[("state", "expired")]),
        1.0
    );
    assert_eq!(
        metrics.value("klaxon_silences", &[("state", "active")]),
        0.0
    );
}

#[test]
fn bad_silences_are_refused_naming_the_field() {
    let server = Klaxond::start();
    let cases = [
        (
            json!({"topic": "cpu", "tags": [{"name": "host", "regex": "("}], "duration": "1h"}),
            "silence tags[0].regex: regex parse error",
        ),
        (
            json!({"topic": "cpu", "start": "2026-12-03T10:00:00Z",
                   "end": "2026-12-03T09:00:00Z"}),
            "silence end: 2026-12-03T09:00:00Z is not after start 2026-12-03T10:00:00Z",
        ),
        (
            json!({"topic": "cpu", "end": "tomorrow"}),
            "silence end: invalid time \"tomorrow\"",
        ),
        (
            json!({"topic": "[", "duration": "1h"}),
            "silence topic: syntax error in pattern",
        ),
        (
            json!({"topic": "cpu", "duration": "1h", "levels": ["LOUD"]}),
            "silence levels[0]: ",
        ),
        (
            json!({"topic": "cpu", "duration": "1h", "colour": "red"}),
            "silence colour: unknown field `colour`",
        ),
        (json!({"duration": "1h"}), "silence: no matchers"),
        (json!({"topic": "cpu"}), "silence end: missing"),
    ];
    for (body, expected) in cases {
        let (status, answer) = send_json(&server, "POST", "/kapacitor/v1/silences", &body);
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(expected), "{body}: {message:?}");
    }
    let response = server.get("/kapacitor/v1/silences/nope");
    assert_eq!(response.status(), 404);
    assert!(
        get_json(&server, "/kapacitor/v1/silences")["silences"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_cli_adds_lists_and_expires_silences_which_persist_and_are_removed_after_retention() {
    let mut server = Klaxond::builder()
        .config("[alert]\nsilence-retention = \"2s\"\n")
        .start();
    let id = server
        .cli_ok(&[
            "silence",
            "add",
            "-topic",
            "cpu*",
            "-tag",
            "host=a",
            "-tag-regex",
            "dc=eu-.*",
            "-level",
            "critical",
            "-duration",
            "2h",
            "-comment",
            "disk swap",
            "-created-by",
            "bob",
        ])
        .trim()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id:?}");
    let list = server.cli_ok(&["silence", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("ID "), "{list}");
    for part in [
        id.as_str(),
        "active",
        "bob",
        "topic=cpu* host=a dc=~eu-.* level=CRITICAL",
        "disk swap",
    ] {
        assert!(lines[1].contains(part), "{part:?} in {list}");
    }
    let refused = server.cli(&["silence", "add", "-topic", "cpu", "-tag", "host"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("-tag \"host\": give NAME=VALUE"));
    let refused = server.cli(&["silence", "add", "-tag-regex", "host=(", "-duration", "1h"]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("silence tags[0].regex"),
        "{refused:?}"
    );

    server.restart();
    assert!(
        server
            .cli_ok(&["silence", "list", "-state", "active"])
            .contains(&id)
    );
    server.cli_ok(&["silence", "expire", &id]);
    let expired = server.cli_ok(&["silence", "list", "-state", "expired"]);
    assert!(expired.contains(&id), "{expired}");
    assert_eq!(
        server
            .cli_ok(&["silence", "list", "-state", "active"])
            .lines()
            .count(),
        1
    );
    // Removed once the retention has passed, from memory and from the database.
    wait_for("the expired silence to be removed", || {
        !server.cli_ok(&["silence", "list"]).contains(&id)
    });
    server.restart();
    assert!(!server.cli_ok(&["silence", "list"]).contains(&id));
}
