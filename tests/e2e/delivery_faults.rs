//! Delivery under faults: endpoints that are down, erroring or hung; full queues in drop and
//! block mode; graceful shutdown; and the metrics that account for every event.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use klaxon_e2e::{Klaxond, Metrics, ScriptedHttp, TcpSink, read_when_complete, wait_for};
use serde_json::{Value, json};

use crate::topic_handlers::{TEST_EVENTS, post_event};

fn define(server: &Klaxond, topic: &str, body: Value) {
    server.define_handler(topic, &body);
}

fn pair<'a>(topic: &'a str, handler: &'a str) -> [(&'a str, &'a str); 2] {
    [("topic", topic), ("handler", handler)]
}

/// Waits until `name` for (topic, handler) reaches `at_least`, and returns the metrics then.
fn wait_for_counter(
    server: &Klaxond,
    name: &str,
    labels: &[(&str, &str)],
    at_least: f64,
) -> Metrics {
    let mut metrics = Metrics::default();
    wait_for(&format!("{name}{labels:?} >= {at_least}"), || {
        metrics = server.metrics();
        metrics.value_or_zero(name, labels) >= at_least
    });
    metrics
}

fn write(server: &Klaxond, body: &str) -> reqwest::blocking::Response {
    server.send("POST", "/write?db=telegraf&rp=autogen", body)
}

