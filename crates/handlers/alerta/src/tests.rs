//! The alerta handler through the real path: configuration and options decoded by the registry,
//! requests sent to a local stand-in for Alerta and checked byte for byte against what Kapacitor
//! sends for the same alert (its `TestServer_AlertHandlers` and `TestStream_AlertAlerta` cases).

use std::sync::Arc;

use klaxon_core::testing::{
    alert_handlers_event as server_test_event, assert_disabled_service_test_fails,
    assert_documented, assert_handler_files_accepted, assert_registered_and_builds, handler,
    stream_alert_event,
};
use klaxon_core::{DynService, Event, Level, Service};
use klaxon_http::testing::{Answer, Received, Receiver, service_posting_to};
use serde_json::{Value, json};

use crate::AlertaService;

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<AlertaService>(config).map_err(|e| e.to_string())
}

/// An enabled service posting to `receiver`, with `extra` configuration keys.
fn service(receiver: &Receiver, extra: Value) -> Arc<dyn DynService> {
    service_posting_to::<AlertaService>(receiver, json!({"enabled": true}), extra)
}

/// Asserts a request as Kapacitor's alerta service sends it.
fn assert_kapacitor_request(request: &Received, authorization: Option<&str>, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/alert");
    assert_eq!(request.header("authorization"), authorization);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), format!("{body}\n"));
}

/// The event of Kapacitor's `TestStream_AlertAlerta`, with its `.id()` and `.message()`.
fn stream_test_event() -> Event {
    let mut event =
        stream_alert_event("kapacitor/cpu/serverA is CRITICAL @1971-01-01 00:00:10 +0000 UTC");
    event.state.id = "serverA".into();
    event
}

/// The chained properties of `TestStream_AlertAlerta`'s second `.alerta()`.
fn stream_second_handler() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        ("token", vec![json!("anothertesttoken")]),
        (
            "resource",
            vec![json!("resource: {{ index .Tags \"host\" }}")],
        ),
        ("event", vec![json!("event: {{ .TaskName }}")]),
        ("environment", vec![json!("{{ index .Tags \"host\" }}")]),
        ("origin", vec![json!("override")]),
        ("group", vec![json!("{{ .ID }}")]),
        ("value", vec![json!("{{ index .Fields \"count\" }}")]),
        (
            "services",
            vec![json!("serviceA"), json!("serviceB"), json!("{{ .Name }}")],
        ),
        ("correlated", vec![json!("{{ .Name }}")]),
        ("attribute", vec![json!("attributeA"), json!("{{ .Name }}")]),
        ("attribute", vec![json!("attributeB"), json!(true)]),
        ("attribute", vec![json!("attributeC"), json!(9001.0)]),
    ]
}

/// TICKscript options through the crate's shape.
fn tick(chained: &[(&str, Vec<Value>)]) -> Value {
    AlertaService::TICK
        .build_options(&[], chained)
        .expect("valid TICKscript")
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<AlertaService>(
        &json!({"enabled": true, "url": "http://alerta.example.com/api", "token": "t"}),
        &json!({"resource": "{{ .Name }}", "event": "{{ .ID }}"}),
    );
    assert_documented::<AlertaService>();
}

#[test]
fn defaults_are_kapacitors_and_the_token_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "url": "", "insecure-skip-verify": false, "token": "",
               "token-prefix": "", "environment": "", "origin": "", "timeout": "0s"})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["token"]
    );
    assert_eq!(
        service.default_options(),
        json!({"token": "", "token-prefix": "", "resource": "{{ .Name }}", "event": "{{ .ID }}",
               "environment": "", "group": "{{ .Group }}", "value": "", "origin": "",
               "service": [], "correlate": [], "attributes": {}, "timeout": "24h0m0s"})
    );
    // TestServer_ListServiceTests' alerta entry.
    assert_eq!(
        service.test_options(),
        json!({"resource": "testResource", "event": "testEvent", "environment": "",
               "severity": "critical", "group": "testGroup", "value": "testValue",
               "message": "test alerta message", "origin": "",
               "service": ["testServiceA", "testServiceB"],
               "correlate": ["testServiceX", "testServiceY"],
               "attributes": {"testAttributeA": "A", "testAttributeB": true,
                              "testAttributeC": 9001.0},
               "timeout": "24h0m0s"})
    );
    let configured =
        build(&json!({"timeout": "1h", "environment": "prod", "origin": "k"})).unwrap();
    assert_eq!(configured.default_options()["timeout"], "1h0m0s");
    assert_eq!(configured.test_options()["environment"], "prod");
    assert_eq!(configured.test_options()["origin"], "k");
}

