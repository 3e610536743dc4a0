//! Delivery through topic handlers: exact bytes for exec and tcp, match, publish, aggregate,
//! hung handlers, queue overflow, and state across a crash.

use std::path::Path;
use std::time::{Duration, Instant};

use klaxon_e2e::{Klaxond, TcpSink, read_when_complete, wait_for};
use serde_json::{Value, json};

use crate::topic_handlers::{TEST_EVENTS, post_event};

fn define(server: &Klaxond, topic: &str, body: Value) {
    server.define_handler(topic, &body);
}

fn tcp_handler(id: &str, sink: &TcpSink) -> Value {
    json!({"id": id, "kind": "tcp", "options": {"address": sink.address()}})
}

/// The event of reference 1.5 (`TestServer_AlertJSON` "normal_json").
/// `GET /kapacitor/v1/alerts/topics/<topic>/events`.
fn topic_events(server: &Klaxond, topic: &str) -> Value {
    server
        .get(&format!("/kapacitor/v1/alerts/topics/{topic}/events"))
        .json()
        .unwrap()
}

/// The event IDs of a topic's events answer, in its order.
fn event_ids(events: &Value) -> Vec<&str> {
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect()
}

fn normal_event() -> Value {
    json!({"id": "id", "message": "message", "details": "details",
           "time": "1970-01-01T00:00:00Z", "level": "CRITICAL",
           "name": "alert", "fields": {"value": 1}})
}

const NORMAL_JSON: &str = r#"{"id":"id","message":"message","details":"details","time":"1970-01-01T00:00:00Z","duration":0,"level":"CRITICAL","data":{"series":[{"name":"alert","columns":["time","value"],"values":[["1970-01-01T00:00:00Z",1]]}]},"previousLevel":"OK","recoverable":true}"#;

#[test]
fn exec_and_tcp_handlers_receive_the_exact_bytes() {
    let server = Klaxond::builder().config(TEST_EVENTS).start();
    let sink = TcpSink::start();
    let out = server.dir().join("exec-stdin.json");
    define(&server, "test", tcp_handler("tcp", &sink));
    define(
        &server,
        "test",
        json!({"id": "exec", "kind": "exec", "options": {
            "prog": "/bin/sh", "args": ["-c", "cat > \"$0\"", out.display().to_string()]}}),
    );
    post_event(&server, "test", normal_event());
    assert_eq!(sink.next(), format!("{NORMAL_JSON}\n\n"));
    assert_eq!(read_when_complete(&out), format!("{NORMAL_JSON}\n"));
}

#[test]
fn match_filters_on_tags_level_and_changed() {
    let server = Klaxond::builder().config(TEST_EVENTS).start();
    let host_crit = TcpSink::start();
    let changed = TcpSink::start();
    define(
        &server,
        "test",
        json!({"id": "host-crit", "kind": "tcp", "options": {"address": host_crit.address()},
               "match": "\"host\" == 'serverA' AND level() == CRITICAL"}),
    );
    define(
        &server,
        "test",
        json!({"id": "changed", "kind": "tcp", "options": {"address": changed.address()},
               "match": "changed() == TRUE"}),
    );
    // Reference 7 case 10: (A,0) (B,2) (B,0) (A,2) (B,0) with crit > 1.
    let points = [
        ("serverA", 0),
        ("serverB", 2),
        ("serverB", 0),
        ("serverA", 2),
        ("serverB", 0),
    ];
    for (i, (host, value)) in points.into_iter().enumerate() {
        let level = if value > 1 { "CRITICAL" } else { "OK" };
        post_event(
            &server,
            "test",
            json!({"id": "cpu:nil", "level": level, "name": "cpu",
                   "time": format!("1971-01-01T00:00:0{i}Z"),
                   "tags": {"host": host}, "fields": {"value": value}}),
        );
    }
    // A last event that both handlers take proves everything before it was judged.
    post_event(
        &server,
        "test",
        json!({"id": "sentinel", "level": "CRITICAL", "tags": {"host": "serverA"}}),
    );
    let first = host_crit.next_json();
    assert_eq!(first["level"], "CRITICAL");
    assert_eq!(first["time"], "1971-01-01T00:00:03Z");
    assert_eq!(
        first["data"]["series"][0]["tags"],
        json!({"host": "serverA"})
    );
    assert_eq!(first["data"]["series"][0]["values"][0][1], 2);
    assert_eq!(host_crit.next_json()["id"], "sentinel");

    // Levels OK, CRIT, OK, CRIT, OK: the first OK is no change, the other four are.
    let times: Vec<Value> = (0..4)
        .map(|_| changed.next_json()["time"].clone())
        .collect();
    assert_eq!(
        times,
        [
            "1971-01-01T00:00:01Z",
            "1971-01-01T00:00:02Z",
            "1971-01-01T00:00:03Z",
            "1971-01-01T00:00:04Z"
        ]
    );
    assert_eq!(changed.next_json()["id"], "sentinel");
}

