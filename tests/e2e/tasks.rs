//! Stream tasks end to end: the seed documents' examples as written (only program paths and
//! addresses adapted), through `klaxon define`/`enable` and `POST /write`, checked byte for byte.

use std::path::{Path, PathBuf};

use klaxon_e2e::{Klaxond, TcpSink, read_when_complete, wait_for};
use serde_json::Value;

/// `cpu,host=serverA usage_idle=5` at 1970-01-01T00:00:10Z.
const POINT: &str = "cpu,host=serverA usage_idle=5 10";
const POINT_TIME: &str = "1970-01-01T00:00:10Z";

/// The alert JSON Kapacitor writes for `POINT` in task `task` with `message`, default ID and
/// default details (`{{ json . }}`, HTML-escaped by html/template, then Go-escaped).
/// The alert JSON Kapacitor sends for the seed's point; `.ServerInfo` carries the server's
/// cluster and server IDs, which `/kapacitor/v1/debug/vars` reports too.
fn expected_json(server: &Klaxond, task: &str, message: &str) -> String {
    let vars: serde_json::Value = server.get("/kapacitor/v1/debug/vars").json().unwrap();
    let (cluster, id) = (&vars["cluster_id"], &vars["server_id"]);
    let (cluster, id) = (cluster.as_str().unwrap(), id.as_str().unwrap());
    assert_eq!((cluster.len(), id.len()), (36, 36), "{vars}");
    let details = format!(
        "{{&#34;Name&#34;:&#34;cpu&#34;,&#34;TaskName&#34;:&#34;{task}&#34;,&#34;Group&#34;:&#34;nil&#34;,\
         &#34;Tags&#34;:{{&#34;host&#34;:&#34;serverA&#34;}},&#34;ServerInfo&#34;:{{&#34;Hostname&#34;:&#34;{host}&#34;,\
         &#34;ClusterID&#34;:&#34;{cluster}&#34;,&#34;ServerID&#34;:&#34;{id}&#34;}},&#34;ID&#34;:&#34;cpu:nil&#34;,\
         &#34;Fields&#34;:{{&#34;usage_idle&#34;:5}},&#34;Level&#34;:&#34;CRITICAL&#34;,&#34;Time&#34;:&#34;{POINT_TIME}&#34;,\
         &#34;Duration&#34;:0,&#34;Message&#34;:&#34;{message}&#34;}}\\n",
        host = klaxon_e2e::hostname()
    )
    .replace('&', "\\u0026");
    format!(
        "{{\"id\":\"cpu:nil\",\"message\":\"{message}\",\"details\":\"{details}\",\"time\":\"{POINT_TIME}\",\
         \"duration\":0,\"level\":\"CRITICAL\",\"data\":{{\"series\":[{{\"name\":\"cpu\",\"tags\":{{\"host\":\"serverA\"}},\
         \"columns\":[\"time\",\"usage_idle\"],\"values\":[[\"{POINT_TIME}\",5]]}}]}},\"previousLevel\":\"OK\",\
         \"recoverable\":true}}\n"
    )
}

fn write(server: &Klaxond, query: &str, body: &str) -> (u16, String) {
    let response = server.send("POST", &format!("/write?{query}"), body);
    (response.status().as_u16(), response.text().unwrap())
}

fn write_ok(server: &Klaxond, body: &str) {
    let (status, text) = write(server, "db=telegraf&rp=autogen&precision=s", body);
    assert_eq!(status, 204, "{text}");
}

/// A program standing in for `sound-the-alarm.py`: it appends its stdin to `out`.
fn stdin_recorder(dir: &Path) -> (PathBuf, PathBuf) {
    let out = dir.join("alarm-stdin.json");
    let script = dir.join("sound-the-alarm.sh");
    std::fs::write(&script, format!("#!/bin/sh\ncat >> '{}'\n", out.display())).unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    (script, out)
}

/// Seed 002: exec-cpu-alert.tick, `.exec(...)` inline.
#[test]
fn seed_exec_cpu_alert_runs_the_program_with_the_alert_on_stdin() {
    let server = Klaxond::start();
    let (script, out) = stdin_recorder(server.dir());
    let tick = format!(
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .exec('{}', 'sound-the-alarm.py')\n",
        script.display()
    );
    server.define_task_from_file("exec_cpu_alert", "exec-cpu-alert.tick", &tick);
    write_ok(&server, POINT);
    assert_eq!(
        read_when_complete(&out),
        expected_json(&server, "exec_cpu_alert", "cpu:nil is CRITICAL")
    );
}

