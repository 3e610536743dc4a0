//! The topics and topic-handlers API (reference 3.2 to 3.4): shapes, status codes, errors.

use klaxon_e2e::Klaxond;
use serde_json::{Value, json};

pub const TEST_EVENTS: &str = "[alert]\ntest-events = true\n";

fn json_of(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn error_of(response: reqwest::blocking::Response) -> (u16, String) {
    let (status, body) = json_of(response);
    assert_eq!(body["error"], body["message"], "{body}");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Posts a test event into `topic` (the `[alert] test-events` route).
pub fn post_event(server: &Klaxond, topic: &str, event: Value) {
    let response = server.send(
        "POST",
        &format!("/kapacitor/v1/alerts/topics/{topic}/events"),
        &event.to_string(),
    );
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
}

const HANDLERS: &str = "/kapacitor/v1/alerts/topics/system/handlers";

#[test]
fn handler_crud_answers_with_kapacitors_shapes_and_status_codes() {
    let server = Klaxond::start();
    let create = json!({"id": "myhandler", "topic": "ignored", "kind": "tcp",
                        "options": {"address": "127.0.0.1:9"}});
    let response = server.send("POST", HANDLERS, &create.to_string());
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let expected = "{\n    \"link\": {\n        \"rel\": \"self\",\n        \"href\": \
        \"/kapacitor/v1/alerts/topics/system/handlers/myhandler\"\n    },\n    \"id\": \"myhandler\",\n    \
        \"kind\": \"tcp\",\n    \"options\": {\n        \"address\": \"127.0.0.1:9\"\n    },\n    \"match\": \"\"\n}";
    assert_eq!(response.text().unwrap(), expected);
    let response = server.get(&format!("{HANDLERS}/myhandler"));
    assert_eq!(response.text().unwrap(), expected);

    // Errors of reference 3.4.
    let cases: [(&str, u16, &str); 8] = [
        ("{not json", 400, "invalid handler json: "),
        (
            r#"{"id":"a b","kind":"tcp"}"#,
            400,
            "invalid handler spec: handler ID must contain only letters, numbers, '-', '.' and '_'. \"a b\"",
        ),
        (
            r#"{"id":"x"}"#,
            400,
            "invalid handler spec: handler Kind must not be empty",
        ),
        (
            r#"{"id":"myhandler","kind":"tcp","options":{"address":"127.0.0.1:9"}}"#,
            500,
            "failed to create handler: cannot register handler, handler with ID \"myhandler\" already exists",
        ),
        (
            r#"{"id":"x","kind":"zabbix"}"#,
            500,
            "failed to create handler: unsupported action kind \"zabbix\"; this server has: aggregate, alerta, ",
        ),
        (
            r#"{"id":"x","kind":"tcp","options":{"foo":1}}"#,
            500,
            "failed to create handler: tcp: unknown option \"foo\", expected one of: address",
        ),
        (
            r#"{"id":"x","kind":"tcp","options":{"address":"127.0.0.1:9"},"match":"level() == CRIT"}"#,
            500,
            "failed to create handler: invalid match expression: ",
        ),
        (
            r#"{"id":"x","kind":"aggregate","options":{"id":"a","topic":"b","interval":0}}"#,
            500,
            "failed to create handler: aggregate: interval must be greater than zero",
        ),
    ];
    for (body, status, prefix) in cases {
        let (got_status, error) = error_of(server.send("POST", HANDLERS, body));
        assert_eq!(got_status, status, "{body}: {error}");
        assert!(error.starts_with(prefix), "{body}: {error}");
    }
    let bad_topic = server.send(
        "POST",
        "/kapacitor/v1/alerts/topics/a%20b/handlers",
        r#"{"id":"x","kind":"tcp"}"#,
    );
    let (status, error) = error_of(bad_topic);
    assert_eq!(status, 400);
    assert_eq!(
        error,
        "invalid handler spec: handler topic must contain only letters, numbers, '-', '.', ':' and '_'. \"a b\""
    );

    // PATCH (RFC 6902) as in TestServer_AlertHandlers_CRUD, with our kinds.
    let patch = json!([
        {"op": "replace", "path": "/kind", "value": "exec"},
        {"op": "remove", "path": "/options/address"},
        {"op": "add", "path": "/options/prog", "value": "/bin/true"},
        {"op": "add", "path": "/options/args", "value": ["b", "a"]},
        {"op": "replace", "path": "/match", "value": "changed() == TRUE"}
    ]);
    let (status, body) = json_of(server.send(
        "PATCH",
        &format!("{HANDLERS}/myhandler"),
        &patch.to_string(),
    ));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"link": {"rel": "self", "href": format!("{HANDLERS}/myhandler")},
               "id": "myhandler", "kind": "exec",
               "options": {"args": ["b", "a"], "prog": "/bin/true"}, "match": "changed() == TRUE"})
    );
    let change_topic = json!([{"op": "replace", "path": "/topic", "value": "other"}]);
    let (status, error) = error_of(server.send(
        "PATCH",
        &format!("{HANDLERS}/myhandler"),
        &change_topic.to_string(),
    ));
    assert_eq!(
        (status, error.as_str()),
        (
            500,
            "failed to update handler: cannot change topic in update"
        )
    );
    let (status, error) = error_of(server.send("PATCH", &format!("{HANDLERS}/myhandler"), "{"));
    assert_eq!(status, 400);
    assert!(error.starts_with("invalid patch json: "), "{error}");
    let bad_path = json!([{"op": "remove", "path": "/options/nothing"}]);
    let (status, error) = error_of(server.send(
        "PATCH",
        &format!("{HANDLERS}/myhandler"),
        &bad_path.to_string(),
    ));
    assert_eq!(status, 400);
    assert!(error.starts_with("failed to apply patch: "), "{error}");
    let (status, _) = error_of(server.send("PATCH", &format!("{HANDLERS}/nosuch"), "[]"));
    assert_eq!(status, 404);

    // PUT renames.
    let put = json!({"id": "newid", "kind": "tcp", "options": {"address": "127.0.0.1:9"}});
    let (status, body) =
        json_of(server.send("PUT", &format!("{HANDLERS}/myhandler"), &put.to_string()));
    assert_eq!(status, 200);
    assert_eq!(body["link"]["href"], format!("{HANDLERS}/newid"));
    let (status, error) = error_of(server.get(&format!("{HANDLERS}/myhandler")));
    assert_eq!(
        (status, error.as_str()),
        (404, "unknown handler: \"myhandler\"")
    );
    let (status, error) =
        error_of(server.send("PUT", &format!("{HANDLERS}/myhandler"), &put.to_string()));
    assert_eq!(
        (status, error.as_str()),
        (404, "unknown handler: \"myhandler\"")
    );
    let (status, error) = error_of(server.send("PUT", &format!("{HANDLERS}/newid"), "nope"));
    assert_eq!(status, 400);
    assert!(error.starts_with("failed to unmarshal JSON: "), "{error}");

    // Lists: sorted, pattern, link echoing the request.
    for id in ["handler2", "handler1", "other"] {
        let body = json!({"id": id, "kind": "tcp", "options": {"address": "127.0.0.1:9"}});
        assert_eq!(
            server.send("POST", HANDLERS, &body.to_string()).status(),
            200
        );
    }
    let (_, list) = json_of(server.get(&format!("{HANDLERS}?pattern=handler%2A")));
    assert_eq!(
        list["link"]["href"],
        format!("{HANDLERS}?pattern=handler%2A")
    );
    assert_eq!(list["topic"], "system");
    let ids: Vec<&str> = list["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["handler1", "handler2"]);
    let (_, all) = json_of(server.get(HANDLERS));
    assert_eq!(all["handlers"].as_array().unwrap().len(), 4);
    let (status, _) = error_of(server.get(&format!("{HANDLERS}?pattern=%5B")));
    assert_eq!(status, 400);
    let (status, none) = json_of(server.get("/kapacitor/v1/alerts/topics/nosuch/handlers"));
    assert_eq!((status, none["handlers"].clone()), (200, json!([])));

    // DELETE is 204, twice.
    for _ in 0..2 {
        let response = server.send("DELETE", &format!("{HANDLERS}/newid"), "");
        assert_eq!(response.status(), 204);
    }
    // The preview base answers too.
    let (status, body) =
        json_of(server.get("/kapacitor/v1preview/alerts/topics/system/handlers/other"));
    assert_eq!(status, 200);
    assert_eq!(
        body["link"]["href"],
        "/kapacitor/v1preview/alerts/topics/system/handlers/other"
    );
}

