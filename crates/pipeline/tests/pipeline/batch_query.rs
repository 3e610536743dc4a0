//! Batch tasks without InfluxDB: `batch|query()` compiled and checked, the statement and time
//! range of each run, the schedule, and InfluxDB's series turned into batches that reach the
//! alert node (the end-to-end path with a real InfluxDB is tests/e2e/batch.rs).

use std::collections::BTreeMap;

use klaxon_core::{Level, Registry, Timestamp};
use klaxon_pipeline::{Query, ServerInfo, Task};
use serde_json::json;

const S: i64 = 1_000_000_000;
const M: i64 = 60 * S;

use crate::events::Events;

fn compile(script: &str) -> Result<Task, String> {
    Task::compile(
        "batch_test",
        script,
        &Registry::linked().unwrap(),
        &ServerInfo::default(),
    )
    .map_err(|e| e.to_string())
}

fn task(script: &str) -> Task {
    compile(script).unwrap_or_else(|e| panic!("{e}"))
}

fn query(task: &Task) -> (usize, Query) {
    let (index, query) = task.queries().next().expect("a query node");
    (index, query.clone())
}

/// Kapacitor's documented example.
const EXAMPLE: &str = r#"batch
    |query('SELECT mean(usage_idle) FROM "telegraf"."autogen"."cpu"')
        .period(5m)
        .every(5m)
        .groupBy(time(1m), 'cpu')
    |alert()
        .crit(lambda: "mean" < 70)
"#;

#[test]
fn the_documented_example_queries_the_period_before_each_run_grouped_by_time_and_tag() {
    let task = task(EXAMPLE);
    assert!(task.is_batch());
    assert_eq!(task.node_ids(), ["batch0", "query1", "alert2"]);
    let (_, query) = query(&task);
    let run = query.run(Timestamp::from_nanos(10 * M));
    assert_eq!(
        run.statement,
        "SELECT mean(usage_idle) FROM \"telegraf\".\"autogen\".\"cpu\" WHERE \
         time >= '1970-01-01T00:05:00Z' AND time < '1970-01-01T00:10:00Z' GROUP BY time(1m, 0s), cpu"
    );
    assert_eq!((run.start.as_nanos(), run.stop.as_nanos()), (5 * M, 10 * M));
    assert!(query.grouped_by_time());
}

#[test]
fn offset_fill_align_group_and_cluster_shape_the_statement() {
    let shaped = task(
        "batch|query('SELECT max(v) FROM db.rp.m WHERE host = \\'a\\'')\
         .period(1m).every(30s).offset(1h).groupBy(time(1m, 5s), 'host').fill('none').cluster('east')\
         |httpOut('x')",
    );
    let (_, q) = query(&shaped);
    assert_eq!(q.cluster(), "east");
    let run = q.run(Timestamp::from_nanos(2 * 60 * M));
    assert_eq!(
        run.statement,
        "SELECT max(v) FROM db.rp.m WHERE host = 'a' AND time >= '1970-01-01T00:59:00Z' \
         AND time < '1970-01-01T01:00:00Z' GROUP BY time(1m, 5s), host fill(none)"
    );
    let aligned = task(
        "batch|query('SELECT max(v) FROM m').period(5m).every(30s).groupBy(time(1m)).alignGroup()|httpOut('x')",
    );
    let (_, q) = query(&aligned);
    // Started at 00:05:30 - 5m = 00:00:30: the buckets start on the half minute.
    let run = q.run(Timestamp::from_nanos(5 * M + 30 * S));
    assert!(
        run.statement.ends_with("GROUP BY time(1m, 30s)"),
        "{}",
        run.statement
    );
}

#[test]
fn every_runs_after_each_interval_and_align_puts_runs_on_its_multiples() {
    let every = task("batch|query('SELECT v FROM m').period(10s).every(10s)|httpOut('x')");
    let (_, q) = query(&every);
    assert_eq!(
        q.next_run(Timestamp::from_nanos(12 * S)),
        Some(Timestamp::from_nanos(22 * S))
    );
    let aligned =
        task("batch|query('SELECT v FROM m').period(10s).every(10s).align()|httpOut('x')");
    let (_, q) = query(&aligned);
    assert_eq!(
        q.next_run(Timestamp::from_nanos(12 * S)),
        Some(Timestamp::from_nanos(20 * S))
    );
    assert_eq!(
        q.next_run(Timestamp::from_nanos(20 * S)),
        Some(Timestamp::from_nanos(30 * S))
    );
}

