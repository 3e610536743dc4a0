//! The opsgenie2 handler through the real path: configuration and options decoded by the
//! registry, requests sent to a local stand-in for OpsGenie and checked byte for byte against
//! what Kapacitor sends for the same alert (its `TestServer_AlertHandlers` and
//! `TestStream_AlertOpsGenie2*` cases).

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{
    PointEvent, alert_handlers_event, assert_disabled_service_test_fails, assert_documented,
    assert_global, assert_handler_files_accepted, assert_registered_and_builds, handler,
};
use klaxon_core::{DynService, Event, HandlerError, Level, Service, TestError};
use klaxon_http::testing::{Answer, Received, Receiver, service_posting_to};
use serde_json::{Value, json};

use crate::Opsgenie2Service;
use crate::api::{alias, explain, recovery_url};

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<Opsgenie2Service>(config).map_err(|e| e.to_string())
}

/// An enabled service posting to `receiver`, with `extra` configuration keys.
fn service(receiver: &Receiver, extra: Value) -> Arc<dyn DynService> {
    service_posting_to::<Opsgenie2Service>(
        receiver,
        json!({"enabled": true, "api-key": "api_key"}),
        extra,
    )
}

/// The event of Kapacitor's `TestStream_AlertOpsGenie2`, with the default `.message()`.
fn stream_test_event() -> Event {
    klaxon_core::testing::stream_alert_event("kapacitor/cpu/serverA is CRITICAL")
}

/// An event of measurement `cpu` with a `count` of 10.
fn event(id: &str, message: &str, level: Level, seconds: i64, tags: &[(&str, &str)]) -> Event {
    PointEvent::new("cpu", seconds)
        .tags(tags)
        .field("count", 10.0)
        .event(id, message, level)
}

/// Asserts a request as Kapacitor's opsgenie2 service sends it.
fn assert_kapacitor_request(request: &Received, target: &str, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, target);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some("GenieKey api_key"));
    assert_eq!(request.text(), format!("{body}\n"));
}

fn body(request: &Received) -> Value {
    serde_json::from_slice(&request.body).expect("JSON")
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<Opsgenie2Service>(
        &json!({"enabled": true, "api-key": "key", "teams": ["ops"]}),
        &json!({"teams-list": ["a"], "recipients-list": ["b"], "recovery_action": "close"}),
    );
    assert_documented::<Opsgenie2Service>();
}

#[test]
fn defaults_are_kapacitors_and_the_api_key_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "api-key": "", "teams": [], "recipients": [],
               "url": "https://api.opsgenie.com/v2/alerts", "recovery_action": "notes",
               "details": false, "global": false, "timeout": "10s"})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["api-key"]
    );
    assert_eq!(
        service.default_options(),
        json!({"teams-list": [], "recipients-list": [], "recovery_action": "", "details": false})
    );
}

#[test]
fn kapacitors_sample_section_is_accepted() {
    // The documentation's [opsgenie2], as TOML turns it into.
    build(&json!({
        "enabled": true, "api-key": "mysupersecretapikey", "teams": ["team1", "team2"],
        "recipients": ["recipient1", "recipient2"], "url": "https://api.opsgenie.com/v2/alerts",
        "recovery_action": "notes", "details": false, "global": false,
    }))
    .expect("Kapacitor's section is accepted");
}

#[test]
fn global_is_kapacitors_global_without_state_changes_only() {
    assert_global::<Opsgenie2Service>();
}

