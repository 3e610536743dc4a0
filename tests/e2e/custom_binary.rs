//! A custom server binary: examples/tcp-only, two dependencies and `klaxon_server::main()`, has
//! exactly the handlers it names and says so.

use std::process::Command;

use klaxon_e2e::{Klaxond, tcp_only_bin};

#[test]
fn version_lists_only_the_linked_handler() {
    let output = Command::new(tcp_only_bin())
        .arg("version")
        .output()
        .expect("run klaxond-tcp-only");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert!(stdout.ends_with("\nhandlers: tcp\n"), "{stdout}");
}

#[test]
fn the_server_reports_only_tcp_at_startup_and_in_service_tests() {
    let server = Klaxond::builder().binary(tcp_only_bin()).start();

    let listening = server
        .log_text()
        .lines()
        .find(|line| line.contains("klaxon listening"))
        .map(str::to_owned)
        .expect("a listening line");
    assert!(listening.contains(" handlers=tcp"), "{listening}");

    let list: serde_json::Value = server
        .get("/kapacitor/v1/service-tests")
        .json()
        .expect("JSON");
    let names: Vec<&str> = list["services"]
        .as_array()
        .expect("a list of services")
        .iter()
        .map(|s| s["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(names, ["tcp"]);

    // A handler kind of the stock server that this one was not built with.
    let response = server.get("/kapacitor/v1/service-tests/exec");
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().expect("JSON");
    assert_eq!(body["error"], "service \"exec\" not found");
    // A handler file of that kind, defined with the CLI.
    let file = "id: run-it\ntopic: cpu\nkind: exec\noptions:\n  prog: /bin/true\n";
    std::fs::write(server.dir().join("exec.yaml"), file).expect("write the handler file");
    let output = server.cli(&["define-topic-handler", "exec.yaml"]);
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("unsupported action kind \"exec\"; this server has: aggregate, publish, tcp"),
        "{stderr}"
    );
}

/// The alert node's own properties, as an unknown property's error lists them.
const ALERT_PROPERTIES: &str = ".all(), .category(), .crit(), .critReset(), .details(), \
     .durationField(), .flapping(), .history(), .id(), .idField(), .idTag(), .info(), .infoReset(), \
     .inhibit(), .levelField(), .levelTag(), .message(), .messageField(), .noRecoveries(), .quiet(), \
     .stateChangesOnly(), .topic(), .warn(), .warnReset()";

#[test]
fn a_task_naming_a_handler_this_server_lacks_is_refused_with_its_position() {
    let server = Klaxond::builder().binary(tcp_only_bin()).start();
    // `.exec` starts at line 6, column 4.
    let script = "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: TRUE)\n   .exec('/bin/true')\n";
    let expected = format!(
        "invalid TICKscript: line 6, column 4: |alert() has no property .exec(); it has: {}; and \
         the handlers of this server: .tcp()",
        ALERT_PROPERTIES
    );

    let body = serde_json::json!({"id": "run_it", "type": "stream", "script": script});
    let response = server.send("POST", "/kapacitor/v1/tasks", &body.to_string());
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().expect("JSON");
    assert_eq!(body["error"], expected);

    std::fs::write(server.dir().join("run_it.tick"), script).expect("write the TICKscript");
    let output = server.cli(&["define", "run_it", "-tick", "run_it.tick"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    // The CLI shows where in the file, as rustc does.
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!(
            "Error: {expected}\n --> run_it.tick:6:4\n  |\n6 |    .exec('/bin/true')\n  |    ^\n"
        )
    );
    let list: serde_json::Value = server.get("/kapacitor/v1/tasks").json().expect("JSON");
    assert_eq!(list["tasks"], serde_json::json!([]), "nothing was defined");
}
