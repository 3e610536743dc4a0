//! The config override API (reference 4.2): shapes, live updates, persistence across a crash.

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

#[test]
fn overrides_apply_live_and_survive_sigkill() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let foo = runtime
        .block_on(klaxon_handler_foo::demo::FooServer::start())
        .unwrap();
    let mut server = Klaxond::start();

    let (status, all) = body(server.get("/kapacitor/v1/config"));
    assert_eq!(status, 200);
    assert_eq!(all["link"]["href"], "/kapacitor/v1/config");
    let sections: Vec<&String> = all["sections"].as_object().unwrap().keys().collect();
    assert_eq!(
        sections,
        klaxon_e2e::bundled_sections().iter().collect::<Vec<_>>()
    );
    assert_eq!(
        all["sections"]["foo"],
        json!({"link": {"rel": "self", "href": "/kapacitor/v1/config/foo"},
               "elements": [{"link": {"rel": "self", "href": "/kapacitor/v1/config/foo/"},
                             "options": {"enabled": false, "insecure-skip-verify": false,
                                         "room": "", "ssl-ca": "", "timeout": "10s", "url": ""},
                             "redacted": null}]})
    );
    let text = server.get("/kapacitor/v1/config/foo/").text().unwrap();
    assert!(
        text.starts_with("{\n    \"link\": {\n        \"rel\": \"self\",\n        \"href\": \"/kapacitor/v1/config/foo/\""),
        "{text}"
    );
    let (status, err) = body(server.get("/kapacitor/v1/config/nosuch"));
    assert_eq!(
        (status, err["error"].clone()),
        (404, json!("unknown section: nosuch"))
    );
    let (status, err) = body(server.send("POST", "/kapacitor/v1/config/foo", "{}"));
    assert_eq!(
        (status, err["error"].clone()),
        (
            400,
            json!("element not specified, are you missing a trailing '/'?")
        )
    );
    let (status, err) = body(server.send(
        "POST",
        "/kapacitor/v1/config/foo/",
        r#"{"set": {"rom": "x"}}"#,
    ));
    assert_eq!(status, 400);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .starts_with("failed to apply update: foo: unknown key \"rom\""),
        "{err}"
    );
    let (status, err) = body(server.send(
        "POST",
        "/kapacitor/v1/config/foo/",
        r#"{"set": {"enabled": true}}"#,
    ));
    assert_eq!(status, 400);
    assert_eq!(
        err["error"],
        "failed to apply update: foo: must specify the Foo server URL"
    );

    let set = json!({"set": {"enabled": true, "url": foo.url(), "room": "ops", "timeout": "5s"}});
    let response = server.send("POST", "/kapacitor/v1/config/foo/", &set.to_string());
    assert_eq!(response.status(), 204);
    let (_, element) = body(server.get("/kapacitor/v1/config/foo/"));
    assert_eq!(element["options"]["room"], "ops");
    assert_eq!(element["options"]["timeout"], "5s");
    // Live: the running service uses the new section at once.
    let (_, result) = body(server.send("POST", "/kapacitor/v1/service-tests/foo", "null"));
    assert_eq!(result["success"], true, "{result}");

    server.kill();
    server.restart();
    let (_, element) = body(server.get("/kapacitor/v1/config/foo/"));
    assert_eq!(element["options"]["room"], "ops");
    assert_eq!(element["options"]["enabled"], true);
    let (_, result) = body(server.send("POST", "/kapacitor/v1/service-tests/foo", "null"));
    assert_eq!(result["success"], true, "{result}");
    let rooms: Vec<String> = foo.messages().iter().map(|m| m.to_string()).collect();
    assert_eq!(rooms, ["ops: test foo message", "ops: test foo message"]);

    // delete puts a key back to its default, and that is stored too.
    let response = server.send(
        "POST",
        "/kapacitor/v1/config/foo/",
        r#"{"delete": ["room"]}"#,
    );
    assert_eq!(response.status(), 204);
    server.kill();
    server.restart();
    let (_, element) = body(server.get("/kapacitor/v1/config/foo/"));
    assert_eq!(element["options"]["room"], "");
    assert_eq!(element["options"]["enabled"], true);
}

