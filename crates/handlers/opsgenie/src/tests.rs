//! The opsgenie handler through the real path: configuration and options decoded by the
//! registry, requests sent to a local stand-in for OpsGenie and checked byte for byte against
//! what Kapacitor sends for the same alert (its `TestServer_AlertHandlers` and
//! `TestStream_AlertOpsGenie` cases).

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{
    alert_handlers_event, assert_disabled_service_test_fails, assert_documented, assert_global,
    assert_handler_files_accepted, assert_registered_and_builds, handler,
};
use klaxon_core::{DynService, Event, HandlerError, Level, Service};
use klaxon_http::testing::{Answer, Received, Receiver, service_posting_to};
use serde_json::{Value, json};

use crate::OpsgenieService;
use crate::api::endpoint;

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<OpsgenieService>(config).map_err(|e| e.to_string())
}

/// An enabled service with the API key `api_key` posting to `receiver` (recoveries to its
/// `/note`), with `extra` configuration keys.
fn service(receiver: &Receiver, extra: Value) -> Arc<dyn DynService> {
    let recovery_url = format!("{}note", receiver.url());
    service_posting_to::<OpsgenieService>(
        receiver,
        json!({"enabled": true, "api-key": "api_key", "recovery_url": recovery_url}),
        extra,
    )
}

/// The event of Kapacitor's `TestStream_AlertOpsGenie`, with the default `.message()`.
fn stream_test_event() -> Event {
    klaxon_core::testing::stream_alert_event("kapacitor/cpu/serverA is CRITICAL")
}

/// Asserts a request as Kapacitor's opsgenie service sends it.
fn assert_kapacitor_request(request: &Received, target: &str, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, target);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), format!("{body}\n"));
}

fn body(request: &Received) -> Value {
    serde_json::from_slice(&request.body).expect("JSON")
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<OpsgenieService>(
        &json!({"enabled": true, "api-key": "key", "teams": ["ops"]}),
        &json!({"teams-list": ["a"], "recipients-list": ["b"]}),
    );
    assert_documented::<OpsgenieService>();
}

#[test]
fn defaults_are_kapacitors_and_the_api_key_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "api-key": "", "teams": [], "recipients": [],
               "url": "https://api.opsgenie.com/v1/json/alert",
               "recovery_url": "https://api.opsgenie.com/v1/json/alert/note",
               "global": false, "timeout": "10s"})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["api-key"]
    );
    assert_eq!(
        service.default_options(),
        json!({"teams-list": [], "recipients-list": []})
    );
}

#[test]
fn kapacitors_sample_section_is_accepted() {
    // The documentation's [opsgenie], as TOML reads it.
    build(&json!({
        "enabled": true, "api-key": "mysupersecretapikey", "teams": ["team1", "team2"],
        "recipients": ["recipient1", "recipient2"], "url": "https://api.opsgenie.com/v1/json/alert",
        "recovery_url": "https://api.opsgenie.com/v1/json/alert/note", "global": false,
    }))
    .expect("Kapacitor's section is accepted");
}

#[test]
fn global_is_kapacitors_global_without_state_changes_only() {
    assert_global::<OpsgenieService>();
}

