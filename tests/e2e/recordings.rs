//! Recordings and replays through a real klaxond and the `klaxon` CLI: a stream recorded while
//! points are written, replayed into the task giving the alerts it gave live (without touching
//! its live state, and through its handlers only with `-deliver`); recorded times kept with
//! `-rec-time`; batch recordings, query recordings and live replays against a real InfluxDB;
//! what survives a restart; and the refusals.

use std::time::Duration;

use klaxon_e2e::influxd::Influxd;
use klaxon_e2e::{Klaxond, TcpSink, wait_for};
use serde_json::{Value, json};

/// A task that goes CRITICAL when `usage` passes 90, with an inline tcp handler.
fn cpu_task(sink: &TcpSink) -> String {
    format!(
        "stream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |alert()\n        .crit(lambda: \"usage\" > 90)\n        .message('{{{{ .ID }}}} is {{{{ .Level }}}}')\n        .tcp('{}')\n",
        sink.address()
    )
}

fn write(server: &Klaxond, lines: &str) {
    let response = server.send("POST", "/write?db=telegraf&rp=autogen&precision=s", lines);
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
}

fn json_of(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Waits until the recording or replay at `path` is no longer running; its JSON.
fn finished(server: &Klaxond, path: &str) -> Value {
    let mut last = Value::Null;
    wait_for(&format!("{path} to finish"), || {
        let (status, body) = json_of(server.get(path));
        let done = status == 200;
        last = body;
        done
    });
    last
}

/// The fields of an alert event a replay must give as the live task gave them (times aside:
/// a replay without `-rec-time` moves them).
fn essentials(event: &Value) -> Value {
    let values = &event["data"]["series"][0]["values"];
    json!([
        event["id"],
        event["level"],
        event["message"],
        values[0][1],
        values.as_array().map(Vec::len)
    ])
}

#[test]
fn a_recorded_stream_replays_into_the_task_with_the_alerts_it_gave_live() {
    let mut server = Klaxond::start();
    let sink = TcpSink::start();
    let (status, body) = server.define_task("cpu", &cpu_task(&sink), &[("telegraf", "autogen")]);
    assert_eq!(status, 200, "{body}");

    // Recording while the points arrive: Kapacitor's `record stream -no-wait`, then waiting.
    let printed = server.cli_ok(&[
        "record",
        "stream",
        "-task",
        "cpu",
        "-duration",
        "3s",
        "-recording-id",
        "rec1",
        "-no-wait",
    ]);
    assert_eq!(printed, "");
    let (status, running) = json_of(server.get("/kapacitor/v1/recordings/rec1"));
    assert_eq!(status, 202, "{running}");
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(running["type"], "stream", "{running}");
    // Another database is not the task's, nor another measurement (the task's from() selects
    // cpu): neither is recorded, as Kapacitor's recordings.
    let response = server.send(
        "POST",
        "/write?db=other&precision=s",
        "cpu,host=x usage=99 1",
    );
    assert_eq!(response.status(), 204);
    write(&server, "mem,host=a usage=99 105\n");
    write(
        &server,
        "cpu,host=a usage=50 100\ncpu,host=a usage=95 110\ncpu,host=b usage=10 110\ncpu,host=a usage=20 120\n",
    );
    let live: Vec<Value> = (0..2).map(|_| sink.next_json()).collect();
    assert_eq!(live[0]["level"], "CRITICAL", "{live:?}");
    assert_eq!(live[1]["level"], "OK", "{live:?}");

    let recording = finished(&server, "/kapacitor/v1/recordings/rec1");
    assert_eq!(recording["status"], "finished", "{recording}");
    assert_eq!(recording["error"], "", "{recording}");
    assert_eq!(recording["progress"], 1.0, "{recording}");
    assert!(recording["size"].as_u64().unwrap() > 0, "{recording}");
    assert_eq!(
        recording["link"]["href"], "/kapacitor/v1/recordings/rec1",
        "{recording}"
    );
    // Kept as Kapacitor keeps it, under the data directory's `replay`.
    let files = walk(server.dir());
    assert!(
        files.iter().any(|f| f.ends_with("/replay/rec1.srpl")),
        "{files:?}"
    );

    // A replay with the recorded times gives the live alerts, and delivers nothing.
    let printed = server.cli_ok(&[
        "replay",
        "-task",
        "cpu",
        "-recording",
        "rec1",
        "-rec-time",
        "-replay-id",
        "play1",
    ]);
    assert_eq!(printed, "play1\n");
    let (status, replay) = json_of(server.get("/kapacitor/v1/replays/play1"));
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["status"], "finished", "{replay}");
    assert_eq!(replay["task"], "cpu", "{replay}");
    assert_eq!(replay["recording"], "rec1", "{replay}");
    assert_eq!(replay["recording-time"], true, "{replay}");
    assert_eq!(replay["clock"], "fast", "{replay}");
    assert_eq!(replay["deliver"], false, "{replay}");
    let alerts = replay["alerts"].as_array().unwrap();
    assert_eq!(
        alerts.iter().map(essentials).collect::<Vec<_>>(),
        live.iter().map(essentials).collect::<Vec<_>>(),
        "{replay}"
    );
    assert_eq!(alerts[0]["time"], live[0]["time"], "{replay}");
    // Kapacitor's node statistics of the replayed run: the four cpu points reached the task.
    assert_eq!(
        replay["stats"]["node-stats"]["stream0"]["collected"], 4,
        "{replay}"
    );
    assert_eq!(
        replay["stats"]["node-stats"]["alert2"]["alerts_triggered"], 2,
        "{replay}"
    );

    // The live state is untouched: host a is still OK there, and the live task still fires.
    write(&server, "cpu,host=a usage=99 130\n");
    let next = sink.next_json();
    assert_eq!(
        (next["id"].as_str(), next["level"].as_str()),
        (Some("cpu:host=a"), Some("CRITICAL")),
        "{next}"
    );

    // Without -rec-time the times move to now; with -deliver the events reach the handler.
    server.cli_ok(&[
        "replay",
        "-task",
        "cpu",
        "-recording",
        "rec1",
        "-replay-id",
        "play2",
        "-deliver",
    ]);
    let delivered: Vec<Value> = (0..2).map(|_| sink.next_json()).collect();
    assert_eq!(
        delivered.iter().map(essentials).collect::<Vec<_>>(),
        live.iter().map(essentials).collect::<Vec<_>>()
    );
    let (_, replay) = json_of(server.get("/kapacitor/v1/replays/play2"));
    assert_eq!(replay["deliver"], true, "{replay}");
    let shifted = replay["alerts"][0]["time"].as_str().unwrap();
    assert!(shifted > "2026-01-01", "{replay}");
    // The first replay delivered nothing: nothing else reached the handler.
    assert_eq!(sink.next_within(Duration::from_millis(500)), None);

    // With the real clock a replay takes as long as the data's times span (20 s here): it runs
    // until deleted, and deleting it stops it between two points.
    server.cli_ok(&[
        "replay",
        "-task",
        "cpu",
        "-recording",
        "rec1",
        "-real-clock",
        "-replay-id",
        "slow",
        "-no-wait",
    ]);
    let (status, slow) = json_of(server.get("/kapacitor/v1/replays/slow"));
    assert_eq!(status, 202, "{slow}");
    assert_eq!(
        (&slow["status"], &slow["clock"]),
        (&json!("running"), &json!("real")),
        "{slow}"
    );
    assert!(slow["progress"].as_f64().unwrap() < 1.0, "{slow}");
    server.cli_ok(&["delete", "replays", "slow"]);
    let (status, _) = json_of(server.get("/kapacitor/v1/replays/slow"));
    assert_eq!(status, 404);
    let stopped = server.wait_for_log("replay=slow fed=");
    assert!(
        stopped.contains("replay stopped before its end") && !stopped.contains("fed=4"),
        "{stopped}"
    );

    // Lists, in Kapacitor's columns.
    let listed = server.cli_ok(&["list", "recordings"]);
    let mut lines = listed.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["ID", "Type", "Status", "Size", "Date"]
    );
    let row = lines.next().unwrap();
    assert!(row.starts_with("rec1 ") && row.contains(" stream ") && row.contains(" finished "));
    let listed = server.cli_ok(&["list", "replays"]);
    assert!(
        listed.contains("play1") && listed.contains("play2"),
        "{listed}"
    );
    let (_, list) = json_of(server.get("/kapacitor/v1/replays?fields=status"));
    assert_eq!(
        list["replays"][0],
        json!({"link": {"rel": "self", "href": "/kapacitor/v1/replays/play1"}, "id": "play1", "status": "finished"})
    );
}

