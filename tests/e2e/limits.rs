//! Issue #11, limits and hostile input: every `[limits]` setting refuses what exceeds it with an
//! error naming the setting, through each path a definition or a write takes; a 1 GB streamed
//! body, a ReDoS-shaped regex and deep nesting cost the server bounded memory and time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use klaxon_e2e::{Klaxond, TcpSink, run_klaxond, wait_for};
use serde_json::{Value, json};

/// Tight limits, so each one can be reached with small requests.
const TIGHT: &str = "[limits]
max-line-length = 64
max-fields-per-point = 3
max-script-size = 400
max-expression-depth = 8
max-regex-size = 20000
max-template-size = 32
max-handler-spec-size = 300
max-tasks = 2
max-topic-handlers = 1
";

fn task_body(id: &str, script: &str) -> String {
    json!({"id": id, "type": "stream", "script": script, "status": "disabled"}).to_string()
}

/// A JSON API error: its status and its `error` text (Kapacitor's shape).
fn api_error(response: reqwest::blocking::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().expect("a JSON error body");
    let error = body["error"].as_str().expect("an error string").to_owned();
    (status, error)
}

fn alert_script(crit: &str) -> String {
    format!("stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: {crit})\n")
}

#[test]
fn each_limit_names_its_setting_through_the_api() {
    let server = Klaxond::builder().config(TIGHT).start();

    // /write answers in plain text.
    let response = server.send("POST", "/write?db=d", "cpu v=1\ncpu a=1,b=2,c=3,d=4\n");
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().unwrap(),
        "line 2: 4 fields in one point; [limits] max-fields-per-point is 3\n"
    );
    let long = format!("cpu,host={} v=1\n", "h".repeat(80));
    let response = server.send("POST", "/write?db=d", &long);
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().unwrap(),
        format!(
            "line 1: {} bytes long; [limits] max-line-length is 64\n",
            long.trim_end().len()
        )
    );

    // Task definitions.
    let cases = [
        (
            format!("{}\n// {}", alert_script("\"v\" > 1"), "x".repeat(400)),
            "[limits] max-script-size is 400",
        ),
        (
            alert_script("((((((((((\"v\")))))))))) > 1"),
            "[limits] max-expression-depth is 8",
        ),
        (
            alert_script("\"host\" =~ /a{1000}{1000}/"),
            "[limits] max-regex-size is 20000",
        ),
        (
            format!(
                "{}    .message('{}')\n",
                alert_script("\"v\" > 1"),
                "{{ .ID }} ".repeat(5)
            ),
            ".message() template is 50 bytes; [limits] max-template-size is 32",
        ),
    ];
    for (script, expected) in &cases {
        let (status, error) =
            api_error(server.send("POST", "/kapacitor/v1/tasks", &task_body("t", script)));
        assert_eq!(status, 400, "{error}");
        assert!(error.contains(expected), "{expected}: {error}");
    }
    let ok = alert_script("\"v\" > 1");
    for id in ["t1", "t2"] {
        let response = server.send("POST", "/kapacitor/v1/tasks", &task_body(id, &ok));
        assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    }
    let (status, error) =
        api_error(server.send("POST", "/kapacitor/v1/tasks", &task_body("t3", &ok)));
    assert_eq!(
        (status, error.as_str()),
        (400, "there are already 2 tasks; [limits] max-tasks is 2")
    );

    // Topic handlers.
    let handlers = "/kapacitor/v1/alerts/topics/cpu/handlers";
    let big = json!({"id": "h", "kind": "tcp", "options": {"address": format!("127.0.0.1:{}", "1".repeat(300))}});
    let (status, error) = api_error(server.send("POST", handlers, &big.to_string()));
    assert_eq!(status, 413, "{error}");
    assert!(
        error.ends_with("bytes; [limits] max-handler-spec-size is 300"),
        "{error}"
    );
    let deep = json!({"id": "h", "kind": "tcp", "options": {"address": "127.0.0.1:1"},
        "match": "((((((((((level())))))))))) == CRITICAL"});
    let (status, error) = api_error(server.send("POST", handlers, &deep.to_string()));
    // Kapacitor answers 500 for a spec it cannot register, a bad match expression included.
    assert_eq!(status, 500, "{error}");
    assert!(
        error.contains("[limits] max-expression-depth is 8"),
        "{error}"
    );
    let ok = json!({"id": "h1", "kind": "tcp", "options": {"address": "127.0.0.1:1"}});
    assert_eq!(server.send("POST", handlers, &ok.to_string()).status(), 200);
    let second = json!({"id": "h2", "kind": "tcp", "options": {"address": "127.0.0.1:1"}});
    let (status, error) = api_error(server.send("POST", handlers, &second.to_string()));
    assert_eq!(
        (status, error.as_str()),
        (
            400,
            "there are already 1 topic handlers; [limits] max-topic-handlers is 1"
        )
    );
    // A PATCH whose small body makes a spec over the limit.
    let patch = json!([
        {"op": "replace", "path": "/options/address", "value": "2".repeat(140)},
        {"op": "copy", "from": "/options/address", "path": "/options/extra"},
    ]);
    assert!(patch.to_string().len() < 300);
    let (status, error) =
        api_error(server.send("PATCH", &format!("{handlers}/h1"), &patch.to_string()));
    assert_eq!(status, 400, "{error}");
    assert!(
        error.ends_with("bytes; [limits] max-handler-spec-size is 300"),
        "{error}"
    );
}

