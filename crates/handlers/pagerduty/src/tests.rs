//! The pagerduty handler through the real path: configuration and options decoded by the
//! registry, requests sent to a local stand-in for PagerDuty and checked byte for byte against
//! what Kapacitor sends for the same alert (its `TestServer_AlertHandlers` and
//! `TestStream_AlertPagerDuty` cases).

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{
    alert_handlers_event, assert_disabled_service_test_fails, assert_documented, assert_global,
    assert_handler_files_accepted, assert_registered_and_builds, handler, service_in,
};
use klaxon_core::{DynService, Event, HandlerError, Level, ServerContext, Service, TestError};
use klaxon_http::testing::{Answer, Received, Receiver, service_posting_to};
use serde_json::{Value, json};

use crate::PagerdutyService;

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<PagerdutyService>(config).map_err(|e| e.to_string())
}

/// An enabled service posting to `receiver`, with `extra` configuration keys.
fn service(receiver: &Receiver, extra: Value) -> Arc<dyn DynService> {
    service_posting_to::<PagerdutyService>(receiver, json!({"enabled": true}), extra)
}

/// Kapacitor's default details of `TestStream_AlertPagerDuty`'s event, as its alert node renders
/// them: `{{ json . }}` through html/template, so HTML-escaped, with the encoder's newline.
const STREAM_DETAILS: &str = concat!(
    r#"{&#34;Name&#34;:&#34;cpu&#34;,&#34;TaskName&#34;:&#34;TestStream_Alert&#34;,&#34;Group&#34;:&#34;host=serverA&#34;,"#,
    r#"&#34;Tags&#34;:{&#34;host&#34;:&#34;serverA&#34;},&#34;ServerInfo&#34;:{&#34;Hostname&#34;:&#34;h&#34;,"#,
    r#"&#34;ClusterID&#34;:&#34;c&#34;,&#34;ServerID&#34;:&#34;s&#34;},&#34;ID&#34;:&#34;kapacitor/cpu/serverA&#34;,"#,
    r#"&#34;Fields&#34;:{&#34;count&#34;:10},&#34;Level&#34;:&#34;CRITICAL&#34;,&#34;Time&#34;:&#34;1971-01-01T00:00:10Z&#34;,"#,
    r#"&#34;Duration&#34;:0,&#34;Message&#34;:&#34;CRITICAL alert for kapacitor/cpu/serverA&#34;}"#,
    "\n"
);

/// The event of Kapacitor's `TestStream_AlertPagerDuty`, with its message and default details.
fn stream_test_event() -> Event {
    let mut event =
        klaxon_core::testing::stream_alert_event("CRITICAL alert for kapacitor/cpu/serverA");
    event.state.details = STREAM_DETAILS.to_owned();
    event
}

/// Asserts a request as Kapacitor's pagerduty service sends it.
fn assert_kapacitor_request(request: &Received, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), format!("{body}\n"));
}

fn body(request: &Received) -> Value {
    serde_json::from_slice(&request.body).expect("JSON")
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<PagerdutyService>(
        &json!({"enabled": true, "service-key": "key"}),
        &json!({"service-key": "myservicekey"}),
    );
    assert_documented::<PagerdutyService>();
}

#[test]
fn defaults_are_kapacitors_and_the_service_key_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "service-key": "",
               "url": "https://events.pagerduty.com/generic/2010-04-15/create_event.json",
               "global": false, "timeout": "10s"})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["service-key"]
    );
    assert_eq!(service.default_options(), json!({"service-key": ""}));
}

#[test]
fn kapacitors_sample_section_is_accepted() {
    // etc/kapacitor/kapacitor.conf's and the documentation's [pagerduty], as TOML reads them.
    for enabled in [false, true] {
        build(&json!({
            "enabled": enabled, "service-key": "",
            "url": "https://events.pagerduty.com/generic/2010-04-15/create_event.json",
            "global": false,
        }))
        .expect("Kapacitor's section is accepted");
    }
}

#[test]
fn global_is_kapacitors_global_without_state_changes_only() {
    assert_global::<PagerdutyService>();
}

