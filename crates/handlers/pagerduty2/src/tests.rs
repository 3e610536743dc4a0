//! The pagerduty2 handler through the real path: configuration and options decoded by the
//! registry, requests sent to a local stand-in for PagerDuty and checked byte for byte against
//! what Kapacitor sends for the same alert (its `TestServer_AlertHandlers` and
//! `TestStream_AlertPagerDuty2*` cases).

use std::sync::Arc;

use klaxon_core::testing::{
    alert_handlers_event, assert_disabled_service_test_fails, assert_documented, assert_global,
    assert_handler_files_accepted, assert_registered_and_builds, handler, service_in,
};
use klaxon_core::{DynService, Event, HandlerError, Level, ServerContext, Service, Timestamp};
use klaxon_http::testing::{Answer, Received, Receiver, service_posting_to};
use serde_json::{Value, json};

use crate::Pagerduty2Service;

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<Pagerduty2Service>(config).map_err(|e| e.to_string())
}

/// An enabled service posting to `receiver`, with `extra` configuration keys.
fn service(receiver: &Receiver, extra: Value) -> Arc<dyn DynService> {
    service_posting_to::<Pagerduty2Service>(receiver, json!({"enabled": true}), extra)
}

/// The event of Kapacitor's `TestStream_AlertPagerDuty2`, with its `.message()`.
fn stream_test_event() -> Event {
    klaxon_core::testing::stream_alert_event("CRITICAL alert for kapacitor/cpu/serverA")
}

/// Asserts the request Kapacitor's pagerduty2 service sends: a POST to the path of the
/// configured URL with its two headers and exactly `body` (plus the encoder's newline).
fn assert_kapacitor_request(request: &Received, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.pagerduty+json;version=2")
    );
    assert_eq!(request.text(), format!("{body}\n"));
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<Pagerduty2Service>(
        &json!({"enabled": true, "routing-key": "key"}),
        &json!({"routing-key": "other", "links": [{"href": "https://example.com/"}]}),
    );
    assert_documented::<Pagerduty2Service>();
}

#[test]
fn defaults_are_kapacitors_and_the_routing_key_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "routing-key": "", "url": "https://events.pagerduty.com/v2/enqueue",
               "global": false, "timeout": "10s"})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["routing-key"]
    );
    assert_eq!(
        service.default_options(),
        json!({"routing-key": "", "links": []})
    );
}

#[test]
fn kapacitors_sample_section_is_accepted() {
    // etc/kapacitor/kapacitor.conf and the documentation's [pagerduty2], as TOML turns them into.
    for section in [
        json!({"enabled": false, "routing-key": "", "url": "https://events.pagerduty.com/v2/enqueue", "global": false}),
        json!({"enabled": true, "routing-key": "", "url": "https://events.pagerduty.com/v2/enqueue", "global": false}),
    ] {
        build(&section).expect("Kapacitor's section is accepted");
    }
}

#[test]
fn global_is_kapacitors_global_without_state_changes_only() {
    assert_global::<Pagerduty2Service>();
}

#[test]
fn invalid_configurations_are_refused_naming_the_key() {
    let cases = [
        (
            json!({"url": ""}),
            r#"pagerduty2: url is required; write it like "https://host/path""#,
        ),
        (
            json!({"url": "events.pagerduty.com/v2/enqueue"}),
            r#"pagerduty2: url "events.pagerduty.com/v2/enqueue" has no scheme; write it like "https://events.pagerduty.com/v2/enqueue""#,
        ),
        (
            json!({"timeout": "0s"}),
            "pagerduty2: timeout must be greater than zero, got 0s",
        ),
        (
            json!({"service-key": "k"}),
            r#"pagerduty2: unknown key "service-key", expected one of: enabled, global, routing-key, timeout, url"#,
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
            json!({"service-key": "k"}),
            r#"pagerduty2: unknown option "service-key", expected one of: links, routing-key"#,
        ),
        (
            json!({"links": [{"text": "no href"}]}),
            r#"pagerduty2: option "links[0].href" is required; write the link like {href: "https://example.com/", text: "Dashboard"}"#,
        ),
        (
            json!({"links": [{"href": "https://a/", "txt": "typo"}]}),
            r#"pagerduty2: option "links[0].txt": unknown field `txt`, expected `href` or `text`"#,
        ),
    ];
    for (options, expected) in cases {
        let err = service.handler(&options).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{options}");
    }
    let err = service
        .handler(&json!({"links": [{"href": "https://a/", "text": "{{ .Name"}]}))
        .expect_err("refused")
        .to_string();
    assert!(
        err.starts_with(
            r#"pagerduty2: option "links[0].text": "{{ .Name" is not a valid template: "#
        ),
        "{err}"
    );
}