#[test]
fn kapacitors_sample_sections_are_accepted() {
    // etc/kapacitor/kapacitor.conf's [alerta], and the documentation's, as TOML reads them.
    build(
        &json!({"enabled": false, "url": "", "token": "", "token-prefix": "Bearer",
                  "environment": "", "origin": "kapacitor"}),
    )
    .expect("the shipped section is accepted");
    build(
        &json!({"enabled": true, "url": "http://127.0.0.1", "token": "mysupersecretauthtoken",
                  "environment": "production", "origin": "kapacitor"}),
    )
    .expect("the documented section is accepted");
    // The config API's keys (TestServer_UpdateConfig).
    build(&json!({"insecure-skip-verify": false, "timeout": "3h"})).expect("accepted");
}

#[test]
fn invalid_configurations_and_options_are_refused_naming_the_key() {
    let cases = [
        (
            json!({"enabled": true}),
            r#"alerta: url is required when enabled; write the Alerta API's URL, like "http://alerta.example.com/api""#,
        ),
        (
            json!({"url": "alerta.example.com"}),
            r#"alerta: url "alerta.example.com" has no scheme; write it like "https://alerta.example.com""#,
        ),
        (
            json!({"timeout": "-1s"}),
            "alerta: timeout must not be negative, got -1s",
        ),
        (
            json!({"global": true}),
            r#"alerta: unknown key "global", expected one of: enabled, environment, insecure-skip-verify, origin, timeout, token, token-prefix, url"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
    let service = build(&Value::Null).unwrap();
    for (options, expected) in [
        (
            json!({"resource": "{{ .Name "}),
            r#"alerta: option "resource": "{{ .Name " is not a valid template: "#,
        ),
        (
            json!({"service": ["a", "{{ .Name"]}),
            r#"alerta: option "service[1]": "{{ .Name" is not a valid template: "#,
        ),
        (
            json!({"attributes": {"owner": "{{ index .Tags }"}}),
            r#"alerta: option "attributes.owner": "{{ index .Tags }" is not a valid template: "#,
        ),
        (
            json!({"timeout": "24 hours"}),
            r#"alerta: option "timeout": invalid duration "24 hours""#,
        ),
        (
            json!({"timeout": -1}),
            r#"alerta: option "timeout" must not be negative, got -1ns"#,
        ),
        (
            json!({"services": ["a"]}),
            r#"alerta: unknown option "services", expected one of: attributes, correlate, environment, event, group, origin, resource, service, timeout, token, token-prefix, value"#,
        ),
    ] {
        let err = service.handler(&options).expect_err("refused").to_string();
        assert!(err.starts_with(expected), "{options}: {err}");
    }
}

/// `TestStream_AlertAlerta`'s second handler, and `pipeline/tick`'s `TestAlertAlerta`.
#[test]
fn tickscript_sets_kapacitors_options() {
    assert_eq!(AlertaService::TICK.property, "alerta");
    let mut chained = stream_second_handler();
    chained.push(("timeout", vec![json!(3_600_000_000_000i64)]));
    let options = tick(&chained);
    assert_eq!(
        options,
        json!({"token": "anothertesttoken", "resource": "resource: {{ index .Tags \"host\" }}",
               "event": "event: {{ .TaskName }}", "environment": "{{ index .Tags \"host\" }}",
               "origin": "override", "group": "{{ .ID }}",
               "value": "{{ index .Fields \"count\" }}",
               "service": ["serviceA", "serviceB", "{{ .Name }}"], "correlate": ["{{ .Name }}"],
               "attributes": {"attributeA": "{{ .Name }}", "attributeB": true,
                              "attributeC": 9001.0},
               "timeout": 3_600_000_000_000i64})
    );
    build(&Value::Null)
        .unwrap()
        .handler(&options)
        .expect("accepted");
    // The documentation's spellings, which Kapacitor lacks.
    assert_eq!(
        tick(&[
            ("tokenPrefix", vec![json!("Bearer")]),
            ("correlate", vec![json!("event1"), json!("event2")]),
            ("service", vec![json!("service1")]),
        ]),
        json!({"token-prefix": "Bearer", "correlate": ["event1", "event2"], "service": ["service1"]})
    );
}

#[test]
fn kapacitors_documented_handler_files_decode() {
    assert_handler_files_accepted::<AlertaService>(
        &Value::Null,
        &[
            "id: alerta-cpu-alert\ntopic: cpu\nkind: alerta\noptions:\n  resource: '{{ .Name }}'\n  event: '{{ .ID }}'\n  origin: 'kapacitor'\n  correlate: ['service1', 'service2']\n",
            // The documentation's full example, without its invalid line `correlate: 'event1',
            // 'event2'` (not YAML) and so without the duplicate `correlate`: timeout as written.
            "topic: topic-name\nid: handler-id\nkind: alerta\noptions:\n  token: 'mysupersecretauthtoken'\n  token-prefix: 'Bearer'\n  resource: '{{ .Name }}'\n  event: '{{ .ID }}'\n  environment: 'Production'\n  group: '{{ .Group }}'\n  value: 'some-value'\n  origin: 'kapacitor'\n  service: ['service1', 'service2']\n  correlate: ['service1', 'service2']\n  timeout: 24h\n  attributes:\n    key1: value1\n    key2: 8\n    booleanAttribute: TRUE\n",
        ],
    );
}

/// `TestServer_AlertHandlers`, case alerta.
#[tokio::test]
async fn a_handler_file_sends_kapacitors_alert() {
    let receiver = Receiver::http(vec![Answer::status(201)]);
    let handler = handler(
        &*service(&receiver, json!({})),
        json!({"token": "testtoken1234567", "token-prefix": "Bearer", "origin": "kapacitor",
               "group": "test", "environment": "env", "timeout": 86_400_000_000_000i64}),
    );

    handler.handle(&server_test_event()).await.expect("sent");

    assert_kapacitor_request(
        &receiver.next(),
        Some("Bearer testtoken1234567"),
        concat!(
            r#"{"correlate":["alert"],"environment":"env","event":"id","group":"test","origin":"kapacitor","#,
            r#""rawData":{"series":[{"name":"alert","columns":["time","value"],"values":[["1970-01-01T00:00:00Z",1]]}]},"#,
            r#""resource":"alert","service":["alert"],"severity":"critical","tags":[],"text":"message","timeout":86400,"value":""}"#
        ),
    );
}

/// `TestStream_AlertAlerta`: both handlers, with `[alerta] origin = "Kapacitor"`.
#[tokio::test]
async fn tickscript_handlers_send_kapacitors_alerts() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"origin": "Kapacitor"}));
    let first = tick(&[
        ("token", vec![json!("testtoken1234567")]),
        ("environment", vec![json!("production")]),
        ("timeout", vec![json!(3_600_000_000_000i64)]),
    ]);
    let second = tick(&stream_second_handler());
    let event = stream_test_event();
    for options in [first, second] {
        handler(&*service, options)
            .handle(&event)
            .await
            .expect("sent");
    }
    let raw = r#""rawData":{"series":[{"name":"cpu","tags":{"host":"serverA"},"columns":["time","count"],"values":[["1971-01-01T00:00:10Z",10]]}]}"#;
    let text = r#""text":"kapacitor/cpu/serverA is CRITICAL @1971-01-01 00:00:10 +0000 UTC""#;
    assert_kapacitor_request(
        &receiver.next(),
        Some("Bearer testtoken1234567"),
        &format!(
            r#"{{"correlate":["cpu"],"environment":"production","event":"serverA","group":"host=serverA","origin":"Kapacitor",{raw},"resource":"cpu","service":["cpu"],"severity":"critical","tags":["host=serverA"],{text},"timeout":3600,"value":""}}"#
        ),
    );
    assert_kapacitor_request(
        &receiver.next(),
        Some("Bearer anothertesttoken"),
        &format!(
            r#"{{"attributes":{{"attributeA":"cpu","attributeB":true,"attributeC":9001}},"correlate":["cpu"],"environment":"serverA","event":"event: TestStream_Alert","group":"serverA","origin":"override",{raw},"resource":"resource: serverA","service":["serviceA","serviceB","cpu"],"severity":"critical","tags":["host=serverA"],{text},"timeout":86400,"value":"10"}}"#
        ),
    );
}

