//! The rules Chronograf writes, pasted as it writes them (Kapacitor's pipeline/json_test.go,
//! "chronograf threshold rule", and Chronograf's relative and deadman templates), defined on a real klaxond and
//! fired by written points: expressions outside `lambda:` in vars (`name + ':{{.Group}}'`), list
//! vars spread into `.groupBy(groupBy)`, vars as property arguments. Their `|influxDBOut()`
//! branch (writing the alerts back to InfluxDB) is left out: that node comes with batch tasks and
//! InfluxDB as a sink (issue #18).

use klaxon_e2e::{Klaxond, TcpSink};

fn define(server: &Klaxond, id: &str, script: &str) {
    let (status, body) = server.define_task(id, script, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["executing"], true, "{body}");
}

fn write(server: &Klaxond, lines: &str) {
    let response = server.send("POST", "/kapacitor/v1/write?db=telegraf&rp=autogen", lines);
    assert_eq!(response.status().as_u16(), 204);
}

fn next_event(sink: &TcpSink) -> serde_json::Value {
    serde_json::from_str(sink.next().trim_end()).expect("an alert as JSON")
}

/// Chronograf's threshold rule with a group-by, as Kapacitor's json_test.go has it, with the
/// handler pointed at a local TCP sink.
pub(crate) fn threshold_rule(address: &str) -> String {
    format!(
        r#"var db = 'telegraf'

var rp = 'autogen'

var measurement = 'cpu'

var groupBy = ['host']

var whereFilter = lambda: TRUE

var name = 'Ruley McRuleface'

var idVar = name + ':{{{{.Group}}}}'

var message = ' {{{{.ID}}}} is  {{{{.Level}}}}'

var idTag = 'alertID'

var levelTag = 'level'

var messageField = 'message'

var durationField = 'duration'

var outputDB = 'chronograf'

var outputRP = 'autogen'

var outputMeasurement = 'alerts'

var triggerType = 'threshold'

var crit = 90

var data = stream
    |from()
        .database(db)
        .retentionPolicy(rp)
        .measurement(measurement)
        .groupBy(groupBy)
        .where(whereFilter)
    |eval(lambda: "usage_system")
        .as('value')

var trigger = data
    |alert()
        .crit(lambda: "value" > crit)
        .stateChangesOnly()
        .message(message)
        .id(idVar)
        .idTag(idTag)
        .levelTag(levelTag)
        .messageField(messageField)
        .durationField(durationField)
        .tcp('{address}')

trigger
    |httpOut('output')
"#
    )
}

#[test]
fn a_chronograf_threshold_rule_defines_and_fires() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    define(
        &server,
        "chronograf_threshold",
        &threshold_rule(sink.address()),
    );
    write(
        &server,
        "cpu,host=serverA usage_system=95\ncpu,host=serverB usage_system=10\n",
    );
    let event = next_event(&sink);
    assert_eq!(event["id"], "Ruley McRuleface:host=serverA", "{event}");
    assert_eq!(
        event["message"],
        " Ruley McRuleface:host=serverA is  CRITICAL"
    );
    assert_eq!(event["level"], "CRITICAL");
    assert_eq!(event["data"]["series"][0]["values"][0][1], 95);
    // stateChangesOnly: a second critical point is silent, the recovery is not.
    write(&server, "cpu,host=serverA usage_system=96\n");
    write(&server, "cpu,host=serverA usage_system=50\n");
    let event = next_event(&sink);
    assert_eq!(event["level"], "OK", "{event}");
    assert_eq!(event["id"], "Ruley McRuleface:host=serverA");
    // The point passed on to httpOut carries the alert's tags and fields.
    let output: serde_json::Value = server
        .get("/kapacitor/v1/tasks/chronograf_threshold/output")
        .json()
        .expect("httpOut JSON");
    let row = &output["series"][0];
    assert_eq!(
        row["tags"]["alertID"], "Ruley McRuleface:host=serverA",
        "{output}"
    );
    assert_eq!(row["tags"]["level"], "OK", "{output}");
}

