//! The zenoss handler through the real path (configuration and options decoded by the registry)
//! against a local HTTP stand-in for Zenoss' JSON router that records every request.

use std::sync::Arc;

use klaxon_core::testing::{
    PointEvent, alert_handlers_event, assert_documented, assert_registered_and_builds, build,
    handler, option_error,
};
use klaxon_core::{DynService, Event, Handler, Level, Service};
use klaxon_http::testing::{Answer, Received, Receiver};
use serde_json::{Value, json};

use crate::ZenossService;

const ROUTER: &str = "zport/dmd/evconsole_router";

fn service(config: Value) -> Arc<dyn DynService> {
    klaxon_core::testing::service::<ZenossService>(&config)
}

/// An enabled service posting to `receiver`'s router, with `more` keys.
fn enabled(receiver: &Receiver, more: Value) -> Arc<dyn DynService> {
    let mut config = json!({"enabled": true, "url": format!("{}{ROUTER}", receiver.url())});
    if let (Value::Object(config), Value::Object(more)) = (&mut config, more) {
        config.extend(more);
    }
    service(config)
}

fn tick(chained: &[(&str, Vec<Value>)]) -> Value {
    ZenossService::TICK
        .build_options(&[], chained)
        .expect("the properties")
}

/// The one event of Kapacitor's `TestStream_AlertZenoss` (grouped by host and type).
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
        ("POST", "/zport/dmd/evconsole_router")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), body);
}

/// The event (`data[0]`) of a request.
fn event_of(request: &Received) -> Value {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    body["data"][0].clone()
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<ZenossService>(
        &json!({"enabled": true, "url": "https://dev12345.zenoss.io:8080/zport/dmd/evconsole_router",
                "username": "dev", "password": "12345", "action": "ScriptsRouter",
                "method": "kapa_handler",
                "severity-map": {"OK": 0, "Info": 2, "Warning": 3, "Critical": 5}}),
        &json!({"device": "#DEVICE001", "component": "CPU", "eventClass": "/App",
                "customField": {"ticks": 33}}),
    );
    assert_documented::<ZenossService>();
}

#[test]
fn defaults_are_kapacitors() {
    let service = service(Value::Null);
    assert_eq!(
        service.config(),
        json!({"enabled": false, "url": "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router",
               "username": "", "password": "", "action": "EventsRouter", "method": "add_event",
               "type": "rpc", "tid": 1, "collector": "Kapacitor",
               "severity-map": {"OK": "Clear", "Info": "Info", "Warning": "Warning",
                                "Critical": "Critical"},
               "global": false, "state-changes-only": false, "timeout": "10s"})
    );
    assert_eq!(
        service.test_options(),
        json!({"alert_id": "1001", "level": "CRITICAL", "message": "test zenoss message",
               "action": "EventsRouter", "method": "add_event", "type": "rpc", "tid": 1,
               "summary": "", "device": "", "component": "", "eventclasskey": "",
               "eventclass": "", "collector": "Kapacitor", "custom_fields": {}})
    );
}

#[test]
fn kapacitors_sections_are_accepted() {
    for section in [
        json!({"enabled": true, "url": "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router",
               "username": "", "password": "", "action": "EventsRouter", "method": "add_event",
               "type": "rpc", "tid": 1, "collector": "Kapacitor",
               "severity-map": {"OK": "Clear", "Info": "Info", "Warning": "Warning",
                                "Critical": "Critical"},
               "global": false, "state-changes-only": false}),
        // The config API's lower-case keys, and numbers.
        json!({"severity-map": {"ok": 0, "info": 2, "warning": 3, "critical": 5}}),
        json!({"severity-map": {"Critical": 5}}),
    ] {
        build::<ZenossService>(&section).unwrap_or_else(|e| panic!("{section}: {e}"));
    }
}

