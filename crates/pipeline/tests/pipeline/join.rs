//! `|join()` driven point by point: which sets it emits and when, fill, tolerance, `.on()`, and
//! the scripts it refuses.

use klaxon_core::FieldValue;
use klaxon_fixture_handler as _;
use klaxon_pipeline::{Point, Task};

use crate::joining::{Errors, compile};
use serde_json::{Value, json};

const S: i64 = 1_000_000_000;

fn point(name: &str, host: &str, seconds: i64, value: f64) -> Point {
    Point::new("db", "autogen", name, seconds * S)
        .tag("host", host)
        .tag("extra", "dropped by the join")
        .field("value", FieldValue::Float(value))
}

/// The `|httpOut('out')` rows of the task, as JSON.
fn out(task: &Task) -> Value {
    serde_json::to_value(task.http_output("out").unwrap()).unwrap()
}

const TWO_MEASUREMENTS: &str = "
var a = stream|from().measurement('a').groupBy('host')
var b = stream|from().measurement('b').groupBy('host')
a|join(b).as('a', 'b')FILL|httpOut('out')
";

#[test]
fn a_complete_set_is_emitted_with_prefixed_fields_and_the_group_tags() {
    let mut task = compile(&TWO_MEASUREMENTS.replace("FILL", "")).unwrap();
    let mut ctx = Errors::default();
    task.process(&point("a", "h1", 10, 1.0), &mut ctx);
    assert_eq!(out(&task), json!({"series": null}));
    task.process(&point("b", "h1", 10, 2.0), &mut ctx);
    assert_eq!(
        out(&task),
        json!({"series": [{"name": "a", "tags": {"host": "h1"}, "columns": ["time", "a.value", "b.value"],
            "values": [["1970-01-01T00:00:10Z", 1.0, 2.0]]}]})
    );
    assert!(ctx.0.is_empty(), "{:?}", ctx.0);
}

#[test]
fn a_set_a_parent_missed_is_dropped_without_fill_and_filled_with_it() {
    let filled = json!([["1970-01-01T00:00:11Z", 3.0, 0.0]]);
    let unfilled = json!([["1970-01-01T00:00:10Z", 1.0, 2.0]]);
    for (fill, expected) in [("", unfilled), (".fill(0.0)", filled)] {
        let mut task = compile(&TWO_MEASUREMENTS.replace("FILL", fill)).unwrap();
        let mut ctx = Errors::default();
        task.process(&point("a", "h1", 10, 1.0), &mut ctx);
        task.process(&point("b", "h1", 10, 2.0), &mut ctx);
        // b misses 11s: that set waits until every parent is past it.
        task.process(&point("a", "h1", 11, 3.0), &mut ctx);
        task.process(&point("a", "h1", 12, 5.0), &mut ctx);
        assert_eq!(
            out(&task)["series"][0]["values"],
            json!([["1970-01-01T00:00:10Z", 1.0, 2.0]])
        );
        // Now b is past 11s (and a is not past 12s, whose set stays).
        task.process(&point("b", "h1", 13, 6.0), &mut ctx);
        assert_eq!(out(&task)["series"][0]["values"], expected, "{fill}");
    }
}

#[test]
fn tolerance_joins_points_near_the_same_time_at_the_rounded_time() {
    let script = TWO_MEASUREMENTS.replace("FILL", ".tolerance(2s).delimiter('_')");
    let mut task = compile(&script).unwrap();
    let mut ctx = Errors::default();
    task.process(&point("a", "h1", 9, 1.0), &mut ctx);
    task.process(&point("b", "h1", 10, 2.0), &mut ctx);
    assert_eq!(
        out(&task)["series"][0],
        json!({"name": "a", "tags": {"host": "h1"}, "columns": ["time", "a_value", "b_value"],
            "values": [["1970-01-01T00:00:10Z", 1.0, 2.0]]})
    );
}

#[test]
fn on_joins_each_specific_group_with_the_less_specific_one() {
    let script = "
var total = stream|from().measurement('total').groupBy('host')
var cpus = stream|from().measurement('cpu').groupBy('host', 'cpu')
cpus|join(total).as('cpu', 'total').on('host').streamName('share')
  |eval(lambda: \"cpu.value\" / \"total.value\").as('share')
  |httpOut('out')
";
    let mut task = compile(script).unwrap();
    let mut ctx = Errors::default();
    let cpu = |n: &str, v: f64| point("cpu", "h1", 10, v).tag("cpu", n);
    task.process(&cpu("cpu0", 1.0), &mut ctx);
    task.process(&cpu("cpu1", 3.0), &mut ctx);
    task.process(&point("total", "h1", 10, 4.0), &mut ctx);
    let mut rows: Vec<Value> = out(&task)["series"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["tags"]["cpu"].as_str().unwrap().to_owned());
    assert_eq!(
        rows,
        vec![
            json!({"name": "share", "tags": {"cpu": "cpu0", "host": "h1"}, "columns": ["time", "share"],
                "values": [["1970-01-01T00:00:10Z", 0.25]]}),
            json!({"name": "share", "tags": {"cpu": "cpu1", "host": "h1"}, "columns": ["time", "share"],
                "values": [["1970-01-01T00:00:10Z", 0.75]]}),
        ]
    );
    assert!(ctx.0.is_empty(), "{:?}", ctx.0);
}

#[test]
fn scripts_join_refuses_say_what_to_write() {
    let two = "var a = stream|from()\nvar b = stream|from()\n";
    let cases = [
        ("a|join(b)", "|join() needs .as()"),
        (
            "a|join(b).as('a')",
            "|join() has 2 nodes but .as() gives 1 names",
        ),
        (
            "a|join(b).as('a.x', 'b')",
            "the .as() name 'a.x' of |join() contains the delimiter '.'",
        ),
        (
            "a|join(b).as('a', 'a')",
            "|join() has the .as() name 'a' twice",
        ),
        ("a|join(b).as('a', '')", "a .as() name of |join() is empty"),
        (
            "a|join(b).as('a', 'b').fill('zero')",
            ".fill() takes 'null', 'none' or a number",
        ),
        (
            "a|join(b).as('a', 'b').tolerance(-1s)",
            ".tolerance() must not be negative",
        ),
        (
            "a|join(b).as('a', 'b').within(1s)",
            "|join() has no property .within(); it has: .as(), .deleteAll(), .delimiter(), .fill(), .on(), .streamName(), .tolerance()",
        ),
        ("a|join().as('a')", "|join() needs the nodes to join"),
    ];
    for (script, expected) in cases {
        let err = compile(&format!("{two}{script}"))
            .err()
            .unwrap_or_else(|| panic!("accepted: {script}"));
        assert!(err.contains(expected), "{script}: {err}");
    }
    // An empty delimiter lets a prefix contain '.'.
    compile(&format!("{two}a|join(b).as('a.x', 'b').delimiter('')")).unwrap();
}
