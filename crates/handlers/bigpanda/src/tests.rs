//! The bigpanda handler through the real path (configuration and options decoded by the
//! registry) against a local HTTP stand-in for BigPanda that records every request, and the
//! body of Kapacitor's own unit tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::testing::{
    alert_handlers_event, assert_documented, assert_registered_and_builds, build, handler,
    option_error, stream_alert_event,
};
use klaxon_core::{DynService, Event, FieldValue, Handler, Level, Service, Timestamp};
use klaxon_http::testing::{Answer, Received, Receiver, TestPki};
use serde_json::{Value, json};

use crate::api::{Alert, body};
use crate::{BigpandaService, Config};

fn service(config: Value) -> Arc<dyn DynService> {
    klaxon_core::testing::service::<BigpandaService>(&config)
}

/// An enabled service posting to `receiver`'s `path`, with Kapacitor's test keys.
fn enabled(receiver: &Receiver, path: &str, app_key: &str) -> Arc<dyn DynService> {
    service(
        json!({"enabled": true, "token": "my-token-123", "app-key": app_key,
                   "url": format!("{}{path}", receiver.url()), "auto-attributes": ""}),
    )
}

/// The one event of Kapacitor's `TestStream_AlertBigPanda`.
fn stream_test_event() -> Event {
    let mut event =
        stream_alert_event("kapacitor/cpu/serverA is CRITICAL @1971-01-01 00:00:10 +0000 UTC");
    event.state.details = "https://example.org/link".into();
    event
}

/// Delivers `event` and returns the request the stand-in received.
async fn deliver(handler: &dyn Handler, event: &Event, receiver: &Receiver) -> Received {
    handler.handle(event).await.expect("delivered");
    receiver.next()
}

fn assert_post(request: &Received, target: &str, body: &str) {
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        ("POST", target)
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), body);
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<BigpandaService>(
        &json!({"enabled": true, "app-key": "appkey-123", "token": "token-123",
                "url": "https://dev123456.bigpanda.io/data/v2/alerts"}),
        &json!({"app-key": "111111", "host": "{{.Tags.host}}", "primary-property": "host",
                "attributes": {"x_value": "{{.Fields.count}}", "n": 5}}),
    );
    assert_documented::<BigpandaService>();
}

#[test]
fn defaults_are_kapacitors() {
    let service = service(Value::Null);
    assert_eq!(
        service.config(),
        json!({"enabled": false, "global": false, "app-key": "", "token": "",
               "state-changes-only": false, "insecure-skip-verify": false,
               "url": "https://api.bigpanda.io/data/v2/alerts", "auto-attributes": "tags,fields",
               "timeout": "10s"})
    );
    let mut options = service.test_options();
    let timestamp = options["timestamp"].take();
    assert!(
        Timestamp::parse_rfc3339(timestamp.as_str().unwrap()).is_ok(),
        "{timestamp}"
    );
    assert_eq!(
        options,
        json!({"app_key": "012345", "message": "test bigpanda message", "level": "CRITICAL",
               "event_data": {"Name": "testBigPanda", "TaskName": "", "Category": "", "Group": "",
                              "Tags": {}, "Fields": {}, "Recoverable": false,
                              "Result": {"series": null}},
               "timestamp": null, "host": "serverA", "primary_property": "",
               "secondary_property": ""})
    );
}

#[test]
fn bad_configuration_names_the_key_in_kapacitors_order() {
    let cases = [
        (
            json!({"enabled": true, "url": ""}),
            r#"bigpanda: must specify the BigPanda webhook URL: set url, normally "https://api.bigpanda.io/data/v2/alerts""#,
        ),
        (
            json!({"enabled": true, "token": "t"}),
            "bigpanda: must specify BigPanda app-key: set app-key to the app key of your BigPanda integration",
        ),
        (
            json!({"url": "api.bigpanda.io"}),
            r#"bigpanda: url "api.bigpanda.io" has no scheme; write it like "https://api.bigpanda.io""#,
        ),
        (
            json!({"enabled": true, "app-key": "k"}),
            "bigpanda: must specify BigPanda token: set token to a bearer token of BigPanda's REST API",
        ),
        (
            json!({"timeout": "0s"}),
            "bigpanda: timeout must be greater than zero, got 0s",
        ),
    ];
    for (section, expected) in cases {
        let err = build::<BigpandaService>(&section).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{section}");
    }
}

