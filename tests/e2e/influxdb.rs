//! A real InfluxDB 1.x (Debian's `influxd`) with a subscription to klaxond: a point written to
//! InfluxDB reaches a Klaxon task through InfluxDB's subscriber, as it reaches Kapacitor.
//!
//! Without `influxd` on PATH the test is skipped loudly, except under CI (`CI` set), where
//! .ci/run installs it and its absence is a failure.

use std::time::{Duration, Instant};

use klaxon_e2e::influxd::Influxd;
use klaxon_e2e::{DEADLINE, Klaxond, TcpSink};
use serde_json::json;

#[test]
fn a_point_written_to_influxdb_reaches_a_klaxon_task_through_a_subscription() {
    if !Influxd::available() {
        return;
    }
    let started = Instant::now();
    let sink = TcpSink::start();
    let klaxond = Klaxond::start();
    let task = json!({
        "id": "cpu_alert",
        "type": "stream",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}],
        "script": format!(
            "stream|from().measurement('cpu')|alert().crit(lambda: \"usage_idle\" < 10).tcp('{}')",
            sink.address()
        ),
        "status": "enabled",
    });
    let response = klaxond.send("POST", "/kapacitor/v1/tasks", &task.to_string());
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());

    let influxd = Influxd::start();
    influxd.query("CREATE DATABASE telegraf");
    influxd.query(&format!(
        "CREATE SUBSCRIPTION \"klaxon\" ON \"telegraf\".\"autogen\" DESTINATIONS ALL '{}'",
        klaxond.url()
    ));

    let alert = write_until_alert(&influxd, &klaxond, &sink, "telegraf", started);
    assert_eq!(alert["level"], "CRITICAL", "{alert}");
    let series = &alert["data"]["series"][0];
    assert_eq!(series["name"], "cpu", "{alert}");
    assert_eq!(series["tags"], json!({"host": "serverA"}), "{alert}");
    assert_eq!(series["values"][0][1], 5, "{alert}");
    eprintln!(
        "influxdb subscription to klaxond: first alert after {:?}",
        started.elapsed()
    );
}

/// Writes `cpu,host=serverA usage_idle=5` to `db` on `influxd` until an alert reaches `sink`
/// through a subscription to `klaxond`; that alert. InfluxDB starts a subscription's writer when
/// its subscriber notices the change, a moment after the subscription is created; points written
/// before then are not forwarded, so one write may not be enough.
pub(crate) fn write_until_alert(
    influxd: &Influxd,
    klaxond: &Klaxond,
    sink: &TcpSink,
    db: &str,
    started: Instant,
) -> serde_json::Value {
    let payload = loop {
        influxd.write(db, "cpu,host=serverA usage_idle=5");
        if let Some(payload) = sink.next_within(Duration::from_millis(500)) {
            break payload;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no alert within {DEADLINE:?} of writing to influxd; subscriptions: {}\nklaxond log:\n{}\ninfluxd log:\n{}",
            influxd.query("SHOW SUBSCRIPTIONS"),
            klaxond.log_text(),
            influxd.log()
        );
    };
    serde_json::from_str(payload.trim_end()).expect("alert JSON")
}
