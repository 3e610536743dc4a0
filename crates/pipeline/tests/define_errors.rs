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
        "line 1, column 14: unknown node |nosuch(); this server supports: alert, count, deadman, distinct, eval, first, from, httpOut, last, max, mean, median, min, mode, percentile, spread, stats, stddev, sum, where, window"
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
    assert_eq!(
        refuse(script),
        "line 6, column 4: no handler \"exec\" in this server; it has: fixture"
    );
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
    assert_eq!(
        err,
        "line 1, column 22: no handler \"exec\" in this server; it has: none"
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
    assert!(err.contains("batch tasks are not supported yet"), "{err}");
    let err = refuse("stream|from()@myudf()");
    assert!(err.contains("UDFs are not supported"), "{err}");
}