#[test]
fn cron_runs_at_the_times_of_its_expression() {
    let cron = task("batch|query('SELECT v FROM m').period(1m).cron('*/5 * * * *')|httpOut('x')");
    let (_, q) = query(&cron);
    let next = q.next_run(Timestamp::from_nanos(12 * M + 3 * S)).unwrap();
    // Every five minutes, in any time zone with whole-quarter-hour offsets.
    assert_eq!(next.as_nanos() % (5 * M), 0, "{next}");
    assert!(
        next.as_nanos() > 12 * M && next.as_nanos() <= 15 * M,
        "{next}"
    );
    // Six fields: cronexpr's year last.
    let with_year =
        task("batch|query('SELECT v FROM m').period(1m).cron('0 * * * * *')|httpOut('x')");
    let (_, q) = query(&with_year);
    let next = q.next_run(Timestamp::from_nanos(12 * M + 3 * S)).unwrap();
    assert_eq!(next.as_nanos() % (15 * M), 0, "{next}");
}

#[test]
fn bad_batch_scripts_are_refused_naming_the_fix() {
    for (script, wanted) in [
        ("batch|query()", "|query() needs the InfluxQL to run"),
        (
            "batch|query('SELECT v FROM m').period(1m)",
            "must define one of 'every' or 'cron'",
        ),
        (
            "batch|query('SELECT v FROM m').every(1m).cron('* * * * *')",
            "must not set both 'every' and 'cron' properties",
        ),
        (
            "batch|query('SELECT v FROM m').cron('every minute')",
            "invalid cron expression \"every minute\"",
        ),
        (
            "batch|query('SELECT v FROM m').cron('61 * * * *')",
            "invalid cron expression \"61 * * * *\"",
        ),
        (
            "batch|query('SELECT v FROM m').every(-1s)",
            ".every() must not be negative",
        ),
        (
            "batch|query('SELECT v FROM m').every(1m).fill('nothing')",
            "unexpected fill option nothing",
        ),
        (
            "batch|query('SELECT v FROM m').every(1m).groupBy(time(1m), time(2m))",
            "groupBy cannot have more than one time dimension",
        ),
        (
            "batch|query('SELECT v FROM m').every(1m).groupBy(time('x'))",
            "time() takes durations",
        ),
        (
            "batch|query('SELECT v FROM m').every(1m).perod(1m)",
            "|query() has no property .perod()",
        ),
        (
            "batch|query('SELECT v FROM db.rp.m; DROP DATABASE _internal').every(1s)",
            "query must be a single select statement, got 2 statements",
        ),
        (
            "batch|query('DROP DATABASE _internal').every(1s)",
            "query is not a select statement \"DROP DATABASE _internal\"",
        ),
        (
            "batch|queryFlux('from(bucket: \"b\")').every(1m)",
            "use |query('SELECT ...')",
        ),
        (
            "batch|alert()",
            "batch is followed by |query() only, found |alert()",
        ),
        (
            "stream|from()|query('SELECT v FROM m').every(1m)",
            "|query() starts a batch task",
        ),
        (
            "batch|query('SELECT v FROM m').every(1m)|window().period(1m)",
            "|window() takes points but gets windows",
        ),
    ] {
        let err = compile(script)
            .err()
            .unwrap_or_else(|| panic!("accepted: {script}"));
        assert!(err.contains(wanted), "{script}: {err}");
    }
}

#[test]
fn series_become_batches_whose_points_the_alert_node_evaluates_with_the_rows_in_data() {
    let mut task = task(EXAMPLE);
    let (index, query) = query(&task);
    let run = query.run(Timestamp::from_nanos(10 * M));
    let mut events = Events::default();
    for (cpu, values) in [("cpu0", [90.0, 50.0]), ("cpu1", [95.0, 91.0])] {
        let tags = BTreeMap::from([("cpu".to_owned(), cpu.to_owned())]);
        let columns = ["time".to_owned(), "mean".to_owned()];
        let rows = vec![
            vec![json!(8 * M), json!(values[0])],
            vec![json!("1970-01-01T00:09:00Z"), json!(values[1])],
            // A bucket without data (fill(null)) is no point.
            vec![json!(7 * M), json!(null)],
        ];
        let (batch, group) = query.batch(&run, "cpu", &tags, &columns, &rows).unwrap();
        assert_eq!(batch.points.len(), 2);
        // Grouped by time: the batch takes its last point's time.
        assert_eq!(batch.time, Timestamp::from_nanos(9 * M));
        assert_eq!(group.id.as_str(), format!("cpu={cpu}"));
        task.process_batch(index, batch, &group, &mut events);
    }
    assert!(events.errors.is_empty(), "{:?}", events.errors);
    assert_eq!(events.events.len(), 1, "{:?}", events.events);
    let event = &events.events[0].event;
    assert_eq!(event.state.level, Level::Critical);
    assert_eq!(event.state.id, "cpu:cpu=cpu0");
    let data = serde_json::to_value(&event.data.result).unwrap();
    assert_eq!(
        data["series"][0]["values"],
        json!([
            ["1970-01-01T00:08:00Z", 90.0],
            ["1970-01-01T00:09:00Z", 50.0]
        ])
    );
    assert_eq!(data["series"][0]["tags"], json!({"cpu": "cpu0"}));
}

