//! Kapacitor's own alert test cases (reference section 7), replayed through compiled TICKscript:
//! points at 1971-01-01T00:00:00Z plus N seconds, as Kapacitor's replay harness rebases them.

use std::collections::HashMap;

use klaxon_core::{FieldValue, Level, Registry, Timestamp};
use klaxon_pipeline::{AlertEmission, Context, Point, ServerInfo, Task};
// The fixture kind gives the inline-handler tests a handler property, `.fixture(path)`.
use klaxon_fixture_handler as _;

const BASE: i64 = 31_536_000_000_000_000; // 1971-01-01T00:00:00Z

/// Collects emissions and plays the topic's part: `previousLevel` is the level last collected
/// for the event ID (never updated by suppressed events).
#[derive(Default)]
struct Topic {
    events: Vec<AlertEmission>,
    last: HashMap<String, Level>,
    errors: Vec<String>,
    stored: HashMap<String, (Level, Timestamp)>,
}

impl Context for Topic {
    fn emit(&mut self, mut emission: AlertEmission) {
        let id = emission.event.state.id.clone();
        emission.event.previous_level = self.last.get(&id).copied().unwrap_or(Level::Ok);
        self.last.insert(id, emission.event.state.level);
        self.events.push(emission);
    }

    fn restore(
        &mut self,
        _node: &str,
        _topic: Option<&str>,
        event_id: &str,
    ) -> Option<(Level, Timestamp)> {
        self.stored.get(event_id).copied()
    }

    fn point_error(&mut self, node: &str, message: String) {
        self.errors.push(format!("{node}: {message}"));
    }
    fn post(&mut self, node: &str, _: klaxon_pipeline::PostRequest) -> u16 {
        panic!("{node}: these tasks have no |httpPost()")
    }
}

fn task(script: &str) -> Task {
    let registry = Registry::linked().unwrap();
    Task::compile("test", script, &registry, &ServerInfo::default())
        .unwrap_or_else(|e| panic!("{}", e.render(script)))
}

fn cpu(seconds: i64, value: f64) -> Point {
    Point::new("dbname", "rpname", "cpu", BASE + seconds * 1_000_000_000)
        .tag("host", "serverA")
        .tag("type", "idle")
        .field("value", FieldValue::Float(value))
}

fn replay(task: &mut Task, values: &[f64]) -> Topic {
    let mut topic = Topic::default();
    for (t, value) in values.iter().enumerate() {
        task.process(&cpu(t as i64, *value), &mut topic);
    }
    assert!(topic.errors.is_empty(), "{:?}", topic.errors);
    topic
}

/// (seconds, level, duration seconds, previous level)
fn summary(topic: &Topic) -> Vec<(i64, Level, i64, Level)> {
    topic
        .events
        .iter()
        .map(|e| {
            let s = &e.event.state;
            (
                (s.time.as_nanos() - BASE) / 1_000_000_000,
                s.level,
                s.duration.as_nanos() / 1_000_000_000,
                e.event.previous_level,
            )
        })
        .collect()
}

use Level::{Critical, Info, Ok as OK, Warning};

/// Case 5, `TestStream_AlertDuration`, and the recovery JSON of reference 1.5.
#[test]
fn alert_duration_with_state_changes_only() {
    let mut task = task(
        r#"stream
    |from()
        .measurement('cpu')
        .where(lambda: "host" == 'serverA')
        .groupBy('host')
    |alert()
        .id('kapacitor/{{ .Name }}/{{ index .Tags "host" }}')
        .details('details')
        .warn(lambda: "value" > 7.0)
        .crit(lambda: "value" > 8.0)
        .stateChangesOnly()
        .durationField('duration')
"#,
    );
    let topic = replay(
        &mut task,
        &[9.0, 9.0, 8.0, 8.0, 6.0, 8.0, 8.0, 8.0, 3.0, 5.0, 7.0, 7.0],
    );
    assert_eq!(
        summary(&topic),
        [
            (0, Critical, 0, OK),
            (2, Warning, 2, Critical),
            (4, OK, 4, Warning),
            (5, Warning, 0, OK),
            (8, OK, 3, Warning),
        ]
    );
    assert_eq!(
        topic.events[2].event.alert_json(),
        concat!(
            r#"{"id":"kapacitor/cpu/serverA","message":"kapacitor/cpu/serverA is OK","details":"details","#,
            r#""time":"1971-01-01T00:00:04Z","duration":4000000000,"level":"OK","data":{"series":[{"name":"cpu","#,
            r#""tags":{"host":"serverA","type":"idle"},"columns":["time","value"],"values":[["1971-01-01T00:00:04Z",6]]}]},"#,
            r#""previousLevel":"WARNING","recoverable":true}"#,
            "\n"
        )
    );
}