const CPU_ALERT_TICK: &str = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .topic('cpu')\n";

/// Seed 002: cpu_alert.tick publishing to topic `cpu`, and exec_cpu_handler.yaml.
#[test]
fn seed_cpu_alert_with_exec_cpu_handler_yaml() {
    let server = Klaxond::start();
    let (script, out) = stdin_recorder(server.dir());
    server.define_task_from_file("cpu_alert", "cpu_alert.tick", CPU_ALERT_TICK);
    let yaml = format!(
        "id: exec-cpu-alert\ntopic: cpu\nkind: exec\noptions:\n  prog: '{}'\n  args: \n    - 'sound-the-alarm.py'\n",
        script.display()
    );
    server.define_handler_from_file("exec_cpu_handler.yaml", &yaml);
    write_ok(&server, POINT);
    assert_eq!(
        read_when_complete(&out),
        expected_json(&server, "cpu_alert", "Hey, check your CPU")
    );
    let list = server.cli_ok(&["list", "tasks"]);
    assert_eq!(
        list,
        "ID        Type      Status    Executing Databases and Retention Policies\n\
         cpu_alert stream    enabled   true      []\n"
    );
}

/// Seed 004: tcp-cpu-alert.tick (`.tcp(...)` inline) and cpu_alert.tick + tcp_cpu_handler.yaml.
#[test]
fn seed_tcp_examples_send_json_and_an_empty_line() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    let tick = format!(
        "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .tcp('{}')\n",
        sink.address()
    );
    server.define_task_from_file("tcp_cpu_alert", "tcp-cpu-alert.tick", &tick);
    write_ok(&server, POINT);
    assert_eq!(
        sink.next(),
        format!(
            "{}\n",
            expected_json(&server, "tcp_cpu_alert", "Hey, check your CPU")
        )
    );
    server.cli_ok(&["delete", "tasks", "tcp_cpu_alert"]);

    let topic_sink = TcpSink::start();
    server.define_task_from_file("cpu_alert", "cpu_alert.tick", CPU_ALERT_TICK);
    let yaml = format!(
        "id: tcp-cpu-alert\ntopic: cpu\nkind: tcp\noptions:\n  address: {}\n",
        topic_sink.address()
    );
    server.define_handler_from_file("tcp_cpu_handler.yaml", &yaml);
    write_ok(&server, POINT);
    assert_eq!(
        topic_sink.next(),
        format!(
            "{}\n",
            expected_json(&server, "cpu_alert", "Hey, check your CPU")
        )
    );
}

/// Seed 000: the Foo service from TICKscript (`.foo().room(...)`) and from a handler file.
#[test]
fn foo_from_tickscript_and_from_a_handler_file() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let foo = runtime
        .block_on(klaxon_handler_foo::demo::FooServer::start())
        .unwrap();
    let server = Klaxond::builder()
        .config(&format!(
            "[foo]\nenabled = true\nurl = {:?}\nroom = \"general\"\n",
            foo.url()
        ))
        .start();
    let tick = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n    .message('Hey, check your CPU')\n    .foo()\n    .room('alerts')\n    .topic('cpu')\n";
    server.define_task_from_file("foo_alert", "foo.tick", tick);
    server.define_handler_from_file("foo.yaml", "id: foo-cpu\ntopic: cpu\nkind: foo\n");
    write_ok(&server, POINT);
    wait_for("two Foo messages", || foo.messages().len() == 2);
    let mut got: Vec<String> = foo.messages().iter().map(ToString::to_string).collect();
    got.sort();
    assert_eq!(
        got,
        [
            "alerts: Hey, check your CPU",
            "general: Hey, check your CPU"
        ]
    );
    let request = &foo.requests()[0];
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
}