#[test]
fn invalid_configurations_are_refused_naming_the_key() {
    let cases = [
        (
            json!({"enabled": true}),
            "opsgenie2: api-key cannot be empty when enabled; set your OpsGenie API key",
        ),
        (
            json!({"recovery_action": "custom"}),
            r#"opsgenie2: recovery_action "custom" is not a recovery action; use "notes" (add a note) or "close" (close the alert)"#,
        ),
        (
            json!({"url": "api.opsgenie.com/v2/alerts"}),
            r#"opsgenie2: url "api.opsgenie.com/v2/alerts" has no scheme; write it like "https://api.opsgenie.com/v2/alerts""#,
        ),
        (
            json!({"timeout": "0s"}),
            "opsgenie2: timeout must be greater than zero, got 0s",
        ),
        (
            json!({"recovery-action": "close"}),
            r#"opsgenie2: unknown key "recovery-action", expected one of: api-key, details, enabled, global, recipients, recovery_action, teams, timeout, url"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
}

#[test]
fn bad_options_are_refused_naming_the_option() {
    let service = build(&Value::Null).expect("valid");
    let cases = [
        (
            json!({"teams": ["a"]}),
            r#"opsgenie2: unknown option "teams", expected one of: details, recipients-list, recovery_action, teams-list"#,
        ),
        (
            json!({"recovery_action": "resolve"}),
            r#"opsgenie2: option "recovery_action" "resolve" is not a recovery action; use "notes" (add a note) or "close" (close the alert)"#,
        ),
    ];
    for (options, expected) in cases {
        let err = service.handler(&options).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{options}");
    }
}

#[test]
fn tickscript_properties_fill_kapacitors_options() {
    let tick = Opsgenie2Service::TICK;
    assert_eq!(tick.property, "opsGenie2");
    let options = tick
        .build_options(
            &[],
            &[
                ("teams", vec![json!("test_team"), json!("another_team")]),
                ("recipients", vec![json!("test_recipient")]),
                ("recoveryAction", vec![json!("close")]),
                ("details", vec![]),
            ],
        )
        .expect("valid");
    assert_eq!(
        options,
        json!({"teams-list": ["test_team", "another_team"], "recipients-list": ["test_recipient"],
               "recovery_action": "close", "details": true})
    );
    build(&Value::Null)
        .expect("valid")
        .handler(&options)
        .expect("accepted");
}

#[test]
fn aliases_are_base64url_with_padding_as_kapacitors() {
    assert_eq!(alias("id"), "aWQ=");
    assert_eq!(
        alias("kapacitor/cpu/serverA"),
        "a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB"
    );
    assert_eq!(alias("??>"), "Pz8-");
}

#[test]
fn recovery_urls_join_the_path_and_replace_the_query_as_go_does() {
    let cases = [
        (
            crate::DEFAULT_URL,
            "https://api.opsgenie.com/v2/alerts/aWQ=/notes?identifierType=alias",
        ),
        (
            "https://proxy.example.com/og/v2/alerts/?key=x",
            "https://proxy.example.com/og/v2/alerts/aWQ=/notes?identifierType=alias",
        ),
        (
            "http://127.0.0.1:9/",
            "http://127.0.0.1:9/aWQ=/notes?identifierType=alias",
        ),
    ];
    for (url, expected) in cases {
        assert_eq!(
            recovery_url(url, "aWQ=", "notes").expect("valid").as_str(),
            expected
        );
    }
}

/// `TestServer_AlertHandlers`, case opsgenie2.
#[tokio::test]
async fn a_handler_file_sends_kapacitors_create() {
    let receiver = Receiver::http(vec![Answer::status(202)]);
    let handler = handler(
        &*service(&receiver, json!({"recovery_action": "notes"})),
        json!({"teams-list": ["A team", "B team"], "recipients-list": ["test_recipient1", "test_recipient2"]}),
    );

    handler.handle(&alert_handlers_event()).await.expect("sent");

    assert_kapacitor_request(
        &receiver.next(),
        "/",
        concat!(
            r#"{"alias":"aWQ=","description":"{\"series\":[{\"name\":\"alert\",\"columns\":[\"time\",\"value\"],"#,
            r#"\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]}","details":{"Kapacitor Task Name":"alert","#,
            r#""Level":"CRITICAL","Monitoring Tool":"Kapacitor"},"entity":"id","message":"message","note":"","#,
            r#""priority":"P1","responders":[{"name":"A team","type":"team"},{"name":"B team","type":"team"},"#,
            r#"{"type":"user","username":"test_recipient1"},{"type":"user","username":"test_recipient2"}]}"#
        ),
    );
}

/// `TestStream_AlertOpsGenie2`: two handlers with their own teams and recipients.
#[tokio::test]
async fn tickscript_handlers_send_kapacitors_creates() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({}));
    let tick = Opsgenie2Service::TICK;
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

    assert_eq!(
        body(&receiver.next())["responders"],
        json!([{"name": "test_team", "type": "team"}, {"name": "another_team", "type": "team"},
               {"type": "user", "username": "test_recipient"},
               {"type": "user", "username": "another_recipient"}])
    );
    assert_kapacitor_request(
        &receiver.next(),
        "/",
        concat!(
            r#"{"alias":"a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB","description":"{\"series\":[{\"name\":\"cpu\",\"tags\":"#,
            r#"{\"host\":\"serverA\"},\"columns\":[\"time\",\"count\"],\"values\":[[\"1971-01-01T00:00:10Z\",10]]}]}","#,
            r#""details":{"Kapacitor Task Name":"cpu","Level":"CRITICAL","Monitoring Tool":"Kapacitor","host":"serverA"},"#,
            r#""entity":"kapacitor/cpu/serverA","message":"kapacitor/cpu/serverA is CRITICAL","note":"","priority":"P1","#,
            r#""responders":[{"name":"test_team2","type":"team"},{"type":"user","username":"test_recipient2"},"#,
            r#"{"type":"user","username":"another_recipient"}]}"#
        ),
    );
}