#[test]
fn invalid_configurations_and_options_are_refused_naming_the_key() {
    let cases = [
        (
            json!({"url": ""}),
            r#"pagerduty: url is required; write it like "https://host/path""#,
        ),
        (
            json!({"timeout": "0s"}),
            "pagerduty: timeout must be greater than zero, got 0s",
        ),
        (
            json!({"routing-key": "k"}),
            r#"pagerduty: unknown key "routing-key", expected one of: enabled, global, service-key, timeout, url"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
    let err = build(&Value::Null)
        .expect("valid")
        .handler(&json!({"serviceKey": "k"}))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"pagerduty: unknown option "serviceKey", expected one of: service-key"#
    );
}

#[test]
fn tickscript_sets_the_service_key() {
    let tick = PagerdutyService::TICK;
    assert_eq!(tick.property, "pagerDuty");
    let options = tick
        .build_options(&[], &[("serviceKey", vec![json!("test_override_key")])])
        .expect("valid");
    assert_eq!(options, json!({"service-key": "test_override_key"}));
    assert_eq!(tick.build_options(&[], &[]).expect("bare"), json!({}));
}

/// `TestServer_AlertHandlers`, case pagerduty.
#[tokio::test]
async fn a_handler_file_sends_kapacitors_trigger() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(
        &*service(&receiver, json!({})),
        json!({"service-key": "service_key"}),
    );

    handler.handle(&alert_handlers_event()).await.expect("sent");

    assert_kapacitor_request(
        &receiver.next(),
        concat!(
            r#"{"client":"kapacitor","client_url":"","description":"message","details":"details","#,
            r#""event_type":"trigger","incident_key":"id","service_key":"service_key"}"#
        ),
    );
}

/// Kapacitor's `client_url` (`ClientURL: kapacitorURL` in its tests): the server's API URL,
/// which the server sets once it listens, after it built the service.
#[tokio::test]
async fn client_url_is_the_servers_api_url() {
    let receiver = Receiver::http(vec![]);
    let context = ServerContext::default();
    let service = service_in::<PagerdutyService>(
        &json!({"enabled": true, "url": receiver.url(), "service-key": "k"}),
        &context,
    );
    let handler = handler(&*service, json!({}));
    context
        .server_url
        .set("http://klaxon.example.com:9092/kapacitor/v1");

    handler.handle(&alert_handlers_event()).await.expect("sent");

    assert_eq!(
        body(&receiver.next())["client_url"],
        "http://klaxon.example.com:9092/kapacitor/v1"
    );
}

/// `TestStream_AlertPagerDuty`: `.pagerDuty()` with the configured key and `.pagerDuty()
/// .serviceKey('test_override_key')`; the default details go out HTML-escaped, as Kapacitor's.
#[tokio::test]
async fn tickscript_handlers_send_kapacitors_triggers() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"service-key": "service_key"}));
    let tick = PagerdutyService::TICK;
    let own = tick
        .build_options(&[], &[("serviceKey", vec![json!("test_override_key")])])
        .expect("valid");
    let event = stream_test_event();

    handler(&*service, json!({}))
        .handle(&event)
        .await
        .expect("sent");
    handler(&*service, own).handle(&event).await.expect("sent");

    let details = STREAM_DETAILS.replace('&', r"\u0026").replace('\n', r"\n");
    for key in ["service_key", "test_override_key"] {
        assert_kapacitor_request(
            &receiver.next(),
            &format!(
                concat!(
                    r#"{{"client":"kapacitor","client_url":"","description":"CRITICAL alert for kapacitor/cpu/serverA","#,
                    r#""details":"{details}","event_type":"trigger","incident_key":"kapacitor/cpu/serverA","service_key":"{key}"}}"#
                ),
                details = details,
                key = key
            ),
        );
    }
}

#[tokio::test]
async fn ok_resolves_warning_triggers_and_info_is_not_sent() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&receiver, json!({"service-key": "k"})), json!({}));
    for (level, event_type) in [(Level::Warning, "trigger"), (Level::Ok, "resolve")] {
        let mut event = stream_test_event();
        event.state.level = level;
        handler.handle(&event).await.expect("sent");
        let sent = body(&receiver.next());
        assert_eq!(sent["event_type"], event_type, "{level}");
        assert_eq!(sent["incident_key"], "kapacitor/cpu/serverA");
    }

    let mut info = stream_test_event();
    info.state.level = Level::Info;
    let err = handler.handle(&info).await.expect_err("not sent");
    assert_eq!(
        err,
        HandlerError::permanent("AlertLevel 'info' is currently ignored by the PagerDuty service")
    );
    assert_eq!(receiver.next_within(Duration::from_millis(200)), None);
}