#[test]
fn the_config_api_can_be_turned_off() {
    let server = Klaxond::builder()
        .config("[config-override]\nenabled = false\n")
        .start();
    for (method, path) in [
        ("GET", "/kapacitor/v1/config"),
        ("POST", "/kapacitor/v1/config/foo/"),
    ] {
        let (status, err) = body(server.send(method, path, r#"{"set": {"room": "x"}}"#));
        assert_eq!(
            (status, err["error"].clone()),
            (403, json!("config override service is not enabled"))
        );
    }
}

/// `[[httppost]]` through the config API, as Kapacitor's: elements by their `endpoint`, `add`,
/// `set` on one element, `remove`; the changed list survives a restart.
#[test]
fn list_sections_have_one_element_per_entry_and_take_add_set_and_remove() {
    let mut server = Klaxond::builder()
        .config("[[httppost]]\nendpoint = \"ops\"\nurl = \"http://127.0.0.1:9/ops\"\n")
        .start();
    let (status, section) = body(server.get("/kapacitor/v1/config/httppost"));
    assert_eq!(status, 200, "{section}");
    let hrefs: Vec<&str> = section["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["link"]["href"].as_str().unwrap())
        .collect();
    assert_eq!(hrefs, ["/kapacitor/v1/config/httppost/ops"]);
    assert_eq!(section["elements"][0]["redacted"], json!(["basic-auth"]));
    assert_eq!(section["elements"][0]["options"]["basic-auth"], false);

    let post = |path: &str, body: &str| server.send("POST", path, body);
    let added = post(
        "/kapacitor/v1/config/httppost/",
        r#"{"add": {"endpoint": "pager", "url": "http://127.0.0.1:9/pager"}}"#,
    );
    assert_eq!(added.status(), 204);
    let changed = post(
        "/kapacitor/v1/config/httppost/pager",
        r#"{"set": {"url": "http://127.0.0.1:9/paging"}}"#,
    );
    assert_eq!(changed.status(), 204);
    let (status, element) = body(server.get("/kapacitor/v1/config/httppost/pager"));
    assert_eq!(
        (status, &element["options"]["url"]),
        (200, &json!("http://127.0.0.1:9/paging"))
    );

    for (path, request, expected) in [
        (
            "/kapacitor/v1/config/httppost/",
            r#"{"set": {"url": "x"}}"#,
            "element not specified for list section httppost",
        ),
        (
            "/kapacitor/v1/config/httppost/nope",
            r#"{"set": {"url": "x"}}"#,
            "section httppost has no element \"nope\"",
        ),
        (
            "/kapacitor/v1/config/httppost/",
            r#"{"add": {"url": "x"}}"#,
            "the element to add to httppost needs its endpoint",
        ),
        (
            "/kapacitor/v1/config/httppost/",
            r#"{"add": {"endpoint": "ops"}}"#,
            "section httppost already has an element \"ops\"",
        ),
        (
            "/kapacitor/v1/config/httppost/pager",
            r#"{"set": {"url": "not a url"}}"#,
            "url \"not a url\" has no scheme",
        ),
    ] {
        let (status, err) = body(post(path, request));
        assert_eq!(status, 400, "{path} {request}: {err}");
        let message = err["error"].as_str().unwrap();
        assert!(message.contains(expected), "{path} {request}: {message}");
    }

    let removed = post("/kapacitor/v1/config/httppost/", r#"{"remove": ["ops"]}"#);
    assert_eq!(removed.status(), 204);
    server.kill();
    server.restart();
    let (_, section) = body(server.get("/kapacitor/v1/config/httppost"));
    let names: Vec<&str> = section["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["options"]["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pager"], "{section}");
}