#[test]
fn tickscript_routing_key_and_its_older_name_service_key() {
    let tick = Pagerduty2Service::TICK;
    assert_eq!(tick.property, "pagerDuty2");
    for property in ["routingKey", "serviceKey"] {
        let options = tick
            .build_options(&[], &[(property, vec![json!("test_override_key")])])
            .expect("one key");
        assert_eq!(options, json!({"routing-key": "test_override_key"}));
    }
    assert_eq!(tick.build_options(&[], &[]).expect("bare"), json!({}));
}

/// `.link(href)` and `.link(href, text)`, Kapacitor's `Link(url string, text ...string)`: each
/// adds a link, the text left to its default (the rendered href) when not given.
#[test]
fn tickscript_links_add_links() {
    let tick = Pagerduty2Service::TICK;
    let options = tick
        .build_options(
            &[],
            &[
                (
                    "link",
                    vec![json!("https://example.com/chart"), json!("some chart")],
                ),
                ("link", vec![json!("https://example.com/")]),
            ],
        )
        .expect("two links");
    assert_eq!(
        options,
        json!({"links": [{"href": "https://example.com/chart", "text": "some chart"},
                         {"href": "https://example.com/"}]})
    );
    let service = build(&Value::Null).expect("valid");
    service.handler(&options).expect("the links are accepted");
    for args in [vec![], vec![json!("h"), json!("t"), json!("extra")]] {
        let err = tick
            .build_options(&[], &[("link", args)])
            .expect_err("refused");
        assert!(
            err.to_string()
                .starts_with(".link() takes 1 or 2 arguments, got "),
            "{err}"
        );
    }
}

/// `TestServer_AlertHandlers`, case pagerduty2: a handler file with a routing key and two links,
/// one templated.
#[tokio::test]
async fn a_handler_file_sends_kapacitors_trigger() {
    let receiver = Receiver::http(vec![Answer::status(202)]);
    let handler = handler(
        &*service(&receiver, json!({})),
        json!({
            "routing-key": "rkey",
            "links": [
                {"href": "http://example.com", "text": "t1"},
                {"href": "http://example.com/{{.TaskName}}", "text": "t2"},
            ],
        }),
    );

    handler
        .handle(&alert_handlers_event())
        .await
        .expect("delivered");

    assert_kapacitor_request(
        &receiver.next(),
        concat!(
            r#"{"routing_key":"rkey","event_action":"trigger","dedup_key":"id","payload":{"summary":"message","#,
            r#""source":"unknown","severity":"critical","timestamp":"1970-01-01T00:00:00.000000000Z","#,
            r#""class":"testAlertHandlers","component":"","group":"","custom_details":{"result":{"series":[{"#,
            r#""name":"alert","columns":["time","value"],"values":[["1970-01-01T00:00:00Z",1]]}]}}},"#,
            r#""images":null,"links":[{"href":"http://example.com","text":"t1"},"#,
            r#"{"href":"http://example.com/testAlertHandlers","text":"t2"}],"client":"kapacitor","client_url":""}"#
        ),
    );
}

/// `TestStream_AlertPagerDuty2`: `.pagerDuty2()` with the configured key, and `.pagerDuty2()`
/// with its own key and two links (one without text, which becomes the href).
#[tokio::test]
async fn tickscript_handlers_send_kapacitors_triggers() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"routing-key": "routing_key"}));
    let tick = Pagerduty2Service::TICK;
    let bare = tick.build_options(&[], &[]).expect("bare");
    let own = tick
        .build_options(
            &[],
            &[
                ("routingKey", vec![json!("test_override_key")]),
                ("link", vec![json!("http://example.com")]),
                (
                    "link",
                    vec![json!("http://example.com/{{.TaskName}}"), json!("task")],
                ),
            ],
        )
        .expect("routing key and links");
    let event = stream_test_event();

    handler(&*service, bare).handle(&event).await.expect("sent");
    handler(&*service, own).handle(&event).await.expect("sent");

    let payload = concat!(
        r#""dedup_key":"kapacitor/cpu/serverA","payload":{"summary":"CRITICAL alert for kapacitor/cpu/serverA","#,
        r#""source":"serverA","severity":"critical","timestamp":"1971-01-01T00:00:10.000000000Z","#,
        r#""class":"TestStream_Alert","component":"","group":"","custom_details":{"result":{"series":[{"#,
        r#""name":"cpu","tags":{"host":"serverA"},"columns":["time","count"],"#,
        r#""values":[["1971-01-01T00:00:10Z",10]]}]}}},"images":null,"#
    );
    assert_kapacitor_request(
        &receiver.next(),
        &format!(
            r#"{{"routing_key":"routing_key","event_action":"trigger",{payload}"links":null,"client":"kapacitor","client_url":""}}"#
        ),
    );
    assert_kapacitor_request(
        &receiver.next(),
        &format!(
            concat!(
                r#"{{"routing_key":"test_override_key","event_action":"trigger",{payload}"links":[{{"href":"http://example.com","text":"http://example.com"}},"#,
                r#"{{"href":"http://example.com/TestStream_Alert","text":"task"}}],"client":"kapacitor","client_url":""}}"#
            ),
            payload = payload
        ),
    );
}