#[test]
fn publish_and_aggregate_reproduce_kapacitors_case_11() {
    let server = Klaxond::builder().config(TEST_EVENTS).start();
    let sink = TcpSink::start();
    define(&server, "tcp", tcp_handler("tcp", &sink));
    define(
        &server,
        "test",
        json!({"id": "publish", "kind": "publish", "options": {"topics": ["tcp"]}}),
    );
    post_event(&server, "test", normal_event());
    assert_eq!(sink.next(), format!("{NORMAL_JSON}\n\n"));
    let tcp_topic: Value = server
        .get("/kapacitor/v1/alerts/topics/tcp")
        .json()
        .unwrap();
    assert_eq!(tcp_topic["collected"], 1);

    let agg = TcpSink::start();
    define(&server, "agg", tcp_handler("tcp", &agg));
    define(
        &server,
        "agg-src",
        json!({"id": "aggregate", "kind": "aggregate", "options": {
            "id": "id-agg", "interval": 1_000_000_000, "topic": "agg"}}),
    );
    // TestServer_Alert_Aggregate: 3 CRITICAL points (3, 4, 2) at 0, 1 and 2 ms.
    for (ms, value) in [(0, 3), (1, 4), (2, 2)] {
        post_event(
            &server,
            "agg-src",
            json!({"id": "id", "message": "message", "level": "CRITICAL", "name": "alert",
                   "time": format!("1970-01-01T00:00:00.00{ms}Z"),
                   "duration": ms * 1_000_000, "fields": {"value": value}}),
        );
    }
    let summary = agg.next_json();
    let count = summary["details"].as_str().unwrap().split('\n').count();
    if count == 3 {
        assert_eq!(summary["id"], "id-agg");
        assert_eq!(summary["message"], "Received 3 events in the last 1s.");
        assert_eq!(summary["details"], "message\nmessage\nmessage");
        assert_eq!(summary["time"], "1970-01-01T00:00:00.002Z");
        assert_eq!(summary["duration"], 2_000_000);
        assert_eq!(summary["level"], "CRITICAL");
        assert_eq!(summary["recoverable"], false);
        assert_eq!(summary["data"]["series"].as_array().unwrap().len(), 3);
    } else {
        // A tick fell between the posts: the next summary holds the rest.
        let rest = agg.next_json();
        assert_eq!(
            count + rest["details"].as_str().unwrap().split('\n').count(),
            3
        );
    }
}

/// An exec handler that records its PID in `pid_file` and then hangs.
fn hanging_exec(id: &str, pid_file: &Path) -> Value {
    json!({"id": id, "kind": "exec", "options": {
        "prog": "/bin/sh",
        "args": ["-c", "echo $$ > \"$0\"; exec sleep 1000", pid_file.display().to_string()]}})
}

fn wait_for_pid(pid_file: &Path) -> i32 {
    let mut pid = 0;
    wait_for("the hanging program to start", || {
        pid = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        pid > 0
    });
    pid
}

/// Whether `pid` runs (a killed child that klaxond has not reaped yet is a zombie: not running).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(),
    }
}

