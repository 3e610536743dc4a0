//! The victorops handler through the real path: configuration and options decoded by the
//! registry, requests sent to a local stand-in for VictorOps and checked byte for byte against
//! what Kapacitor sends for the same alert (its `TestServer_AlertHandlers` and
//! `TestStream_AlertVictorOps*` cases).

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{
    alert_handlers_event, assert_disabled_service_test_fails, assert_documented, assert_global,
    assert_handler_files_accepted, assert_registered_and_builds, handler,
};
use klaxon_core::{DynService, Event, HandlerError, Level, Service, Timestamp};
use klaxon_http::testing::{Answer, Received, Receiver, service_posting_to};
use serde_json::{Value, json};

use crate::VictoropsService;
use crate::api::{alert_url, explain};

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<VictoropsService>(config).map_err(|e| e.to_string())
}

/// An enabled service posting to `receiver`, with `extra` configuration keys.
fn service(receiver: &Receiver, extra: Value) -> Arc<dyn DynService> {
    service_posting_to::<VictoropsService>(
        receiver,
        json!({"enabled": true, "api-key": "api_key"}),
        extra,
    )
}

/// The event of Kapacitor's `TestStream_AlertVictorOps`, with the default `.message()`.
fn stream_test_event() -> Event {
    klaxon_core::testing::stream_alert_event("kapacitor/cpu/serverA is CRITICAL")
}

/// The body Kapacitor sends for `stream_test_event`, its data as a string.
const STREAM_BODY: &str = concat!(
    r#"{"data":"{\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"serverA\"},\"columns\":[\"time\",\"count\"],"#,
    r#"\"values\":[[\"1971-01-01T00:00:10Z\",10]]}]}","entity_id":"kapacitor/cpu/serverA","message_type":"CRITICAL","#,
    r#""monitoring_tool":"kapacitor","state_message":"kapacitor/cpu/serverA is CRITICAL","timestamp":31536010}"#
);

/// Asserts a request as Kapacitor's victorops service sends it.
fn assert_kapacitor_request(request: &Received, target: &str, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, target);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), format!("{body}\n"));
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<VictoropsService>(
        &json!({"enabled": true, "api-key": "key", "routing-key": "ops"}),
        &json!({"routing-key": "team_rocket"}),
    );
    assert_documented::<VictoropsService>();
}

#[test]
fn defaults_are_kapacitors_and_the_api_key_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "api-key": "", "routing-key": "",
               "url": "https://alert.victorops.com/integrations/generic/20131114/alert",
               "global": false, "json-data": false, "timeout": "10s"})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["api-key"]
    );
    assert_eq!(service.default_options(), json!({"routing-key": ""}));
}

#[test]
fn kapacitors_sample_section_is_accepted() {
    // The documentation's [victorops], as TOML turns it into.
    build(&json!({
        "enabled": true, "api-key": "xxxx", "routing-key": "xxxx",
        "url": "https://alert.victorops.com/integrations/generic/20131114/alert",
        "json-data": false, "global": false,
    }))
    .expect("Kapacitor's section is accepted");
}

#[test]
fn global_is_kapacitors_global_without_state_changes_only() {
    assert_global::<VictoropsService>();
}

#[test]
fn invalid_configurations_are_refused_naming_the_key() {
    let cases = [
        (
            json!({"enabled": true}),
            "victorops: api-key cannot be empty when enabled; set the API key of your VictorOps REST integration",
        ),
        (
            json!({"url": "alert.victorops.com"}),
            r#"victorops: url "alert.victorops.com" has no scheme; write it like "https://alert.victorops.com""#,
        ),
        (
            json!({"timeout": "0s"}),
            "victorops: timeout must be greater than zero, got 0s",
        ),
        (
            json!({"json_data": true}),
            r#"victorops: unknown key "json_data", expected one of: api-key, enabled, global, json-data, routing-key, timeout, url"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
}

#[test]
fn options_are_kapacitors_and_tickscript_sets_the_routing_key() {
    let service = build(&Value::Null).expect("valid");
    let err = service
        .handler(&json!({"routingKey": "x"}))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"victorops: unknown option "routingKey", expected one of: routing-key"#
    );
    let tick = VictoropsService::TICK;
    assert_eq!(tick.property, "victorOps");
    let options = tick
        .build_options(&[], &[("routingKey", vec![json!("team_rocket")])])
        .expect("valid");
    assert_eq!(options, json!({"routing-key": "team_rocket"}));
    service.handler(&options).expect("accepted");
}

#[test]
fn alert_urls_join_the_keys_onto_the_path_as_go_does() {
    let cases = [
        (
            crate::DEFAULT_URL,
            "k",
            "r",
            format!("{}/k/r", crate::DEFAULT_URL),
        ),
        (
            crate::DEFAULT_URL,
            "k",
            "",
            format!("{}/k", crate::DEFAULT_URL),
        ),
        (
            "http://127.0.0.1:9/",
            "api_key",
            "key",
            "http://127.0.0.1:9/api_key/key".to_owned(),
        ),
        (
            "https://proxy.example.com/vo/?x=1",
            "k",
            "r",
            "https://proxy.example.com/vo/k/r?x=1".to_owned(),
        ),
    ];
    for (url, api_key, routing_key, expected) in cases {
        assert_eq!(
            alert_url(url, api_key, routing_key)
                .expect("valid")
                .as_str(),
            expected
        );
    }
}

/// `TestServer_AlertHandlers`, case victorops (and `TestServer_AlertHandler_MultipleHandlers`).
#[tokio::test]
async fn a_handler_file_sends_kapacitors_alert() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(
        &*service(&receiver, json!({})),
        json!({"routing-key": "key"}),
    );

    handler.handle(&alert_handlers_event()).await.expect("sent");

    assert_kapacitor_request(
        &receiver.next(),
        "/api_key/key",
        concat!(
            r#"{"data":"{\"series\":[{\"name\":\"alert\",\"columns\":[\"time\",\"value\"],\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]}","#,
            r#""entity_id":"id","message_type":"CRITICAL","monitoring_tool":"kapacitor","state_message":"message","timestamp":0}"#
        ),
    );
}

