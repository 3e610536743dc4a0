//! `|combine()` driven point by point: the combinations it emits, `.max()`, and the scripts it
//! refuses.

use klaxon_core::FieldValue;
use klaxon_fixture_handler as _;
use klaxon_pipeline::Point;

use crate::joining::{Errors, compile};
use serde_json::{Value, json};

const S: i64 = 1_000_000_000;

fn point(service: &str, millis: i64, value: f64) -> Point {
    Point::new("db", "autogen", "latency", millis * S / 1000)
        .tag("dc", "A")
        .tag("service", service)
        .field("value", FieldValue::Float(value))
}

const SCRIPT: &str = "stream|from().measurement('latency').groupBy('dc')
  |combine(lambda: \"service\" == 'auth', lambda: TRUE).as('auth', 'other').tolerance(1s)MAX
  |groupBy('other.service')
  |httpOut('out')";

#[test]
fn the_points_of_a_time_are_combined_when_a_later_time_arrives() {
    let mut task = compile(&SCRIPT.replace("MAX", "")).unwrap();
    let mut ctx = Errors::default();
    task.process(&point("auth", 10_000, 2.0), &mut ctx);
    task.process(&point("log", 10_200, 4.0), &mut ctx);
    task.process(&point("cart", 9_800, 8.0), &mut ctx);
    let empty: Value = serde_json::to_value(task.http_output("out").unwrap()).unwrap();
    assert_eq!(empty, json!({"series": null}));
    task.process(&point("auth", 11_000, 1.0), &mut ctx);
    let out = serde_json::to_value(task.http_output("out").unwrap()).unwrap();
    let mut rows = out["series"].as_array().unwrap().clone();
    rows.sort_by_key(|r| r["tags"]["other.service"].as_str().unwrap().to_owned());
    assert_eq!(
        rows,
        vec![
            json!({"name": "latency", "tags": {"auth.service": "auth", "dc": "A", "other.service": "cart"},
                "columns": ["time", "auth.value", "other.value"],
                "values": [["1970-01-01T00:00:10Z", 2.0, 8.0]]}),
            json!({"name": "latency", "tags": {"auth.service": "auth", "dc": "A", "other.service": "log"},
                "columns": ["time", "auth.value", "other.value"],
                "values": [["1970-01-01T00:00:10Z", 2.0, 4.0]]}),
        ]
    );
    assert!(ctx.0.is_empty(), "{:?}", ctx.0);
}

#[test]
fn more_combinations_than_max_are_refused_and_reported() {
    let mut task = compile(&SCRIPT.replace("MAX", ".max(2)")).unwrap();
    let mut ctx = Errors::default();
    for (service, value) in [("auth", 1.0), ("log", 2.0), ("cart", 3.0)] {
        task.process(&point(service, 10_000, value), &mut ctx);
    }
    task.process(&point("auth", 12_000, 1.0), &mut ctx);
    assert_eq!(
        ctx.0,
        vec![
            "combine2: refusing to perform combination as total combinations 3 exceeds max combinations 2"
        ]
    );
    let out = serde_json::to_value(task.http_output("out").unwrap()).unwrap();
    assert_eq!(out, json!({"series": null}));
}

#[test]
fn scripts_combine_refuses_say_what_to_write() {
    let head = "stream|from()";
    let cases = [
        ("|combine(lambda: TRUE)", "|combine() needs .as()"),
        ("|combine()", "|combine() needs a lambda per point"),
        (
            "|combine(lambda: TRUE, lambda: TRUE).as('a')",
            "|combine() has 2 lambdas but .as() gives 1 names",
        ),
        (
            "|combine(lambda: TRUE, lambda: TRUE).as('a', 'a')",
            "|combine() has the .as() name 'a' twice",
        ),
        (
            "|combine(lambda: TRUE).as('a.b')",
            "the .as() name 'a.b' of |combine() contains the delimiter '.'",
        ),
        (
            "|combine(lambda: TRUE).as('a').delimiter('')",
            "|combine() needs a .delimiter() that is not empty",
        ),
        (
            "|combine(lambda: TRUE).as('a').on('x')",
            "|combine() has no property .on(); it has: .as(), .delimiter(), .max(), .tolerance()",
        ),
    ];
    for (script, expected) in cases {
        let err = compile(&format!("{head}{script}"))
            .err()
            .unwrap_or_else(|| panic!("accepted: {script}"));
        assert!(err.contains(expected), "{script}: {err}");
    }
}
