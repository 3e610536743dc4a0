//! Task definitions that must be refused, with the position and a useful message.

use klaxon_core::Registry;
use klaxon_fixture_handler as _;
use klaxon_pipeline::{ServerInfo, Task};

fn refuse(script: &str) -> String {
    let registry = Registry::linked().unwrap();
    match Task::compile("t", script, &registry, &ServerInfo::default()) {
        Ok(_) => panic!("accepted: {script}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unknown_nodes_and_properties_are_named_with_what_exists() {
    assert_eq!(
        refuse("stream|from()|nosuch()"),
        "line 1, column 14: unknown node |nosuch(); this server supports: alert, barrier, bottom, changeDetect, combine, count, cumulativeSum, deadman, default, delete, derivative, difference, distinct, elapsed, eval, first, flatten, from, groupBy, httpOut, httpPost, influxDBOut, join, kapacitorLoopback, last, log, max, mean, median, min, mode, movingAverage, percentile, query, sample, shift, sideload, spread, stateCount, stateDuration, stats, stddev, sum, top, union, where, window"
    );
    assert_eq!(
        refuse("stream|from().measurment('cpu')"),
        "line 1, column 14: |from() has no property .measurment(); it has: .database(), .groupBy(), \
         .groupByMeasurement(), .measurement(), .retentionPolicy(), .where()"
    );
    assert_eq!(
        refuse("stream|from()|alert().critt(lambda: TRUE)"),
        "line 1, column 22: |alert() has no property .critt(); did you mean .crit()?"
    );
}

#[test]
fn a_handler_this_server_lacks_is_named_with_the_kinds_it_has() {
    let script = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: TRUE)\n   .exec('/bin/true')";
    let err = refuse(script);
    assert!(
        err.starts_with(
            "line 6, column 4: |alert() has no property .exec(); it has: .all(), .category(), "
        ),
        "{err}"
    );
    assert!(
        err.ends_with(
            ", .warnReset(); and the handlers of this server: .fixture(), .fixtureList()"
        ),
        "{err}"
    );
    // No hint names an unrelated property: `.log()` is not `.all()`.
    let err = refuse("stream|from()|alert().log('/tmp/x')");
    assert!(!err.contains("did you mean"), "{err}");
    let err = refuse("stream|from()|alert().fixtureLst()");
    assert!(err.ends_with("did you mean .fixtureList()?"), "{err}");
}

#[test]
fn a_disabled_handler_is_named_with_the_setting_that_disabled_it() {
    let registry = Registry::linked()
        .unwrap()
        .without(&["fixture".to_owned()], "--disable-handlers");
    let script = "stream|from()|alert().crit(lambda: TRUE).fixture('/tmp/x')";
    let err = match Task::compile("t", script, &registry, &ServerInfo::default()) {
        Ok(_) => panic!("accepted: {script}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        err,
        "line 1, column 41: handler kind \"fixture\" is disabled by --disable-handlers"
    );
    // A kind that was never linked is still reported as missing, with what the server has.
    let err = match Task::compile(
        "t",
        "stream|from()|alert().exec('/bin/true')",
        &registry,
        &ServerInfo::default(),
    ) {
        Ok(_) => panic!("accepted .exec()"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("line 1, column 22: |alert() has no property .exec(); it has: ")
            && err.ends_with("; and the handlers of this server: .fixtureList()"),
        "{err}"
    );
}

#[test]
fn argument_mistakes_are_positioned() {
    let err = refuse("stream|from().measurement(\"cpu\")");
    assert!(err.starts_with("line 1, column 27: "), "{err}");
    let err = refuse("stream|from()|alert().crit(\"value\" > 1)");
    assert!(err.starts_with("line 1, column 28: "), "{err}");
    let err = refuse("stream|from()|alert().fixture()");
    assert!(
        err.contains(".fixture(path) takes 1 argument, got 0"),
        "{err}"
    );
    let err = refuse("stream|from()|alert().crit(lambda: \"value\" + 1)");
    assert!(err.contains("bool"), "{err}");
    let err = refuse("stream|from()|alert().id('{{ .Name ')");
    assert!(
        err.starts_with("line 1, column 26: invalid .id() template: "),
        "{err}"
    );
    let err = refuse("stream|from()|eval(lambda: 1, lambda: 2).as('a')");
    assert!(err.contains("2 expressions but .as() names 1"), "{err}");
    let err = refuse("batch|query('select 1')");
    assert!(err.contains("no FROM clause"), "{err}");
    let err = refuse("stream|from()@myudf()");
    assert!(err.contains("UDFs are not supported"), "{err}");
}