/// Case 6, `TestStream_Alert_NoRecoveries`.
#[test]
fn no_recoveries_keeps_the_stale_previous_level() {
    let mut task = task(
        r#"stream|from().measurement('cpu')|alert()
        .info(lambda: "value" >= 6)
        .warn(lambda: "value" >= 7)
        .crit(lambda: "value" >= 8)
        .noRecoveries()"#,
    );
    let topic = replay(
        &mut task,
        &[7.0, 2.0, 6.0, 7.0, 7.0, 8.0, 2.0, 6.0, 3.0, 5.0, 4.0, 5.0],
    );
    assert_eq!(
        summary(&topic),
        [
            (0, Warning, 0, OK),
            (2, Info, 0, Warning),
            (3, Warning, 1, Info),
            (4, Warning, 2, Warning),
            (5, Critical, 3, Warning),
            (7, Info, 0, Critical),
        ]
    );
    assert!(topic.events.iter().all(|e| !e.event.data.recoverable));
}

/// Case 7, `TestStream_AlertStateChangesOnlyExpired`.
#[test]
fn state_changes_only_re_emits_after_its_interval() {
    let mut task = task(
        r#"stream|from().measurement('cpu')|alert().crit(lambda: "value" < 97).stateChangesOnly(2s)"#,
    );
    let values = [
        97.1, 92.6, 95.6, 93.1, 92.6, 95.8, 92.7, 96.0, 93.4, 95.3, 98.4, 97.1,
    ];
    let topic = replay(&mut task, &values);
    assert_eq!(
        summary(&topic),
        [
            (1, Critical, 0, OK),
            (3, Critical, 2, Critical),
            (5, Critical, 4, Critical),
            (7, Critical, 6, Critical),
            (9, Critical, 8, Critical),
            (10, OK, 9, Critical),
        ]
    );
    assert!(topic.events.iter().all(|e| e.event.state.id == "cpu:nil"));
}

/// Case 9, `TestStream_AlertSigma`: sigma through eval, the default ID, details from the message.
#[test]
fn sigma_through_eval_with_the_default_id() {
    let mut task = task(
        r#"stream
    |from().measurement('cpu').where(lambda: "host" == 'serverA')
    |eval(lambda: sigma("value")).as('sigma').keep()
    |alert()
        .details('{{ .Message }}')
        .info(lambda: "sigma" > 2)
        .warn(lambda: "sigma" > 3)
        .crit(lambda: "sigma" > 3.5)"#,
    );
    let values = [
        97.1, 92.6, 95.6, 93.1, 92.6, 95.8, 92.7, 16.0, 93.4, 95.3, 96.4, 95.1,
    ];
    let topic = replay(&mut task, &values);
    assert_eq!(summary(&topic), [(7, Info, 0, OK), (8, OK, 1, Info)]);
    let first = &topic.events[0].event;
    assert_eq!(first.state.message, "cpu:nil is INFO");
    assert_eq!(first.state.details, "cpu:nil is INFO");
    let row = &first.data.result.series[0];
    assert_eq!(row.columns, ["time", "sigma", "value"]);
    assert_eq!(
        klaxon_core::json::to_go_string(&row.values),
        r#"[["1971-01-01T00:00:07Z",2.469916402324427,16]]"#
    );
    let second = &topic.events[1].event;
    assert_eq!(
        klaxon_core::json::to_go_string(&second.data.result.series[0].values),
        r#"[["1971-01-01T00:00:08Z",0.3053477916297622,93.4]]"#
    );
}