#[tokio::test]
async fn the_configuration_fills_what_the_handler_leaves_empty() {
    let receiver = Receiver::http(vec![]);
    let service = service(
        &receiver,
        json!({"token": "configured", "token-prefix": "Key", "environment": "production",
               "origin": "kapacitor", "timeout": "1h"}),
    );
    let mut event = server_test_event();
    for (level, severity) in [
        (Level::Ok, "ok"),
        (Level::Info, "informational"),
        (Level::Warning, "warning"),
    ] {
        event.state.level = level;
        handler(&*service, json!({}))
            .handle(&event)
            .await
            .expect("sent");
        let request = receiver.next();
        assert_eq!(request.header("authorization"), Some("Key configured"));
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["severity"], severity);
        assert_eq!(body["environment"], "production");
        assert_eq!(body["origin"], "kapacitor");
        assert_eq!(body["group"], "nil");
        assert_eq!(body["timeout"], 3600);
    }

    // No token anywhere: no Authorization header.
    let bare = build(&json!({"enabled": true, "url": receiver.url()})).unwrap();
    handler(&*bare, json!({}))
        .handle(&server_test_event())
        .await
        .expect("sent");
    assert_eq!(receiver.next().header("authorization"), None);
}

#[tokio::test]
async fn refusals_and_failures_say_why_and_whether_to_retry() {
    let receiver = Receiver::http(vec![
        Answer::status(401).body(
            r#"{"status": "error", "message": "Missing authorization API Key or Bearer Token"}"#,
        ),
        Answer::status(503).header("Retry-After", "7").body("down"),
    ]);
    let service = service(&receiver, json!({}));
    let handler = handler(&*service, json!({}));
    let url = format!("{}alert", receiver.url());

    let err = handler
        .handle(&server_test_event())
        .await
        .expect_err("refused");
    assert_eq!(
        err.message(),
        format!("POST {url}: 401 Unauthorized: Missing authorization API Key or Bearer Token")
    );
    assert!(!err.is_retryable());

    let err = handler
        .handle(&server_test_event())
        .await
        .expect_err("unavailable");
    assert_eq!(
        err.message(),
        format!("POST {url}: 503 Service Unavailable: down")
    );
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(7)));

    let empty = self::handler(&*service, json!({"resource": ""}));
    let err = empty
        .handle(&server_test_event())
        .await
        .expect_err("no resource");
    assert_eq!(
        err.message(),
        r#"resource and event are required to send an alert; they rendered "" and "id""#
    );
    assert!(!err.is_retryable());

    let disabled = build(&json!({"url": receiver.url()})).unwrap();
    let err = self::handler(&*disabled, json!({}))
        .handle(&server_test_event())
        .await
        .expect_err("disabled");
    assert_eq!(err.message(), "service is not enabled");
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_alert() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"token": "t", "origin": "kapacitor"}));
    service.test(&Value::Null).await.expect("the test passes");
    assert_kapacitor_request(
        &receiver.next(),
        Some("Bearer t"),
        concat!(
            r#"{"attributes":{"testAttributeA":"A","testAttributeB":true,"testAttributeC":9001},"#,
            r#""correlate":["testServiceX","testServiceY"],"environment":"","event":"testEvent","group":"testGroup","#,
            r#""origin":"kapacitor","rawData":{"series":null},"resource":"testResource","service":["testServiceA","testServiceB"],"#,
            r#""severity":"critical","tags":[],"text":"test alerta message","timeout":86400,"value":"testValue"}"#
        ),
    );
    assert_disabled_service_test_fails::<AlertaService>().await;
}
