//! `[limits] max-series`: a node that holds as many series (groups) as the limit drops the
//! points of a new one, reported with the setting, while the series it holds go on alerting.

use klaxon_core::{FieldValue, Level, Registry};
use klaxon_pipeline::{Limits, Point, ServerInfo, Task};

use crate::events::Events;

fn point(host: &str, value: f64, second: i64) -> Point {
    Point::new("db", "rp", "cpu", second * 1_000_000_000)
        .tag("host", host)
        .field("usage", FieldValue::Float(value))
}

#[test]
fn a_new_series_past_the_limit_is_dropped_and_the_held_ones_go_on() {
    let limits = Limits {
        max_series: 2,
        ..Limits::default()
    };
    let mut task = Task::compile_with(
        "cpu",
        "stream|from().measurement('cpu').groupBy('host')|alert().crit(lambda: \"usage\" > 90)",
        &Registry::linked().unwrap(),
        &ServerInfo::default(),
        &limits,
    )
    .unwrap();
    let mut events = Events::default();
    for (host, value, second) in [("a", 95.0, 1), ("b", 95.0, 1), ("c", 95.0, 1)] {
        task.process(&point(host, value, second), &mut events);
    }
    // a and b are held and fire; c is dropped at the alert node, the first grouped node.
    let fired: Vec<(String, Level)> = events
        .events
        .iter()
        .map(|e| (e.event.data.tags["host"].clone(), e.event.state.level))
        .collect();
    assert_eq!(
        fired,
        [
            ("a".to_owned(), Level::Critical),
            ("b".to_owned(), Level::Critical)
        ]
    );
    assert_eq!(
        events.errors,
        [
            "alert2: new series \"host=c\" dropped: the node holds 2 series; [limits] max-series is 2"
        ]
    );
    // The held series go on: a recovers.
    task.process(&point("a", 10.0, 2), &mut events);
    assert_eq!(events.events.last().unwrap().event.state.level, Level::Ok);
    assert_eq!(events.errors.len(), 1);
}