/// Kapacitor's `client_url` (`ClientURL: kapacitorURL` in its tests): the server's API URL,
/// which the server sets once it listens, after it built the service.
#[tokio::test]
async fn client_url_is_the_servers_api_url() {
    let receiver = Receiver::http(vec![]);
    let context = ServerContext::default();
    let service = service_in::<Pagerduty2Service>(
        &json!({"enabled": true, "url": receiver.url(), "routing-key": "k"}),
        &context,
    );
    let handler = handler(&*service, json!({}));
    context
        .server_url
        .set("http://klaxon.example.com:9092/kapacitor/v1");

    handler.handle(&stream_test_event()).await.expect("sent");

    let body: Value = serde_json::from_slice(&receiver.next().body).expect("JSON");
    assert_eq!(
        body["client_url"],
        "http://klaxon.example.com:9092/kapacitor/v1"
    );
}

#[tokio::test]
async fn levels_map_to_kapacitors_actions_and_severities() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&receiver, json!({"routing-key": "k"})), json!({}));
    for (level, action, severity) in [
        (Level::Ok, "resolve", "info"),
        (Level::Info, "trigger", "info"),
        (Level::Warning, "trigger", "warning"),
        (Level::Critical, "trigger", "critical"),
    ] {
        let mut event = stream_test_event();
        event.state.level = level;
        handler.handle(&event).await.expect("sent");
        let body: Value = serde_json::from_slice(&receiver.next().body).expect("JSON");
        assert_eq!(body["event_action"], action, "{level}");
        assert_eq!(body["payload"]["severity"], severity, "{level}");
        assert_eq!(body["dedup_key"], "kapacitor/cpu/serverA", "{level}");
    }
}

#[tokio::test]
async fn text_is_encoded_as_go_encodes_it_and_times_keep_nine_digits() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&receiver, json!({"routing-key": "k"})), json!({}));
    let mut event = stream_test_event();
    event.state.message = "cpu <high> & rising".to_owned();
    event.state.time = Timestamp::from_nanos(31_536_010_123_456_789);

    handler.handle(&event).await.expect("sent");

    let text = receiver.next().text();
    assert!(
        text.contains(r#""summary":"cpu \u003chigh\u003e \u0026 rising""#),
        "{text}"
    );
    assert!(
        text.contains(r#""timestamp":"1971-01-01T00:00:10.123456789Z""#),
        "{text}"
    );
}

#[tokio::test]
async fn pagerdutys_refusal_is_permanent_and_carries_its_explanation() {
    let refusal = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#;
    let receiver = Receiver::http(vec![Answer::status(400).body(refusal)]);
    let url = receiver.url().to_owned();
    let handler = handler(&*service(&receiver, json!({"routing-key": "k"})), json!({}));

    let err = handler
        .handle(&stream_test_event())
        .await
        .expect_err("refused");

    assert_eq!(
        err,
        HandlerError::permanent(format!(
            "POST {url}: 400 Bad Request: invalid event: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"
        ))
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retryable_after_retry_after() {
    let receiver = Receiver::http(vec![
        Answer::status(429).header("Retry-After", "7"),
        Answer::status(503).body("upstream unavailable"),
        Answer::status(200),
    ]);
    let url = receiver.url().to_owned();
    let handler = handler(&*service(&receiver, json!({"routing-key": "k"})), json!({}));
    let event = stream_test_event();

    let limited = handler.handle(&event).await.expect_err("429");
    assert!(limited.is_retryable());
    assert_eq!(
        limited.retry_after(),
        Some(std::time::Duration::from_secs(7))
    );
    assert_eq!(
        limited.message(),
        format!("POST {url}: 429 Too Many Requests")
    );
    let unavailable = handler.handle(&event).await.expect_err("503");
    assert!(unavailable.is_retryable());
    assert_eq!(
        unavailable.message(),
        format!("POST {url}: 503 Service Unavailable: upstream unavailable")
    );
    handler.handle(&event).await.expect("200 is success too");
}

#[tokio::test]
async fn without_a_routing_key_nothing_is_sent() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&receiver, json!({})), json!({}));

    let err = handler
        .handle(&stream_test_event())
        .await
        .expect_err("no key");

    assert_eq!(
        err,
        HandlerError::permanent(
            "no routing key: set the handler's routing-key (.routingKey()) or [pagerduty2] routing-key"
        )
    );
    assert_eq!(
        receiver.next_within(std::time::Duration::from_millis(200)),
        None
    );
}