#[test]
fn bad_configuration_names_the_key() {
    let cases = [
        (
            json!({"enabled": true, "url": ""}),
            r#"zenoss: must specify events URL: set url to your Zenoss JSON router, such as "https://tenant.zenoss.io:8080/zport/dmd/evconsole_router""#,
        ),
        (
            json!({"url": "zport/dmd/evconsole_router"}),
            r#"zenoss: url "zport/dmd/evconsole_router" has no scheme; write it like "https://zport/dmd/evconsole_router""#,
        ),
        (
            json!({"severity-map": {"Info": true}}),
            r#"zenoss: invalid severity mapping: severity-map Info is true; write a Zenoss severity name such as "Critical" or a number from 0 to 5"#,
        ),
        (
            json!({"timeout": "0s"}),
            "zenoss: timeout must be greater than zero, got 0s",
        ),
    ];
    for (section, expected) in cases {
        let err = build::<ZenossService>(&section).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{section}");
    }
}

#[test]
fn global_and_state_changes_only_are_kapacitors_keys() {
    klaxon_core::testing::assert_global::<ZenossService>();
}

#[test]
fn bad_options_name_the_option() {
    assert_eq!(
        option_error::<ZenossService>(&json!({"TID": 1})),
        r#"zenoss: unknown option "TID", expected one of: action, collector, component, customField, device, evclass, evclasskey, eventClass, eventClassKey, message, method, password, summary, tid, type, url, username"#
    );
    assert_eq!(
        option_error::<ZenossService>(&json!({"summary": "{{ .ID"})),
        "zenoss: summary: template: summary:1:7: unclosed action"
    );
    assert!(
        option_error::<ZenossService>(&json!({"customField": {"data": "{{ .ID"}}))
            .starts_with("zenoss: customField.data: "),
    );
    assert_eq!(
        option_error::<ZenossService>(&json!({"eventClass": "/App", "evclass": "/Other"})),
        r#"zenoss: eventClass and evclass are the same option, given "/App" and "/Other"; set one"#
    );
}

/// The handler files of Kapacitor's documentation, with its `evclasskey` and `evclass`.
#[tokio::test]
async fn documented_handler_files_decode_and_send_the_event_class() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver, json!({}));
    let files = [
        "id: handler-id\ntopic: topic-name\nkind: zenoss\noptions:\n  action: EventsRouter\n  method: add_event\n  type: rpc\n  tid: 1\n  summary: Example event summary.\n  device: example-device\n  component: example-component\n  evclasskey: example-event-class-key\n  evclass: example-event-class\n  collector: Kapacitor\n  message: Example event message.\n  customField: \n    customField1: customValue1\n    customField2: customValue2\n",
        "id: zenoss-cpu-alert\ntopic: cpu\nkind: zenoss\noptions:\n  summary: High CPU usage\n  device: example-device\n  component: example-component\n  evclasskey: example-event-class-key\n  evclass: example-event-class\n",
    ];
    let mut events = Vec::new();
    for file in files {
        let spec: Value = yaml_serde::from_str(file).expect("YAML");
        let handler = handler(&*service, spec["options"].clone());
        events.push(event_of(
            &deliver(&*handler, &stream_test_event(), &receiver).await,
        ));
    }

    assert_eq!(
        events[0],
        json!({"collector": "Kapacitor", "component": "example-component",
               "customField1": "customValue1", "customField2": "customValue2",
               "device": "example-device", "evclass": "example-event-class",
               "evclasskey": "example-event-class-key", "message": "Example event message.",
               "severity": "Critical", "summary": "Example event summary."})
    );
    assert_eq!(events[1]["evclass"], "example-event-class");
    assert_eq!(events[1]["summary"], "High CPU usage");
}