#[test]
fn deleting_a_hung_exec_handler_returns_within_a_second_and_kills_it() {
    let server = Klaxond::builder().config(TEST_EVENTS).start();
    let pid_file = server.dir().join("hung.pid");
    define(&server, "hang", hanging_exec("hung", &pid_file));
    post_event(&server, "hang", json!({"id": "e", "level": "CRITICAL"}));
    let pid = wait_for_pid(&pid_file);

    let start = Instant::now();
    let response = server.send(
        "DELETE",
        "/kapacitor/v1/alerts/topics/hang/handlers/hung",
        "",
    );
    assert_eq!(response.status(), 204);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "delete took {:?}",
        start.elapsed()
    );
    wait_for("the hung program to be killed", || !alive(pid));

    // Deleting a topic whose handler hangs returns promptly too.
    let pid_file = server.dir().join("hung2.pid");
    define(&server, "hang", hanging_exec("hung2", &pid_file));
    post_event(&server, "hang", json!({"id": "e", "level": "CRITICAL"}));
    let pid = wait_for_pid(&pid_file);
    let start = Instant::now();
    assert_eq!(
        server
            .send("DELETE", "/kapacitor/v1/alerts/topics/hang", "")
            .status(),
        204
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    wait_for("the second hung program to be killed", || !alive(pid));
}

#[test]
fn a_full_queue_drops_counts_and_logs_while_other_handlers_get_everything() {
    let mut server = Klaxond::builder()
        // In-memory delivery: with the outbox (the default) a full queue spills to disk instead.
        .config("[alert]\ntest-events = true\ntopic-buffer-length = 1\ndurable-delivery = false\n")
        .start();
    let sink = TcpSink::start();
    let pid_file = server.dir().join("blocked.pid");
    define(&server, "busy", hanging_exec("blocked", &pid_file));
    define(&server, "busy", tcp_handler("tcp", &sink));

    let post = |id: &str| -> Value {
        let response = server.send(
            "POST",
            "/kapacitor/v1/alerts/topics/busy/events",
            &json!({"id": id, "level": "CRITICAL"}).to_string(),
        );
        response.json().unwrap()
    };
    assert_eq!(post("e0")["dropped"], 0);
    wait_for_pid(&pid_file);
    // e0 is in the hung call; e1 fills the one-slot queue; e2..e4 are dropped for "blocked".
    let dropped: Vec<Value> = ["e1", "e2", "e3", "e4"]
        .iter()
        .map(|id| post(id)["dropped"].clone())
        .collect();
    assert_eq!(dropped, [0, 1, 1, 1]);
    for i in 0..5 {
        assert_eq!(sink.next_json()["id"], format!("e{i}"));
    }
    for id in ["e2", "e3", "e4"] {
        let line = server.wait_for_log(&format!("event={id}"));
        assert!(line.contains("dropped event"), "{line}");
        assert!(line.contains("topic=busy"), "{line}");
        assert!(line.contains("handler=blocked"), "{line}");
    }
    assert!(
        !server.log_text().contains("handler=tcp kind=tcp event=e"),
        "tcp dropped nothing"
    );
    let metrics = server.metrics();
    let dropped = |handler| {
        metrics.value(
            "klaxon_events_dropped_total",
            &[("topic", "busy"), ("handler", handler)],
        )
    };
    assert_eq!((dropped("blocked"), dropped("tcp")), (3.0, 0.0));
}