/// Defines an enabled stream task over `telegraf.autogen`.
fn define_task(server: &Klaxond, id: &str, script: &str) {
    let (status, answer) = server.define_task(id, script, &[("telegraf", "autogen")]);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn a_tcp_endpoint_that_is_down_at_first_gets_every_event_exactly_once_in_order() {
    let server = Klaxond::builder().config(TEST_EVENTS).start();
    // A port with nothing listening yet (std sets SO_REUSEADDR, so it can be bound again).
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    define(
        &server,
        "cpu",
        json!({"id": "tcp", "kind": "tcp", "options": {"address": address.to_string()}}),
    );
    for id in ["e0", "e1", "e2"] {
        post_event(&server, "cpu", json!({"id": id, "level": "CRITICAL"}));
    }
    // The endpoint stays down through two failed attempts (about 1.5s with the default delays),
    // then comes up: the default policy outlasts it.
    wait_for_counter(
        &server,
        "klaxon_events_retried_total",
        &pair("cpu", "tcp"),
        2.0,
    );
    let listener = std::net::TcpListener::bind(address).expect("bind the endpoint again");
    let sink = TcpSink::from_listener(listener);
    for id in ["e0", "e1", "e2"] {
        assert_eq!(sink.next_json()["id"], id);
    }
    let metrics = wait_for_counter(
        &server,
        "klaxon_events_delivered_total",
        &pair("cpu", "tcp"),
        3.0,
    );
    assert_eq!(
        metrics.value("klaxon_events_delivered_total", &pair("cpu", "tcp")),
        3.0
    );
    assert_eq!(
        metrics.value("klaxon_events_failed_total", &pair("cpu", "tcp")),
        0.0
    );
    assert_eq!(
        metrics.value("klaxon_events_dropped_total", &pair("cpu", "tcp")),
        0.0
    );
    assert!(
        sink.next_within(Duration::from_millis(300)).is_none(),
        "an event was delivered twice"
    );
    let line = server
        .log_text()
        .lines()
        .find(|l| l.contains("delivery failed; retrying"))
        .expect("a retry log line")
        .to_owned();
    for field in [
        "topic=cpu",
        "handler=tcp",
        "kind=tcp",
        "event=e0",
        "attempt=1",
        "error=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}

#[test]
fn a_foo_service_answering_500_twice_is_retried_and_a_400_is_not() {
    let foo = ScriptedHttp::start(&[500, 500, 200, 400]);
    let mut server = Klaxond::builder()
        .config(&format!(
            "[alert]\ntest-events = true\n[foo]\nenabled = true\nurl = {:?}\nroom = \"ops\"\n",
            foo.url()
        ))
        .start();
    define(
        &server,
        "chat",
        json!({"id": "foo", "kind": "foo", "options": {},
               "retry": {"initial-delay": "50ms"}}),
    );
    post_event(
        &server,
        "chat",
        json!({"id": "flaky", "level": "CRITICAL", "message": "m1"}),
    );
    let statuses: Vec<u16> = (0..3).map(|_| foo.next().0).collect();
    assert_eq!(statuses, [500, 500, 200]);
    post_event(
        &server,
        "chat",
        json!({"id": "refused", "level": "CRITICAL", "message": "m2"}),
    );
    let (status, body) = foo.next();
    assert_eq!(status, 400);
    assert!(body.contains("m2"), "{body}");

    let metrics = wait_for_counter(
        &server,
        "klaxon_events_failed_total",
        &pair("chat", "foo"),
        1.0,
    );
    let labels = pair("chat", "foo");
    assert_eq!(metrics.value("klaxon_events_delivered_total", &labels), 1.0);
    assert_eq!(metrics.value("klaxon_events_retried_total", &labels), 2.0);
    assert_eq!(metrics.value("klaxon_events_failed_total", &labels), 1.0);
    assert!(
        foo.next_within(Duration::from_millis(300)).is_none(),
        "a 400 was retried"
    );
    let line = server.wait_for_log("delivery failed; giving up");
    for field in [
        "topic=chat",
        "handler=foo",
        "kind=foo",
        "event=refused",
        "attempt=1",
        "400",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}

/// An exec handler that hangs while `<out>.hang` exists (removing it first, so only one call
/// hangs) and otherwise appends its stdin to `out`.
fn sometimes_hanging_exec(id: &str, out: &Path) -> Value {
    json!({"id": id, "kind": "exec", "retry": {"attempts": 1}, "options": {
        "prog": "/bin/sh",
        "args": ["-c",
                 "if [ -e \"$0.hang\" ]; then rm \"$0.hang\"; echo $$ > \"$0.pid\"; exec sleep 1000; fi; cat >> \"$0\"",
                 out.display().to_string()]}})
}

fn hang_next_call(out: &Path) -> std::path::PathBuf {
    std::fs::write(out.with_extension("json.hang"), "").unwrap();
    let pid = out.with_extension("json.pid");
    let _ = std::fs::remove_file(&pid);
    pid
}

fn answers_within_a_second(what: &str, request: impl FnOnce() -> u16, expected: u16) {
    let start = Instant::now();
    let status = request();
    let took = start.elapsed();
    assert_eq!(status, expected, "{what}");
    assert!(took < Duration::from_secs(1), "{what} took {took:?}");
}

#[test]
fn a_hung_exec_is_killed_at_its_timeout_and_blocks_nothing_meanwhile() {
    let mut server = Klaxond::builder()
        .config("[alert]\ntest-events = true\n[exec]\ntimeout = \"2s\"\n")
        .start();
    let out = server.dir().join("out.json");
    let pid_file = hang_next_call(&out);
    define(&server, "hang", sometimes_hanging_exec("slow", &out));
    post_event(&server, "hang", json!({"id": "e0", "level": "CRITICAL"}));
    post_event(&server, "hang", json!({"id": "e1", "level": "CRITICAL"}));
    // e0 hangs until the exec timeout kills it; e1 is delivered after it.
    let text = read_when_complete(&out);
    assert!(text.contains("\"id\":\"e1\""), "{text}");
    assert!(pid_file.exists());
    let metrics = wait_for_counter(
        &server,
        "klaxon_events_failed_total",
        &pair("hang", "slow"),
        1.0,
    );
    assert_eq!(
        metrics.value("klaxon_events_delivered_total", &pair("hang", "slow")),
        1.0
    );
    let line = server.wait_for_log("delivery failed; giving up");
    for field in ["event=e0", "attempt=1", "kind=exec", "timed out after 2s"] {
        assert!(line.contains(field), "{field} missing from {line}");
    }

    // Hang it again, with a task feeding the topic, and use the API meanwhile.
    define_task(
        &server,
        "feeder",
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).topic('hang')",
    );
    let pid_file = hang_next_call(&out);
    post_event(&server, "hang", json!({"id": "e2", "level": "CRITICAL"}));
    wait_for("the exec program to hang", || pid_file.exists());
    answers_within_a_second(
        "a write",
        || write(&server, "cpu v=1").status().as_u16(),
        204,
    );
    answers_within_a_second(
        "a task disable",
        || {
            server
                .send(
                    "PATCH",
                    "/kapacitor/v1/tasks/feeder",
                    r#"{"status":"disabled"}"#,
                )
                .status()
                .as_u16()
        },
        200,
    );
    answers_within_a_second(
        "deleting the hung handler",
        || {
            server
                .send(
                    "DELETE",
                    "/kapacitor/v1/alerts/topics/hang/handlers/slow",
                    "",
                )
                .status()
                .as_u16()
        },
        204,
    );
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn a_full_queue_in_block_mode_refuses_writes_with_503_and_drops_nothing() {
    let server = Klaxond::builder()
        .config(
            "[alert]\ntopic-buffer-length = 1\nqueue-full = \"block\"\nqueue-full-wait = \"200ms\"\ndurable-delivery = false\n",
        )
        .start();
    let out = server.dir().join("slow.json");
    define(
        &server,
        "slow",
        json!({"id": "slow", "kind": "exec", "options": {
            "prog": "/bin/sh",
            "args": ["-c", "sleep 0.5; cat >> \"$0\"", out.display().to_string()]}}),
    );
    define_task(
        &server,
        "every",
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).topic('slow')",
    );
    let mut accepted = 0;
    let start = Instant::now();
    let refused = loop {
        assert!(
            start.elapsed() < klaxon_e2e::DEADLINE,
            "no write was refused"
        );
        let response = write(&server, &format!("cpu,host=h{accepted} v=1"));
        match response.status().as_u16() {
            204 => accepted += 1,
            503 => break response,
            other => panic!("unexpected status {other}: {}", response.text().unwrap()),
        }
    };
    assert!(accepted >= 2, "only {accepted} writes before a 503");
    assert!(refused.headers().contains_key("retry-after"));
    let text = refused.text().unwrap();
    assert!(text.contains("queue-full"), "{text}");

    let labels = pair("slow", "slow");
    let metrics = wait_for_counter(
        &server,
        "klaxon_events_delivered_total",
        &labels,
        f64::from(accepted),
    );
    assert_eq!(
        metrics.value("klaxon_events_delivered_total", &labels),
        f64::from(accepted)
    );
    assert_eq!(metrics.value("klaxon_events_dropped_total", &labels), 0.0);
    assert_eq!(
        metrics.value("klaxon_points_rejected_total", &[("db", "telegraf")]),
        1.0
    );
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), accepted as usize);
}

#[test]
fn sigterm_delivers_what_is_queued_and_refuses_writes_meanwhile() {
    let mut server = Klaxond::builder().config(TEST_EVENTS).start();
    let out = server.dir().join("drain.json");
    define(
        &server,
        "slow",
        json!({"id": "slow", "kind": "exec", "options": {
            "prog": "/bin/sh",
            "args": ["-c", "sleep 0.4; cat >> \"$0\"", out.display().to_string()]}}),
    );
    for i in 0..5 {
        post_event(
            &server,
            "slow",
            json!({"id": format!("e{i}"), "level": "CRITICAL"}),
        );
    }
    server.terminate();
    // The drain takes about 2s; writes are refused from the signal on.
    let mut refused = None;
    wait_for("a write refused while draining", || {
        match server
            .send("POST", "/write?db=telegraf", "cpu v=1")
            .status()
            .as_u16()
        {
            503 => {
                refused = Some(());
                true
            }
            _ => false,
        }
    });
    assert!(refused.is_some());
    assert_eq!(server.wait_exit().code(), Some(0));
    let delivered = std::fs::read_to_string(&out).unwrap();
    let ids: Vec<String> = delivered
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
    assert!(server.log_text().contains("delivery queues drained"));
}

#[test]
fn sigterm_past_the_shutdown_timeout_logs_every_undelivered_event() {
    let mut server = Klaxond::builder()
        .config(
            "[alert]\ntest-events = true\nshutdown-timeout = \"1s\"\ndurable-delivery = false\n",
        )
        .start();
    let out = server.dir().join("never.json");
    let pid_file = hang_next_call(&out);
    define(&server, "stuck", sometimes_hanging_exec("stuck", &out));
    for id in ["a", "b", "c"] {
        post_event(&server, "stuck", json!({"id": id, "level": "CRITICAL"}));
    }
    wait_for("the exec program to hang", || pid_file.exists());
    assert_eq!(server.stop().code(), Some(0));
    let log = server.log_text();
    for id in ["a", "b", "c"] {
        let line = log
            .lines()
            .find(|l| l.contains("not delivered") && l.contains(&format!("event={id} ")))
            .unwrap_or_else(|| panic!("no line for {id} in\n{log}"));
        assert!(
            line.contains("topic=stuck") && line.contains("handler=stuck"),
            "{line}"
        );
    }
}

#[test]
fn specs_tasks_and_non_ok_states_survive_sigkill() {
    let mut server = Klaxond::builder().start();
    let sink = TcpSink::start();
    define(
        &server,
        "cpu",
        json!({"id": "tcp", "kind": "tcp", "options": {"address": sink.address()},
               "retry": {"attempts": 3}}),
    );
    define_task(
        &server,
        "cpu_alert",
        "stream|from().measurement('cpu').groupBy('host')\
         |alert().id('{{ index .Tags \"host\" }}').crit(lambda: \"v\" > 90).topic('cpu')",
    );
    assert_eq!(
        write(&server, "cpu,host=a v=95\ncpu,host=b v=10").status(),
        204
    );
    assert_eq!(sink.next_json()["id"], "a");
    // Delivered and out of the outbox: a kill before that would (rightly) redeliver it.
    klaxon_e2e::wait_for("the outbox to be empty", || {
        server.metrics().value("klaxon_outbox_entries", &[]) == 0.0
    });
    server.kill();
    server.restart();

    let handler: Value = server
        .get("/kapacitor/v1/alerts/topics/cpu/handlers/tcp")
        .json()
        .unwrap();
    assert_eq!(handler["retry"], json!({"attempts": 3}));
    let task: Value = server.get("/kapacitor/v1/tasks/cpu_alert").json().unwrap();
    assert_eq!(
        (task["status"].clone(), task["executing"].clone()),
        (json!("enabled"), json!(true))
    );
    let events: Value = server
        .get("/kapacitor/v1/alerts/topics/cpu/events")
        .json()
        .unwrap();
    assert_eq!(events["events"][0]["id"], "a");
    assert_eq!(events["events"][0]["state"]["level"], "CRITICAL");
    // The restored state is the task's previous level: the recovery is an OK after CRITICAL.
    assert_eq!(write(&server, "cpu,host=a v=1").status(), 204);
    let recovery = sink.next_json();
    assert_eq!(
        (recovery["level"].clone(), recovery["previousLevel"].clone()),
        (json!("OK"), json!("CRITICAL"))
    );
}

#[test]
fn metrics_parse_as_prometheus_text_and_count_what_was_sent() {
    let server = Klaxond::builder().start();
    let sink = TcpSink::start();
    define_task(
        &server,
        "levels",
        &format!(
            "stream|from().measurement('cpu').groupBy('host')\
             |alert().id('{{{{ index .Tags \"host\" }}}}')\
             .warn(lambda: \"v\" > 50).crit(lambda: \"v\" > 90).tcp('{}')",
            sink.address()
        ),
    );
    assert_eq!(
        write(
            &server,
            "cpu,host=a v=95\ncpu,host=b v=60\ncpu,host=c v=1\nmem v=1"
        )
        .status(),
        204
    );
    assert_eq!(
        server.send("POST", "/write?db=telegraf", "cpu v=").status(),
        400
    );
    for _ in 0..2 {
        sink.next();
    }
    let handler = [("topic", "main:levels:alert2"), ("kind", "tcp")];
    let metrics = wait_for_counter(&server, "klaxon_events_delivered_total", &handler, 2.0);
    let dbrp = [("db", "telegraf"), ("rp", "autogen")];
    assert_eq!(metrics.value("klaxon_points_received_total", &dbrp), 4.0);
    assert_eq!(metrics.value("klaxon_points_rejected_total", &dbrp), 1.0);
    assert_eq!(
        metrics.value("klaxon_task_points_total", &[("task", "levels")]),
        4.0
    );
    assert_eq!(
        metrics.value("klaxon_task_executing", &[("task", "levels")]),
        1.0
    );
    let alerts = |level| {
        metrics.value(
            "klaxon_alerts_total",
            &[("task", "levels"), ("level", level)],
        )
    };
    assert_eq!(
        (alerts("CRITICAL"), alerts("WARNING"), alerts("OK")),
        (1.0, 1.0, 0.0)
    );
    assert_eq!(
        metrics.value("klaxon_delivery_latency_seconds_count", &[("kind", "tcp")]),
        2.0
    );
    assert_eq!(metrics.value("klaxon_queue_depth", &handler), 0.0);
    let kinds = klaxon_e2e::bundled_kinds().join(", ");
    let build = metrics.value("klaxon_build_info", &[("handlers", &kinds)]);
    assert_eq!(build, 1.0);

    // Prometheus itself asks for OpenMetrics.
    let openmetrics = klaxon_e2e::http_client()
        .clone()
        .get(format!("{}/metrics", server.url()))
        .header("accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .unwrap();
    assert!(
        openmetrics.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(openmetrics.text().unwrap().ends_with("# EOF\n"));

    let vars: Value = server.get("/kapacitor/v1/debug/vars").json().unwrap();
    assert_eq!(
        (vars["num_tasks"].clone(), vars["num_enabled_tasks"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        vars["kapacitor"]["ingress:telegraf.autogen"]["values"]["points_received"],
        4
    );
    assert_eq!(
        vars["kapacitor"]["nodes:levels"]["values"]["crits_triggered"],
        1
    );
    assert_eq!(vars["klaxon"]["exposed_without_auth"], false);

    promtool_check(&server);
}

/// `promtool check metrics` on the exposition: run when Prometheus' promtool is installed
/// (.ci/run installs Debian's `prometheus` package), skipped with a note otherwise.
fn promtool_check(server: &Klaxond) {
    let text = server.get("/metrics").text().unwrap();
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "promtool is missing under CI; .ci/run installs Debian's prometheus package"
        );
        eprintln!("promtool not installed: skipping `promtool check metrics`");
        return;
    };
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
