//! `|influxDBOut()` in a real klaxond writing to a real InfluxDB 1.x (Debian's `influxd`):
//! Chronograf's threshold rule writes its alerts back, the node's options (measurement, tags,
//! precision, retention policy, create), InfluxDB stopped mid-run and started again with no point
//! lost, and the refusals (an unknown cluster, a bad `[[influxdb]]` section, bad properties).

use klaxon_e2e::influxd::Influxd;
use klaxon_e2e::{Klaxond, TcpSink, wait_for};
fn define(server: &Klaxond, id: &str, script: &str) {
    let (status, body) = server.define_task(id, script, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["executing"], true, "{body}");
}

fn write(server: &Klaxond, lines: &str) {
    let response = server.send("POST", "/kapacitor/v1/write?db=telegraf&rp=autogen", lines);
    assert_eq!(response.status().as_u16(), 204);
}

/// The rows of `statement` in `db` once InfluxDB has `n` of them.
fn rows_when(influxd: &Influxd, db: &str, statement: &str, n: usize) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    wait_for(&format!("{n} rows of {statement:?} in {db}"), || {
        let exists = influxd
            .query("SHOW DATABASES")
            .to_string()
            .contains(&format!("\"{db}\""));
        rows = if exists {
            influxd.rows(db, statement)
        } else {
            Vec::new()
        };
        rows.len() >= n
    });
    rows
}

/// Chronograf's threshold rule (Kapacitor's pipeline/json_test.go) with its `|influxDBOut()`
/// branch, as Chronograf writes it, the handler a local TCP sink.
fn chronograf_rule(address: &str) -> String {
    let http_out = "trigger\n    |httpOut('output')\n";
    let rule = crate::chronograf::threshold_rule(address);
    assert!(rule.ends_with(http_out), "{rule}");
    rule.replace(
        http_out,
        "trigger
    |influxDBOut()
        .create()
        .database(outputDB)
        .retentionPolicy(outputRP)
        .measurement(outputMeasurement)
        .tag('alertName', name)
        .tag('triggerType', triggerType)

trigger
    |httpOut('output')
",
    )
}

#[test]
fn a_chronograf_rule_writes_its_alerts_to_influxdb() {
    if !Influxd::available() {
        return;
    }
    let influxd = Influxd::start();
    let server = influxd.klaxond();
    let sink = TcpSink::start();
    define(
        &server,
        "chronograf_threshold",
        &chronograf_rule(sink.address()),
    );
    write(
        &server,
        "cpu,host=serverA usage_system=95 1000000000\ncpu,host=serverB usage_system=10 1000000000\n",
    );
    write(&server, "cpu,host=serverA usage_system=50 2000000000\n");
    // Both alert events (critical, then OK) reach the handler...
    assert_eq!(sink.next_json()["level"], "CRITICAL");
    assert_eq!(sink.next_json()["level"], "OK");
    // ...and InfluxDB, which .create() made the database for: one row per event, with the
    // alert's tags and fields and the node's tags, at the points' times.
    let rows = rows_when(
        &influxd,
        "chronograf",
        "SELECT \"alertID\", \"alertName\", \"level\", \"triggerType\", \"host\", \"value\", \"message\", \"duration\" FROM \"chronograf\".\"autogen\".\"alerts\"",
        2,
    );
    assert_eq!(
        rows[0],
        serde_json::json!([
            "1970-01-01T00:00:01Z",
            "Ruley McRuleface:host=serverA",
            "Ruley McRuleface",
            "CRITICAL",
            "threshold",
            "serverA",
            95,
            " Ruley McRuleface:host=serverA is  CRITICAL",
            0
        ]),
        "{rows:?}"
    );
    assert_eq!(rows[1][3], "OK", "{rows:?}");
    assert_eq!(rows[1][6], 50, "{rows:?}");
    assert_eq!(rows[1][8], 1_000_000_000i64, "{rows:?}");
    assert_eq!(rows.len(), 2, "{rows:?}");
}

#[test]
fn influxdb_out_options_measurement_tags_precision_and_retention_policy() {
    if !Influxd::available() {
        return;
    }
    let influxd = Influxd::start();
    influxd.query("CREATE DATABASE out");
    influxd.query("CREATE RETENTION POLICY \"kept\" ON \"out\" DURATION INF REPLICATION 1");
    let server = influxd.klaxond();
    define(
        &server,
        "copy",
        "stream|from().measurement('cpu')\
         |influxDBOut().cluster('localhost').database('out').retentionPolicy('kept')\
         .measurement('cpu_copy').tag('source', 'klaxon').precision('s').buffer(2).flushInterval(1h)",
    );
    // .buffer(2): two points are written at once, without waiting for the hour-long interval.
    write(
        &server,
        "cpu,host=a usage_idle=1,state=\"ok\",up=true,n=7i 1500000000123\ncpu,host=b usage_idle=2.5 1500000000456\n",
    );
    let rows = rows_when(
        &influxd,
        "out",
        "SELECT \"host\", \"source\", \"usage_idle\", \"state\", \"up\", \"n\" FROM \"out\".\"kept\".\"cpu_copy\"",
        2,
    );
    // Precision s: both times cut to the second, so the two hosts' points keep their own series.
    assert_eq!(
        rows,
        vec![
            serde_json::json!(["1970-01-01T00:25:00Z", "a", "klaxon", 1, "ok", true, 7]),
            serde_json::json!(["1970-01-01T00:25:00Z", "b", "klaxon", 2.5, null, null, null]),
        ]
    );
    // The node's counters in the task's stats.
    wait_for("points_written 2 in the node stats", || {
        let task: serde_json::Value = server.get("/kapacitor/v1/tasks/copy").json().unwrap();
        task["stats"]["node-stats"]["influxdb_out2"]["points_written"] == 2
    });
}

