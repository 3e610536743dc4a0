//! Issue #25, hostile clients: secrets and the config API. A read user looks for credentials in
//! what the server shows; an admin script tries changes the server would not apply.

use klaxon_e2e::Klaxond;
use serde_json::{Value, json};

fn body(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn credentials_inside_a_handler_url_are_shown_to_nobody() {
    let port = closed_port();
    let url = format!("http://ops:s3cr3t@127.0.0.1:{port}/");
    let mut server = Klaxond::builder()
        .config(&format!("[foo]\nenabled = true\nurl = {url:?}\n"))
        .start();

    // The config API shows the URL with its password redacted.
    let (status, section) = body(server.get("/kapacitor/v1/config/foo"));
    assert_eq!(status, 200);
    assert_eq!(
        section["elements"][0]["options"]["url"],
        format!("http://ops:xxxxx@127.0.0.1:{port}/"),
        "{section}"
    );
    let (_, all) = body(server.get("/kapacitor/v1/config"));
    assert!(!all.to_string().contains("s3cr3t"), "{all}");

    // A service test that fails quotes the URL, redacted.
    let (status, answer) = body(server.send(
        "POST",
        "/kapacitor/v1/service-tests/foo",
        r#"{"room": "r", "message": "m"}"#,
    ));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["success"], false, "{answer}");
    assert!(!answer.to_string().contains("s3cr3t"), "{answer}");

    // A handler and an alert that fails to reach it: the log says so without the password.
    server.define_handler(
        "cpu",
        &json!({"id": "to-foo", "kind": "foo", "options": {}}),
    );
    let (status, task) = server.define_task(
        "cpu",
        "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).topic('cpu')",
        &[("telegraf", "autogen")],
    );
    assert_eq!(status, 200, "{task}");
    assert_eq!(
        server
            .send("POST", "/write?db=telegraf", "cpu,host=a v=1\n")
            .status(),
        204
    );
    server.wait_for_log("service test failed");
    server.wait_for_log("delivery failed");
    let log = server.log_text();
    assert!(!log.contains("s3cr3t"), "{log}");
}

#[test]
fn the_config_api_refuses_what_it_would_not_apply() {
    let server = Klaxond::builder()
        .config("[exec]\nallowed-programs = [\"/bin/true\"]\n")
        .start();
    let allowed = |server: &Klaxond| {
        let (_, section) = body(server.get("/kapacitor/v1/config/exec"));
        section["elements"][0]["options"]["allowed-programs"].clone()
    };

    // Widening the exec allowlist at runtime: refused, naming the key and how to change it.
    let (status, err) = body(server.send(
        "POST",
        "/kapacitor/v1/config/exec/",
        r#"{"set": {"allowed-programs": ["/bin/*"]}}"#,
    ));
    assert_eq!(status, 400, "{err}");
    let message = err["error"].as_str().unwrap();
    assert!(message.contains("allowed-programs"), "{message}");
    assert!(message.contains("restart klaxond"), "{message}");
    assert_eq!(allowed(&server), json!(["/bin/true"]));
    // Emptying it (which would allow every program): refused too.
    let (status, _) = body(server.send(
        "POST",
        "/kapacitor/v1/config/exec/",
        r#"{"delete": ["allowed-programs"]}"#,
    ));
    assert_eq!(status, 400);
    assert_eq!(allowed(&server), json!(["/bin/true"]));
    // And the running server still refuses the program the change asked for.
    let (status, task) = server.define_task(
        "shell",
        "stream|from()|alert().crit(lambda: TRUE).exec('/bin/sh', '-c', 'id')",
        &[("telegraf", "autogen")],
    );
    assert_eq!(status, 400, "{task}");

    // A timeout that fails every delivery at once.
    let (status, err) = body(server.send(
        "POST",
        "/kapacitor/v1/config/exec/",
        r#"{"set": {"timeout": "1ns"}}"#,
    ));
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("[exec] timeout is 1ns; a timeout must be at least 1ms"),
        "{err}"
    );
    let (_, section) = body(server.get("/kapacitor/v1/config/exec"));
    assert_eq!(
        section["elements"][0]["options"]["timeout"], "30s",
        "{section}"
    );
    // A setting it applies live is applied.
    let (status, err) = body(server.send(
        "POST",
        "/kapacitor/v1/config/exec/",
        r#"{"set": {"timeout": "5s"}}"#,
    ));
    assert_eq!(status, 204, "{err}");
    let (_, section) = body(server.get("/kapacitor/v1/config/exec"));
    assert_eq!(section["elements"][0]["options"]["timeout"], "5s");

    // The server's own sections (authentication, bounds) are not offered at all.
    for section in ["http", "limits", "alert"] {
        let (status, err) = body(server.send(
            "POST",
            &format!("/kapacitor/v1/config/{section}/"),
            r#"{"set": {"auth-enabled": false}}"#,
        ));
        assert_eq!(status, 404, "{section}: {err}");
        assert_eq!(err["error"], format!("unknown section: {section}"));
    }
}
