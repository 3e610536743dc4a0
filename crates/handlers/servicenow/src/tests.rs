//! The servicenow handler through the real path (configuration and options decoded by the
//! registry) against a local HTTP stand-in for ServiceNow that records every request.

use std::sync::Arc;

use klaxon_core::testing::{
    PointEvent, alert_handlers_event, assert_documented, assert_registered_and_builds, build,
    handler, option_error,
};
use klaxon_core::{DynService, Event, Global, Handler, Level, Service};
use klaxon_http::testing::{Answer, Received, Receiver};
use serde_json::{Value, json};

use crate::ServicenowService;
use crate::go_print::go_print;

fn service(config: Value) -> Arc<dyn DynService> {
    klaxon_core::testing::service::<ServicenowService>(&config)
}

/// An enabled service posting to `receiver`'s `/api/global/em/jsonv2`, as Kapacitor's tests
/// configure it.
fn enabled(receiver: &Receiver) -> Arc<dyn DynService> {
    service(json!({"enabled": true, "source": "Kapacitor",
                   "url": format!("{}api/global/em/jsonv2", receiver.url())}))
}

/// The one event of Kapacitor's `TestStream_AlertServiceNow` (grouped by host and type).
fn stream_test_event() -> Event {
    PointEvent::new("cpu", 31_536_010)
        .tags(&[("host", "serverA"), ("type", "idle")])
        .field("mean", 91.5)
        .event(
            "kapacitor/cpu/serverA",
            "kapacitor/cpu/serverA is CRITICAL",
            Level::Critical,
        )
}

/// Delivers `event` and returns the request the stand-in received.
async fn deliver(handler: &dyn Handler, event: &Event, receiver: &Receiver) -> Received {
    handler.handle(event).await.expect("delivered");
    receiver.next()
}

fn assert_post(request: &Received, body: &str) {
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", "/api/global/em/jsonv2")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), body);
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<ServicenowService>(
        &json!({"enabled": true, "url": "https://dev12345.service-now.com/api/global/em/jsonv2",
                "source": "Kapacitor", "username": "dev", "password": "12345"}),
        &json!({"node": "{{ index .Tags \"host\" }}", "type": "CPU", "resource": "CPU-Total",
                "metricName": "usage_user", "messageKey": "Alert: {{ .ID }}"}),
    );
    assert_documented::<ServicenowService>();
}

#[test]
fn defaults_are_kapacitors() {
    let service = service(Value::Null);
    assert_eq!(
        service.config(),
        json!({"enabled": false, "url": "https://instance.service-now.com/api/global/em/jsonv2",
               "source": "Kapacitor", "username": "", "password": "", "global": false,
               "state-changes-only": false, "timeout": "10s"})
    );
    assert_eq!(
        service.test_options(),
        json!({"alert_id": "1001", "message": "test servicenow message", "level": "CRITICAL",
               "source": "Kapacitor", "node": "", "type": "", "resource": "", "metric_name": "",
               "message_key": "", "additional_info": {}})
    );
    assert_eq!(service.global(), Global::OFF);
}

#[test]
fn kapacitors_sections_are_accepted() {
    for section in [
        json!({"enabled": false, "url": "https://instance.service-now.com/api/global/em/jsonv2",
               "source": "Kapacitor", "username": "", "password": ""}),
        json!({"enabled": true, "url": "https://dev12345.service-now.com/api/global/em/jsonv2",
               "username": "dev", "password": "12345", "global": true,
               "state-changes-only": true}),
        json!({"url": ""}),
    ] {
        build::<ServicenowService>(&section).unwrap_or_else(|e| panic!("{section}: {e}"));
    }
}

#[test]
fn bad_configuration_names_the_key() {
    let cases = [
        (
            json!({"enabled": true, "url": ""}),
            r#"servicenow: must specify events URL: set url to your instance's events web service, such as "https://instance.service-now.com/api/global/em/jsonv2""#,
        ),
        (
            json!({"url": "instance.service-now.com/api"}),
            r#"servicenow: url "instance.service-now.com/api" has no scheme; write it like "https://instance.service-now.com/api""#,
        ),
        (
            json!({"timeout": "0s"}),
            "servicenow: timeout must be greater than zero, got 0s",
        ),
    ];
    for (section, expected) in cases {
        let err = build::<ServicenowService>(&section).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{section}");
    }
}

#[test]
fn global_and_state_changes_only_are_kapacitors_keys() {
    klaxon_core::testing::assert_global::<ServicenowService>();
}