/// Reference 1.5's first example: `crit(lambda: TRUE)` with fixed templates.
#[test]
fn normal_json_from_a_task() {
    let mut task = task(
        "stream|from().measurement('alert')|alert().topic('test').id('id').message('message').details('details').crit(lambda: TRUE)",
    );
    let mut topic = Topic::default();
    let point = Point::new("mydb", "myrp", "alert", 0).field("value", FieldValue::Float(1.0));
    task.process(&point, &mut topic);
    assert_eq!(topic.events.len(), 1);
    assert_eq!(topic.events[0].topic.as_deref(), Some("test"));
    assert!(!topic.events[0].anonymous);
    assert_eq!(
        topic.events[0].event.alert_json(),
        concat!(
            r#"{"id":"id","message":"message","details":"details","time":"1970-01-01T00:00:00Z","duration":0,"#,
            r#""level":"CRITICAL","data":{"series":[{"name":"alert","columns":["time","value"],"values":[["1970-01-01T00:00:00Z",1]]}]},"#,
            r#""previousLevel":"OK","recoverable":true}"#,
            "\n"
        )
    );
}

/// Reference 3.7: a CRITICAL restored after a restart does not re-fire under stateChangesOnly,
/// and the recovery carries the whole incident's duration.
#[test]
fn restored_state_continues_after_a_restart() {
    let mut task = task(
        r#"stream|from().measurement('cpu')|alert().crit(lambda: "value" > 8.0).stateChangesOnly()"#,
    );
    let mut topic = Topic::default();
    topic.stored.insert(
        "cpu:nil".to_owned(),
        (Critical, Timestamp::from_nanos(BASE)),
    );
    topic.last.insert("cpu:nil".to_owned(), Critical);
    task.process(&cpu(1, 9.0), &mut topic);
    assert!(topic.events.is_empty(), "CRITICAL re-fired after restore");
    task.process(&cpu(5, 1.0), &mut topic);
    assert_eq!(summary(&topic), [(5, OK, 5, Critical)]);
}

#[test]
fn inline_handlers_become_kinds_and_options() {
    let task = task("stream|from()|alert().crit(lambda: TRUE).fixture('/tmp/alerts.json')");
    let alert = task.alert_nodes().next().unwrap();
    assert_eq!(alert.handlers().len(), 1);
    assert_eq!(alert.handlers()[0].kind, "fixture");
    assert_eq!(
        alert.handlers()[0].options,
        serde_json::json!({"path": "/tmp/alerts.json"})
    );
}

#[test]
fn augmented_point_and_missing_fields() {
    let mut task = task(
        r#"stream|from().measurement('cpu')|alert().crit(lambda: "nosuch" > 1).warn(lambda: "value" > 1)"#,
    );
    let mut topic = Topic::default();
    task.process(&cpu(0, 5.0), &mut topic);
    // The crit expression fails on every point: reported, counted as false, and WARNING wins.
    assert_eq!(topic.errors.len(), 1, "{:?}", topic.errors);
    assert!(
        topic.errors[0].starts_with("alert2: "),
        "{:?}",
        topic.errors
    );
    assert_eq!(summary(&topic), [(0, Warning, 0, OK)]);
}

/// `TestStream_Alert.srpl` as far as cases 3 and 4 read it: serverA one point a second for 13 s,
/// with serverB points in between that the `where` filters out.
fn replay_alert_srpl(task: &mut Task) -> Topic {
    let mut topic = Topic::default();
    for t in 0..13 {
        task.process(&cpu(t, 90.0 + t as f64), &mut topic);
        let other = Point::new("dbname", "rpname", "cpu", BASE + t * 1_000_000_000)
            .tag("host", "serverB")
            .tag("type", "idle")
            .field("value", FieldValue::Float(1.0));
        task.process(&other, &mut topic);
    }
    assert!(topic.errors.is_empty(), "{:?}", topic.errors);
    topic
}

/// Case 3, `TestStream_AlertExec`: window + count, two inline handlers, one CRITICAL event.
#[test]
fn window_count_alert_exec_twice() {
    let mut task = task(
        r#"stream
    |from()
        .measurement('cpu')
        .where(lambda: "host" == 'serverA')
        .groupBy('host')
    |window()
        .period(10s)
        .every(10s)
    |count('value')
    |alert()
        .id('kapacitor.{{ .Name }}.{{ index .Tags "host" }}')
        .details('')
        .info(lambda: "count" > 6.0)
        .warn(lambda: "count" > 7.0)
        .crit(lambda: "count" > 8.0)
        .fixture('/bin/my-script')
        .fixture('/bin/my-other-script')
"#,
    );
    assert_eq!(task.alert_nodes().next().unwrap().handlers().len(), 2);
    let topic = replay_alert_srpl(&mut task);
    assert_eq!(topic.events.len(), 1);
    assert!(topic.events[0].anonymous);
    assert_eq!(
        topic.events[0].event.alert_json(),
        concat!(
            r#"{"id":"kapacitor.cpu.serverA","message":"kapacitor.cpu.serverA is CRITICAL","details":"","#,
            r#""time":"1971-01-01T00:00:10Z","duration":0,"level":"CRITICAL","data":{"series":[{"name":"cpu","#,
            r#""tags":{"host":"serverA"},"columns":["time","count"],"values":[["1971-01-01T00:00:10Z",10]]}]},"#,
            r#""previousLevel":"OK","recoverable":true}"#,
            "\n"
        )
    );
}