/// `TestStream_AlertOpsGenie2_Recovery`: the CRITICAL creates, the OK adds a note by alias.
#[tokio::test]
async fn a_recovery_adds_a_note_to_the_alert_by_its_alias() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"recovery_action": "notes"}));
    let handler = handler(&*service, json!({"teams-list": ["test_team"]}));
    let tags = [("host", "serverA"), ("type", "idle")];
    let id = "kapacitor/cpu/serverA";
    let critical = PointEvent::new("cpu", 31_536_000)
        .tags(&tags)
        .field("v", 2.0)
        .event(id, "kapacitor/cpu/serverA is CRITICAL", Level::Critical);
    let ok = event(
        id,
        "kapacitor/cpu/serverA is OK",
        Level::Ok,
        31_536_001,
        &tags,
    );

    handler.handle(&critical).await.expect("sent");
    handler.handle(&ok).await.expect("sent");

    assert_kapacitor_request(
        &receiver.next(),
        "/",
        concat!(
            r#"{"alias":"a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB","description":"{\"series\":[{\"name\":\"cpu\",\"tags\":"#,
            r#"{\"host\":\"serverA\",\"type\":\"idle\"},\"columns\":[\"time\",\"v\"],\"values\":[[\"1971-01-01T00:00:00Z\",2]]}]}","#,
            r#""details":{"Kapacitor Task Name":"cpu","Level":"CRITICAL","Monitoring Tool":"Kapacitor","host":"serverA","type":"idle"},"#,
            r#""entity":"kapacitor/cpu/serverA","message":"kapacitor/cpu/serverA is CRITICAL","note":"","priority":"P1","#,
            r#""responders":[{"name":"test_team","type":"team"}]}"#
        ),
    );
    assert_kapacitor_request(
        &receiver.next(),
        "/a2FwYWNpdG9yL2NwdS9zZXJ2ZXJB/notes?identifierType=alias",
        r#"{"note":"kapacitor/cpu/serverA is OK"}"#,
    );
}

#[tokio::test]
async fn the_handlers_recovery_action_comes_before_the_configured_one() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"recovery_action": "close"}));
    let ok = event("id", "id is OK", Level::Ok, 0, &[]);

    handler(&*service, json!({}))
        .handle(&ok)
        .await
        .expect("sent");
    handler(&*service, json!({"recovery_action": "notes"}))
        .handle(&ok)
        .await
        .expect("sent");

    assert_eq!(receiver.next().target, "/aWQ=/close?identifierType=alias");
    assert_eq!(receiver.next().target, "/aWQ=/notes?identifierType=alias");
}

