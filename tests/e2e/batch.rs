//! Batch tasks in a real klaxond querying a real InfluxDB 1.x (Debian's `influxd`): Kapacitor's
//! documented `batch|query()` example fires on data written to InfluxDB; a query InfluxDB
//! refuses and InfluxDB stopped show in the task's error while the schedule goes on; the CLI's
//! `define -type batch`; and the refusals (a batch script given as a stream task, no query, a
//! bad cron expression, `|queryFlux()`, an unknown cluster).

use klaxon_e2e::influxd::Influxd;
use klaxon_e2e::{Klaxond, TcpSink, wait_for};
use serde_json::{Value, json};

/// A klaxond whose default `[[influxdb]]` cluster is `influxd`, with `telegraf` created.
fn klaxond_for(influxd: &Influxd) -> Klaxond {
    influxd.query("CREATE DATABASE telegraf");
    influxd.klaxond()
}

/// `POST /kapacitor/v1/tasks` of an enabled task of type `kind`: the status and the answer.
fn define(server: &Klaxond, id: &str, kind: &str, script: &str) -> (u16, Value) {
    let body = json!({"id": id, "type": kind, "script": script, "status": "enabled"});
    let response = server.send("POST", "/kapacitor/v1/tasks", &body.to_string());
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn task(server: &Klaxond, id: &str) -> Value {
    server
        .get(&format!("/kapacitor/v1/tasks/{id}"))
        .json()
        .unwrap()
}

/// Nanoseconds since the epoch, now.
fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// Kapacitor's documented example, with a short period and schedule so the test needs no
/// minutes: the mean idle CPU per cpu and second over the last 10 s, every second.
fn documented_example(sink: &TcpSink) -> String {
    format!(
        r#"batch
    |query('SELECT mean(usage_idle) FROM "telegraf"."autogen"."cpu"')
        .period(10s)
        .every(1s)
        .groupBy(time(1s), 'cpu')
    |alert()
        .crit(lambda: "mean" < 70)
        .message('{{{{ .ID }}}} is {{{{ .Level }}}}')
        .tcp('{}')
"#,
        sink.address()
    )
}

#[test]
fn the_documented_batch_example_fires_on_data_written_to_influxdb() {
    if !Influxd::available() {
        return;
    }
    let influxd = Influxd::start();
    let server = klaxond_for(&influxd);
    let sink = TcpSink::start();
    let (status, body) = define(&server, "cpu_batch", "batch", &documented_example(&sink));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "batch", "{body}");
    assert_eq!(body["executing"], true, "{body}");
    // Written to InfluxDB, not to klaxond: only the query brings them.
    let t = now_ns();
    influxd.write(
        "telegraf",
        &format!(
            "cpu,cpu=cpu0 usage_idle=5 {t}\ncpu,cpu=cpu1 usage_idle=95 {t}\ncpu,cpu=cpu0 usage_idle=15 {}\n",
            t + 1
        ),
    );
    let event = sink.next_json();
    assert_eq!(event["level"], "CRITICAL", "{event}");
    assert_eq!(event["id"], "cpu:cpu=cpu0", "{event}");
    assert_eq!(event["message"], "cpu:cpu=cpu0 is CRITICAL", "{event}");
    let series = &event["data"]["series"][0];
    assert_eq!(series["name"], "cpu", "{event}");
    assert_eq!(series["tags"], json!({"cpu": "cpu0"}), "{event}");
    assert_eq!(series["columns"], json!(["time", "mean"]), "{event}");
    // One bucket of the second the points are in: their mean.
    assert_eq!(series["values"].as_array().unwrap().len(), 1, "{event}");
    assert_eq!(series["values"][0][1], 10, "{event}");
    // cpu1 stays OK: every event the runs bring is cpu0's.
    for _ in 0..3 {
        assert_eq!(sink.next_json()["id"], "cpu:cpu=cpu0");
    }
    let shown = task(&server, "cpu_batch");
    assert_eq!(shown["error"], "", "{shown}");
    assert_eq!(shown["type"], "batch", "{shown}");
    // Kapacitor's query node statistics; the graph starts at the query, as Kapacitor's.
    let query = &shown["stats"]["node-stats"]["query1"];
    assert_eq!(query["query_errors"], 0, "{shown}");
    assert!(query["batches_queried"].as_u64().unwrap() >= 4, "{shown}");
    assert!(query["points_queried"].as_u64().unwrap() >= 4, "{shown}");
    let dot = shown["dot"].as_str().unwrap();
    assert!(
        dot.contains("query1 -> alert2") && !dot.contains("batch0"),
        "{dot}"
    );
    // Telegraf's kapacitor input reads the task's type from /debug/vars.
    let vars: Value = server.get("/kapacitor/v1/debug/vars").json().unwrap();
    assert_eq!(
        vars["kapacitor"]["nodes:cpu_batch"]["tags"]["type"], "batch",
        "{vars}"
    );
}