/// The TICKscript properties of Kapacitor's documentation, as written.
#[test]
fn documented_tickscript_properties_build_options() {
    let options = tick(&[
        ("action", vec![json!("EventsRouter")]),
        ("method", vec![json!("add_event")]),
        ("type", vec![json!("rpc")]),
        ("tid", vec![json!(1)]),
        ("summary", vec![json!("Example event summary.")]),
        ("device", vec![json!("example-device")]),
        ("component", vec![json!("example-component")]),
        ("evclasskey", vec![json!("example-event-class-key")]),
        ("evclass", vec![json!("example-event-class")]),
        ("collector", vec![json!("Kapacitor")]),
        ("message", vec![json!("Example event message.")]),
        (
            "customField",
            vec![json!("customField1"), json!("customValue1")],
        ),
        (
            "customField",
            vec![json!("customField2"), json!("customValue2")],
        ),
    ]);
    assert_eq!(
        options,
        json!({"action": "EventsRouter", "method": "add_event", "type": "rpc", "tid": 1,
               "summary": "Example event summary.", "device": "example-device",
               "component": "example-component", "evclasskey": "example-event-class-key",
               "evclass": "example-event-class", "collector": "Kapacitor",
               "message": "Example event message.",
               "customField": {"customField1": "customValue1", "customField2": "customValue2"}})
    );
    handler(&*service(Value::Null), options);
}

/// Kapacitor's `TestServer_AlertHandlers` case `zenoss` (its option `TID` written `tid`), byte
/// for byte.
#[tokio::test]
async fn sends_kapacitors_alert_handlers_event() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver, json!({"collector": ""}));
    let handler = handler(
        &*service,
        json!({"action": "EventsRouter", "method": "add_event", "type": "rpc", "tid": 1}),
    );

    let request = deliver(&*handler, &alert_handlers_event(), &receiver).await;

    assert_post(
        &request,
        r#"{"action":"EventsRouter","method":"add_event","data":[{"component":"","device":"","evclass":"","evclasskey":"","severity":"Critical","summary":"message"}],"type":"rpc","tid":1}"#,
    );
    assert_eq!(request.header("authorization"), None);
}

/// Kapacitor's `TestStream_AlertZenoss`, byte for byte.
#[tokio::test]
async fn sends_kapacitors_stream_test_event() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver, json!({"collector": ""}));
    let handler = handler(
        &*service,
        tick(&[
            ("device", vec![json!("#DEVICE001")]),
            ("component", vec![json!("CPU")]),
            ("eventClass", vec![json!("/App")]),
        ]),
    );

    let request = deliver(&*handler, &stream_test_event(), &receiver).await;

    assert_post(
        &request,
        r##"{"action":"EventsRouter","method":"add_event","data":[{"component":"CPU","device":"#DEVICE001","evclass":"/App","evclasskey":"","severity":"Critical","summary":"kapacitor/cpu/serverA is CRITICAL"}],"type":"rpc","tid":1}"##,
    );
}

/// Kapacitor's `TestStream_AlertZenoss_Custom`, byte for byte: a custom field rendered as JSON
/// and sent as JSON, a number, a numeric severity map.
#[tokio::test]
async fn sends_kapacitors_custom_stream_test_event() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(
        &receiver,
        json!({"severity-map": {"OK": 0, "Info": 2, "Warning": 3, "Critical": 5}}),
    );
    let handler = handler(
        &*service,
        tick(&[
            ("action", vec![json!("ScriptsRouter")]),
            ("method", vec![json!("kapa_handler")]),
            ("eventClass", vec![json!("/App")]),
            (
                "message",
                vec![json!("This is message for alert {{ .ID }}")],
            ),
            ("collector", vec![json!("{{ index .Tags \"host\" }}")]),
            (
                "customField",
                vec![
                    json!("data"),
                    json!(
                        r#"{"id":"{{.ID}}","message":"{{.Message}}","time":"{{.Time}}","duration":"{{ .Duration}}","level":"{{.Level}}","recoverable":{{.Recoverable}}}"#
                    ),
                ],
            ),
            ("customField", vec![json!("ticks"), json!(33)]),
        ]),
    );
    let mut event = stream_test_event();
    event.state.details = "{{.}}".into();

    let request = deliver(&*handler, &event, &receiver).await;

    assert_post(
        &request,
        concat!(
            r#"{"action":"ScriptsRouter","method":"kapa_handler","data":[{"collector":"serverA","component":"","#,
            r#""data":{"duration":"0s","id":"kapacitor/cpu/serverA","level":"CRITICAL","#,
            r#""message":"kapacitor/cpu/serverA is CRITICAL","recoverable":true,"time":"1971-01-01 00:00:10 +0000 UTC"},"#,
            r#""device":"","evclass":"/App","evclasskey":"","message":"This is message for alert kapacitor/cpu/serverA","#,
            r#""severity":5,"summary":"kapacitor/cpu/serverA is CRITICAL","ticks":33}],"type":"rpc","tid":1}"#
        ),
    );
}