#[tokio::test]
async fn levels_map_to_priorities_and_tags_may_replace_the_fixed_details() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&receiver, json!({})), json!({}));
    for (level, priority) in [
        (Level::Info, "P5"),
        (Level::Warning, "P3"),
        (Level::Critical, "P1"),
    ] {
        let event = event("e", "m", level, 0, &[("Level", "from a tag")]);
        handler.handle(&event).await.expect("sent");
        let sent = body(&receiver.next());
        assert_eq!(sent["priority"], priority);
        assert_eq!(sent["details"]["Level"], "from a tag", "as Kapacitor's map");
        assert!(sent.get("responders").is_none(), "no teams, no recipients");
    }
}

#[tokio::test]
async fn details_become_the_description_when_configured_or_asked() {
    let receiver = Receiver::http(vec![]);
    let configured = service(&receiver, json!({"details": true}));
    let plain = service(&receiver, json!({}));
    let mut event = stream_test_event();
    event.state.details = "<b>disk</b> full".to_owned();
    let mut without = stream_test_event();
    without.state.details = String::new();

    handler(&*configured, json!({}))
        .handle(&event)
        .await
        .expect("sent");
    handler(&*plain, json!({"details": true}))
        .handle(&event)
        .await
        .expect("sent");
    handler(&*configured, json!({}))
        .handle(&without)
        .await
        .expect("sent");
    handler(&*plain, json!({}))
        .handle(&event)
        .await
        .expect("sent");

    let text = receiver.next().text();
    assert!(
        text.contains(r#""description":"\u003cb\u003edisk\u003c/b\u003e full""#),
        "{text}"
    );
    assert_eq!(body(&receiver.next())["description"], "<b>disk</b> full");
    let result = r#"{"series":[{"name":"cpu","tags":{"host":"serverA"},"columns":["time","count"],"values":[["1971-01-01T00:00:10Z",10]]}]}"#;
    assert_eq!(
        body(&receiver.next())["description"],
        result,
        "empty details"
    );
    assert_eq!(body(&receiver.next())["description"], result, "not asked");
}

#[tokio::test]
async fn configured_teams_and_recipients_serve_handlers_without_their_own() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"teams": ["ops"], "recipients": ["jane"]}));

    handler(&*service, json!({}))
        .handle(&stream_test_event())
        .await
        .expect("sent");
    handler(&*service, json!({"recipients-list": ["joe"]}))
        .handle(&stream_test_event())
        .await
        .expect("sent");

    assert_eq!(
        body(&receiver.next())["responders"],
        json!([{"name": "ops", "type": "team"}, {"type": "user", "username": "jane"}])
    );
    assert_eq!(
        body(&receiver.next())["responders"],
        json!([{"name": "ops", "type": "team"}, {"type": "user", "username": "joe"}])
    );
}