#[test]
fn topics_and_events_answer_with_kapacitors_shapes() {
    let server = Klaxond::builder().config(TEST_EVENTS).start();
    // A handler creates its topic.
    let body = json!({"id": "h", "kind": "tcp", "options": {"address": "127.0.0.1:9"}});
    server.send(
        "POST",
        "/kapacitor/v1/alerts/topics/misc/handlers",
        &body.to_string(),
    );
    let response = server.get("/kapacitor/v1/alerts/topics/misc");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().unwrap(),
        "{\n    \"link\": {\n        \"rel\": \"self\",\n        \"href\": \"/kapacitor/v1/alerts/topics/misc\"\n    },\n    \
         \"id\": \"misc\",\n    \"level\": \"OK\",\n    \"collected\": 0,\n    \"events-link\": {\n        \"rel\": \"events\",\n        \
         \"href\": \"/kapacitor/v1/alerts/topics/misc/events\"\n    },\n    \"handlers-link\": {\n        \"rel\": \"handlers\",\n        \
         \"href\": \"/kapacitor/v1/alerts/topics/misc/handlers\"\n    }\n}"
    );

    post_event(
        &server,
        "test",
        json!({"id": "id", "message": "message", "details": "details",
               "time": "1970-01-01T00:00:00Z", "level": "WARNING", "duration": 2_000_000}),
    );
    post_event(&server, "test", json!({"id": "b", "level": "CRITICAL"}));
    post_event(&server, "test", json!({"id": "a", "level": "OK"}));
    post_event(&server, "warn", json!({"id": "w", "level": "WARNING"}));
    // Kapacitor-style IDs with slashes are reachable (Kapacitor's route could not match them).
    post_event(
        &server,
        "slash",
        json!({"id": "kapacitor/cpu/serverA", "level": "INFO"}),
    );
    let (status, slashed) =
        json_of(server.get("/kapacitor/v1/alerts/topics/slash/events/kapacitor/cpu/serverA"));
    assert_eq!(
        (status, slashed["id"].clone()),
        (200, json!("kapacitor/cpu/serverA"))
    );

    let (_, topic) = json_of(server.get("/kapacitor/v1/alerts/topics/test"));
    // The true maximum, not Kapacitor's sort artefact.
    assert_eq!(
        (topic["level"].clone(), topic["collected"].clone()),
        (json!("CRITICAL"), json!(3))
    );

    let path = "/kapacitor/v1/alerts/topics?min-level=OK&pattern=";
    let (_, list) = json_of(server.get(path));
    assert_eq!(list["link"]["href"], path);
    let ids = |list: &Value| -> Vec<String> {
        list["topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&list), ["misc", "slash", "test", "warn"]);
    let (_, list) = json_of(server.get("/kapacitor/v1/alerts/topics?min-level=critical"));
    assert_eq!(ids(&list), ["test"]);
    let (_, list) = json_of(server.get("/kapacitor/v1/alerts/topics?pattern=t%2A"));
    assert_eq!(ids(&list), ["test"]);
    let (status, error) = error_of(server.get("/kapacitor/v1/alerts/topics?min-level=LOUD"));
    assert_eq!(
        (status, error.as_str()),
        (400, "unknown alert level 'LOUD'")
    );
    let (status, error) = error_of(server.get("/kapacitor/v1/alerts/topics?pattern=%5B"));
    assert_eq!(status, 400);
    assert!(error.starts_with("invalid pattern: "), "{error}");

    let (_, events) =
        json_of(server.get("/kapacitor/v1/alerts/topics/test/events?min-level=WARNING"));
    assert_eq!(
        events,
        json!({
            "link": {"rel": "self", "href": "/kapacitor/v1/alerts/topics/test/events"},
            "topic": "test",
            "events": [
                {"link": {"rel": "self", "href": "/kapacitor/v1/alerts/topics/test/events/b"},
                 "id": "b", "state": events["events"][0]["state"].clone()},
                {"link": {"rel": "self", "href": "/kapacitor/v1/alerts/topics/test/events/id"},
                 "id": "id",
                 "state": {"message": "message", "details": "details",
                           "time": "1970-01-01T00:00:00Z", "duration": "2ms", "level": "WARNING"}}
            ]
        })
    );
    let (_, events) =
        json_of(server.get("/kapacitor/v1/alerts/topics/warn/events?min-level=CRITICAL"));
    assert_eq!(events["events"], json!([]));
    let (status, event) = json_of(server.get("/kapacitor/v1/alerts/topics/test/events/a"));
    assert_eq!(
        (status, event["state"]["level"].clone()),
        (200, json!("OK"))
    );
    let (status, error) = error_of(server.get("/kapacitor/v1/alerts/topics/test/events/zz"));
    assert_eq!(
        (status, error.as_str()),
        (404, "unknown event \"zz\" in topic \"test\"")
    );
    let (status, error) = error_of(server.get("/kapacitor/v1/alerts/topics/nosuch"));
    assert_eq!((status, error.as_str()), (404, "unknown topic: \"nosuch\""));
    let (status, error) = error_of(server.get("/kapacitor/v1/alerts/topics/nosuch/events"));
    assert_eq!(
        (status, error.as_str()),
        (500, "failed to get topic events: unknown topic \"nosuch\"")
    );

    for _ in 0..2 {
        assert_eq!(
            server
                .send("DELETE", "/kapacitor/v1/alerts/topics/test", "")
                .status(),
            204
        );
    }
    assert_eq!(server.get("/kapacitor/v1/alerts/topics/test").status(), 404);
}

#[test]
fn the_test_event_route_is_off_by_default() {
    let server = Klaxond::start();
    let response = server.send(
        "POST",
        "/kapacitor/v1/alerts/topics/t/events",
        r#"{"id":"a","level":"CRITICAL"}"#,
    );
    let (status, error) = error_of(response);
    assert_eq!((status, error.as_str()), (404, "Not Found"));
    assert_eq!(server.get("/kapacitor/v1/alerts/topics/t").status(), 404);
}