#[test]
fn handlers_and_non_ok_states_survive_sigkill() {
    let mut server = Klaxond::builder().config(TEST_EVENTS).start();
    let sink = TcpSink::start();
    define(&server, "cpu", tcp_handler("tcp", &sink));
    post_event(
        &server,
        "cpu",
        json!({"id": "crit", "level": "CRITICAL", "message": "down"}),
    );
    post_event(&server, "cpu", json!({"id": "back", "level": "WARNING"}));
    post_event(&server, "cpu", json!({"id": "back", "level": "OK"}));
    for _ in 0..3 {
        sink.next();
    }
    // Delivered and out of the outbox: a kill before that would (rightly) redeliver them.
    klaxon_e2e::wait_for("the outbox to be empty", || {
        server.metrics().value("klaxon_outbox_entries", &[]) == 0.0
    });
    server.kill();
    server.restart();

    let handler: Value = server
        .get("/kapacitor/v1/alerts/topics/cpu/handlers/tcp")
        .json()
        .unwrap();
    assert_eq!(handler["options"]["address"], sink.address());
    let events = topic_events(&server, "cpu");
    assert_eq!(event_ids(&events), ["crit"]);
    assert_eq!(events["events"][0]["state"]["message"], "down");
    let topic: Value = server
        .get("/kapacitor/v1/alerts/topics/cpu")
        .json()
        .unwrap();
    assert_eq!(
        (topic["level"].clone(), topic["collected"].clone()),
        (json!("CRITICAL"), json!(0))
    );

    // The restored state is the previous level of the next event, and the handler still fires.
    post_event(&server, "cpu", json!({"id": "crit", "level": "OK"}));
    let recovery = sink.next_json();
    assert_eq!(
        (recovery["level"].clone(), recovery["previousLevel"].clone()),
        (json!("OK"), json!("CRITICAL"))
    );
}

/// A bad sector under one stored alert state: klaxond moves the damaged file aside, keeps
/// everything else it can read (the handler, the other states), says so at error level, and
/// serves.
#[test]
fn a_damaged_database_is_moved_aside_and_klaxond_starts_with_what_it_could_read() {
    let mut server = Klaxond::builder().config(TEST_EVENTS).start();
    let sink = TcpSink::start();
    define(&server, "cpu", tcp_handler("tcp", &sink));
    for (id, message) in [("a", "first"), ("b", "DAMAGE-ME-PLEASE"), ("c", "third")] {
        post_event(
            &server,
            "cpu",
            json!({"id": id, "level": "CRITICAL", "message": message}),
        );
        sink.next();
    }
    klaxon_e2e::wait_for("the outbox to be empty", || {
        server.metrics().value("klaxon_outbox_entries", &[]) == 0.0
    });
    assert!(server.stop().success());
    let data = server.dir().join("data");
    let db = data.join("klaxon.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let needle = b"DAMAGE-ME-PLEASE";
    let mut copies = 0;
    for at in 0..bytes.len() - needle.len() {
        if &bytes[at..at + needle.len()] == needle {
            bytes[at..at + needle.len()].fill(0xFF);
            copies += 1;
        }
    }
    assert!(copies > 0, "the state is in the file");
    std::fs::write(&db, &bytes).unwrap();

    let from = server.log_text().len();
    server.restart();
    let line = server.wait_for_log_after(from, "database damaged");
    assert!(line.contains("lvl=error"), "{line}");
    assert!(line.contains("klaxon.db.damaged-"), "{line}");
    let table = server.wait_for_log_after(from, "table salvaged in part");
    assert!(table.contains("table=topic_states"), "{table}");
    assert!(table.contains("unreadable entries skipped: 1"), "{table}");
    assert_eq!(event_ids(&topic_events(&server, "cpu")), ["a", "c"]);
    let handler = server.get("/kapacitor/v1/alerts/topics/cpu/handlers/tcp");
    assert_eq!(handler.status(), 200);
    // The damaged file is kept beside the new one (as redb left it after opening it).
    let kept: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("klaxon.db.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let damaged = std::fs::read(data.join(&kept[0])).unwrap();
    assert_eq!(damaged.len(), bytes.len());
    assert!(
        damaged
            .windows(needle.len())
            .any(|w| w.iter().all(|b| *b == 0xFF)),
        "the damaged value is still in the damaged file"
    );
}

#[test]
fn a_corrupt_database_stops_startup_and_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("klaxon.db");
    let garbage = b"not a redb file; keep me exactly as I am\n".repeat(64);
    std::fs::write(&db, &garbage).unwrap();
    let config = dir.path().join("klaxon.toml");
    std::fs::write(
        &config,
        format!(
            "data-dir = {:?}\n[http]\nbind-address = \"127.0.0.1:0\"\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let output = klaxon_e2e::run_klaxond(&["--config", config.to_str().unwrap()], dir.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot open database {}: ", db.display())),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
}