#[test]
fn opsgenie_errors_are_explained_in_one_line() {
    assert_eq!(
        explain(
            r#"{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty.","priority":"should be one of [P1, P2]"},"took":0.002,"requestId":"r"}"#
        ),
        "Request body is not processable. Please check the errors.: message: Message can not be empty.: priority: should be one of [P1, P2]"
    );
    assert_eq!(
        explain(r#"{"message":"Key format is not valid!","took":0.001}"#),
        "Key format is not valid!"
    );
    assert_eq!(
        explain(r#"{"code":1,"error":"Could not authenticate"}"#),
        "Could not authenticate",
        "the Alert API v1's form"
    );
    assert_eq!(
        explain("<html>bad gateway</html>\n"),
        "<html>bad gateway</html>"
    );
}

#[tokio::test]
async fn refusals_are_permanent_and_busy_or_failing_servers_retryable() {
    let receiver = Receiver::http(vec![
        Answer::status(401).body(r#"{"message":"Key format is not valid!","took":0.001}"#),
        Answer::status(429).header("Retry-After", "3"),
        Answer::status(500),
        Answer::status(200),
    ]);
    let url = receiver.url().to_owned();
    let handler = handler(&*service(&receiver, json!({})), json!({}));
    let event = stream_test_event();

    let refused = handler.handle(&event).await.expect_err("401");
    assert_eq!(
        refused,
        HandlerError::permanent(format!(
            "POST {url}: 401 Unauthorized: Key format is not valid!"
        ))
    );
    let limited = handler.handle(&event).await.expect_err("429");
    assert!(limited.is_retryable());
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
    let failed = handler.handle(&event).await.expect_err("500");
    assert!(failed.is_retryable());
    handler.handle(&event).await.expect("200 is a success too");
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
    let service = service(&first, json!({"teams": ["day"]}));
    let handler = handler(&*service, json!({}));
    handler.handle(&stream_test_event()).await.expect("sent");

    service
        .update(&json!({"enabled": true, "api-key": "night_key", "url": second.url(), "teams": ["night"]}))
        .expect("valid");
    handler.handle(&stream_test_event()).await.expect("sent");

    assert_eq!(body(&first.next())["responders"][0]["name"], "day");
    let request = second.next();
    assert_eq!(request.header("authorization"), Some("GenieKey night_key"));
    assert_eq!(body(&request)["responders"][0]["name"], "night");
}

#[test]
fn the_service_tests_options_are_kapacitors() {
    let service = build(&Value::Null).expect("valid");
    assert_eq!(
        service.test_options(),
        json!({"teams": null, "recipients": null, "recovery_action": "notes",
               "message-type": "CRITICAL", "message": "test opsgenie message",
               "entity-id": "testEntityID"})
    );
    let configured =
        build(&json!({"teams": ["t"], "recipients": ["r"], "recovery_action": "close"}))
            .expect("valid");
    let options = configured.test_options();
    assert_eq!(
        (
            &options["teams"],
            &options["recipients"],
            &options["recovery_action"]
        ),
        (&json!(["t"]), &json!(["r"]), &json!("close"))
    );
}

#[tokio::test]
async fn the_service_test_creates_then_recovers_a_test_alert() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"teams": ["ops"]}));

    service.test(&Value::Null).await.expect("the test passes");
    service
        .test(&json!({"message-type": "RECOVERY", "recovery_action": "close", "message": "over"}))
        .await
        .expect("the test passes");

    assert_kapacitor_request(
        &receiver.next(),
        "/",
        concat!(
            r#"{"alias":"dGVzdEVudGl0eUlE","description":"{\"series\":null}","details":{"Level":"CRITICAL","#,
            r#""Monitoring Tool":"Kapacitor"},"entity":"testEntityID","message":"test opsgenie message","#,
            r#""note":"","priority":"P1","responders":[{"name":"ops","type":"team"}]}"#
        ),
    );
    assert_kapacitor_request(
        &receiver.next(),
        "/dGVzdEVudGl0eUlE/close?identifierType=alias",
        r#"{"note":"over"}"#,
    );
}

#[tokio::test]
async fn the_service_test_refuses_what_is_not_a_level_and_reports_a_disabled_service() {
    let receiver = Receiver::http(vec![]);
    let err = service(&receiver, json!({}))
        .test(&json!({"message-type": "FOO"}))
        .await
        .expect_err("not a level");
    assert_eq!(
        err,
        TestError::Failed(HandlerError::permanent("unknown alert level 'FOO'"))
    );
    assert_disabled_service_test_fails::<Opsgenie2Service>().await;
}

/// Kapacitor's documentation: the handler files of the OpsGenie v2 page, typed as written.
#[test]
fn the_documented_handler_files_are_accepted() {
    assert_handler_files_accepted::<Opsgenie2Service>(
        &Value::Null,
        &[
            "id: handler-id\ntopic: topic-name\nkind: opsgenie2\noptions:\n  teams-list:\n    - 'team1'\n    - 'team2'\n  recipients-list:\n    - 'recipient1'\n    - 'recipient2'\n",
            "id: opsgenie-cpu-alert\ntopic: cpu\nkind: opsgenie2\noptions:\n  teams-list:\n    - 'engineering'\n    - 'support'\n",
        ],
    );
}
