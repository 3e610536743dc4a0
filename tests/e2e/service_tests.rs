//! The service-tests API and `klaxon service-tests`, against a real klaxond.

use klaxon_e2e::Klaxond;

#[test]
fn unknown_service_is_404_and_missing_name_is_400() {
    let server = Klaxond::start();
    let response = server.get("/kapacitor/v1/service-tests/nosuch");
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(body["error"], "service \"nosuch\" not found");
    let response = server.send("POST", "/kapacitor/v1/service-tests/nosuch", "null");
    assert_eq!(response.status(), 404);
    let response = server.get("/kapacitor/v1/service-tests/");
    assert_eq!(response.status(), 400);
    let response = server.get("/kapacitor/v1/service-tests?pattern=%5B");
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().unwrap();
    assert!(
        body["error"].as_str().unwrap().starts_with("bad pattern: "),
        "{body}"
    );
}

#[test]
fn cli_reports_connection_failures_with_exit_code_4() {
    let server = Klaxond::start();
    let url = "http://127.0.0.1:1";
    let output = std::process::Command::new(klaxon_e2e::klaxon_bin())
        .args(["-url", url, "list", "service-tests"])
        .current_dir(server.dir())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        err.starts_with("Error: cannot connect to http://127.0.0.1:1"),
        "{err}"
    );
}

#[test]
fn cli_usage_errors_exit_with_2() {
    let server = Klaxond::start();
    let output = server.cli(&["list", "nothing-like-this"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn stock_server_has_exactly_the_bundled_handlers() {
    let server = Klaxond::start();
    let list: serde_json::Value = server.get("/kapacitor/v1/service-tests").json().unwrap();
    let names: Vec<&str> = list["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let sections = klaxon_e2e::bundled_sections();
    assert_eq!(names, sections);
    for expected in ["exec", "foo", "tcp", "httppost", "smtp"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert_eq!(list["link"]["href"], "/kapacitor/v1/service-tests");
    let tcp = names.iter().position(|n| *n == "tcp").unwrap();
    assert_eq!(
        list["services"][tcp]["link"]["href"],
        "/kapacitor/v1/service-tests/tcp"
    );

    let output = server.cli(&["list", "service-tests"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("Service Name\n{}\n", sections.join("\n"))
    );

    let output = server.cli(&["list", "service-tests", "tc*"]);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "Service Name\ntcp\n"
    );
    let none: serde_json::Value = server
        .get("/kapacitor/v1/service-tests?pattern=zz*")
        .json()
        .unwrap();
    assert_eq!(none["services"], serde_json::Value::Null);
}

#[test]
fn foo_service_test_fails_until_enabled_then_reaches_the_demo_server() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let foo = runtime
        .block_on(klaxon_handler_foo::demo::FooServer::start())
        .unwrap();

    let server = Klaxond::start();
    // The table, then a failed test's exit status (Kapacitor's CLI exits 0; issue #16).
    let output = server.cli(&["service-tests", "foo"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "Service             Success   Message\nfoo                 false     service is not enabled\n"
    );
    drop(server);

    let server = Klaxond::builder()
        .config(&format!(
            "[foo]\nenabled = true\nurl = {:?}\nroom = \"alerts\"\n",
            foo.url()
        ))
        .start();
    let output = server.cli(&["service-tests", "foo"]);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "Service             Success   Message\nfoo                 true      \n"
    );
    let messages = foo.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to_string(), "alerts: test foo message");
}

#[test]
fn service_test_options_are_decoded_into_the_defaults() {
    let server = Klaxond::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let body = serde_json::json!({ "address": address }).to_string();
    let response = server.send("POST", "/kapacitor/v1/service-tests/tcp", &body);
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().unwrap(),
        "{\"success\":true,\"message\":\"\"}\n"
    );
    let (mut peer, _) = listener.accept().unwrap();
    let mut received = String::new();
    std::io::Read::read_to_string(&mut peer, &mut received).unwrap();
    assert!(received.ends_with("}\n\n"), "{received:?}");

    let response = server.send("POST", "/kapacitor/v1/service-tests/tcp", "null");
    let result: serde_json::Value = response.json().unwrap();
    assert_eq!(result["success"], false);
    assert!(
        result["message"].as_str().unwrap().contains("address"),
        "{result}"
    );

    let response = server.send(
        "POST",
        "/kapacitor/v1/service-tests/tcp",
        r#"{"adress": "x"}"#,
    );
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().unwrap();
    assert_eq!(
        body["error"],
        r#"failed to decode JSON body: tcp: unknown option "adress", expected one of: address"#
    );
    let response = server.send("POST", "/kapacitor/v1/service-tests/tcp", "{not json");
    assert_eq!(response.status(), 400);
}