#[test]
fn a_refused_query_and_influxdb_down_show_in_the_task_error_and_the_schedule_goes_on() {
    if !Influxd::available() {
        return;
    }
    let mut influxd = Influxd::start();
    let server = klaxond_for(&influxd);
    let sink = TcpSink::start();
    // InfluxDB refuses the statement at each run.
    let (status, body) = define(
        &server,
        "refused",
        "batch",
        "batch|query('SELECT nosuchfunction(usage_idle) FROM \"telegraf\".\"autogen\".\"cpu\"').period(5s).every(1s)|alert().crit(lambda: TRUE)",
    );
    assert_eq!(status, 200, "{body}");
    wait_for("the refused query in the task's error", || {
        let error = task(&server, "refused")["error"].to_string();
        error.contains("query1") && error.contains("nosuchfunction")
    });
    // Logged with the statement, and run again.
    wait_for("two failed runs in the log", || {
        let log = server.log_text();
        log.matches("batch query failed").count() >= 2
            && log.contains("SELECT nosuchfunction(usage_idle)")
    });
    let shown = task(&server, "refused");
    assert_eq!(shown["executing"], true, "{shown}");
    assert!(
        shown["stats"]["node-stats"]["query1"]["query_errors"]
            .as_u64()
            .unwrap()
            >= 2,
        "{shown}"
    );

    // A good task while InfluxDB goes down and comes back.
    let (status, body) = define(&server, "cpu_batch", "batch", &documented_example(&sink));
    assert_eq!(status, 200, "{body}");
    influxd.stop();
    wait_for("InfluxDB down in the task's error", || {
        task(&server, "cpu_batch")["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("query1: "))
    });
    influxd.resume();
    influxd.write(
        "telegraf",
        &format!("cpu,cpu=cpu0 usage_idle=5 {}\n", now_ns()),
    );
    assert_eq!(sink.next_json()["level"], "CRITICAL");
    wait_for("the error cleared by a run that succeeded", || {
        task(&server, "cpu_batch")["error"] == ""
    });
}

#[test]
fn the_cli_defines_a_batch_task_with_type_batch() {
    if !Influxd::available() {
        return;
    }
    let influxd = Influxd::start();
    let server = klaxond_for(&influxd);
    let sink = TcpSink::start();
    std::fs::write(server.dir().join("cpu.tick"), documented_example(&sink)).unwrap();
    server.cli_ok(&["define", "cpu_batch", "-type", "batch", "-tick", "cpu.tick"]);
    let shown = server.cli_ok(&["show", "cpu_batch"]);
    assert!(shown.contains("Type: batch"), "{shown}");
    server.cli_ok(&["enable", "cpu_batch"]);
    influxd.write(
        "telegraf",
        &format!("cpu,cpu=cpu0 usage_idle=5 {}\n", now_ns()),
    );
    assert_eq!(sink.next_json()["level"], "CRITICAL");
    // Without -type the script decides, as with Kapacitor's CLI.
    server.cli_ok(&["define", "untyped", "-tick", "cpu.tick"]);
    let shown = server.cli_ok(&["show", "untyped"]);
    assert!(shown.contains("Type: batch"), "{shown}");
    // The wrong type for the script is refused, naming the fix.
    let output = server.cli(&["define", "other", "-type", "stream", "-tick", "cpu.tick"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{output:?}");
    assert!(stderr.contains("give type batch"), "{stderr}");
    // A batch template, and a task made from it.
    server.cli_ok(&["define-template", "batch_tpl", "-tick", "cpu.tick"]);
    let template: Value = server
        .get("/kapacitor/v1/templates/batch_tpl")
        .json()
        .unwrap();
    assert_eq!(template["type"], "batch", "{template}");
    server.cli_ok(&["define", "from_tpl", "-template", "batch_tpl"]);
    assert_eq!(task(&server, "from_tpl")["type"], "batch");
}

#[test]
fn bad_batch_tasks_are_refused_with_clear_errors() {
    if !Influxd::available() {
        return;
    }
    let influxd = Influxd::start();
    let server = klaxond_for(&influxd);
    let good = "batch|query('SELECT v FROM m').every(1m)|httpOut('x')";
    for (kind, script, wanted) in [
        (
            "stream",
            good,
            "task type stream does not match the script, which starts with batch; give type batch",
        ),
        (
            "batch",
            "stream|from()|alert()",
            "task type batch does not match the script, which starts with stream",
        ),
        (
            "other",
            good,
            "invalid task type: \"other\"; use stream or batch",
        ),
        (
            "batch",
            "batch|query()",
            "|query() needs the InfluxQL to run",
        ),
        (
            "batch",
            "batch|query('SELECT v FROM m').cron('61 * * * *')",
            "invalid cron expression \"61 * * * *\"",
        ),
        (
            "batch",
            "batch|query('SELECT v FROM m')",
            "must define one of 'every' or 'cron'",
        ),
        (
            "batch",
            "batch|queryFlux('from(bucket: \"b\")').every(1m)",
            "use |query('SELECT ...')",
        ),
        (
            "batch",
            "batch|query('SELECT v FROM m').every(1m).cluster('nosuch')|httpOut('x')",
            "nosuch",
        ),
    ] {
        let (status, body) = define(&server, "bad", kind, script);
        assert_eq!(status, 400, "{script}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(wanted), "{script}: {error}");
    }
    assert_eq!(
        server.get("/kapacitor/v1/tasks/bad").status(),
        404,
        "nothing refused was stored"
    );
}

/// Kapacitor's batch test cases (integrations/batcher_test.go) against a real InfluxDB: the
/// recorded batches of `testdata/<case>.0.brpl`, rebased to 1971 as Kapacitor's replay does,
/// are written to InfluxDB one raw point per bucket (so `mean()` gives the recorded value), and
/// the case's script runs unchanged but for `.align()` and an `.offset()` that makes three
/// consecutive runs query the three recorded periods. The `|httpOut()` must then show
/// Kapacitor's expected result.
mod kapacitor_cases {
    use super::*;

    const S: i64 = 1_000_000_000;
    /// Kapacitor's replay clock starts at 1971-01-01T00:00:00Z.
    const ZERO: i64 = 31_536_000 * S;

    /// Writes the case's recording to `telegraf`.`default` (its `field` as `value`, which the
    /// queries read) with the `host` tag the query's
    /// `WHERE` asks for, each point moved by what moves the first to [`ZERO`].
    fn write_recording(influxd: &Influxd, case: &str, field: &str, host: &str) {
        influxd.query("CREATE RETENTION POLICY \"default\" ON telegraf DURATION INF REPLICATION 1");
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("e2e/testdata")
            .join(format!("{case}.0.brpl"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut diff = None;
        let mut lines = String::new();
        for batch in text.lines().filter(|l| !l.trim().is_empty()) {
            let batch: Value = serde_json::from_str(batch).unwrap();
            let name = batch["name"].as_str().unwrap();
            let mut tags = format!(",host={host}");
            for (k, v) in batch["tags"].as_object().into_iter().flatten() {
                tags.push_str(&format!(",{k}={}", v.as_str().unwrap()));
            }
            for point in batch["points"].as_array().unwrap() {
                let time = klaxon_core::Timestamp::parse_rfc3339(point["time"].as_str().unwrap())
                    .unwrap()
                    .as_nanos();
                let diff = *diff.get_or_insert(ZERO - time);
                let fields: Vec<String> = point["fields"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| {
                        let k = if k == field { "value" } else { k.as_str() };
                        format!("{k}={:?}", v.as_f64().unwrap())
                    })
                    .collect();
                lines.push_str(&format!(
                    "{name}{tags} {} {}\n",
                    fields.join(","),
                    time + diff
                ));
            }
        }
        let response = klaxon_e2e::http_client()
            .post(format!("{}/write?db=telegraf&rp=default", influxd.url()))
            .body(lines)
            .send()
            .unwrap();
        assert_eq!(response.status(), 204, "{:?}", response.text());
    }

    /// `script` with `.align()` and the `.offset()` that puts the run at the next multiple of
    /// `every` (at least 3 s away) on the recording's first period, after the query's
    /// `.every(...)` line.
    fn shifted(script: &str, every_s: i64) -> String {
        let now = now_ns();
        let mut first = (now / (every_s * S) + 1) * every_s * S;
        if first - now < 3 * S {
            first += every_s * S;
        }
        let offset_s = (first - (ZERO + every_s * S)) / S;
        let every = format!(".every({every_s}s)");
        assert!(script.contains(&every), "{script}");
        script.replacen(
            &every,
            &format!("{every}\n        .align()\n        .offset({offset_s}s)"),
            1,
        )
    }

    /// Runs the case until its `|httpOut('<case>')` shows `expected` (Go's JSON, parsed).
    fn run(case: &str, script: &str, every_s: i64, field: &str, expected: &str) {
        if !Influxd::available() {
            return;
        }
        let influxd = Influxd::start();
        let server = klaxond_for(&influxd);
        write_recording(&influxd, case, field, "serverA");
        let (status, body) = define(&server, case, "batch", &shifted(script, every_s));
        assert_eq!(status, 200, "{body}");
        let expected: Value = serde_json::from_str(expected).unwrap();
        let mut last = Value::Null;
        // Three runs, `every` apart, from the first one a few seconds away.
        let deadline =
            std::time::Instant::now() + std::time::Duration::from_secs((every_s * 4 + 60) as u64);
        while std::time::Instant::now() < deadline {
            let response = server.get(&format!("/kapacitor/v1/tasks/{case}/{case}"));
            if response.status() == 200 {
                last = response.json().unwrap();
                if last == expected {
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!(
            "{case}: the output never became Kapacitor's\nexpected {expected}\nlast {last}\ntask {}",
            task(&server, case)
        );
    }

    #[test]
    fn test_batch_simple_mr() {
        run(
            "TestBatch_SimpleMR",
            r#"
batch
	|query('''
		SELECT mean("value")
		FROM "telegraf"."default".cpu_usage_idle
		WHERE "host" = 'serverA'
''')
		.period(10s)
		.every(10s)
		.groupBy(time(2s), 'cpu')
	|count('mean')
	|window()
		.period(20s)
		.every(20s)
	|sum('count')
	|httpOut('TestBatch_SimpleMR')
"#,
            10,
            "mean",
            r#"{"series":[
                {"name":"cpu_usage_idle","tags":{"cpu":"cpu-total"},"columns":["time","sum"],"values":[["1971-01-01T00:00:28Z",10]]},
                {"name":"cpu_usage_idle","tags":{"cpu":"cpu0"},"columns":["time","sum"],"values":[["1971-01-01T00:00:28Z",10]]},
                {"name":"cpu_usage_idle","tags":{"cpu":"cpu1"},"columns":["time","sum"],"values":[["1971-01-01T00:00:28Z",10]]}
            ]}"#,
        );
    }

    #[test]
    fn test_batch_derivative() {
        run(
            "TestBatch_Derivative",
            r#"
batch
	|query('''
		SELECT sum("value") as "value"
		FROM "telegraf"."default".packets
''')
		.period(10s)
		.every(10s)
		.groupBy(time(2s))
	|derivative('value')
	|httpOut('TestBatch_Derivative')
"#,
            10,
            "value",
            r#"{"series":[{"name":"packets","columns":["time","value"],"values":[
                ["1971-01-01T00:00:02Z",0.5],["1971-01-01T00:00:04Z",0.5],
                ["1971-01-01T00:00:06Z",0.5],["1971-01-01T00:00:08Z",1]]}]}"#,
        );
    }
}