#[test]
fn files_in_the_load_dir_are_held_to_the_limits() {
    let load = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(load.path().join("handlers")).unwrap();
    std::fs::create_dir_all(load.path().join("tasks")).unwrap();
    let big_handler = format!(
        "id: big\ntopic: cpu\nkind: tcp\noptions:\n  address: 127.0.0.1:1\n# {}\n",
        "x".repeat(400)
    );
    std::fs::write(load.path().join("handlers/big.yaml"), &big_handler).unwrap();
    std::fs::write(
        load.path().join("tasks/big.tick"),
        format!("{}// {}\n", alert_script("\"v\" > 1"), "x".repeat(400)),
    )
    .unwrap();
    std::fs::write(
        load.path().join("tasks/deep.tick"),
        alert_script("((((((((((\"v\")))))))))) > 1"),
    )
    .unwrap();
    let mut server = Klaxond::builder()
        .config(TIGHT)
        .config(&format!(
            "[load]\ndir = {:?}\n",
            load.path().display().to_string()
        ))
        .start();
    let line = server.wait_for_log("big.yaml");
    assert!(
        line.contains(&format!(
            "the handler file is {} bytes; [limits] max-handler-spec-size is 300",
            big_handler.len()
        )),
        "{line}"
    );
    let line = server.wait_for_log("big.tick");
    assert!(
        line.contains("bytes; [limits] max-script-size is 400"),
        "{line}"
    );
    let line = server.wait_for_log("deep.tick");
    assert!(
        line.contains("[limits] max-expression-depth is 8"),
        "{line}"
    );
    let tasks: Value = server.get("/kapacitor/v1/tasks").json().unwrap();
    assert_eq!(tasks["tasks"], json!([]));
}

#[test]
fn out_of_range_limits_refuse_to_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("klaxon.toml");
    for (toml, expected) in [
        (
            "[limits]\nmax-expression-depth = 1000\n",
            "[limits] max-expression-depth is 1000; it can be at most 256",
        ),
        (
            "[limits]\nmax-tasks = 0\n",
            "[limits] max-tasks must be at least 1, got 0",
        ),
    ] {
        std::fs::write(&config, toml).unwrap();
        let output = run_klaxond(
            &["--config", config.to_str().unwrap(), "config"],
            dir.path(),
        );
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
    let output = run_klaxond(&["config"], dir.path());
    let text = String::from_utf8_lossy(&output.stdout);
    for key in [
        "max-line-length = 1048576",
        "max-fields-per-point = 10000",
        "max-script-size = 1048576",
        "max-expression-depth = 128",
        "max-regex-size = 1048576",
        "max-template-size = 65536",
        "max-handler-spec-size = 1048576",
        "max-tasks = 10000",
        "max-topic-handlers = 10000",
        "max-series = 1000000",
    ] {
        assert!(text.contains(key), "{key} missing from:\n{text}");
    }
}

#[test]
fn past_max_series_new_series_are_dropped_counted_and_logged_and_held_ones_go_on() {
    let mut server = Klaxond::builder()
        .config("[limits]\nmax-series = 2\n")
        .start();
    let sink = TcpSink::start();
    let script = format!(
        "stream\n  |from()\n    .measurement('cpu')\n    .groupBy('host')\n  |alert()\n    .crit(lambda: \"usage\" > 90)\n    .tcp('{}')\n",
        sink.address()
    );
    let (status, body) = server.define_task("cpu", &script, &[]);
    assert_eq!(status, 200, "{body}");
    let write = |server: &Klaxond, lines: &str| {
        let response = server.send("POST", "/write?db=telegraf&precision=s", lines);
        assert_eq!(response.status(), 204);
    };
    write(
        &server,
        "cpu,host=a usage=95 1\ncpu,host=b usage=95 1\ncpu,host=c usage=95 1\ncpu,host=d usage=95 1\n",
    );
    let hosts: Vec<String> = (0..2)
        .map(|_| sink.next_json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hosts, ["cpu:host=a", "cpu:host=b"]);
    let metrics = server.metrics();
    assert_eq!(
        metrics.value("klaxon_task_series_dropped_total", &[("task", "cpu")]),
        2.0
    );
    assert_eq!(
        metrics.value("klaxon_task_errors_total", &[("task", "cpu")]),
        0.0
    );
    let line = server.wait_for_log("point of a new series dropped");
    assert!(
        line.contains("task=cpu")
            && line.contains("node=alert2")
            && line.contains("series=\"host=c\""),
        "{line}"
    );
    // What the node holds goes on: a recovers, and its OK is delivered.
    write(&server, "cpu,host=a usage=10 2\n");
    let event = sink.next_json();
    assert_eq!(
        (event["id"].as_str(), event["level"].as_str()),
        (Some("cpu:host=a"), Some("OK"))
    );
    // The node's working cardinality is the limit.
    wait_for("the task's stats", || {
        let task: Value = server.get("/kapacitor/v1/tasks/cpu").json().unwrap();
        task["stats"]["node-stats"]["alert2"]["working_cardinality"] == 2
    });
}