#[test]
fn points_written_while_influxdb_is_down_arrive_when_it_is_back() {
    if !Influxd::available() {
        return;
    }
    let mut influxd = Influxd::start();
    let server = influxd.klaxond();
    define(
        &server,
        "copy",
        "stream|from().measurement('cpu')|influxDBOut().create().database('out').flushInterval(50ms)",
    );
    write(
        &server,
        "cpu,host=a v=1 1000000000\ncpu,host=a v=2 2000000000\n",
    );
    rows_when(&influxd, "out", "SELECT v FROM cpu", 2);

    influxd.stop();
    write(
        &server,
        "cpu,host=a v=3 3000000000\ncpu,host=a v=4 4000000000\n",
    );
    wait_for("a failed write in the node stats", || {
        let task: serde_json::Value = server.get("/kapacitor/v1/tasks/copy").json().unwrap();
        task["stats"]["node-stats"]["influxdb_out2"]["write_errors"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    });
    write(&server, "cpu,host=a v=5 5000000000\n");
    influxd.resume();
    let rows = rows_when(&influxd, "out", "SELECT v FROM cpu", 5);
    let values: Vec<&serde_json::Value> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(values, [1, 2, 3, 4, 5]);
    let task: serde_json::Value = server.get("/kapacitor/v1/tasks/copy").json().unwrap();
    assert_eq!(
        task["stats"]["node-stats"]["influxdb_out2"]["points_dropped"],
        0
    );
    assert!(
        server
            .log_text()
            .contains("failed to write points to InfluxDB; kept to retry"),
        "{}",
        server.log_text()
    );
}

#[test]
fn influxdb_out_refusals_name_the_fix() {
    // Without a cluster: the task is refused when it starts, naming the missing section.
    let server = Klaxond::start();
    let (status, body) =
        server.define_task("out", "stream|from()|influxDBOut().database('out')", &[]);
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "influxdb_out2: no InfluxDB cluster named \"(the default)\"; configured: none, add an [[influxdb]] section to the configuration",
    );
    // Bad properties, refused when defined.
    for (script, error) in [
        (
            "stream|from()|influxDBOut().precision('d')",
            ".precision(\"d\") is not one of 'ns', 'u', 'ms', 's', 'm' or 'h'",
        ),
        (
            "stream|from()|influxDBOut().buffer(0)",
            ".buffer(0) must be at least 1",
        ),
        (
            "stream|from()|influxDBOut().create()",
            "|influxDBOut().create() needs .database('name') to know what to create",
        ),
        ("stream|from()|influxDBOut().db('x')", "db"),
    ] {
        let (status, body) = server.define_task("bad", script, &[]);
        assert_eq!(status, 400, "{script}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(error), "{script}: {message}");
    }
    // A bad [[influxdb]] section stops klaxond at start with the key named.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("klaxon.toml");
    std::fs::write(&config, "[[influxdb]]\nname = \"a\"\nurls = []\n").unwrap();
    let output = klaxon_e2e::run_klaxond(&["--config", config.to_str().unwrap()], dir.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[[influxdb]] \"a\": urls is empty; give at least one InfluxDB URL"),
        "{stderr}"
    );
}

/// docs/tickscript.md's influxDBOut example, as written (its TCP handler a local sink): the
/// alert it raises is in InfluxDB, in the database `.create()` made (the point that raised it,
/// with the node's tag; without `.levelField()` the alert adds no level field, as in Kapacitor).
#[test]
fn the_documented_example_writes_its_alerts() {
    if !Influxd::available() {
        return;
    }
    let docs = std::fs::read_to_string(klaxon_e2e::workspace_root().join("docs/tickscript.md"))
        .expect("docs/tickscript.md");
    let section = &docs[docs
        .find("### influxDBOut")
        .expect("an influxDBOut section")..];
    let script = section
        .split("```")
        .nth(1)
        .expect("an example")
        .trim_start_matches('\n');
    assert!(script.contains("|influxDBOut()"), "{script}");
    let influxd = Influxd::start();
    let server = influxd.klaxond();
    let sink = TcpSink::start();
    define(
        &server,
        "documented",
        &script.replace("127.0.0.1:7777", sink.address()),
    );
    write(
        &server,
        "cpu,host=serverA usage_idle=5 1500000000123456789\n",
    );
    assert_eq!(sink.next_json()["level"], "CRITICAL");
    let rows = rows_when(
        &influxd,
        "chronograf",
        "SELECT \"alertName\", \"host\", \"usage_idle\" FROM \"chronograf\".\"autogen\".\"alerts\"",
        1,
    );
    // .precision('s'): the time cut to the second.
    assert_eq!(
        rows,
        vec![serde_json::json!([
            "2017-07-14T02:40:00Z",
            "cpu idle",
            "serverA",
            5
        ])]
    );
}