#[test]
fn invalid_configurations_and_options_are_refused_naming_the_key() {
    let cases = [
        (
            json!({"enabled": true}),
            "opsgenie: api-key cannot be empty when enabled; set your OpsGenie API key",
        ),
        (
            json!({"recovery_url": "api.opsgenie.com/v1/json/alert/close"}),
            r#"opsgenie: recovery_url "api.opsgenie.com/v1/json/alert/close" has no scheme; write it like "https://api.opsgenie.com/v1/json/alert/close""#,
        ),
        (
            json!({"timeout": "0s"}),
            "opsgenie: timeout must be greater than zero, got 0s",
        ),
        (
            json!({"recovery-url": "https://x/"}),
            r#"opsgenie: unknown key "recovery-url", expected one of: api-key, enabled, global, recipients, recovery_url, teams, timeout, url"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
    let err = build(&Value::Null)
        .expect("valid")
        .handler(&json!({"recovery_action": "close"}))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"opsgenie: unknown option "recovery_action", expected one of: recipients-list, teams-list"#
    );
}

#[test]
fn tickscript_teams_and_recipients_fill_kapacitors_options() {
    let tick = OpsgenieService::TICK;
    assert_eq!(tick.property, "opsGenie");
    let options = tick
        .build_options(
            &[],
            &[
                ("teams", vec![json!("team1"), json!("team2")]),
                ("recipients", vec![json!("recipient1")]),
            ],
        )
        .expect("valid");
    assert_eq!(
        options,
        json!({"teams-list": ["team1", "team2"], "recipients-list": ["recipient1"]})
    );
}

#[test]
fn endpoints_get_kapacitors_slash_once() {
    assert_eq!(
        endpoint(crate::DEFAULT_URL),
        "https://api.opsgenie.com/v1/json/alert/"
    );
    assert_eq!(endpoint("http://127.0.0.1:9/"), "http://127.0.0.1:9/");
}

/// `TestServer_AlertHandlers`, case opsgenie.
#[tokio::test]
async fn a_handler_file_sends_kapacitors_alert() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(
        &*service(&receiver, json!({})),
        json!({"teams-list": ["A team", "B team"], "recipients-list": ["test_recipient1", "test_recipient2"]}),
    );

    handler.handle(&alert_handlers_event()).await.expect("sent");

    assert_kapacitor_request(
        &receiver.next(),
        "/",
        concat!(
            r#"{"alias":"id","apiKey":"api_key","description":"{\"series\":[{\"name\":\"alert\",\"columns\":[\"time\",\"value\"],"#,
            r#"\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]}","details":{"Level":"CRITICAL","Monitoring Tool":"Kapacitor"},"#,
            r#""entity":"id","message":"message","monitoring_tool":"kapacitor","note":"","#,
            r#""recipients":["test_recipient1","test_recipient2"],"teams":["A team","B team"]}"#
        ),
    );
}

/// `TestStream_AlertOpsGenie`: two handlers with their own teams and recipients.
#[tokio::test]
async fn tickscript_handlers_send_kapacitors_alerts() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({}));
    let tick = OpsgenieService::TICK;
    let first = tick
        .build_options(
            &[],
            &[
                ("teams", vec![json!("test_team"), json!("another_team")]),
                (
                    "recipients",
                    vec![json!("test_recipient"), json!("another_recipient")],
                ),
            ],
        )
        .expect("valid");
    let second = tick
        .build_options(
            &[],
            &[
                ("teams", vec![json!("test_team2")]),
                (
                    "recipients",
                    vec![json!("test_recipient2"), json!("another_recipient")],
                ),
            ],
        )
        .expect("valid");
    let event = stream_test_event();

    handler(&*service, first)
        .handle(&event)
        .await
        .expect("sent");
    handler(&*service, second)
        .handle(&event)
        .await
        .expect("sent");

    assert_kapacitor_request(
        &receiver.next(),
        "/",
        concat!(
            r#"{"alias":"kapacitor/cpu/serverA","apiKey":"api_key","description":"{\"series\":[{\"name\":\"cpu\",\"tags\":"#,
            r#"{\"host\":\"serverA\"},\"columns\":[\"time\",\"count\"],\"values\":[[\"1971-01-01T00:00:10Z\",10]]}]}","#,
            r#""details":{"Level":"CRITICAL","Monitoring Tool":"Kapacitor"},"entity":"kapacitor/cpu/serverA","#,
            r#""message":"kapacitor/cpu/serverA is CRITICAL","monitoring_tool":"kapacitor","note":"","#,
            r#""recipients":["test_recipient","another_recipient"],"teams":["test_team","another_team"]}"#
        ),
    );
    let sent = body(&receiver.next());
    assert_eq!(sent["teams"], json!(["test_team2"]));
    assert_eq!(
        sent["recipients"],
        json!(["test_recipient2", "another_recipient"])
    );
}

#[tokio::test]
async fn a_recovery_goes_to_the_recovery_url_with_its_note() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&receiver, json!({"teams": ["ops"]})), json!({}));
    let mut ok = stream_test_event();
    ok.state.level = Level::Ok;
    ok.state.message = "kapacitor/cpu/serverA is OK".to_owned();

    handler.handle(&ok).await.expect("sent");

    let request = receiver.next();
    assert_eq!(request.target, "/note/");
    let sent = body(&request);
    assert_eq!(sent["note"], "kapacitor/cpu/serverA is OK");
    assert_eq!(sent["message"], "kapacitor/cpu/serverA is OK");
    assert_eq!(sent["details"]["Level"], "RECOVERY");
    assert_eq!(sent["teams"], json!(["ops"]));
    assert!(sent.get("recipients").is_none(), "absent when empty");
}