#[test]
fn bad_options_name_the_option() {
    assert_eq!(
        option_error::<ServicenowService>(&json!({"metric_name": "cpu"})),
        r#"servicenow: unknown option "metric_name", expected one of: additional_info, messageKey, metricName, node, password, resource, source, type, url, username"#
    );
    assert_eq!(
        option_error::<ServicenowService>(&json!({"messageKey": "{{ .ID"})),
        "servicenow: messageKey: template: messageKey:1:7: unclosed action"
    );
    assert!(
        option_error::<ServicenowService>(&json!({"additional_info": {"link": "{{ .ID"}}))
            .starts_with("servicenow: additional_info.link: "),
    );
    assert_eq!(
        option_error::<ServicenowService>(&json!({"url": "ftp://example.com/"})),
        r#"servicenow: url "ftp://example.com/" has the scheme "ftp"; only http and https are supported"#
    );
}

/// The chained properties of Kapacitor's documentation and of `TestStream_AlertServiceNow`.
#[test]
fn tickscript_properties_build_kapacitors_options() {
    let options = ServicenowService::TICK
        .build_options(
            &[],
            &[
                ("node", vec![json!("{{ index .Tags \"host\" }}")]),
                ("type", vec![json!("CPU")]),
                ("resource", vec![json!("CPU-Total")]),
                ("metricName", vec![json!("usage_user")]),
                ("messageKey", vec![json!("Alert: {{ .ID }}")]),
                (
                    "additionalInfo",
                    vec![json!("link"), json!("http://push/alert?id={{ .ID }}")],
                ),
                ("additionalInfo", vec![json!("ticks"), json!(666)]),
                (
                    "URL",
                    vec![json!("https://dev.service-now.com/api/global/em/jsonv2")],
                ),
                ("source", vec![json!("klaxon")]),
            ],
        )
        .expect("the properties");
    assert_eq!(
        options,
        json!({"node": "{{ index .Tags \"host\" }}", "type": "CPU", "resource": "CPU-Total",
               "metricName": "usage_user", "messageKey": "Alert: {{ .ID }}",
               "additional_info": {"link": "http://push/alert?id={{ .ID }}", "ticks": 666},
               "url": "https://dev.service-now.com/api/global/em/jsonv2", "source": "klaxon"})
    );
    handler(&*service(Value::Null), options);
}

/// A handler file with the options of Kapacitor's documentation, as the CLI reads YAML.
#[test]
fn a_handler_file_decodes() {
    let file = "id: servicenow-cpu-alert\ntopic: cpu\nkind: servicenow\noptions:\n  node: '{{ index .Tags \"host\" }}'\n  type: CPU\n  resource: CPU-Total\n  metricName: usage_user\n  messageKey: 'Alert: {{ .ID }}'\n  additional_info:\n    link: 'http://push/alert?id={{ .ID }}'\n    ticks: 666\n";
    klaxon_core::testing::assert_handler_files_accepted::<ServicenowService>(&Value::Null, &[file]);
}

/// Kapacitor's `TestServer_AlertHandlers` case `servicenow`, byte for byte.
#[tokio::test]
async fn sends_kapacitors_alert_handlers_event() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*enabled(&receiver), json!({"source": "Kapacitor"}));

    let request = deliver(&*handler, &alert_handlers_event(), &receiver).await;

    assert_post(
        &request,
        r#"{"records":[{"source":"Kapacitor","message_key":"id","severity":"1","description":"message"}]}"#,
    );
    assert_eq!(request.header("authorization"), None);
}

/// Kapacitor's `TestStream_AlertServiceNow`: a plain `.serviceNow()` and one with every
/// template, byte for byte.
#[tokio::test]
async fn sends_kapacitors_stream_test_events() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver);
    let plain = handler(&*service, json!({}));
    let options = ServicenowService::TICK
        .build_options(
            &[],
            &[
                ("node", vec![json!("{{ index .Tags \"host\" }}")]),
                ("type", vec![json!("CPU")]),
                ("resource", vec![json!("CPU-Total")]),
                ("metricName", vec![json!("{{ index .Tags \"type\" }}")]),
                ("messageKey", vec![json!("Alert: {{ .ID }}")]),
                (
                    "additionalInfo",
                    vec![json!("link"), json!("http://push/alert?id={{ .ID }}")],
                ),
                ("additionalInfo", vec![json!("ticks"), json!(666)]),
            ],
        )
        .unwrap();
    let templated = handler(&*service, options);
    let event = stream_test_event();

    let templated_request = deliver(&*templated, &event, &receiver).await;
    let plain_request = deliver(&*plain, &event, &receiver).await;

    assert_post(
        &templated_request,
        concat!(
            r#"{"records":[{"source":"Kapacitor","node":"serverA","type":"CPU","resource":"CPU-Total","#,
            r#""metric_name":"idle","message_key":"Alert: kapacitor/cpu/serverA","severity":"1","#,
            r#""description":"kapacitor/cpu/serverA is CRITICAL","#,
            r#""additional_info":"{\"link\":\"http://push/alert?id=kapacitor/cpu/serverA\",\"ticks\":\"666\"}"}]}"#
        ),
    );
    assert_post(
        &plain_request,
        r#"{"records":[{"source":"Kapacitor","message_key":"kapacitor/cpu/serverA","severity":"1","description":"kapacitor/cpu/serverA is CRITICAL"}]}"#,
    );
}