#[test]
fn bad_writes_are_refused_with_the_reason() {
    let server = Klaxond::start();
    let (status, text) = write(&server, "db=telegraf", "cpu v=1\ncpu v=\n");
    assert_eq!(status, 400);
    assert!(text.starts_with("line 2: "), "{text}");
    let (status, text) = write(&server, "rp=autogen", "cpu v=1");
    assert_eq!(
        (status, text.as_str()),
        (400, "database is required; add ?db=<database> to the URL\n")
    );
    let (status, text) = write(&server, "db=x&precision=d", "cpu v=1");
    assert_eq!(
        (status, text.as_str()),
        (400, "invalid precision \"d\"; use n, u, ms, s, m or h\n")
    );
    let response = klaxon_e2e::http_client()
        .clone()
        .post(format!("{}/kapacitor/v1/write?db=x", server.url()))
        .header("Content-Encoding", "gzip")
        .body("not gzip")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .unwrap()
            .starts_with("body is not valid gzip")
    );
    // InfluxDB 1.x subscriptions send consistency= and nanosecond times.
    let (status, _) = write(
        &server,
        "consistency=&db=telegraf&precision=ns&rp=autogen",
        "cpu,host=a v=1 1000000000",
    );
    assert_eq!(status, 204);
}

#[test]
fn oversized_bodies_get_413() {
    let server = Klaxond::builder()
        .config("[http]\nmax-body-size = 64\n")
        .start();
    let (status, text) = write(&server, "db=x", &"cpu v=1 1\n".repeat(20));
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("max-body-size"), "{text}");
}

fn define_status(server: &Klaxond, id: &str, script: &str) -> (u16, Value) {
    server.define_task(id, script, &[])
}

#[test]
fn invalid_tickscript_is_a_400_with_line_and_column() {
    let server = Klaxond::start();
    let cases = [
        (
            "stream|from().measurement(\"cpu\")",
            "invalid TICKscript: line 1, column 27: ",
        ),
        (
            "stream\n  |from()\n  |alert()\n    .crit(\"usage_idle\" < 10)",
            "invalid TICKscript: line 4, column 11: ",
        ),
        (
            "stream|from()|alert().crit(lambda: \"x\" = 1)",
            "invalid TICKscript: line 1, column ",
        ),
        (
            "stream|nosuch()",
            "invalid TICKscript: line 1, column 7: unknown node |nosuch()",
        ),
        (
            "stream|from()|alert().zabbix()",
            "invalid TICKscript: line 1, column 22: |alert() has no property .zabbix(); it has: ",
        ),
        (
            "stream|from()|alert().exec('')",
            "invalid TICKscript: line 1, column 22: exec: ",
        ),
        (
            "stream|from()|alert().tcp('nohost')",
            "invalid TICKscript: line 1, column 22: tcp: ",
        ),
    ];
    for (script, prefix) in cases {
        let (status, body) = define_status(&server, "bad", script);
        assert_eq!(status, 400, "{script}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.starts_with(prefix),
            "{script}:\n{error}\nexpected prefix {prefix}"
        );
    }
    // Nothing invalid was stored.
    let list: Value = server.get("/kapacitor/v1/tasks").json().unwrap();
    assert_eq!(list["tasks"], serde_json::json!([]));
}

#[test]
fn tasks_api_shapes_and_dbrp_routing() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    let script = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|alert().crit(lambda: TRUE).tcp('{}')",
        sink.address()
    );
    let (status, task) = define_status(&server, "routed", &script);
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["link"]["href"], "/kapacitor/v1/tasks/routed");
    assert_eq!(
        task["dbrps"],
        serde_json::json!([{"db": "telegraf", "rp": "autogen"}])
    );
    assert_eq!(task["status"], "enabled");
    assert_eq!(task["executing"], true);
    assert_eq!(task["type"], "stream");
    assert!(
        task["dot"]
            .as_str()
            .unwrap()
            .contains("from1 -> alert2 [processed=\"0\"];"),
        "{task}"
    );
    // Another database is not routed to the task; its own is.
    let (status, _) = write(&server, "db=other&precision=s", "cpu v=1 1");
    assert_eq!(status, 204);
    let (status, _) = write(&server, "db=telegraf&precision=s", "cpu v=2 2");
    assert_eq!(status, 204);
    let got = sink.next_json();
    assert_eq!(got["data"]["series"][0]["values"][0][1], 2);
    // Disable, then the anonymous topic's events are gone (Kapacitor's case 12), then re-enable.
    let response = server.send(
        "PATCH",
        "/kapacitor/v1/tasks/routed",
        r#"{"status":"disabled"}"#,
    );
    assert_eq!(response.status(), 200);
    let response = server.get("/kapacitor/v1/alerts/topics/main:routed:alert2/events");
    assert_eq!(response.status(), 500);
    let response = server.send(
        "PATCH",
        "/kapacitor/v1/tasks/routed",
        r#"{"status":"enabled"}"#,
    );
    assert_eq!(response.status(), 200);
    let events: Value = server
        .get("/kapacitor/v1/alerts/topics/main:routed:alert2/events")
        .json()
        .unwrap();
    assert_eq!(events["events"][0]["id"], "cpu:nil");
    // Delete: 204, then 404.
    assert_eq!(
        server
            .send("DELETE", "/kapacitor/v1/tasks/routed", "")
            .status(),
        204
    );
    assert_eq!(server.get("/kapacitor/v1/tasks/routed").status(), 404);
    assert_eq!(
        server
            .send("DELETE", "/kapacitor/v1/tasks/routed", "")
            .status(),
        204
    );
}

