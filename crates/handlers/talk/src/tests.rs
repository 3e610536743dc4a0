//! The talk handler through the real path (configuration and options decoded by the registry)
//! against a local HTTP stand-in for a Talk webhook that records every request.

use std::sync::Arc;

use klaxon_core::testing::{
    alert_handlers_event, assert_documented, assert_registered_and_builds, build, handler,
    option_error, stream_alert_event,
};
use klaxon_core::{DynService, Event, Handler, Service};
use klaxon_http::testing::{Answer, Received, Receiver};
use serde_json::{Value, json};

use crate::TalkService;

fn service(config: Value) -> Arc<dyn DynService> {
    klaxon_core::testing::service::<TalkService>(&config)
}

/// An enabled service posting to `url`, with Kapacitor's test author.
fn enabled(url: &str) -> Arc<dyn DynService> {
    service(json!({"enabled": true, "url": url, "author_name": "Kapacitor"}))
}

/// The one event of Kapacitor's `TestStream_AlertTalk`.
fn stream_test_event() -> Event {
    stream_alert_event("kapacitor/cpu/serverA is CRITICAL")
}

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
    assert_registered_and_builds::<TalkService>(
        &json!({"enabled": true, "url": "https://jianliao.com/v2/services/webhook/uuid",
                "author_name": "Kapacitor"}),
        &json!({"title": "Message Title", "text": "This is the text included in the message."}),
    );
    assert_documented::<TalkService>();
}

#[test]
fn defaults_are_kapacitors() {
    let service = service(Value::Null);
    assert_eq!(
        service.config(),
        json!({"enabled": false, "url": "", "author_name": "Kapacitor", "timeout": "10s"})
    );
    assert_eq!(
        service.test_options(),
        json!({"title": "testTitle", "text": "test talk text"})
    );
}

#[test]
fn bad_configuration_is_refused_without_showing_the_url() {
    let cases = [
        (
            json!({"enabled": true}),
            "talk: must specify url: set url to the incoming webhook URL of your Talk integration",
        ),
        (
            json!({"url": "jianliao.com/v2/services/webhook/secret-uuid"}),
            r#"talk: url "jianliao"... is not an http(s) URL with a host; write the webhook URL Talk gave, like "https://jianliao.com/v2/services/webhook/<uuid>""#,
        ),
        (
            json!({"timeout": "0s"}),
            "talk: timeout must be greater than zero, got 0s",
        ),
    ];
    for (section, expected) in cases {
        let err = build::<TalkService>(&section).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{section}");
    }
}

#[test]
fn documented_options_decode_and_others_are_refused() {
    let files = [
        "id: handler-id\ntopic: topic-name\nkind: talk\noptions:\n  title: 'Message Title'\n  text: 'This is the text included in the message.'\n",
        "id: talk-cpu-alert\ntopic: cpu\nkind: talk\noptions:\n  title: Alert from Kapacitor\n",
    ];
    klaxon_core::testing::assert_handler_files_accepted::<TalkService>(&Value::Null, &files);
    let options = TalkService::TICK
        .build_options(
            &[],
            &[
                ("title", vec![json!("Message Title")]),
                (
                    "text",
                    vec![json!("This is the text included in the message.")],
                ),
            ],
        )
        .expect("the documented properties");
    assert_eq!(
        options,
        json!({"title": "Message Title", "text": "This is the text included in the message."})
    );
    assert_eq!(
        option_error::<TalkService>(&json!({"room": "x"})),
        r#"talk: unknown option "room", expected one of: text, title"#
    );
}

/// Kapacitor's `TestServer_AlertHandlers` case `talk`, byte for byte.
#[tokio::test]
async fn sends_kapacitors_server_test_message() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*enabled(receiver.url()), json!({}));

    let request = deliver(&*handler, &alert_handlers_event(), &receiver).await;

    assert_post(
        &request,
        "/",
        "{\"authorName\":\"Kapacitor\",\"text\":\"message\",\"title\":\"id\"}\n",
    );
}