#[tokio::test]
async fn pagerdutys_refusal_is_permanent_and_busy_or_failing_servers_retryable() {
    let refusal = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Service key is the wrong length (should be 32 characters)"]}"#;
    let receiver = Receiver::http(vec![
        Answer::status(400).body(refusal),
        Answer::status(429).header("Retry-After", "30"),
        Answer::status(502),
        Answer::status(202),
    ]);
    let url = receiver.url().to_owned();
    let handler = handler(&*service(&receiver, json!({"service-key": "k"})), json!({}));
    let event = stream_test_event();

    let refused = handler.handle(&event).await.expect_err("400");
    assert_eq!(
        refused,
        HandlerError::permanent(format!(
            "POST {url}: 400 Bad Request: invalid event: Event object is invalid: Service key is the wrong length (should be 32 characters)"
        ))
    );
    let limited = handler.handle(&event).await.expect_err("429");
    assert!(limited.is_retryable());
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(30)));
    assert!(
        handler
            .handle(&event)
            .await
            .expect_err("502")
            .is_retryable()
    );
    handler.handle(&event).await.expect("202 is a success too");
}

#[tokio::test]
async fn without_a_service_key_or_enabled_service_nothing_is_sent() {
    let receiver = Receiver::http(vec![]);
    let err = handler(&*service(&receiver, json!({})), json!({}))
        .handle(&stream_test_event())
        .await
        .expect_err("no key");
    assert_eq!(
        err,
        HandlerError::permanent(
            "no service key: set the handler's service-key (.serviceKey()) or [pagerduty] service-key"
        )
    );
    let disabled = build(&json!({"url": receiver.url(), "service-key": "k"})).expect("valid");
    let err = handler(&*disabled, json!({}))
        .handle(&stream_test_event())
        .await
        .expect_err("disabled");
    assert_eq!(err, HandlerError::permanent("service is not enabled"));
    assert_eq!(receiver.next_within(Duration::from_millis(200)), None);
}

#[tokio::test]
async fn configuration_changes_reach_existing_handlers() {
    let (first, second) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service(&first, json!({"service-key": "day"}));
    let handler = handler(&*service, json!({}));
    handler.handle(&stream_test_event()).await.expect("sent");

    service
        .update(&json!({"enabled": true, "url": second.url(), "service-key": "night"}))
        .expect("valid");
    handler.handle(&stream_test_event()).await.expect("sent");

    assert_eq!(body(&first.next())["service_key"], "day");
    assert_eq!(body(&second.next())["service_key"], "night");
}

#[test]
fn the_service_tests_options_are_kapacitors() {
    assert_eq!(
        build(&Value::Null).expect("valid").test_options(),
        json!({"incident-key": "testIncidentKey", "description": "test pagerduty message",
               "details": "", "level": "CRITICAL"})
    );
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_event_with_the_configured_key() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"service-key": "configured"}));

    service.test(&Value::Null).await.expect("the test passes");
    let err = service
        .test(&json!({"level": "INFO"}))
        .await
        .expect_err("INFO is not sent");

    assert_kapacitor_request(
        &receiver.next(),
        concat!(
            r#"{"client":"kapacitor","client_url":"","description":"test pagerduty message","details":"","#,
            r#""event_type":"trigger","incident_key":"testIncidentKey","service_key":"configured"}"#
        ),
    );
    assert_eq!(
        err,
        TestError::Failed(HandlerError::permanent(
            "AlertLevel 'info' is currently ignored by the PagerDuty service"
        ))
    );
    assert_disabled_service_test_fails::<PagerdutyService>().await;
}

/// Kapacitor's documentation: the handler files of the PagerDuty v1 page, typed as written.
#[test]
fn the_documented_handler_files_are_accepted() {
    assert_handler_files_accepted::<PagerdutyService>(
        &Value::Null,
        &[
            "id: handler-id\ntopic: topic-name\nkind: pagerduty\noptions:\n  service-key: 'myservicekey'\n",
            "topic: cpu\nid: pagerduty-cpu-alert\nkind: pagerduty\noptions:\n  service-key: 'myservicekey'\n",
        ],
    );
}