#[tokio::test]
async fn refusals_are_permanent_and_busy_or_failing_servers_retryable() {
    let receiver = Receiver::http(vec![
        Answer::status(401).body(r#"{"code":11,"error":"Could not authenticate"}"#),
        Answer::status(429).header("Retry-After", "2"),
        Answer::status(503),
        Answer::status(202),
    ]);
    let url = receiver.url().to_owned();
    let handler = handler(&*service(&receiver, json!({})), json!({}));
    let event = stream_test_event();

    let refused = handler.handle(&event).await.expect_err("401");
    assert_eq!(
        refused,
        HandlerError::permanent(format!(
            "POST {url}: 401 Unauthorized: Could not authenticate"
        ))
    );
    let limited = handler.handle(&event).await.expect_err("429");
    assert!(limited.is_retryable());
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(2)));
    assert!(
        handler
            .handle(&event)
            .await
            .expect_err("503")
            .is_retryable()
    );
    handler.handle(&event).await.expect("202 is a success too");
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
    let service = service(&first, json!({"recipients": ["day"]}));
    let handler = handler(&*service, json!({}));
    handler.handle(&stream_test_event()).await.expect("sent");

    service
        .update(
            &json!({"enabled": true, "api-key": "night_key", "url": second.url(),
                        "recipients": ["night"]}),
        )
        .expect("valid");
    handler.handle(&stream_test_event()).await.expect("sent");

    assert_eq!(body(&first.next())["recipients"], json!(["day"]));
    let sent = body(&second.next());
    assert_eq!(sent["recipients"], json!(["night"]));
    assert_eq!(sent["apiKey"], "night_key");
}

#[test]
fn the_service_tests_options_are_kapacitors() {
    assert_eq!(
        build(&Value::Null).expect("valid").test_options(),
        json!({"teams": null, "recipients": null, "message-type": "CRITICAL",
               "message": "test opsgenie message", "entity-id": "testEntityID"})
    );
    let configured = build(&json!({"teams": ["t"]})).expect("valid");
    assert_eq!(configured.test_options()["teams"], json!(["t"]));
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_alert_and_its_recovery() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({}));

    service.test(&Value::Null).await.expect("the test passes");
    service
        .test(&json!({"message-type": "RECOVERY", "teams": ["ops"]}))
        .await
        .expect("the test passes");

    assert_kapacitor_request(
        &receiver.next(),
        "/",
        concat!(
            r#"{"alias":"testEntityID","apiKey":"api_key","description":"{\"series\":null}","#,
            r#""details":{"Level":"CRITICAL","Monitoring Tool":"Kapacitor"},"entity":"testEntityID","#,
            r#""message":"test opsgenie message","monitoring_tool":"kapacitor","note":""}"#
        ),
    );
    let recovery = receiver.next();
    assert_eq!(recovery.target, "/note/");
    assert_eq!(body(&recovery)["note"], "test opsgenie message");
    assert_eq!(body(&recovery)["teams"], json!(["ops"]));
}

#[tokio::test]
async fn the_service_test_reports_a_disabled_service() {
    assert_disabled_service_test_fails::<OpsgenieService>().await;
}

/// Kapacitor's documentation: the handler files of the OpsGenie v1 page, typed as written.
#[test]
fn the_documented_handler_files_are_accepted() {
    assert_handler_files_accepted::<OpsgenieService>(
        &Value::Null,
        &[
            "id: handler-id\ntopic: topic-name\nkind: opsgenie\noptions:\n  teams-list:\n    - 'team1'\n    - 'team2'\n  recipients-list:\n    - 'recipient1'\n    - 'recipient2'\n",
            "id: opsgenie-cpu-alert\ntopic: cpu\nkind: opsgenie\noptions:\n  teams-list:\n    - 'engineering'\n    - 'support'\n",
        ],
    );
}