/// Kapacitor's `TestStream_AlertTalk`, byte for byte.
#[tokio::test]
async fn sends_kapacitors_stream_test_message() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*enabled(receiver.url()), json!({}));

    let request = deliver(&*handler, &stream_test_event(), &receiver).await;

    assert_post(
        &request,
        "/",
        "{\"authorName\":\"Kapacitor\",\"text\":\"kapacitor/cpu/serverA is CRITICAL\",\"title\":\"kapacitor/cpu/serverA\"}\n",
    );
}

#[tokio::test]
async fn a_handlers_title_and_text_replace_the_alerts() {
    let receiver = Receiver::http(vec![]);
    let url = format!("{}v2/services/webhook/uuid", receiver.url());
    let service = service(json!({"enabled": true, "url": url, "author_name": "ops <bot>"}));
    let titled = handler(&*service, json!({"title": "Alert from Kapacitor"}));
    let both = handler(&*service, json!({"title": "T", "text": "all good & fine"}));

    let titled = deliver(&*titled, &stream_test_event(), &receiver).await;
    let both = deliver(&*both, &stream_test_event(), &receiver).await;

    assert_post(
        &titled,
        "/v2/services/webhook/uuid",
        "{\"authorName\":\"ops \\u003cbot\\u003e\",\"text\":\"kapacitor/cpu/serverA is CRITICAL\",\"title\":\"Alert from Kapacitor\"}\n",
    );
    assert_eq!(
        both.text(),
        "{\"authorName\":\"ops \\u003cbot\\u003e\",\"text\":\"all good \\u0026 fine\",\"title\":\"T\"}\n"
    );
}

#[tokio::test]
async fn a_refusal_is_permanent_with_talks_explanation_and_the_path_hidden() {
    let receiver = Receiver::http(vec![
        Answer::status(404).body(r#"{"error":"webhook not found"}"#),
        Answer::status(400).body("bad message"),
    ]);
    let url = format!("{}v2/services/webhook/secret-uuid", receiver.url());
    let handler = handler(&*enabled(&url), json!({}));
    let origin = receiver.url().trim_end_matches('/');

    let missing = handler.handle(&stream_test_event()).await.unwrap_err();
    let bad = handler.handle(&stream_test_event()).await.unwrap_err();

    assert_eq!(
        missing.message(),
        format!("POST {origin}/<secret path>: 404 Not Found: webhook not found")
    );
    assert_eq!(
        bad.message(),
        format!("POST {origin}/<secret path>: 400 Bad Request: bad message")
    );
    assert!(!missing.is_retryable() && !bad.is_retryable());
}

#[tokio::test]
async fn failures_to_reach_talk_are_retryable_and_hide_the_path() {
    let receiver = Receiver::http(vec![Answer::status(429).header("Retry-After", "4")]);
    let handler = handler(
        &*enabled(&format!("{}hook/secret-uuid", receiver.url())),
        json!({}),
    );
    let limited = handler.handle(&stream_test_event()).await.unwrap_err();
    assert!(limited.is_retryable());
    assert_eq!(
        limited.retry_after(),
        Some(std::time::Duration::from_secs(4))
    );

    let unreachable = handler_for("http://127.0.0.1:1/hook/secret-uuid");
    let err = unreachable.handle(&stream_test_event()).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(!err.message().contains("secret-uuid"), "{err}");
    assert!(
        err.message()
            .starts_with("POST http://127.0.0.1:1/<secret path>: "),
        "{err}"
    );
}

fn handler_for(url: &str) -> Arc<dyn Handler> {
    handler(&*enabled(url), json!({}))
}

#[tokio::test]
async fn a_disabled_service_fails_every_delivery() {
    let handler = handler(&*service(Value::Null), json!({}));

    let err = handler.handle(&stream_test_event()).await.unwrap_err();

    assert_eq!(err.message(), "service is not enabled");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn service_test_sends_kapacitors_test_message() {
    let receiver = Receiver::http(vec![]);
    let service = enabled(receiver.url());

    service.test(&json!({})).await.expect("the test passes");

    assert_post(
        &receiver.next(),
        "/",
        "{\"authorName\":\"Kapacitor\",\"text\":\"test talk text\",\"title\":\"testTitle\"}\n",
    );
}

#[tokio::test]
async fn service_test_of_a_disabled_service_says_so() {
    klaxon_core::testing::assert_disabled_service_test_fails::<TalkService>().await;
}