#[test]
fn a_series_not_grouped_by_time_takes_the_runs_stop_and_a_measurement_group_with_by_measurement() {
    let task = task(
        "batch|query('SELECT v FROM m').period(1m).every(1m).groupByMeasurement()|httpOut('x')",
    );
    let (_, query) = query(&task);
    let run = query.run(Timestamp::from_nanos(10 * M));
    let (batch, group) = query
        .batch(
            &run,
            "m",
            &BTreeMap::new(),
            &["time".to_owned(), "v".to_owned(), "s".to_owned()],
            &[vec![json!(9 * M), json!(3), json!("up")]],
        )
        .unwrap();
    assert_eq!(batch.time, Timestamp::from_nanos(10 * M));
    assert_eq!(group.id.as_str(), "m\n");
    assert_eq!(
        batch.points[0].fields["v"],
        klaxon_core::FieldValue::Float(3.0)
    );
    let err = query
        .batch(
            &run,
            "m",
            &BTreeMap::new(),
            &["time".to_owned()],
            &[vec![json!(true)]],
        )
        .unwrap_err();
    assert!(err.contains("unexpected time value"), "{err}");
}

#[test]
fn a_batch_task_takes_no_points() {
    let mut task = task(EXAMPLE);
    let mut events = Events::default();
    let point = klaxon_pipeline::Point::new("telegraf", "autogen", "cpu", 0)
        .field("mean", klaxon_core::FieldValue::Float(1.0));
    task.process(&point, &mut events);
    assert!(events.events.is_empty());
}

/// Pushes a batch of `values` of field `v` (one a second from `start_s`) through `task`.
fn push_values(task: &mut Task, start_s: i64, values: &[f64]) {
    let (index, query) = query(task);
    let run = query.run(Timestamp::from_nanos((start_s + 10) * S));
    let rows: Vec<Vec<serde_json::Value>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| vec![json!((start_s + i as i64) * S), json!(v)])
        .collect();
    let (batch, group) = query
        .batch(
            &run,
            "m",
            &BTreeMap::new(),
            &["time".to_owned(), "v".to_owned()],
            &rows,
        )
        .unwrap();
    let mut events = Events::default();
    task.process_batch(index, batch, &group, &mut events);
    assert!(events.errors.is_empty(), "{:?}", events.errors);
}

fn output_column(task: &Task, column: &str) -> Vec<serde_json::Value> {
    let result = serde_json::to_value(task.http_output("x").unwrap()).unwrap();
    let series = &result["series"][0];
    let at = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == column)
        .unwrap();
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[at].clone())
        .collect()
}

#[test]
fn state_count_and_change_detect_start_afresh_with_each_batch_as_kapacitors() {
    let mut counting = task(
        "batch|query('SELECT v FROM m').period(10s).every(10s)|stateCount(lambda: \"v\" > 1)|httpOut('x')",
    );
    push_values(&mut counting, 0, &[2.0, 3.0]);
    push_values(&mut counting, 10, &[2.0, 3.0]);
    assert_eq!(
        output_column(&counting, "state_count"),
        [json!(1), json!(2)]
    );

    let mut detecting = task(
        "batch|query('SELECT v FROM m').period(10s).every(10s)|changeDetect('v')|httpOut('x')",
    );
    push_values(&mut detecting, 0, &[2.0, 2.0]);
    assert_eq!(output_column(&detecting, "v"), [json!(2.0)]);
    // The same value again: a new batch's first point is a change.
    push_values(&mut detecting, 10, &[2.0, 2.0]);
    assert_eq!(output_column(&detecting, "v"), [json!(2.0)]);
}
