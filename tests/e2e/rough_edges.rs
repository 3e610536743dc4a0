//! Rough edges of issue #16 that had no test of their own: templates through the CLI
//! (`define-template`, `show-template`, `list templates`, `define -template -vars`,
//! `delete templates`), the log lines of disabling a task, and of a delivery that succeeds after
//! retries.

use klaxon_e2e::{Klaxond, TcpSink, wait_for};
use serde_json::{Value, json};

use crate::topic_handlers::{TEST_EVENTS, post_event};

/// A template whose alert fires when `v` passes `limit` (10 unless a task's vars say otherwise),
/// sending `message` to `address`.
fn template(address: &str, message: &str) -> String {
    format!(
        "var limit = 10\n\nstream\n  |from()\n    .measurement('cpu')\n  |alert()\n    \
         .crit(lambda: \"v\" > limit)\n    .message('{message}')\n    .tcp('{address}')\n"
    )
}

fn write(server: &Klaxond, line: &str) {
    let response = server.send("POST", "/write?db=telegraf&rp=autogen", line);
    assert_eq!(response.status(), 204);
}

/// The words of the line of `text` that starts with `start` (a row of a CLI table).
fn row<'a>(text: &'a str, start: &str) -> Vec<&'a str> {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting with {start:?} in:\n{text}"))
        .split_whitespace()
        .collect()
}

/// The task's JSON from the API.
fn task(server: &Klaxond, id: &str) -> Value {
    let response = server.get(&format!("/kapacitor/v1/tasks/{id}"));
    response.json().expect("the task as JSON")
}

/// Rough edge: `show-template` and `list templates` were missing; a Kapacitor user defines
/// templates and tasks from them with the same commands as with `kapacitor`.
#[test]
fn templates_are_defined_shown_listed_used_and_deleted_through_the_cli() {
    let mut server = Klaxond::start();
    let sink = TcpSink::start();
    server.write_file("mean.tick", &template(sink.address(), "first"));
    server.write_file("vars.json", r#"{"limit": {"type": "int", "value": 5}}"#);

    assert_eq!(
        server.cli_ok(&["define-template", "cpu_tpl", "-tick", "mean.tick"]),
        ""
    );
    let shown = server.cli_ok(&["show-template", "cpu_tpl"]);
    assert!(shown.starts_with("ID: cpu_tpl\n"), "{shown}");
    assert!(shown.contains("Type: stream\n"), "{shown}");
    assert!(shown.contains("TICKscript:\nvar limit = 10\n"), "{shown}");
    // The vars table: the name, its type and its default.
    assert_eq!(row(&shown, "limit "), ["limit", "int", "10"]);
    assert!(shown.contains("DOT:\ndigraph cpu_tpl {"), "{shown}");

    let listed = server.cli_ok(&["list", "templates"]);
    assert_eq!(row(&listed, "cpu_tpl "), ["cpu_tpl", "stream", "limit"]);

    // A task from the template with its own vars, enabled: 7 passes its limit of 5.
    assert_eq!(
        server.cli_ok(&[
            "define",
            "cpu",
            "-template",
            "cpu_tpl",
            "-vars",
            "vars.json",
            "-dbrp",
            "telegraf.autogen",
        ]),
        ""
    );
    assert_eq!(task(&server, "cpu")["template-id"], "cpu_tpl");
    assert_eq!(server.cli_ok(&["enable", "cpu"]), "");
    write(&server, "cpu,host=a v=7 1");
    let event = sink.next_json();
    assert_eq!(
        (event["message"].as_str(), event["level"].as_str()),
        (Some("first"), Some("CRITICAL"))
    );

    // Redefining the template changes the task made from it, which keeps its vars.
    server.write_file("mean.tick", &template(sink.address(), "second"));
    assert_eq!(
        server.cli_ok(&["define-template", "cpu_tpl", "-tick", "mean.tick"]),
        ""
    );
    let shown = task(&server, "cpu");
    assert!(
        shown["script"].as_str().unwrap().contains("'second'"),
        "{shown}"
    );
    assert_eq!(
        (
            &shown["vars"]["limit"]["type"],
            &shown["vars"]["limit"]["value"]
        ),
        (&json!("int"), &json!(5))
    );

    // A var of the wrong type is refused, naming the var and both types.
    server.write_file("bad.json", r#"{"limit": {"type": "string", "value": "x"}}"#);
    let output = server.cli(&[
        "define",
        "cpu2",
        "-template",
        "cpu_tpl",
        "-vars",
        "bad.json",
    ]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("\"limit\""), "{err}");

    // Rough edge: disabling a task left no log line.
    let before = server.log_text().len();
    assert_eq!(server.cli_ok(&["disable", "cpu"]), "");
    let line = server.wait_for_log_after(before, "msg=\"task updated\" task=cpu");
    assert!(line.contains("status=disabled changed=status"), "{line}");
    assert!(
        server.log_text()[before..].contains("msg=\"task stopped\" task=cpu"),
        "{}",
        &server.log_text()[before..]
    );
    assert_eq!(server.cli_ok(&["delete", "tasks", "cpu"]), "");
    assert_eq!(server.cli_ok(&["delete", "templates", "cpu_tpl"]), "");
    assert!(
        !server.cli_ok(&["list", "templates"]).contains("cpu_tpl"),
        "the template is still listed"
    );
    // Unknown IDs fail naming them, with a hint where to look.
    for args in [
        &["show-template", "cpu_tpl"][..],
        &["delete", "templates", "cpu_tpl"][..],
    ] {
        let output = server.cli(args);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {output:?}");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains("\"cpu_tpl\""), "{args:?}: {err}");
    }
}

/// Rough edge: a delivery that failed and was retried left warnings in the log and nothing when
/// it finally succeeded, so the event looked lost.
#[test]
fn a_delivery_that_succeeds_after_retries_says_so_in_the_log() {
    let mut server = Klaxond::builder().config(TEST_EVENTS).start();
    // A port with nothing listening yet (std sets SO_REUSEADDR, so it can be bound again).
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    server.define_handler(
        "cpu",
        &json!({"id": "tcp", "kind": "tcp", "options": {"address": address.to_string()}}),
    );
    post_event(&server, "cpu", json!({"id": "e0", "level": "CRITICAL"}));
    wait_for("a failed attempt", || {
        server.log_text().contains("delivery failed; retrying")
    });
    let listener = std::net::TcpListener::bind(address).expect("bind the endpoint again");
    let sink = TcpSink::from_listener(listener);
    assert_eq!(sink.next_json()["id"], "e0");
    let line = server.wait_for_log("delivered after retrying");
    for field in [
        "topic=cpu",
        "handler=tcp",
        "kind=tcp",
        "event=e0",
        "attempt=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    let attempt: u32 = line
        .split("attempt=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no attempt number in {line}"));
    assert!(attempt > 1, "{line}");
}