/// Reference 3.7 after a crash: a CRITICAL stays CRITICAL without re-firing under
/// stateChangesOnly, and the recovery fires with the whole incident's duration; tasks come back
/// enabled or disabled as they were.
#[test]
fn alert_state_and_tasks_survive_sigkill() {
    let mut server = Klaxond::start();
    let sink = TcpSink::start();
    let script = format!(
        "stream|from().measurement('cpu')|alert().crit(lambda: \"usage_idle\" < 10).stateChangesOnly().tcp('{}')",
        sink.address()
    );
    assert_eq!(define_status(&server, "restarted", &script).0, 200);
    let body = serde_json::json!({"id": "idle", "script": "stream|from()|alert().crit(lambda: TRUE)", "status": "disabled"});
    assert_eq!(
        server
            .send("POST", "/kapacitor/v1/tasks", &body.to_string())
            .status(),
        200
    );
    write_ok(&server, "cpu,host=serverA usage_idle=5 0");
    assert_eq!(sink.next_json()["level"], "CRITICAL");
    // Delivered and out of the outbox: a kill before that would (rightly) redeliver it.
    klaxon_e2e::wait_for("the outbox to be empty", || {
        server.metrics().value("klaxon_outbox_entries", &[]) == 0.0
    });

    server.kill();
    server.restart();
    let task: Value = server.get("/kapacitor/v1/tasks/restarted").json().unwrap();
    assert_eq!(
        (task["status"].as_str(), task["executing"].as_bool()),
        (Some("enabled"), Some(true))
    );
    let idle: Value = server.get("/kapacitor/v1/tasks/idle").json().unwrap();
    assert_eq!(
        (idle["status"].as_str(), idle["executing"].as_bool()),
        (Some("disabled"), Some(false))
    );

    // Still CRITICAL: not re-sent. Then the recovery: the next delivery must be the OK, with the
    // duration since the first CRITICAL before the crash.
    write_ok(&server, "cpu,host=serverA usage_idle=5 1");
    write_ok(&server, "cpu,host=serverA usage_idle=50 5");
    let recovery = sink.next_json();
    assert_eq!(recovery["level"], "OK");
    assert_eq!(recovery["duration"], 5_000_000_000i64);
    assert_eq!(recovery["previousLevel"], "CRITICAL");
}

#[test]
fn hipchat_is_refused_as_retired_in_a_tickscript_and_a_handler_file() {
    let server = Klaxond::start();
    let (status, body) = define_status(
        &server,
        "hipchat",
        "stream|from()|alert().crit(lambda: TRUE).hipChat().room('ops')",
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains(
            "line 1, column 41: |alert() property .hipChat() is a retired Kapacitor handler: \
             HipChat was shut down by Atlassian in 2019"
        ),
        "{body}"
    );
    let response = server.send(
        "POST",
        "/kapacitor/v1/alerts/topics/ops/handlers",
        r#"{"id":"chat","kind":"hipchat","options":{"room":"ops"}}"#,
    );
    assert_ne!(response.status(), 200);
    let text = response.text().unwrap();
    assert!(
        text.contains("handler kind \\\"hipchat\\\" is retired: HipChat was shut down"),
        "{text}"
    );
}