/// Case 4, `TestStream_Alert`: the alert's augmented output read back through `|httpOut()`.
#[test]
fn window_count_alert_augmented_through_http_out() {
    let mut task = task(
        r#"stream
    |from()
        .measurement('cpu')
        .where(lambda: "host" == 'serverA')
        .groupBy('host')
    |window()
        .period(10s)
        .every(10s)
    |count('value')
    |alert()
        .id('kapacitor/{{ .Name }}/{{ index .Tags "host" }}')
        .details('')
        .idField('id')
        .idTag('id')
        .levelField('level')
        .levelTag('level')
        .messageField('msg')
        .info(lambda: "count" > 6.0)
        .warn(lambda: "count" > 7.0)
        .crit(lambda: "count" > 8.0)
        .fixture('/tmp/post')
    |httpOut('TestStream_Alert')
"#,
    );
    assert_eq!(
        klaxon_core::json::to_go_string(&task.http_output("TestStream_Alert").unwrap()),
        r#"{"series":null}"#
    );
    let topic = replay_alert_srpl(&mut task);
    assert_eq!(summary(&topic), [(10, Critical, 0, OK)]);
    assert_eq!(
        klaxon_core::json::to_go_string(&task.http_output("TestStream_Alert").unwrap()),
        concat!(
            r#"{"series":[{"name":"cpu","tags":{"host":"serverA","id":"kapacitor/cpu/serverA","level":"CRITICAL"},"#,
            r#""columns":["time","count","id","level","msg"],"#,
            r#""values":[["1971-01-01T00:00:10Z",10,"kapacitor/cpu/serverA","CRITICAL","kapacitor/cpu/serverA is CRITICAL"]]}]}"#
        )
    );
    assert!(task.http_output("other").is_none());
}

/// Reference 6.4 on batches: the level of the highest point and its time; the row holds every
/// point of the window with the non-group tags as columns.
#[test]
fn batch_alert_takes_the_highest_point() {
    let mut task = task(
        r#"stream|from().measurement('cpu').groupBy('host')|window().period(3s).every(3s)
    |alert().details('').warn(lambda: "value" > 5.0).crit(lambda: "value" > 8.0)"#,
    );
    let topic = replay(&mut task, &[6.0, 9.0, 1.0, 2.0, 2.0, 2.0, 0.0]);
    assert_eq!(
        summary(&topic),
        [(1, Critical, 0, OK), (6, OK, 5, Critical)],
        "CRITICAL at the 9.0 point's time; OK at the window's end"
    );
    assert_eq!(
        topic.events[0].event.alert_json(),
        concat!(
            r#"{"id":"cpu:host=serverA","message":"cpu:host=serverA is CRITICAL","details":"","#,
            r#""time":"1971-01-01T00:00:01Z","duration":0,"level":"CRITICAL","data":{"series":[{"name":"cpu","#,
            r#""tags":{"host":"serverA"},"columns":["time","type","value"],"values":["#,
            r#"["1971-01-01T00:00:00Z","idle",6],["1971-01-01T00:00:01Z","idle",9],["1971-01-01T00:00:02Z","idle",1]]}]},"#,
            r#""previousLevel":"OK","recoverable":true}"#,
            "\n"
        )
    );
}

/// `.all()`: the lowest level over the window, at the window's time.
#[test]
fn batch_alert_all_takes_the_lowest_point() {
    let mut task = task(
        r#"stream|from().measurement('cpu')|window().period(2s).every(2s)
    |alert().all().warn(lambda: "value" > 5.0).crit(lambda: "value" > 8.0)"#,
    );
    let topic = replay(&mut task, &[9.0, 6.0, 9.0, 9.5, 1.0]);
    assert_eq!(
        summary(&topic),
        [(2, Warning, 0, OK), (4, Critical, 2, Warning)]
    );
}