#[test]
fn kapacitors_sections_are_accepted() {
    for section in [
        json!({"enabled": false, "app-key": "", "token": "",
               "url": "https://api.bigpanda.io/data/v2/alerts"}),
        json!({"enabled": true, "url": "https://dev123456.bigpanda.io/data/v2/alerts",
               "app-key": "appkey-123", "token": "token-123", "auto-attributes": ""}),
        json!({"enabled": true, "app-key": "examplecorp", "token": "t", "global": true,
               "state-changes-only": true}),
    ] {
        build::<BigpandaService>(&section).unwrap_or_else(|e| panic!("{section}: {e}"));
    }
}

#[test]
fn global_and_state_changes_only_are_kapacitors_keys() {
    klaxon_core::testing::assert_global::<BigpandaService>();
}

#[test]
fn bad_options_name_the_option() {
    // Kapacitor's keys are kebab-case; the documentation's camelCase ones fail there too.
    assert_eq!(
        option_error::<BigpandaService>(&json!({"appKey": "x"})),
        r#"bigpanda: unknown option "appKey", expected one of: app-key, attributes, host, primary-property, secondary-property, url"#
    );
    assert!(
        option_error::<BigpandaService>(&json!({"host": "{{ .Tags"}))
            .starts_with("bigpanda: host: "),
    );
    assert!(
        option_error::<BigpandaService>(&json!({"attributes": {"x": "{{ if }}"}}))
            .starts_with("bigpanda: x: "),
    );
    assert_eq!(
        option_error::<BigpandaService>(&json!({"url": "mailto://x"})),
        r#"bigpanda: url "mailto://x" has the scheme "mailto"; only http and https are supported"#
    );
}

/// The chained properties of Kapacitor's documentation and tests.
#[test]
fn tickscript_properties_build_kapacitors_options() {
    let options = BigpandaService::TICK
        .build_options(
            &[],
            &[
                ("appKey", vec![json!("111111")]),
                ("host", vec![json!("{{ .Tags.host }}")]),
                ("primaryProperty", vec![json!("host")]),
                ("secondaryProperty", vec![json!("application")]),
                (
                    "attribute",
                    vec![
                        json!("monitor_link"),
                        json!("http://example.com/monitor?node={{ .Tags.host }}"),
                    ],
                ),
                (
                    "attribute",
                    vec![json!("x_total_used"), json!("{{ .Fields.total_used }}")],
                ),
            ],
        )
        .expect("the properties");
    assert_eq!(
        options,
        json!({"app-key": "111111", "host": "{{ .Tags.host }}", "primary-property": "host",
               "secondary-property": "application",
               "attributes": {"monitor_link": "http://example.com/monitor?node={{ .Tags.host }}",
                              "x_total_used": "{{ .Fields.total_used }}"}})
    );
    handler(&*service(Value::Null), options);
}

#[test]
fn a_handler_file_decodes() {
    let file = "id: bigpanda-cpu-alert\ntopic: cpu\nkind: bigpanda\noptions:\n  app-key: my-app-key\n  host: '{{ index .Tags \"host\" }}'\n  primary-property: host\n  attributes:\n    monitor_link: 'http://example.com/monitor?node={{ .Tags.host }}'\n    weight: 5\n";
    klaxon_core::testing::assert_handler_files_accepted::<BigpandaService>(&Value::Null, &[file]);
}

/// Kapacitor's `TestServer_AlertHandlers` case `bigpanda`, byte for byte.
#[tokio::test]
async fn sends_kapacitors_server_test_alert() {
    let receiver = Receiver::http(vec![Answer::status(201)]);
    let service = enabled(&receiver, "test/bigpanda/alert", "my-app-key");
    let handler = handler(&*service, json!({"app-key": "my-app-key-123456"}));

    let request = deliver(&*handler, &alert_handlers_event(), &receiver).await;

    assert_post(
        &request,
        "/test/bigpanda/alert",
        r#"{"app_key":"my-app-key-123456","check":"id","description":"message","details":"details","host":"","status":"critical","task":"testAlertHandlers:alert","timestamp":0}"#,
    );
    assert_eq!(request.header("authorization"), Some("Bearer my-token-123"));
}