/// Chronograf's relative rule (its kapacitor/tickscripts_test.go, "relative" with "% change"):
/// the windowed mean joined with itself shifted by `shift`, alerting on the percent change. The
/// periods are seconds here, where Chronograf's example has 10m windows and a 1m shift.
fn relative_rule(address: &str) -> String {
    format!(
        r#"var db = 'telegraf'

var rp = 'autogen'

var measurement = 'cpu'

var groupBy = ['host']

var whereFilter = lambda: ("cpu" == 'cpu_total')

var period = 10s

var every = 10s

var name = 'name'

var idVar = name + ':{{{{.Group}}}}'

var message = 'message'

var idTag = 'alertID'

var levelTag = 'level'

var messageField = 'message'

var durationField = 'duration'

var outputDB = 'chronograf'

var outputRP = 'autogen'

var outputMeasurement = 'alerts'

var triggerType = 'relative'

var shift = 10s

var crit = 90

var data = stream
    |from()
        .database(db)
        .retentionPolicy(rp)
        .measurement(measurement)
        .groupBy(groupBy)
        .where(whereFilter)
    |window()
        .period(period)
        .every(every)
        .align()
    |mean('usage_user')
        .as('value')

var past = data
    |shift(shift)

var current = data

var trigger = past
    |join(current)
        .as('past', 'current')
    |eval(lambda: abs(float("current.value" - "past.value")) / float("past.value") * 100.0)
        .keep()
        .as('value')
    |alert()
        .crit(lambda: "value" > crit)
        .stateChangesOnly()
        .message(message)
        .id(idVar)
        .idTag(idTag)
        .levelTag(levelTag)
        .messageField(messageField)
        .durationField(durationField)
        .tcp('{address}')

trigger
    |httpOut('output')
"#
    )
}

#[test]
fn a_chronograf_relative_rule_defines_and_fires() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    define(
        &server,
        "chronograf_relative",
        &relative_rule(sink.address()),
    );
    // Seconds from an instant on the 10s grid, in nanoseconds.
    let at = |s: i64| (1_700_000_000 + s) * 1_000_000_000;
    let point = |s: i64, usage: f64| {
        format!(
            "cpu,host=serverA,cpu=cpu_total usage_user={usage} {}\n",
            at(s)
        )
    };
    // Windows [0s, 10s) with mean 10 and [10s, 20s) with mean 30 close at 11s and 21s: the
    // second window is joined with the first shifted by 10s, a 200 % change.
    write(&server, &point(1, 10.0));
    write(&server, &point(11, 30.0));
    write(&server, &point(21, 30.0));
    let event = next_event(&sink);
    assert_eq!(event["id"], "name:host=serverA", "{event}");
    assert_eq!(event["level"], "CRITICAL", "{event}");
    let series = &event["data"]["series"][0];
    assert_eq!(
        series["columns"],
        serde_json::json!(["time", "current.value", "past.value", "value"]),
        "{event}"
    );
    assert_eq!(
        series["values"][0],
        serde_json::json!(["2023-11-14T22:13:40Z", 30, 10, 200]),
        "{event}"
    );
    // The next window has the same mean as the one before it: no change, the alert recovers.
    write(&server, &point(31, 30.0));
    let event = next_event(&sink);
    assert_eq!(event["level"], "OK", "{event}");
    assert_eq!(event["id"], "name:host=serverA");
}