/// `TestStream_AlertVictorOps`: two handlers with their own routing keys.
#[tokio::test]
async fn tickscript_handlers_send_kapacitors_alerts() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"routing-key": "routing_key"}));
    let tick = VictoropsService::TICK;
    let event = stream_test_event();
    for key in ["test_key", "test_key2"] {
        let options = tick
            .build_options(&[], &[("routingKey", vec![json!(key)])])
            .expect("valid");
        handler(&*service, options)
            .handle(&event)
            .await
            .expect("sent");
    }

    assert_kapacitor_request(&receiver.next(), "/api_key/test_key", STREAM_BODY);
    assert_kapacitor_request(&receiver.next(), "/api_key/test_key2", STREAM_BODY);
}

/// `TestStream_AlertVictorOps_JSON_Data`: the configured routing key, the data as an object.
#[tokio::test]
async fn json_data_sends_the_data_as_an_object() {
    let receiver = Receiver::http(vec![]);
    let service = service(
        &receiver,
        json!({"routing-key": "routing_key", "json-data": true}),
    );

    handler(&*service, json!({}))
        .handle(&stream_test_event())
        .await
        .expect("sent");

    assert_kapacitor_request(
        &receiver.next(),
        "/api_key/routing_key",
        concat!(
            r#"{"data":{"series":[{"name":"cpu","tags":{"host":"serverA"},"columns":["time","count"],"#,
            r#""values":[["1971-01-01T00:00:10Z",10]]}]},"entity_id":"kapacitor/cpu/serverA","message_type":"CRITICAL","#,
            r#""monitoring_tool":"kapacitor","state_message":"kapacitor/cpu/serverA is CRITICAL","timestamp":31536010}"#
        ),
    );
}

#[tokio::test]
async fn levels_are_message_types_and_ok_is_a_recovery() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&receiver, json!({})), json!({}));
    for (level, message_type) in [
        (Level::Ok, "RECOVERY"),
        (Level::Info, "INFO"),
        (Level::Warning, "WARNING"),
        (Level::Critical, "CRITICAL"),
    ] {
        let mut event = stream_test_event();
        event.state.level = level;
        // Before 1970 too, whole seconds round down as Go's Unix() does.
        event.state.time = Timestamp::from_nanos(-1);
        handler.handle(&event).await.expect("sent");
        let request = receiver.next();
        assert_eq!(request.target, "/api_key", "no routing key anywhere");
        let body: Value = serde_json::from_slice(&request.body).expect("JSON");
        assert_eq!(body["message_type"], message_type);
        assert_eq!(body["timestamp"], -1);
    }
}