/// Kapacitor's `TestStream_AlertBigPanda`: three `.bigPanda()` handlers, byte for byte.
#[tokio::test]
async fn sends_kapacitors_stream_test_alerts() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver, "test/bigpanda/url", "012345");
    let tick = |chained: &[(&str, Vec<Value>)]| {
        BigpandaService::TICK
            .build_options(&[], chained)
            .expect("the properties")
    };
    let handlers = [
        tick(&[
            ("appKey", vec![json!("111111")]),
            ("host", vec![json!("{{.Tags.host}}")]),
            ("primaryProperty", vec![json!("host")]),
        ]),
        tick(&[
            ("appKey", vec![json!("222222")]),
            ("host", vec![json!("serverA-1")]),
            ("secondaryProperty", vec![json!("application")]),
        ]),
        tick(&[
            ("attribute", vec![json!("x_host"), json!("{{.Tags.host}}")]),
            (
                "attribute",
                vec![json!("x_duration"), json!("{{.Duration}}")],
            ),
            ("attribute", vec![json!("x_detail"), json!("{{.Details}}")]),
            (
                "attribute",
                vec![json!("x_value"), json!("{{.Fields.count}}")],
            ),
        ]),
    ];
    let common = r#""check":"kapacitor/cpu/serverA","description":"kapacitor/cpu/serverA is CRITICAL @1971-01-01 00:00:10 +0000 UTC","details":"https://example.org/link","#;
    let expected = [
        format!(
            r#"{{"app_key":"111111",{common}"host":"serverA","primary_property":"host","status":"critical","task":"TestStream_Alert:cpu","timestamp":31536010}}"#
        ),
        format!(
            r#"{{"app_key":"222222",{common}"host":"serverA-1","secondary_property":"application","status":"critical","task":"TestStream_Alert:cpu","timestamp":31536010}}"#
        ),
        format!(
            r#"{{"app_key":"012345",{common}"host":"","status":"critical","task":"TestStream_Alert:cpu","timestamp":31536010,"x_detail":"https://example.org/link","x_duration":"0s","x_host":"serverA","x_value":"10"}}"#
        ),
    ];

    for (options, expected) in handlers.into_iter().zip(expected) {
        let handler = handler(&*service, options);
        let request = deliver(&*handler, &stream_test_event(), &receiver).await;
        assert_post(&request, "/test/bigpanda/url", &expected);
    }
}

/// Kapacitor's `service_test.go`: the body for an OK alert of `test` at 1971-01-01T00:00:38Z.
fn unit_test_body(
    config: &Config,
    tags: &[(&str, &str)],
    fields: &[(&str, Value)],
    attributes: &[(&str, &str)],
) -> String {
    let tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let fields: BTreeMap<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    body(
        config,
        &Alert {
            url: "",
            app_key: "",
            id: "id",
            message: "message",
            details: "details",
            level: Level::Ok,
            time: Timestamp::from_nanos(31_536_038_000_000_000),
            task_name: "",
            name: "test",
            tags: &tags,
            fields: &fields,
            primary_property: "",
            secondary_property: "",
            attributes: attributes
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
    )
}

#[test]
fn bodies_of_kapacitors_unit_tests() {
    let key = Config {
        app_key: "key".into(),
        ..Config::default()
    };
    assert_eq!(
        unit_test_body(&key, &[], &[("primitive_type", json!(10))], &[]),
        r#"{"app_key":"key","check":"id","description":"message","details":"details","primitive_type":"10","status":"ok","task":":test","timestamp":31536038}"#
    );
    assert_eq!(
        unit_test_body(&key, &[], &[("escape", json!("\n"))], &[]),
        r#"{"app_key":"key","check":"id","description":"message","details":"details","escape":"\n","status":"ok","task":":test","timestamp":31536038}"#
    );
    assert_eq!(
        unit_test_body(
            &key,
            &[],
            &[("array", json!([10, true, "string value"]))],
            &[]
        ),
        r#"{"app_key":"key","array":"[10,true,\"string value\"]","check":"id","description":"message","details":"details","status":"ok","task":":test","timestamp":31536038}"#
    );
    assert_eq!(
        unit_test_body(
            &Config::default(),
            &[("host", "localhost"), ("link", "http://localhost/bp")],
            &[("count", json!(10)), ("load", json!(0.5))],
            &[]
        ),
        r#"{"app_key":"","check":"id","count":"10","description":"message","details":"details","host":"localhost","link":"http://localhost/bp","load":"0.5","status":"ok","task":":test","timestamp":31536038}"#
    );
    let no_auto = Config {
        auto_attributes: String::new(),
        ..key
    };
    assert_eq!(
        unit_test_body(
            &no_auto,
            &[("host", "localhost")],
            &[("count", json!(10))],
            &[("host", "example.com"), ("link", "http://example.com/bp")]
        ),
        r#"{"app_key":"key","check":"id","description":"message","details":"details","host":"example.com","link":"http://example.com/bp","status":"ok","task":":test","timestamp":31536038}"#
    );
}

#[tokio::test]
async fn levels_become_bigpanda_statuses() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*enabled(&receiver, "", "k"), json!({}));
    for (level, status) in [
        (Level::Ok, "ok"),
        (Level::Info, "ok"),
        (Level::Warning, "warning"),
        (Level::Critical, "critical"),
    ] {
        let mut event = stream_test_event();
        event.state.level = level;
        let request = deliver(&*handler, &event, &receiver).await;
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["status"], status, "{level:?}");
    }
}