#[test]
fn recordings_and_replays_survive_a_restart_and_deletes_remove_them() {
    let mut server = Klaxond::start();
    let sink = TcpSink::start();
    server.define_task("cpu", &cpu_task(&sink), &[("telegraf", "autogen")]);
    server.cli_ok(&[
        "record",
        "stream",
        "-task",
        "cpu",
        "-duration",
        "1s",
        "-recording-id",
        "keep",
        "-no-wait",
    ]);
    // Two points an hour apart: a real-clock replay of them takes an hour.
    write(
        &server,
        "cpu,host=a usage=50 100\ncpu,host=a usage=60 3700\n",
    );
    finished(&server, "/kapacitor/v1/recordings/keep");
    server.cli_ok(&[
        "replay",
        "-task",
        "cpu",
        "-recording",
        "keep",
        "-real-clock",
        "-replay-id",
        "long",
        "-no-wait",
    ]);
    // A recording interrupted by a restart is failed, with the reason.
    server.cli_ok(&[
        "record",
        "stream",
        "-task",
        "cpu",
        "-duration",
        "1h",
        "-recording-id",
        "cut",
        "-no-wait",
    ]);
    // The shutdown stops the replay rather than wait the hour (restart fails past its deadline).
    server.restart();
    let (_, long) = json_of(server.get("/kapacitor/v1/replays/long"));
    assert_eq!(
        (&long["status"], &long["error"]),
        (
            &json!("failed"),
            &json!("klaxond stopped while it was running")
        ),
        "{long}"
    );
    let (status, kept) = json_of(server.get("/kapacitor/v1/recordings/keep"));
    assert_eq!(
        (status, &kept["status"]),
        (200, &json!("finished")),
        "{kept}"
    );
    let (_, cut) = json_of(server.get("/kapacitor/v1/recordings/cut"));
    assert_eq!(cut["status"], "failed", "{cut}");
    assert_eq!(
        cut["error"], "klaxond stopped while it was running",
        "{cut}"
    );
    // A recording whose points raise no alert replays to none.
    server.cli_ok(&[
        "replay",
        "-task",
        "cpu",
        "-recording",
        "keep",
        "-replay-id",
        "p",
    ]);
    let replay = finished(&server, "/kapacitor/v1/replays/p");
    assert_eq!(replay["alerts"], json!([]), "{replay}");

    server.cli_ok(&["delete", "recordings", "keep"]);
    server.cli_ok(&["delete", "replays", "p"]);
    let (status, _) = json_of(server.get("/kapacitor/v1/recordings/keep"));
    assert_eq!(status, 404);
    let (status, _) = json_of(server.get("/kapacitor/v1/replays/p"));
    assert_eq!(status, 404);
    let files: Vec<String> = walk(server.dir())
        .into_iter()
        .filter(|p| p.ends_with(".srpl"))
        .collect();
    assert!(files.iter().all(|f| !f.ends_with("keep.srpl")), "{files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}

#[test]
fn bad_recording_and_replay_requests_are_refused_naming_the_fix() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    server.define_task("cpu", &cpu_task(&sink), &[("telegraf", "autogen")]);
    let refused = |path: &str, body: Value, status: u16, needle: &str| {
        let (got, answer) = json_of(server.send("POST", path, &body.to_string()));
        assert_eq!(got, status, "{path} {body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(needle), "{path} {body}: {error}");
    };
    refused(
        "/kapacitor/v1/recordings/stream",
        json!({"task": "nosuch", "stop": "2030-01-01T00:00:00Z"}),
        404,
        "no task exists with ID \"nosuch\"",
    );
    refused(
        "/kapacitor/v1/recordings/stream",
        json!({"task": "cpu"}),
        400,
        "must provide stop time",
    );
    refused(
        "/kapacitor/v1/recordings/stream",
        json!({"task": "cpu", "stop": "tomorrow"}),
        400,
        "write it in RFC 3339",
    );
    refused(
        "/kapacitor/v1/recordings/stream",
        json!({"id": "a b", "task": "cpu", "stop": "2030-01-01T00:00:00Z"}),
        400,
        "recording ID must contain only letters",
    );
    refused(
        "/kapacitor/v1/recordings/batch",
        json!({"task": "cpu", "start": "2020-01-01T00:00:00Z"}),
        400,
        "is a stream task; record it with record stream",
    );
    refused(
        "/kapacitor/v1/recordings/query",
        json!({"query": "SELECT usage FROM cpu", "type": "stream"}),
        400,
        "must name its database in FROM",
    );
    refused(
        "/kapacitor/v1/replays",
        json!({"task": "cpu", "recording": "nosuch"}),
        404,
        "no recording exists with ID \"nosuch\"",
    );
    refused(
        "/kapacitor/v1/replays",
        json!({"task": "cpu", "recording": "r", "clock": "slow"}),
        400,
        "invalid clock type \"slow\"",
    );
    refused(
        "/kapacitor/v1/replays",
        json!({"task": "cpu", "recording": "r", "start": "2020-01-01T00:00:00Z"}),
        400,
        "start is not a field of POST /kapacitor/v1/replays",
    );
    // A recording still running cannot be replayed; the same ID twice is a conflict.
    let body = json!({"id": "long", "task": "cpu", "stop": "2100-01-01T00:00:00Z"});
    let (status, _) =
        json_of(server.send("POST", "/kapacitor/v1/recordings/stream", &body.to_string()));
    assert_eq!(status, 201);
    refused(
        "/kapacitor/v1/recordings/stream",
        body,
        409,
        "already exists",
    );
    refused(
        "/kapacitor/v1/replays",
        json!({"task": "cpu", "recording": "long"}),
        400,
        "is running; only a finished recording can be replayed",
    );
    // Deleting a running recording stops it.
    server.cli_ok(&["delete", "recordings", "long"]);
    // The CLI says what is wrong before asking the server.
    let err = server.cli_exits(&["replay", "-task", "cpu"], 2);
    assert_eq!(err, "");
    let output = server.cli(&["replay", "-task", "cpu", "-recording", "nosuch"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no recording exists with ID \"nosuch\""),
        "{output:?}"
    );
    let output = server.cli(&["record", "stream", "-task", "cpu"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("both task and duration are required")
    );
}

/// A klaxond whose default `[[influxdb]]` cluster is `influxd`, with `telegraf` created.
fn klaxond_for(influxd: &Influxd) -> Klaxond {
    influxd.query("CREATE DATABASE telegraf");
    influxd.klaxond()
}

#[test]
fn batch_and_query_recordings_and_live_replays_against_influxdb() {
    if !Influxd::available() {
        return;
    }
    let influxd = Influxd::start();
    let server = klaxond_for(&influxd);
    let sink = TcpSink::start();
    // Disabled: only replays run it.
    let script = format!(
        r#"batch
    |query('SELECT mean(usage_idle) FROM "telegraf"."autogen"."cpu"')
        .period(10s)
        .every(10s)
        .groupBy(time(10s), 'cpu')
    |alert()
        .crit(lambda: "mean" < 70)
        .message('{{{{ .ID }}}} is {{{{ .Level }}}}')
        .tcp('{}')
"#,
        sink.address()
    );
    let body = json!({"id": "cpu_batch", "type": "batch", "script": script, "status": "disabled"});
    let (status, answer) = json_of(server.send("POST", "/kapacitor/v1/tasks", &body.to_string()));
    assert_eq!(status, 200, "{answer}");
    // An hour ago: cpu0 idle 5 and 15 (CRITICAL), cpu1 idle 95 (OK).
    let hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let base = hour_ago - hour_ago % 10;
    influxd.write(
        "telegraf",
        &format!(
            "cpu,cpu=cpu0 usage_idle=5 {0}000000000\ncpu,cpu=cpu1 usage_idle=95 {0}000000000\ncpu,cpu=cpu0 usage_idle=15 {1}000000000\n",
            base + 1,
            base + 2
        ),
    );
    let start = rfc3339(base - 10);
    let stop = rfc3339(base + 30);
    server.cli_ok(&[
        "record",
        "batch",
        "-task",
        "cpu_batch",
        "-start",
        &start,
        "-stop",
        &stop,
        "-recording-id",
        "b1",
    ]);
    let (_, recording) = json_of(server.get("/kapacitor/v1/recordings/b1"));
    assert_eq!(recording["type"], "batch", "{recording}");
    assert_eq!(recording["status"], "finished", "{recording}");
    server.cli_ok(&[
        "replay",
        "-task",
        "cpu_batch",
        "-recording",
        "b1",
        "-rec-time",
        "-replay-id",
        "bp",
    ]);
    let (_, replay) = json_of(server.get("/kapacitor/v1/replays/bp"));
    let alerts = replay["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{replay}");
    assert_eq!(alerts[0]["id"], "cpu:cpu=cpu0", "{replay}");
    assert_eq!(alerts[0]["level"], "CRITICAL", "{replay}");
    assert_eq!(
        alerts[0]["data"]["series"][0]["values"][0][1], 10,
        "{replay}"
    );

    // The same through replay-live batch, which records nothing.
    server.cli_ok(&[
        "replay-live",
        "batch",
        "-task",
        "cpu_batch",
        "-start",
        &start,
        "-stop",
        &stop,
        "-rec-time",
        "-replay-id",
        "live",
    ]);
    let (_, live) = json_of(server.get("/kapacitor/v1/replays/live"));
    assert_eq!(live["alerts"], replay["alerts"], "{live}");
    assert_eq!(live["recording"], "", "{live}");

    // A query recorded as a stream replays into a stream task.
    let stream_sink = TcpSink::start();
    server.define_task("cpu_stream", &format!(
        "stream\n    |from()\n        .measurement('cpu')\n        .groupBy('cpu')\n    |alert()\n        .crit(lambda: \"usage_idle\" < 10)\n        .tcp('{}')\n",
        stream_sink.address()
    ), &[("telegraf", "autogen")]);
    server.cli_ok(&[
        "record",
        "query",
        "-query",
        "SELECT usage_idle FROM \"telegraf\".\"autogen\".\"cpu\" GROUP BY *",
        "-type",
        "stream",
        "-recording-id",
        "q1",
    ]);
    server.cli_ok(&[
        "replay",
        "-task",
        "cpu_stream",
        "-recording",
        "q1",
        "-replay-id",
        "qp",
        "-rec-time",
    ]);
    let (_, replay) = json_of(server.get("/kapacitor/v1/replays/qp"));
    let alerts = replay["alerts"].as_array().unwrap();
    let levels: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a["id"].as_str().unwrap(), a["level"].as_str().unwrap()))
        .collect();
    assert_eq!(
        levels,
        [("cpu:cpu=cpu0", "CRITICAL"), ("cpu:cpu=cpu0", "OK")],
        "{replay}"
    );
    // A batch task is recorded by its queries, not from the stream.
    let (status, answer) = json_of(server.send(
        "POST",
        "/kapacitor/v1/recordings/stream",
        &json!({"task": "cpu_batch", "stop": "2100-01-01T00:00:00Z"}).to_string(),
    ));
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"],
        "task \"cpu_batch\" is a batch task; record it with record batch"
    );
    // A stream recording does not fit a batch task.
    let output = server.cli(&["replay", "-task", "cpu_batch", "-recording", "q1"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("is a stream recording and task \"cpu_batch\" a batch task"),
        "{output:?}"
    );
    // InfluxDB refusing the query fails the recording with InfluxDB's reason.
    server.cli_exits(
        &[
            "record",
            "query",
            "-query",
            "SELECT nosuchfunc(usage_idle) FROM \"telegraf\".\"autogen\".\"cpu\"",
            "-type",
            "batch",
            "-recording-id",
            "bad",
        ],
        3,
    );
    let (_, bad) = json_of(server.get("/kapacitor/v1/recordings/bad"));
    assert_eq!(bad["status"], "failed", "{bad}");
    assert!(
        bad["error"].as_str().unwrap().contains("nosuchfunc"),
        "{bad}"
    );
    // Nothing reached the handlers: no replay delivered.
    assert_eq!(sink.next_within(Duration::from_millis(200)), None);
}

/// Seconds since the epoch in RFC 3339.
fn rfc3339(secs: u64) -> String {
    klaxon_core::Timestamp::from_nanos(secs as i64 * 1_000_000_000).to_rfc3339_nano()
}