#[tokio::test]
async fn levels_become_servicenow_severities() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*enabled(&receiver), json!({}));
    for (level, severity) in [
        (Level::Ok, "5"),
        (Level::Info, "5"),
        (Level::Warning, "4"),
        (Level::Critical, "1"),
    ] {
        let mut event = stream_test_event();
        event.state.level = level;
        let request = deliver(&*handler, &event, &receiver).await;
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["records"][0]["severity"], severity, "{level:?}");
    }
}

#[tokio::test]
async fn templates_see_the_id_name_task_fields_and_tags() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(
        &*enabled(&receiver),
        json!({"node": "{{ .TaskName }}/{{ .Name }}", "resource": "{{ index .Fields \"mean\" }}",
               "messageKey": "{{ .ID }}|{{ index .Tags \"host\" }}|{{ len 3 }}|never",
               "additional_info": {"ratio": 1.5, "big": 1e21, "up": true, "hosts": ["a", "b"],
                                   "html": "<{{ index .Tags \"host\" }}>"}}),
    );

    let request = deliver(&*handler, &stream_test_event(), &receiver).await;

    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let record = &body["records"][0];
    assert_eq!(record["node"], "TestStream_Alert/cpu");
    assert_eq!(record["resource"], "91.5");
    // A template that fails while it runs gives what it wrote until then, as in Kapacitor.
    assert_eq!(record["message_key"], "kapacitor/cpu/serverA|serverA|");
    assert_eq!(
        record["additional_info"],
        r#"{"big":"1e+21","hosts":"[a b]","html":"\u003cserverA\u003e","ratio":"1.5","up":"true"}"#,
        "Go's escaping in the string of JSON"
    );
    assert!(
        request
            .text()
            .contains(r#"\"html\":\"\\u003cserverA\\u003e\""#),
        "{}",
        request.text()
    );
}

#[test]
fn other_values_print_as_go_prints_them() {
    for (value, printed) in [
        (json!(666), "666"),
        (json!(666.0), "666"),
        (json!(1000000.0), "1e+06"),
        (json!(123456.0), "123456"),
        (json!(1234567.5), "1.2345675e+06"),
        (json!(0.0001), "0.0001"),
        (json!(0.00001), "1e-05"),
        (json!(-2.5e-300), "-2.5e-300"),
        (json!(0.0), "0"),
        (json!(0.5), "0.5"),
        (json!(false), "false"),
        (json!(["x", 1]), "[x 1]"),
        (json!({"b": 1, "a": "x"}), "map[a:x b:1]"),
        (Value::Null, "<nil>"),
    ] {
        assert_eq!(go_print(&value), printed, "{value}");
    }
}

#[tokio::test]
async fn long_fields_are_cut_to_servicenows_sizes_at_a_character_boundary() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*enabled(&receiver), json!({"node": "é".repeat(60)}));
    let mut event = stream_test_event();
    event.state.message = "x".repeat(4100);
    event.state.id = "k".repeat(2000);

    let request = deliver(&*handler, &event, &receiver).await;

    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let record = &body["records"][0];
    assert_eq!(record["description"].as_str().unwrap().len(), 4000);
    assert_eq!(record["message_key"].as_str().unwrap().len(), 1024);
    assert_eq!(record["node"], "é".repeat(50));
}

#[tokio::test]
async fn basic_authentication_when_a_user_and_a_password_are_set() {
    let receiver = Receiver::http(vec![]);
    let url = format!("{}api/global/em/jsonv2", receiver.url());
    let both = service(json!({"enabled": true, "url": url, "username": "dev",
                              "password": "12345"}));
    let configured = handler(&*both, json!({}));
    let own = handler(&*both, json!({"username": "ops", "password": "s3cret"}));
    let user_only = service(json!({"enabled": true, "url": url, "username": "dev"}));
    let user_only = handler(&*user_only, json!({}));
    let event = stream_test_event();

    let configured = deliver(&*configured, &event, &receiver).await;
    let own = deliver(&*own, &event, &receiver).await;
    let user_only = deliver(&*user_only, &event, &receiver).await;

    assert_eq!(
        configured.header("authorization"),
        Some("Basic ZGV2OjEyMzQ1")
    );
    assert_eq!(own.header("authorization"), Some("Basic b3BzOnMzY3JldA=="));
    assert_eq!(user_only.header("authorization"), None);
}