#[tokio::test]
async fn levels_take_the_severity_map() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*enabled(&receiver, json!({})), json!({}));
    for (level, severity) in [
        (Level::Ok, "Clear"),
        (Level::Info, "Info"),
        (Level::Warning, "Warning"),
        (Level::Critical, "Critical"),
    ] {
        let mut event = stream_test_event();
        event.state.level = level;
        let request = deliver(&*handler, &event, &receiver).await;
        assert_eq!(event_of(&request)["severity"], severity, "{level:?}");
    }
}

#[tokio::test]
async fn custom_fields_replace_event_keys_and_text_that_is_not_json_stays_text() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(
        &*enabled(&receiver, json!({})),
        json!({"customField": {"severity": 4, "list": "[1, {\"b\": 2, \"a\": 1}]",
                               "broken": "{not json", "nested": {"z": 1, "y": [true]}}}),
    );

    let request = deliver(&*handler, &stream_test_event(), &receiver).await;

    let text = request.text();
    assert!(text.contains(r#""broken":"{not json","#), "{text}");
    assert!(text.contains(r#""list":[1,{"a":1,"b":2}],"#), "{text}");
    assert!(text.contains(r#""nested":{"y":[true],"z":1},"#), "{text}");
    assert!(text.contains(r#""severity":4,"#), "{text}");
}

#[tokio::test]
async fn templates_see_kapacitors_zenoss_data() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(
        &*enabled(&receiver, json!({})),
        json!({"summary": "{{ .Level }} {{ .TaskName }}/{{ .Name }} {{ .Recoverable }}",
               "device": "{{ index .Tags \"host\" }}", "component": "{{ .Duration }}",
               "message": "{{ .ID }}|{{ len 3 }}|never"}),
    );

    let request = deliver(&*handler, &stream_test_event(), &receiver).await;

    let event = event_of(&request);
    assert_eq!(event["summary"], "CRITICAL TestStream_Alert/cpu true");
    assert_eq!(event["device"], "serverA");
    assert_eq!(event["component"], "0s");
    // A template that fails while it runs gives what it wrote until then, as in Kapacitor.
    assert_eq!(event["message"], "kapacitor/cpu/serverA|");
}

#[tokio::test]
async fn the_routers_refusal_in_a_200_answer_is_a_permanent_failure() {
    let receiver = Receiver::http(vec![
        Answer::status(200).body(
            r#"{"uuid":"u","action":"EventsRouter","method":"add_event","type":"exception","tid":1,"message":"NameError: add_evnt"}"#,
        ),
        Answer::status(200).body(
            r#"{"uuid":"u","action":"EventsRouter","result":{"success":false,"msg":"device required"},"tid":1,"type":"rpc"}"#,
        ),
        Answer::status(200).body(
            r#"{"uuid":"u","action":"EventsRouter","result":{"success":true,"msg":"Created event"},"tid":1,"type":"rpc"}"#,
        ),
    ]);
    let handler = handler(&*enabled(&receiver, json!({})), json!({}));
    let url = format!("{}{ROUTER}", receiver.url());

    let exception = handler.handle(&stream_test_event()).await.unwrap_err();
    let refused = handler.handle(&stream_test_event()).await.unwrap_err();
    let created = handler.handle(&stream_test_event()).await;

    assert_eq!(
        exception.message(),
        format!("POST {url}: Zenoss refused the event: NameError: add_evnt")
    );
    assert_eq!(
        refused.message(),
        format!("POST {url}: Zenoss refused the event: device required")
    );
    assert!(!exception.is_retryable() && !refused.is_retryable());
    created.expect("delivered");
}

#[tokio::test]
async fn http_failures_are_classified() {
    let receiver = Receiver::http(vec![
        Answer::status(401),
        Answer::status(400).body(r#"{"error":"bad request"}"#),
        Answer::status(503).header("Retry-After", "5"),
    ]);
    let handler = handler(&*enabled(&receiver, json!({})), json!({}));
    let url = format!("{}{ROUTER}", receiver.url());

    let unauthorized = handler.handle(&stream_test_event()).await.unwrap_err();
    let bad = handler.handle(&stream_test_event()).await.unwrap_err();
    let unavailable = handler.handle(&stream_test_event()).await.unwrap_err();

    assert_eq!(
        unauthorized.message(),
        format!("POST {url}: 401 Unauthorized: check [zenoss] username and password")
    );
    assert_eq!(
        bad.message(),
        format!("POST {url}: 400 Bad Request: bad request")
    );
    assert!(!unauthorized.is_retryable() && !bad.is_retryable());
    assert!(unavailable.is_retryable());
    assert_eq!(
        unavailable.retry_after(),
        Some(std::time::Duration::from_secs(5))
    );
}

#[tokio::test]
async fn basic_authentication_and_a_handlers_own_router() {
    let configured = Receiver::http(vec![]);
    let own = Receiver::http(vec![]);
    let service = enabled(&configured, json!({"username": "dev", "password": "12345"}));
    let plain = handler(&*service, json!({}));
    let elsewhere = handler(
        &*service,
        json!({"url": format!("{}router", own.url()), "username": "ops", "password": "s3cret"}),
    );

    let plain = deliver(&*plain, &stream_test_event(), &configured).await;
    let elsewhere = deliver(&*elsewhere, &stream_test_event(), &own).await;

    assert_eq!(plain.header("authorization"), Some("Basic ZGV2OjEyMzQ1"));
    assert_eq!(elsewhere.target, "/router");
    assert_eq!(
        elsewhere.header("authorization"),
        Some("Basic b3BzOnMzY3JldA==")
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
async fn service_test_sends_kapacitors_test_event() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver, json!({}));

    service.test(&json!({})).await.expect("the test passes");

    assert_post(
        &receiver.next(),
        r#"{"action":"EventsRouter","method":"add_event","data":[{"collector":"Kapacitor","component":"","device":"","evclass":"","evclasskey":"","severity":"Critical","summary":"test zenoss message"}],"type":"rpc","tid":1}"#,
    );
}

#[tokio::test]
async fn service_test_takes_kapacitors_options() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(&receiver, json!({}));
    let options = json!({"alert_id": "disk", "level": "WARNING", "summary": "{{ .ID }} full",
                         "eventclass": "/Storage", "custom_fields": {"n": 2}, "tid": 7});

    service.test(&options).await.expect("the test passes");

    assert_post(
        &receiver.next(),
        r#"{"action":"EventsRouter","method":"add_event","data":[{"collector":"Kapacitor","component":"","device":"","evclass":"/Storage","evclasskey":"","n":2,"severity":"Warning","summary":"disk full"}],"type":"rpc","tid":7}"#,
    );
}

#[tokio::test]
async fn service_test_of_a_disabled_service_says_so() {
    klaxon_core::testing::assert_disabled_service_test_fails::<ZenossService>().await;
}