#[test]
fn victorops_errors_are_explained_by_their_message() {
    assert_eq!(
        explain(r#"{"result":"failure","message":"Missing fields: message_type"}"#),
        "Missing fields: message_type"
    );
    assert_eq!(explain("Not Found\n"), "Not Found");
}

#[tokio::test]
async fn failures_never_show_the_api_key() {
    let receiver = Receiver::http(vec![
        Answer::status(404),
        Answer::status(400).body(r#"{"result":"failure","message":"Missing fields: entity_id"}"#),
        Answer::status(503).header("Retry-After", "5"),
    ]);
    let base = receiver.url().to_owned();
    let service = service(&receiver, json!({"api-key": "s3cr3t"}));
    let handler = handler(&*service, json!({"routing-key": "ops"}));
    let event = stream_test_event();

    let missing = handler.handle(&event).await.expect_err("404");
    assert_eq!(
        missing,
        HandlerError::permanent(format!(
            "POST {base}<api-key>/ops: 404 Not Found: URL or API key not found"
        ))
    );
    let refused = handler.handle(&event).await.expect_err("400");
    assert_eq!(
        refused.message(),
        format!("POST {base}<api-key>/ops: 400 Bad Request: Missing fields: entity_id")
    );
    let unavailable = handler.handle(&event).await.expect_err("503");
    assert!(unavailable.is_retryable());
    assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(5)));
    assert_eq!(receiver.next().target, "/s3cr3t/ops");

    // Nothing listens here: the connection error names the URL, without the key.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", closed.local_addr().expect("address"));
    drop(closed);
    service
        .update(&json!({"enabled": true, "api-key": "s3cr3t", "url": url}))
        .expect("valid");
    let unreachable = handler.handle(&event).await.expect_err("refused");
    assert!(unreachable.is_retryable(), "{unreachable}");
    assert!(!unreachable.message().contains("s3cr3t"), "{unreachable}");
    assert!(
        unreachable
            .message()
            .starts_with(&format!("POST {url}<api-key>/ops: ")),
        "{unreachable}"
    );
}

#[tokio::test]
async fn a_disabled_service_sends_nothing() {
    let receiver = Receiver::http(vec![]);
    let service = build(&json!({"url": receiver.url()})).expect("valid");

    let err = handler(&*service, json!({}))
        .handle(&stream_test_event())
        .await
        .expect_err("disabled");

    assert_eq!(err, HandlerError::permanent("service is not enabled"));
    assert_eq!(receiver.next_within(Duration::from_millis(200)), None);
}

#[tokio::test]
async fn configuration_changes_reach_existing_handlers() {
    let (first, second) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service(&first, json!({"routing-key": "day"}));
    let handler = handler(&*service, json!({}));
    handler.handle(&stream_test_event()).await.expect("sent");

    service
        .update(
            &json!({"enabled": true, "api-key": "night_key", "url": second.url(),
                        "routing-key": "night", "json-data": true}),
        )
        .expect("valid");
    handler.handle(&stream_test_event()).await.expect("sent");

    assert_eq!(first.next().target, "/api_key/day");
    let request = second.next();
    assert_eq!(request.target, "/night_key/night");
    assert!(request.text().starts_with(r#"{"data":{"series":"#));
}

#[test]
fn the_service_tests_options_are_kapacitors() {
    assert_eq!(
        build(&Value::Null).expect("valid").test_options(),
        json!({"routingKey": "", "messageType": "CRITICAL", "message": "test victorops message",
               "entityID": "testEntityID"})
    );
    assert_eq!(
        build(&json!({"routing-key": "ops"}))
            .expect("valid")
            .test_options()["routingKey"],
        "ops"
    );
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_alert() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"routing-key": "ops"}));
    let before = Timestamp::now().as_nanos() / 1_000_000_000;

    service.test(&Value::Null).await.expect("the test passes");
    service
        .test(&json!({"routingKey": "other", "messageType": "RECOVERY"}))
        .await
        .expect("the test passes");

    let request = receiver.next();
    assert_eq!(request.target, "/api_key/ops");
    let body: Value = serde_json::from_slice(&request.body).expect("JSON");
    let timestamp = body["timestamp"].as_i64().expect("seconds");
    assert!(timestamp >= before, "stamped now: {timestamp} < {before}");
    assert_eq!(
        request.text(),
        format!(
            "{}\n",
            concat!(
                r#"{"data":"{\"series\":null}","entity_id":"testEntityID","message_type":"CRITICAL","#,
                r#""monitoring_tool":"kapacitor","state_message":"test victorops message","timestamp":"#,
            )
            .to_owned()
                + &timestamp.to_string()
                + "}"
        )
    );
    let recovery = receiver.next();
    assert_eq!(recovery.target, "/api_key/other");
    assert!(recovery.text().contains(r#""message_type":"RECOVERY""#));
}

#[tokio::test]
async fn the_service_test_reports_a_disabled_service() {
    assert_disabled_service_test_fails::<VictoropsService>().await;
}

/// Kapacitor's documentation: the handler files of the VictorOps page, typed as written.
#[test]
fn the_documented_handler_files_are_accepted() {
    assert_handler_files_accepted::<VictoropsService>(
        &Value::Null,
        &[
            "id: handler-id\ntopic: topic-name\nkind: victorops\noptions:\n  routing-key: ops_team\n",
            "topic: cpu\nid: victorops-cpu-alert\nkind: victorops\noptions:\n  routing-key: 'team_rocket'\n",
        ],
    );
}