#[tokio::test]
async fn a_handler_url_and_source_replace_the_configured_ones() {
    let configured = Receiver::http(vec![]);
    let own = Receiver::http(vec![]);
    let handler = handler(
        &*enabled(&configured),
        json!({"url": format!("{}events?x=1", own.url()), "source": "edge"}),
    );

    let request = deliver(&*handler, &stream_test_event(), &own).await;

    assert_eq!(request.target, "/events?x=1");
    assert!(
        request
            .text()
            .starts_with(r#"{"records":[{"source":"edge","#)
    );
}

#[tokio::test]
async fn a_refusal_is_permanent_with_servicenows_explanation() {
    let refusal = r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#;
    let receiver = Receiver::http(vec![
        Answer::status(401).body(refusal),
        Answer::status(400).body(r#"{"error":"bad records"}"#),
        Answer::status(404).body("no such path"),
    ]);
    let handler = handler(&*enabled(&receiver), json!({}));
    let url = format!("{}api/global/em/jsonv2", receiver.url());

    let mut errors = Vec::new();
    for _ in 0..3 {
        let err = handler
            .handle(&stream_test_event())
            .await
            .expect_err("refused");
        assert!(!err.is_retryable(), "{err}");
        errors.push(err.message().to_owned());
    }

    assert_eq!(
        errors,
        [
            format!(
                "POST {url}: 401 Unauthorized: User Not Authenticated: Required to provide Auth information (check [servicenow] username and password)"
            ),
            format!("POST {url}: 400 Bad Request: bad records"),
            format!("POST {url}: 404 Not Found: no such path"),
        ]
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retryable() {
    let receiver = Receiver::http(vec![
        Answer::status(429).header("Retry-After", "7"),
        Answer::status(503),
    ]);
    let handler = handler(&*enabled(&receiver), json!({}));

    let limited = handler.handle(&stream_test_event()).await.unwrap_err();
    let failed = handler.handle(&stream_test_event()).await.unwrap_err();

    assert!(limited.is_retryable());
    assert_eq!(
        limited.retry_after(),
        Some(std::time::Duration::from_secs(7))
    );
    assert!(failed.is_retryable());
}

#[tokio::test]
async fn an_unreachable_servicenow_is_retryable() {
    let receiver = Receiver::http(vec![]);
    let url = receiver.url().to_owned();
    drop(receiver);
    let service = service(json!({"enabled": true, "url": "http://127.0.0.1:1/"}));
    let handler = handler(&*service, json!({}));

    let err = handler.handle(&stream_test_event()).await.unwrap_err();

    assert!(err.is_retryable(), "{err} ({url})");
    assert!(
        err.message().starts_with("POST http://127.0.0.1:1/: "),
        "{err}"
    );
}

#[tokio::test]
async fn a_disabled_service_fails_every_delivery() {
    let handler = handler(&*service(Value::Null), json!({}));

    let err = handler.handle(&stream_test_event()).await.unwrap_err();

    assert_eq!(err.message(), "service is not enabled");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_new_url_reaches_existing_handlers() {
    let first = Receiver::http(vec![]);
    let second = Receiver::http(vec![]);
    let service = enabled(&first);
    let handler = handler(&*service, json!({}));
    deliver(&*handler, &stream_test_event(), &first).await;

    service
        .update(&json!({"enabled": true, "url": second.url()}))
        .expect("valid configuration");

    let request = deliver(&*handler, &stream_test_event(), &second).await;
    assert_eq!(request.target, "/");
}

#[tokio::test]
async fn service_test_sends_kapacitors_test_event() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver);

    service.test(&json!({})).await.expect("the test passes");

    assert_post(
        &receiver.next(),
        r#"{"records":[{"source":"Kapacitor","message_key":"1001","severity":"1","description":"test servicenow message"}]}"#,
    );
}

#[tokio::test]
async fn service_test_takes_kapacitors_options() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver);
    let options = json!({"alert_id": "disk", "level": "WARNING", "node": "db-1",
                         "metric_name": "{{ .ID }}_free", "message_key": "k",
                         "additional_info": {"n": 2}});

    service.test(&options).await.expect("the test passes");

    assert_post(
        &receiver.next(),
        r#"{"records":[{"source":"Kapacitor","node":"db-1","metric_name":"disk_free","message_key":"k","severity":"4","description":"test servicenow message","additional_info":"{\"n\":\"2\"}"}]}"#,
    );
}

#[tokio::test]
async fn service_test_of_a_disabled_service_says_so() {
    klaxon_core::testing::assert_disabled_service_test_fails::<ServicenowService>().await;
}