/// Chronograf's deadman rule: `|deadman(threshold, period)` with its vars, and its evals of
/// `emitted` keeping the message and duration fields named by vars.
fn deadman_rule(address: &str) -> String {
    format!(
        r#"var db = 'telegraf'

var rp = 'autogen'

var measurement = 'cpu'

var groupBy = ['host']

var whereFilter = lambda: ("cpu" == 'cpu-total')

var period = 1s

var name = 'Dead host'

var idVar = name + ':{{{{.Group}}}}'

var message = '{{{{.ID}}}} is {{{{.Level}}}} (emitted {{{{ index .Fields "emitted" }}}})'

var idTag = 'alertID'

var levelTag = 'level'

var messageField = 'message'

var durationField = 'duration'

var outputDB = 'chronograf'

var outputRP = 'autogen'

var outputMeasurement = 'alerts'

var triggerType = 'deadman'

var threshold = 0.0

var data = stream
    |from()
        .database(db)
        .retentionPolicy(rp)
        .measurement(measurement)
        .groupBy(groupBy)
        .where(whereFilter)

var trigger = data
    |deadman(threshold, period)
        .stateChangesOnly()
        .message(message)
        .id(idVar)
        .idTag(idTag)
        .levelTag(levelTag)
        .messageField(messageField)
        .durationField(durationField)
        .tcp('{address}')

trigger
    |eval(lambda: "emitted")
        .as('value')
        .keep('value', messageField, durationField)
    |eval(lambda: float("value"))
        .as('value')
        .keep()
    |httpOut('output')
"#
    )
}

#[test]
fn a_chronograf_deadman_rule_defines_and_fires() {
    let server = Klaxond::start();
    let sink = TcpSink::start();
    define(&server, "chronograf_deadman", &deadman_rule(sink.address()));
    write(&server, "cpu,host=serverA,cpu=cpu-total usage_idle=90\n");
    let event = next_event(&sink);
    assert_eq!(event["id"], "Dead host:host=serverA", "{event}");
    assert_eq!(event["level"], "CRITICAL");
    assert_eq!(
        event["message"],
        "Dead host:host=serverA is CRITICAL (emitted 0)"
    );
    write(&server, "cpu,host=serverA,cpu=cpu-total usage_idle=90\n");
    let event = next_event(&sink);
    assert_eq!(event["level"], "OK", "{event}");
}

/// Kapacitor's `[deadman]` section: its ID and message are every deadman's defaults, and
/// `global` gives every task a deadman on its source.
#[test]
fn the_deadman_section_sets_the_defaults_and_global_adds_a_deadman() {
    let server = Klaxond::builder()
        .config(
            "[deadman]\ninterval = \"1s\"\nthreshold = 0.0\nid = \"dead NODE_NAME {{ .TaskName }}\"\n\
             message = \"{{ .ID }} went {{ .Level }} over INTERVAL\"\nglobal = true\n",
        )
        .start();
    let sink = TcpSink::start();
    let script = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')|deadman(0.0, 1s).tcp('{}')",
        sink.address()
    );
    define(&server, "own", &script);
    // No deadman in this script: global adds `stream|from()|deadman(0.0, 1s)` (from2, deadman3).
    define(
        &server,
        "quiet",
        "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')",
    );
    write(&server, "cpu value=1\n");
    let event = next_event(&sink);
    assert_eq!(event["id"], "dead from1 own", "{event}");
    assert_eq!(event["message"], "dead from1 own went CRITICAL over 1s");
    klaxon_e2e::wait_for("the global deadman of task quiet to fire", || {
        let task: serde_json::Value = server
            .get("/kapacitor/v1/tasks/quiet")
            .json()
            .expect("task JSON");
        task["stats"]["node-stats"]["deadman3"]["crits_triggered"]
            .as_i64()
            .is_some_and(|n| n >= 1)
    });
}

#[test]
fn a_deadman_section_that_cannot_work_is_refused_naming_the_key() {
    for (section, refusal) in [
        (
            "interval = \"0s\"",
            "[deadman] interval must be positive, got 0s",
        ),
        (
            "threshold = -1.0",
            "[deadman] threshold must be a number of points, 0 or more, got -1",
        ),
        (
            "id = \"{{ .Group \"",
            "[deadman] id is not a valid template: ",
        ),
        (
            "message = \"{{ nope }}\"",
            "[deadman] message is not a valid template: function \"nope\" not defined",
        ),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("klaxon.toml"),
            format!("[deadman]\n{section}\n"),
        )
        .expect("write the config");
        let output = klaxon_e2e::run_klaxond(&["--config", "klaxon.toml"], dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{section}: started");
        assert!(stderr.contains(refusal), "{section}: {stderr}");
    }
}