#[tokio::test]
async fn tags_and_fields_go_out_as_attributes_and_an_empty_host_keeps_the_host_tag() {
    let receiver = Receiver::http(vec![]);
    let service = service(json!({"enabled": true, "app-key": "k", "token": "t",
                                 "url": receiver.url()}));
    let plain = handler(&*service, json!({}));
    let own_host = handler(&*service, json!({"host": "db-{{ .Name }}"}));
    let mut event = stream_test_event();
    event
        .data
        .fields
        .insert("up".into(), FieldValue::Bool(true));
    event
        .data
        .fields
        .insert("ratio".into(), FieldValue::Float(0.25));

    let plain = deliver(&*plain, &event, &receiver).await;
    let own_host = deliver(&*own_host, &event, &receiver).await;

    let plain: Value = serde_json::from_slice(&plain.body).unwrap();
    assert_eq!(plain["host"], "serverA");
    assert_eq!(plain["count"], "10");
    assert_eq!(plain["ratio"], "0.25");
    assert_eq!(plain["up"], "true");
    let own_host: Value = serde_json::from_slice(&own_host.body).unwrap();
    assert_eq!(own_host["host"], "db-cpu");
}

#[tokio::test]
async fn details_are_html_unescaped_and_the_default_json_details_left_out() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*enabled(&receiver, "", "k"), json!({}));
    let mut event = stream_test_event();
    event.state.details = "CPU &gt; 90% on &#34;serverA&#34; &amp; more".into();
    let mut default_details = stream_test_event();
    default_details.state.details = "{&#34;Name&#34;:&#34;cpu&#34;}\n".into();

    let escaped = deliver(&*handler, &event, &receiver).await;
    let default = deliver(&*handler, &default_details, &receiver).await;

    assert!(
        escaped
            .text()
            .contains(r#""details":"CPU \u003e 90% on \"serverA\" \u0026 more","#),
        "{}",
        escaped.text()
    );
    assert!(!default.text().contains("details"), "{}", default.text());
}

#[tokio::test]
async fn non_string_attributes_go_out_as_their_json_text() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(
        &*enabled(&receiver, "", "k"),
        json!({"attributes": {"weight": 5, "ratio": 0.5, "on": true, "list": [1, "a"],
                              "status": "overridden"}}),
    );

    let request = deliver(&*handler, &stream_test_event(), &receiver).await;

    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["weight"], "5");
    assert_eq!(body["ratio"], "0.5");
    assert_eq!(body["on"], "true");
    assert_eq!(body["list"], r#"[1,"a"]"#);
    assert_eq!(body["status"], "overridden", "attributes replace any key");
}

