//! `|log()` end to end: what passes the node reaches klaxond's log as Kapacitor's records
//! (`point`; `begin batch`, `batch point`, `end batch` for a window) and goes on unchanged.

use klaxon_e2e::Klaxond;

#[test]
fn points_and_windows_are_logged_and_passed_on() {
    let mut server = Klaxond::start();
    let script = "stream
    |from()
        .measurement('cpu')
        .groupBy('host')
    |log()
        .prefix('SEEN')
    |window()
        .period(2s)
        .every(2s)
    |log()
        .prefix('WINDOW')
        .level('error')
    |httpOut('windows')
";
    let (status, answer) = server.define_task("logged", script, &[("dbname", "rpname")]);
    assert_eq!(status, 200, "{answer}");
    let body = "cpu,host=a value=1.5 31536000\ncpu,host=a value=2 31536002\n";
    let response = server.send(
        "POST",
        "/kapacitor/v1/write?db=dbname&rp=rpname&precision=s",
        body,
    );
    assert_eq!(response.status().as_u16(), 204, "{:?}", response.text());

    let line = server.wait_for_log("prefix=SEEN");
    assert!(line.contains("msg=point"), "{line}");
    for field in [
        "name=cpu",
        "db=dbname",
        "rp=rpname",
        "dimension=host",
        "tag_host=a",
        "field_value=1.5",
        "time=1971-01-01T00:00:00Z",
        "node=log2",
        "task=logged",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    let begin = server.wait_for_log("msg=\"begin batch\"");
    assert!(begin.contains("prefix=WINDOW"), "{begin}");
    assert!(begin.contains("lvl=error"), "{begin}");
    let point = server.wait_for_log("msg=\"batch point\"");
    assert!(point.contains("field_value=1.5"), "{point}");
    server.wait_for_log("msg=\"end batch\"");

    // The window went on to httpOut unchanged.
    let out: serde_json::Value = server
        .get("/kapacitor/v1/tasks/logged/windows")
        .json()
        .expect("httpOut answers JSON");
    assert_eq!(out["series"][0]["values"][0][1], 1.5, "{out}");
}

#[test]
fn an_unknown_level_is_refused_with_the_levels() {
    let server = Klaxond::start();
    let (status, answer) = server.define_task(
        "badlevel",
        "stream|from()|log().level('verbose')",
        &[("dbname", "rpname")],
    );
    assert_eq!(status, 400, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(".level('verbose') is not a level; use DEBUG, INFO, WARN or ERROR"),
        "{answer}"
    );
}