/// A batch recovery is emitted even while flapping (reference 6.4 step 3), unlike a stream one.
#[test]
fn batch_recovery_is_emitted_while_flapping() {
    let script = |source: &str| {
        format!(r#"{source}|alert().crit(lambda: "value" > 5.0).flapping(0.1, 0.2).history(3)"#)
    };
    let values = [9.0, 1.0, 9.0, 1.0, 9.0, 1.0, 9.0];
    let mut stream = task(&script("stream|from().measurement('cpu')"));
    let mut batches = task(&script(
        "stream|from().measurement('cpu')|window().periodCount(1)",
    ));
    let levels = |topic: Topic| -> Vec<(i64, Level)> {
        summary(&topic)
            .into_iter()
            .map(|(t, l, _, _)| (t, l))
            .collect()
    };
    // With a history of 3 the first change already reads as flapping (percent change 0.9).
    assert_eq!(levels(replay(&mut stream, &values)), []);
    assert_eq!(
        levels(replay(&mut batches, &values)),
        [(1, OK), (3, OK), (5, OK)]
    );
}

/// An aggregate directly on a stream, as Kapacitor's: the points of a group with one time are
/// aggregated when a point with a later time arrives.
#[test]
fn an_aggregate_on_a_stream_takes_the_points_that_share_a_time() {
    let mut task = task("stream|from().measurement('cpu')|sum('value')|alert().crit(lambda: TRUE)");
    let mut topic = Topic::default();
    for (seconds, value) in [(0, 1.0), (0, 2.0), (1, 10.0), (2, 100.0)] {
        task.process(&cpu(seconds, value), &mut topic);
    }
    let sums: Vec<(i64, f64)> = topic
        .events
        .iter()
        .map(|e| {
            let row = &e.event.data.fields;
            let Some(FieldValue::Float(sum)) = row.get("sum") else {
                panic!("no sum in {row:?}")
            };
            ((e.event.state.time.as_nanos() - BASE) / 1_000_000_000, *sum)
        })
        .collect();
    // The set at 2 s waits for a later point.
    assert_eq!(sums, [(0, 3.0), (1, 10.0)]);
}

/// `|barrier().delete(TRUE)` makes every node below forget the group, as Kapacitor's grouped
/// consumer drops the group's receiver: after the delete, `|derivative()` starts the group
/// afresh instead of reaching back to the point before it.
#[test]
fn a_barrier_delete_resets_the_state_of_the_nodes_below() {
    let mut task = task(
        "stream|from().measurement('cpu')|barrier().idle(1s).delete(TRUE)|derivative('value')|alert().crit(lambda: TRUE)",
    );
    let mut topic = Topic::default();
    task.process(&cpu(0, 1.0), &mut topic);
    task.process(&cpu(1, 2.0), &mut topic);
    assert_eq!(topic.events.len(), 1, "the derivative of the second point");
    let now = Timestamp::from_nanos(BASE + 100 * 1_000_000_000);
    // The first tick starts the idle timer; the next, idle later, sends the barrier and delete.
    task.tick(now, &mut topic);
    task.tick(
        Timestamp::from_nanos(now.as_nanos() + 1_000_000_000),
        &mut topic,
    );
    task.process(&cpu(3, 10.0), &mut topic);
    assert_eq!(
        topic.events.len(),
        1,
        "after the delete the point is the group's first again: no derivative"
    );
    task.process(&cpu(4, 12.0), &mut topic);
    assert_eq!(topic.events.len(), 2);
    let Some(FieldValue::Float(rate)) = topic.events[1].event.data.fields.get("value") else {
        panic!("no derivative in {:?}", topic.events[1].event.data.fields)
    };
    assert_eq!(*rate, 2.0);
}

#[test]
fn window_and_aggregate_edges_are_checked() {
    let registry = Registry::linked().unwrap();
    let err = |script: &str| {
        Task::compile("t", script, &registry, &ServerInfo::default())
            .unwrap_err()
            .message
    };
    assert!(err("stream|from()|window().period(1s)|window().period(1s)").contains("gets windows"));
    assert!(err("stream|from()|alert().all()").contains(".all() applies to windows"));
    assert!(
        err("stream|from()|httpOut('a')|httpOut('a')").contains("two |httpOut() nodes are named")
    );
    assert!(err("stream|from()|nosuch()").contains("mean, median, min"));
}