/// The resident set of process `pid`, in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[test]
fn a_gigabyte_chunked_body_is_cut_at_the_limit_without_the_server_growing() {
    const LIMIT: usize = 8 << 20;
    let server = Klaxond::builder()
        .config(&format!("[http]\nmax-body-size = {LIMIT}\n"))
        .start();
    let before = rss_kb(server.pid());

    let stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    // The response can come while the body is still being sent: read it on its own thread.
    let response = std::thread::spawn(move || {
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (status, String::from_utf8(body).unwrap())
    });
    let mut writer = stream;
    writer
        .write_all(
            b"POST /write?db=d HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap();
    // 1 GiB of valid line protocol in 1 MiB chunks, made once and sent again and again: the
    // test itself holds one chunk, never the body.
    let line = b"cpu,host=serverA usage_idle=5\n";
    let chunk: Vec<u8> = line.iter().copied().cycle().take(1 << 20).collect();
    let mut sent = 0usize;
    for _ in 0..1024 {
        let header = format!("{:x}\r\n", chunk.len());
        let ok = writer.write_all(header.as_bytes()).is_ok()
            && writer.write_all(&chunk).is_ok()
            && writer.write_all(b"\r\n").is_ok();
        if !ok {
            // The server stopped reading and closed: what it had was over the limit.
            break;
        }
        sent += chunk.len();
        if response.is_finished() {
            break;
        }
    }
    let _ = writer.write_all(b"0\r\n\r\n");
    let (status, rest) = response.join().unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status}{rest}");
    assert!(
        rest.contains("request body is larger than [http] max-body-size (8388608 bytes)"),
        "{rest}"
    );

    // Bounded: the body limit, plus copies made while reading it and allocator slack, far
    // below the gigabyte sent.
    let after = rss_kb(server.pid());
    let growth_kb = after.saturating_sub(before);
    eprintln!("klaxond VmRSS {before} kB before, {after} kB after ({sent} bytes sent)");
    assert!(growth_kb < 128 * 1024, "RSS grew by {growth_kb} kB");
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
}

#[test]
fn a_redos_shaped_regex_does_not_stall_ingest() {
    let server = Klaxond::start();
    let script = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"host\" =~ /(a+)+$/)\n";
    let body = json!({"id": "redos", "type": "stream", "script": script, "status": "enabled"});
    let response = server.send("POST", "/kapacitor/v1/tasks", &body.to_string());
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    // Exponential for a backtracking engine; Rust's regex is linear in the input. The harness's
    // client deadline is the bound.
    let host = format!("{}b", "a".repeat(100_000));
    let response = server.send("POST", "/write?db=d", &format!("cpu,host={host} v=1\n"));
    assert_eq!(response.status(), 204);
    let task: Value = server.get("/kapacitor/v1/tasks/redos").json().unwrap();
    assert_eq!(task["executing"], true);
}

#[test]
fn deeply_nested_expressions_are_refused_with_the_limit() {
    let server = Klaxond::start();
    let deep = format!("{}\"v\"{} > 1", "(".repeat(100_000), ")".repeat(100_000));
    let (status, error) = api_error(server.send(
        "POST",
        "/kapacitor/v1/tasks",
        &task_body("deep", &alert_script(&deep)),
    ));
    assert_eq!(status, 400);
    assert!(
        error.contains("expression is nested too deeply (more than 128 levels); [limits] max-expression-depth is 128"),
        "{error}"
    );
    let chain = vec!["\"v\" > 1"; 5000].join(" AND ");
    let (status, error) = api_error(server.send(
        "POST",
        "/kapacitor/v1/tasks",
        &task_body("chain", &alert_script(&chain)),
    ));
    assert_eq!(status, 400);
    assert!(
        error.contains("[limits] max-expression-depth is 128"),
        "{error}"
    );
    let matcher = json!({"id": "h", "kind": "tcp", "options": {"address": "127.0.0.1:1"},
        "match": format!("{}level(){} == CRITICAL", "(".repeat(50_000), ")".repeat(50_000))});
    let (status, error) = api_error(server.send(
        "POST",
        "/kapacitor/v1/alerts/topics/cpu/handlers",
        &matcher.to_string(),
    ));
    assert_eq!(status, 500);
    assert!(
        error.contains("[limits] max-expression-depth is 128"),
        "{error}"
    );
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
}
