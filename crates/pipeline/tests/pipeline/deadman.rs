//! `|deadman()` and `|stats()` driven by `Task::tick` with chosen times: no clock, no sleeps.

use klaxon_core::{FieldValue, Level, Registry, Timestamp};
use klaxon_pipeline::{Point, ServerInfo, Task};

const S: i64 = 1_000_000_000;
/// An arbitrary wall-clock start.
const T0: i64 = 1_700_000_000 * S;

use crate::events::Events;

fn task(script: &str) -> Task {
    Task::compile(
        "test",
        script,
        &Registry::linked().unwrap(),
        &ServerInfo::default(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render(script)))
}

fn point(host: &str, seconds: i64) -> Point {
    Point::new("db", "rp", "cpu", T0 + seconds * S)
        .tag("host", host)
        .field("value", FieldValue::Float(1.0))
}

/// (host tag, level, message, time offset in seconds)
fn summary(events: &Events) -> Vec<(String, Level, String, i64)> {
    events
        .events
        .iter()
        .map(|e| {
            (
                e.event.data.tags.get("host").cloned().unwrap_or_default(),
                e.event.state.level,
                e.event.state.message.clone(),
                (e.event.state.time.as_nanos() - T0) / S,
            )
        })
        .collect()
}

#[test]
fn a_silent_group_alerts_and_recovers_and_an_unseen_group_never_alerts() {
    let mut task =
        task("stream|from().measurement('cpu').groupBy('host')|deadman(1.0, 10s).details('')");
    assert!(task.ticks());
    let mut ctx = Events::default();
    let tick = |task: &mut Task, ctx: &mut Events, s: i64| {
        task.tick(Timestamp::from_nanos(T0 + s * S), ctx)
    };
    tick(&mut task, &mut ctx, 0); // starts the clock: the first interval ends at 10 s
    for s in [1, 2] {
        task.process(&point("a", s), &mut ctx);
        task.process(&point("b", s), &mut ctx);
    }
    tick(&mut task, &mut ctx, 5);
    tick(&mut task, &mut ctx, 10); // first sample of each group: no rate yet
    for s in [11, 12, 13] {
        task.process(&point("a", s), &mut ctx);
    }
    tick(&mut task, &mut ctx, 20); // a: 3 points in 10 s; b: none
    assert_eq!(
        summary(&ctx),
        [(
            "b".to_owned(),
            Level::Critical,
            "host=b:from1 for task 'test' is dead: 0.000 points/10s.".to_owned(),
            20
        )]
    );
    assert_eq!(ctx.events[0].event.state.id, "host=b:from1 for task 'test'");
    assert_eq!(
        ctx.events[0].event.data.fields["emitted"],
        FieldValue::Float(0.0)
    );
    for s in [21, 22] {
        task.process(&point("b", s), &mut ctx);
    }
    tick(&mut task, &mut ctx, 30); // b back (2 points), a silent now
    assert_eq!(
        summary(&ctx)[1..],
        [
            (
                "a".to_owned(),
                Level::Critical,
                "host=a:from1 for task 'test' is dead: 0.000 points/10s.".to_owned(),
                30
            ),
            (
                "b".to_owned(),
                Level::Ok,
                "host=b:from1 for task 'test' is alive: 2.000 points/10s.".to_owned(),
                30
            ),
        ]
    );
    assert!(ctx.errors.is_empty(), "{:?}", ctx.errors);
}

#[test]
fn deadman_lambda_and_properties_reach_the_alert() {
    let mut task = task(
        r#"stream|from().measurement('cpu')|deadman(0.0, 1s, lambda: "emitted" < 100.0).id('silence').message('{{ .ID }} {{ .Level }}')"#,
    );
    let mut ctx = Events::default();
    task.process(&point("a", 0), &mut ctx);
    for s in [0, 1, 2] {
        task.tick(Timestamp::from_nanos(T0 + s * S), &mut ctx);
    }
    let messages: Vec<&str> = ctx
        .events
        .iter()
        .map(|e| e.event.state.message.as_str())
        .collect();
    assert_eq!(messages, ["silence CRITICAL"]);
}

#[test]
fn stats_emits_the_running_count_per_group() {
    let mut task = task(
        "stream|from().measurement('cpu').groupBy('host')|stats(10s).align()|httpOut('stats')",
    );
    let mut ctx = Events::default();
    task.tick(Timestamp::from_nanos(T0 + 3 * S), &mut ctx);
    for s in [4, 5] {
        task.process(&point("a", s), &mut ctx);
    }
    task.process(&point("b", 6), &mut ctx);
    task.tick(Timestamp::from_nanos(T0 + 9 * S), &mut ctx);
    assert_eq!(
        klaxon_core::json::to_go_string(&task.http_output("stats").unwrap()),
        r#"{"series":null}"#
    );
    task.tick(Timestamp::from_nanos(T0 + 10 * S + 7), &mut ctx);
    assert_eq!(
        klaxon_core::json::to_go_string(&task.http_output("stats").unwrap()),
        concat!(
            r#"{"series":[{"name":"stats","tags":{"host":"a"},"columns":["time","emitted"],"values":[["2023-11-14T22:13:30Z",2]]},"#,
            r#"{"name":"stats","tags":{"host":"b"},"columns":["time","emitted"],"values":[["2023-11-14T22:13:30Z",1]]}]}"#
        )
    );
}

#[test]
fn deadman_needs_a_positive_interval() {
    let err = Task::compile(
        "t",
        "stream|from()|deadman(1.0, 0s)",
        &Registry::linked().unwrap(),
        &ServerInfo::default(),
    )
    .unwrap_err();
    assert!(
        err.message.contains("interval must be positive"),
        "{}",
        err.message
    );
}
