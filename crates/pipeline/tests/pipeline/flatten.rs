//! `|flatten()` driven point by point: the flattened fields, when they go, and bad input.

use klaxon_core::FieldValue;
use klaxon_fixture_handler as _;
use klaxon_pipeline::Point;

use crate::joining::{Errors, compile};
use serde_json::json;

const S: i64 = 1_000_000_000;

fn point(port: Option<&str>, millis: i64, bytes: i64) -> Point {
    let p = Point::new("db", "autogen", "m", millis * S / 1000).tag("host", "A");
    let p = match port {
        Some(port) => p.tag("port", port),
        None => p,
    };
    p.field("bytes", FieldValue::Int(bytes))
}

#[test]
fn the_points_of_a_time_become_one_named_by_their_tags() {
    for (drop, columns) in [
        ("", json!(["time", "443_bytes", "80_bytes"])),
        (".dropOriginalFieldName()", json!(["time", "443", "80"])),
    ] {
        let script = format!(
            "stream|from().groupBy('host')|flatten().on('port').delimiter('_').tolerance(1s){drop}|httpOut('out')"
        );
        let mut task = compile(&script).unwrap();
        let mut ctx = Errors::default();
        task.process(&point(Some("80"), 10_000, 3512), &mut ctx);
        task.process(&point(Some("443"), 10_300, 6723), &mut ctx);
        // A point missing the tag is left out and reported.
        task.process(&point(None, 10_100, 1), &mut ctx);
        let out = serde_json::to_value(task.http_output("out").unwrap()).unwrap();
        assert_eq!(out, json!({"series": null}));
        task.process(&point(Some("80"), 12_000, 1), &mut ctx);
        let out = serde_json::to_value(task.http_output("out").unwrap()).unwrap();
        assert_eq!(
            out["series"][0],
            json!({"name": "m", "tags": {"host": "A"}, "columns": columns,
                "values": [["1970-01-01T00:00:10Z", 6723, 3512]]})
        );
        assert_eq!(
            ctx.0,
            vec![
                "flatten2: point missing tag for flatten operation: tag port is missing from point"
            ]
        );
    }
}

#[test]
fn unknown_properties_are_named_with_the_known_ones() {
    let err = compile("stream|from()|flatten().as('x')").err().unwrap();
    assert!(
        err.contains("|flatten() has no property .as(); it has: .delimiter(), .dropOriginalFieldName(), .on(), .tolerance()"),
        "{err}"
    );
    let err = compile("stream|from()|flatten('port')").err().unwrap();
    assert!(err.contains("|flatten() takes no arguments"), "{err}");
}
