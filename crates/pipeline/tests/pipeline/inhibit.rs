//! `.inhibit(category, tags...)` across two tasks of one server, as Kapacitor's documented
//! example (pipeline/alert.go, `Inhibit`): while a host's host-down alert fires, that host's
//! alerts in the inhibited category are dropped; other hosts' are not; and `.quiet()` counts a
//! node's errors without their messages.

use klaxon_core::{FieldValue, Level, Registry};
use klaxon_pipeline::{Point, ServerInfo, Task};

use crate::events::Events;

fn task(id: &str, script: &str, server: &ServerInfo) -> Task {
    Task::compile(id, script, &Registry::linked().unwrap(), server)
        .unwrap_or_else(|e| panic!("{}", e.render(script)))
}

fn point(measurement: &str, host: &str, field: &str, value: f64, second: i64) -> Point {
    Point::new("db", "rp", measurement, second * 1_000_000_000)
        .tag("host", host)
        .field(field, FieldValue::Float(value))
}

/// The hosts of the CPU events, in order.
fn hosts(events: &Events) -> Vec<(String, Level)> {
    events
        .events
        .iter()
        .map(|e| {
            let host = e.event.data.tags.get("host").cloned().unwrap_or_default();
            (host, e.event.state.level)
        })
        .collect()
}

#[test]
fn a_host_down_alert_inhibits_that_hosts_alerts_in_its_category() {
    let server = ServerInfo::default();
    let mut cpu = task(
        "cpu_alert",
        "stream|from().measurement('cpu').groupBy('host')|alert().category('system_alerts').crit(lambda: \"usage_idle\" < 10.0)",
        &server,
    );
    let mut host = task(
        "host_alert",
        "stream|from().measurement('up').groupBy('host')|alert().crit(lambda: \"up\" == 0.0).inhibit('system_alerts', 'host')",
        &server,
    );
    let mut cpu_events = Events::default();
    let mut host_events = Events::default();

    // Both hosts busy: both alert.
    cpu.process(&point("cpu", "a", "usage_idle", 5.0, 1), &mut cpu_events);
    cpu.process(&point("cpu", "b", "usage_idle", 5.0, 1), &mut cpu_events);
    // Host a goes down: its CPU alerts stop, b's go on.
    host.process(&point("up", "a", "up", 0.0, 2), &mut host_events);
    cpu.process(&point("cpu", "a", "usage_idle", 5.0, 3), &mut cpu_events);
    cpu.process(&point("cpu", "b", "usage_idle", 5.0, 3), &mut cpu_events);
    // Host a is back: its CPU alerts come back.
    host.process(&point("up", "a", "up", 1.0, 4), &mut host_events);
    cpu.process(&point("cpu", "a", "usage_idle", 5.0, 5), &mut cpu_events);
    assert_eq!(
        hosts(&cpu_events),
        [
            ("a".to_owned(), Level::Critical),
            ("b".to_owned(), Level::Critical),
            ("b".to_owned(), Level::Critical),
            ("a".to_owned(), Level::Critical),
        ]
    );
    // The inhibiting alert itself is not inhibited.
    assert_eq!(
        hosts(&host_events),
        [
            ("a".to_owned(), Level::Critical),
            ("a".to_owned(), Level::Ok)
        ]
    );

    // A stopped task inhibits nothing: host a down, then its task dropped.
    host.process(&point("up", "a", "up", 0.0, 6), &mut host_events);
    cpu.process(&point("cpu", "a", "usage_idle", 5.0, 7), &mut cpu_events);
    assert_eq!(cpu_events.events.len(), 4);
    drop(host);
    cpu.process(&point("cpu", "a", "usage_idle", 5.0, 8), &mut cpu_events);
    assert_eq!(cpu_events.events.len(), 5);
}

#[test]
fn inhibit_and_quiet_are_checked_when_the_task_is_defined() {
    let refuse = |script: &str| match Task::compile(
        "t",
        script,
        &Registry::linked().unwrap(),
        &ServerInfo::default(),
    ) {
        Ok(_) => panic!("accepted {script}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        refuse("stream|from()|alert().inhibit()"),
        "line 1, column 22: .inhibit() takes at least 1 argument, got 0"
    );
    assert_eq!(
        refuse("stream|from()|alert().inhibit('c', 1)"),
        "line 1, column 36: argument 2 of .inhibit(): expected a string, found the int 1"
    );
    assert_eq!(
        refuse("stream|from()|alert().quiet(TRUE)"),
        "line 1, column 22: .quiet() takes no arguments, got 1"
    );
}

#[test]
fn quiet_counts_errors_without_their_messages() {
    let server = ServerInfo::default();
    let script = |quiet: &str| {
        format!(
            "stream|from()|alert(){quiet}.crit(lambda: \"missing\" > 1).message('{{{{ .ID }}}}')"
        )
    };
    for (quiet, want) in [
        (
            "",
            "alert2: line 1, column 36: no field or tag exists for \"missing\"",
        ),
        (".quiet()", "alert2: "),
    ] {
        let mut t = task("q", &script(quiet), &server);
        let mut events = Events::default();
        t.process(&point("cpu", "a", "value", 1.0, 1), &mut events);
        assert_eq!(events.errors, [want]);
    }
}