#[tokio::test]
async fn a_refusal_is_permanent_with_bigpandas_explanation() {
    let receiver = Receiver::http(vec![
        Answer::status(401).body(r#"{"status":"failure","error":"Invalid token"}"#),
        Answer::status(400).body(r#"{"message":"app_key is missing"}"#),
    ]);
    let handler = handler(&*enabled(&receiver, "alerts", "k"), json!({}));
    let url = format!("{}alerts", receiver.url());

    let unauthorized = handler.handle(&stream_test_event()).await.unwrap_err();
    let bad = handler.handle(&stream_test_event()).await.unwrap_err();

    assert_eq!(
        unauthorized.message(),
        format!("POST {url}: 401 Unauthorized: Invalid token (check [bigpanda] token)")
    );
    assert_eq!(
        bad.message(),
        format!("POST {url}: 400 Bad Request: app_key is missing")
    );
    assert!(!unauthorized.is_retryable() && !bad.is_retryable());
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retryable() {
    let receiver = Receiver::http(vec![
        Answer::status(429).header("Retry-After", "3"),
        Answer::status(502),
    ]);
    let handler = handler(&*enabled(&receiver, "", "k"), json!({}));

    let limited = handler.handle(&stream_test_event()).await.unwrap_err();
    let failed = handler.handle(&stream_test_event()).await.unwrap_err();

    assert!(limited.is_retryable());
    assert_eq!(
        limited.retry_after(),
        Some(std::time::Duration::from_secs(3))
    );
    assert!(failed.is_retryable());
}

#[tokio::test]
async fn insecure_skip_verify_reaches_existing_handlers() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.server_cert, &pki.server_key, vec![]);
    let section = json!({"enabled": true, "app-key": "k", "token": "t", "url": receiver.url()});
    let service = service(section.clone());
    let handler = handler(&*service, json!({}));

    let err = handler.handle(&stream_test_event()).await.unwrap_err();
    assert!(err.message().contains("TLS with 127.0.0.1 failed"), "{err}");
    assert!(!err.is_retryable());

    let mut insecure = section;
    insecure["insecure-skip-verify"] = json!(true);
    service.update(&insecure).expect("valid configuration");
    deliver(&*handler, &stream_test_event(), &receiver).await;
}

#[tokio::test]
async fn a_disabled_service_fails_every_delivery() {
    let handler = handler(&*service(Value::Null), json!({}));

    let err = handler.handle(&stream_test_event()).await.unwrap_err();

    assert_eq!(err.message(), "service is not enabled");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn service_test_sends_kapacitors_test_alert_with_its_host() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver, "alerts", "my-app-key");

    let started = Timestamp::now().as_nanos() / 1_000_000_000;
    service.test(&json!({})).await.expect("the test passes");

    let request = receiver.next();
    let text = request.text();
    let (body, timestamp) = text.rsplit_once(r#","timestamp":"#).unwrap();
    assert_eq!(
        body,
        r#"{"app_key":"012345","description":"test bigpanda message","host":"serverA","status":"critical","task":":testBigPanda""#
    );
    let timestamp: i64 = timestamp.trim_end_matches('}').parse().unwrap();
    assert!(timestamp >= started, "{timestamp} < {started}");
}

#[tokio::test]
async fn service_test_takes_kapacitors_options() {
    let receiver = Receiver::http(vec![]);
    let service = service(json!({"enabled": true, "app-key": "k", "token": "t",
                                 "url": receiver.url()}));
    let options = json!({"level": "WARNING", "timestamp": "1971-01-01T00:00:38Z",
                         "primary_property": "host",
                         "event_data": {"Name": "disk", "TaskName": "t",
                                        "Tags": {"dc": "eu"}, "Fields": {"free": 0.5}}});

    service.test(&options).await.expect("the test passes");

    assert_post(
        &receiver.next(),
        "/",
        r#"{"app_key":"012345","dc":"eu","description":"test bigpanda message","free":"0.5","host":"serverA","primary_property":"host","status":"warning","task":"t:disk","timestamp":31536038}"#,
    );
}

#[tokio::test]
async fn service_test_of_a_disabled_service_says_so() {
    klaxon_core::testing::assert_disabled_service_test_fails::<BigpandaService>().await;
}