#[tokio::test]
async fn a_disabled_service_sends_nothing() {
    let receiver = Receiver::http(vec![]);
    let service = build(&json!({"url": receiver.url(), "routing-key": "k"})).expect("valid");

    let err = handler(&*service, json!({}))
        .handle(&stream_test_event())
        .await
        .expect_err("disabled");

    assert_eq!(err, HandlerError::permanent("service is not enabled"));
    assert_eq!(
        receiver.next_within(std::time::Duration::from_millis(200)),
        None
    );
}

#[tokio::test]
async fn a_link_template_that_fails_fails_the_delivery_without_sending() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(
        &*service(&receiver, json!({"routing-key": "k"})),
        json!({"links": [{"href": "https://g/{{ .Tags.host.nothing }}"}]}),
    );

    let err = handler
        .handle(&stream_test_event())
        .await
        .expect_err("cannot render");

    assert!(
        err.message().starts_with("cannot render links[0].href: "),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(
        receiver.next_within(std::time::Duration::from_millis(200)),
        None
    );
}

#[tokio::test]
async fn configuration_changes_reach_existing_handlers() {
    let (first, second) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service(&first, json!({"routing-key": "day"}));
    let configured = handler(&*service, json!({}));
    let own = handler(&*service, json!({"routing-key": "own"}));
    let event = stream_test_event();
    configured.handle(&event).await.expect("sent");

    service
        .update(&json!({"enabled": true, "url": second.url(), "routing-key": "night"}))
        .expect("valid");
    configured.handle(&event).await.expect("sent");
    own.handle(&event).await.expect("sent");

    let key = |r: Received| {
        serde_json::from_slice::<Value>(&r.body).expect("JSON")["routing_key"].clone()
    };
    assert_eq!(key(first.next()), "day");
    assert_eq!(key(second.next()), "night");
    assert_eq!(key(second.next()), "own");
}

#[test]
fn the_service_tests_options_are_kapacitors() {
    let service = build(&Value::Null).expect("valid");
    assert_eq!(
        service.test_options(),
        json!({
            "alert_id": "testAlertID",
            "description": "test pagerduty2 message",
            "level": "CRITICAL",
            "event_data": {
                "Name": "testPagerDuty2", "TaskName": "", "Category": "", "Group": "",
                "Tags": {}, "Fields": {}, "Recoverable": false, "Result": {"series": null},
            },
            "timestamp": "2014-11-12T11:45:26.371Z",
            "links": [
                {"href": "https://example.com/a", "text": "a"},
                {"href": "https://example.com/b", "text": "b"},
            ],
        })
    );
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_alert_with_the_configured_key() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"routing-key": "configured"}));

    service.test(&Value::Null).await.expect("the test passes");
    service
        .test(&json!({"level": "OK", "event_data": {"TaskName": "t", "Tags": {"host": "h"}}, "links": []}))
        .await
        .expect("the test passes");

    assert_kapacitor_request(
        &receiver.next(),
        concat!(
            r#"{"routing_key":"configured","event_action":"trigger","dedup_key":"testAlertID","#,
            r#""payload":{"summary":"test pagerduty2 message","source":"unknown","severity":"critical","#,
            r#""timestamp":"2014-11-12T11:45:26.371000000Z","class":"","component":"","group":"","#,
            r#""custom_details":{"result":{"series":null}}},"images":null,"#,
            r#""links":[{"href":"https://example.com/a","text":"a"},{"href":"https://example.com/b","text":"b"}],"#,
            r#""client":"kapacitor","client_url":""}"#
        ),
    );
    let resolve: Value = serde_json::from_slice(&receiver.next().body).expect("JSON");
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["payload"]["class"], "t");
    assert_eq!(resolve["payload"]["source"], "h");
    assert_eq!(resolve["links"], Value::Null);
}

#[tokio::test]
async fn the_service_test_reports_a_disabled_service() {
    assert_disabled_service_test_fails::<Pagerduty2Service>().await;
}

/// Kapacitor's documentation: the handler files of the pagerduty v2 page, typed as written.
#[test]
fn the_documented_handler_files_are_accepted() {
    assert_handler_files_accepted::<Pagerduty2Service>(
        &json!({"enabled": true}),
        &[
            r#"
id: handler-id
topic: topic-name
kind: pagerduty2
options:
  routing-key: 'myroutingkey'
  links:
    - href: 'https://chronograf.example.com/sources/1/dashboards/2'
      text: 'Overview Dashboard'
    - href: 'https://chronograf.example.com/'
"#,
            r#"
topic: cpu
id: pagerduty2-cpu-alert
kind: pagerduty2
options:
  routing-key: 'myroutingkey'
"#,
        ],
    );
}
