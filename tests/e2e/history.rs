//! Alert history (Klaxon's own route, `/kapacitor/v1/alerts/topics/<topic>/history`): level
//! changes only, bounded by `[alert] history-max-events`, paged newest first, filtered by time
//! and alert ID, kept across a restart, bad parameters refused by name.

use klaxon_e2e::Klaxond;
use serde_json::{Value, json};

use crate::topic_handlers::post_event;

fn get_json(server: &Klaxond, path: &str) -> (u16, Value) {
    let response = server.get(path);
    let status = response.status().as_u16();
    (status, response.json().expect("a JSON answer"))
}

fn ids_and_levels(page: &Value) -> Vec<(String, String)> {
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["level"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn history_keeps_level_changes_pages_them_and_survives_a_restart() {
    let mut server = Klaxond::builder()
        .config("[alert]\ntest-events = true\nhistory-max-events = 4\n")
        .start();
    // (id, level, second of the data time): the repeated CRITICAL changes nothing.
    let events = [
        ("a", "WARNING", 1),
        ("a", "CRITICAL", 2),
        ("a", "CRITICAL", 3),
        ("b", "CRITICAL", 4),
        ("a", "OK", 5),
        ("b", "OK", 6),
    ];
    for (id, level, second) in events {
        post_event(
            &server,
            "cpu",
            json!({"id": id, "level": level, "message": format!("{id} is {level}"),
                   "time": format!("2026-12-03T10:00:0{second}Z")}),
        );
    }
    let path = "/kapacitor/v1/alerts/topics/cpu/history";
    let (status, all) = get_json(&server, path);
    assert_eq!(status, 200, "{all}");
    // Five changes, at most four kept: a's WARNING went first.
    let expected = [
        ("b", "OK"),
        ("a", "OK"),
        ("b", "CRITICAL"),
        ("a", "CRITICAL"),
    ]
    .map(|(i, l)| (i.to_owned(), l.to_owned()));
    assert_eq!(ids_and_levels(&all), expected);
    let first = &all["entries"][3];
    assert_eq!(first["previous-level"], "WARNING");
    assert_eq!(first["message"], "a is CRITICAL");
    assert_eq!(first["time"], "2026-12-03T10:00:02Z");
    assert_eq!(first["silenced"], false);
    assert!(all.get("next").is_none(), "{all}");

    // Pages of two, following the next link.
    let (_, page1) = get_json(&server, &format!("{path}?limit=2"));
    assert_eq!(ids_and_levels(&page1), expected[..2]);
    let next = page1["next"]["href"].as_str().expect("a next link");
    let (_, page2) = get_json(&server, next);
    assert_eq!(ids_and_levels(&page2), expected[2..]);
    assert!(page2.get("next").is_none(), "{page2}");

    // A time range on the data time (start included, end not) and one alert.
    let (_, range) = get_json(
        &server,
        &format!("{path}?start=2026-12-03T10:00:04Z&end=2026-12-03T10:00:06Z"),
    );
    assert_eq!(ids_and_levels(&range), expected[1..3]);
    let (_, only_a) = get_json(&server, &format!("{path}?id=a"));
    assert_eq!(
        ids_and_levels(&only_a),
        [expected[1].clone(), expected[3].clone()]
    );

    server.restart();
    let (status, after) = get_json(&server, path);
    assert_eq!(status, 200, "{after}");
    assert_eq!(ids_and_levels(&after), expected, "kept across the restart");
}

#[test]
fn bad_history_parameters_are_refused_by_name() {
    let server = Klaxond::builder()
        .config("[alert]\ntest-events = true\n")
        .start();
    post_event(&server, "cpu", json!({"id": "a", "level": "CRITICAL"}));
    let path = "/kapacitor/v1/alerts/topics/cpu/history";
    for (query, expected) in [
        (
            "limit=0",
            "invalid limit \"0\": give a number from 1 to 10000",
        ),
        ("before=x", "invalid before \"x\""),
        ("start=yesterday", "invalid start: "),
        (
            "start=2026-12-03T10:00:00Z&end=2026-12-03T09:00:00Z",
            "invalid end 2026-12-03T09:00:00Z: it is not after start",
        ),
    ] {
        let (status, body) = get_json(&server, &format!("{path}?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with(expected), "{query}: {message}");
    }
    let (status, body) = get_json(&server, "/kapacitor/v1/alerts/topics/nope/history");
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["message"], "unknown topic \"nope\"");
}
