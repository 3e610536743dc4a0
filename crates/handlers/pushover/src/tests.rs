//! The pushover handler through the real path: configuration and options decoded by the
//! registry, forms posted to a local stand-in for Pushover and checked byte for byte against what
//! Kapacitor sends for the same alert (its `TestServer_AlertHandlers` and
//! `TestStream_AlertPushover` cases).

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{
    assert_disabled_service_test_fails, assert_documented, assert_handler_files_accepted,
    assert_registered_and_builds, handler,
};
use klaxon_core::{DynService, Event, Level, Service};
use klaxon_http::testing::{Answer, Received, Receiver, service_posting_to};
use serde_json::{Value, json};

use crate::PushoverService;

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<PushoverService>(config).map_err(|e| e.to_string())
}

/// An enabled service posting to `receiver` with Kapacitor's test keys, and `extra` ones.
fn service(receiver: &Receiver, extra: Value) -> Arc<dyn DynService> {
    let config = json!({"enabled": true, "token": "api_key", "user-key": "user"});
    service_posting_to::<PushoverService>(receiver, config, extra)
}

/// Asserts a request as Kapacitor's pushover service sends it.
fn assert_kapacitor_request(request: &Received, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.text(), body);
}

fn event(message: &str, level: Level) -> Event {
    let mut event = Event::sample(message);
    event.state.level = level;
    event
}

/// The message of Kapacitor's `TestStream_AlertPushover`.
const STREAM_MESSAGE: &str = "kapacitor/cpu/serverA is CRITICAL @1971-01-01 00:00:10 +0000 UTC";

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<PushoverService>(
        &json!({"enabled": true, "token": "t", "user-key": "u"}),
        &json!({"title": "Alert from Kapacitor", "sound": "siren"}),
    );
    assert_documented::<PushoverService>();
}

#[test]
fn defaults_are_kapacitors_and_the_keys_are_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "token": "", "user-key": "",
               "url": "https://api.pushover.net/1/messages.json", "timeout": "10s"})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["token", "user-key"]
    );
    assert_eq!(
        service.default_options(),
        json!({"user-key": "", "device": "", "title": "", "url": "", "url-title": "",
               "sound": ""})
    );
    let service = build(&json!({"user-key": "secret"})).unwrap();
    assert_eq!(
        service.test_options(),
        json!({"user-key": "", "message": "test pushover message", "device": "", "title": "",
               "url": "", "url-title": "", "sound": "", "level": "CRITICAL"})
    );
}

#[test]
fn kapacitors_sample_sections_are_accepted() {
    // etc/kapacitor/kapacitor.conf's [pushover], the documentation's and the pipeline's.
    for section in [
        json!({"enabled": false, "token": "", "user-key": "",
               "url": "https://api.pushover.net/1/messages.json"}),
        json!({"enabled": true, "token": "mysupersecrettoken", "user-key": "myuserkey",
               "url": "https://api.pushover.net/1/messages.json"}),
        json!({"enabled": true, "token": "9hiWoDOZ9IbmHsOTeST123ABciWTIqXQVFDo63h9",
               "user-key": "Pushover"}),
        json!({"url": ""}),
    ] {
        build(&section).unwrap_or_else(|e| panic!("{section}: {e}"));
    }
}

#[test]
fn invalid_configurations_are_refused_naming_the_key() {
    let cases = [
        (
            json!({"enabled": true, "user-key": "u"}),
            "pushover: token is required when enabled; set your Pushover application's API token",
        ),
        (
            json!({"enabled": true, "token": "t"}),
            "pushover: user-key is required when enabled; set the Pushover user or group key to notify",
        ),
        (
            json!({"enabled": true, "token": "t", "user-key": "u", "url": ""}),
            r#"pushover: url is required; write it like "https://host/path""#,
        ),
        (
            json!({"timeout": "0s"}),
            "pushover: timeout must be greater than zero, got 0s",
        ),
        (
            json!({"userkey": "u"}),
            r#"pushover: unknown key "userkey", expected one of: enabled, timeout, token, url, user-key"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
    let err = build(&Value::Null)
        .unwrap()
        .handler(&json!({"urlTitle": "x"}))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"pushover: unknown option "urlTitle", expected one of: device, sound, title, url, url-title, user-key"#
    );
}

#[test]
fn tickscript_takes_kapacitors_spellings() {
    let tick = PushoverService::TICK;
    assert_eq!(tick.property, "pushover");
    // pipeline/tick's TestAlertPushover, in its lower-first spellings.
    let options = tick
        .build_options(
            &[],
            &[
                ("userKey", vec![json!("mother")]),
                ("device", vec![json!("LTX-71")]),
                ("title", vec![json!("Faked Apollo Moon Landings")]),
                ("uRL", vec![json!("http://playtronics.com")]),
                ("uRLTitle", vec![json!("Cosmo's Office")]),
                ("sound", vec![json!("click")]),
            ],
        )
        .expect("valid");
    assert_eq!(
        options,
        json!({"user-key": "mother", "device": "LTX-71", "title": "Faked Apollo Moon Landings",
               "url": "http://playtronics.com", "url-title": "Cosmo's Office", "sound": "click"})
    );
    let options = tick
        .build_options(
            &[],
            &[
                ("URL", vec![json!("http://example.com")]),
                ("URLTitle", vec![json!("t")]),
            ],
        )
        .expect("valid");
    assert_eq!(
        options,
        json!({"url": "http://example.com", "url-title": "t"})
    );
    let err = tick
        .build_options(&[], &[("url", vec![json!("http://example.com")])])
        .expect_err("not Kapacitor's");
    assert!(
        err.to_string()
            .starts_with(".pushover() does not take .url()")
    );
}

#[test]
fn kapacitors_documented_handler_files_decode() {
    assert_handler_files_accepted::<PushoverService>(
        &Value::Null,
        &[
            "id: handler-id\ntopic: topic-name\nkind: pushover\noptions:\n  device: device1, device2, device3\n  title: Alert from Kapacitor\n  url: http://example.com\n  url-title: This is an example title\n  sound: siren\n",
            "id: pushover-cpu-alert\ntopic: cpu\nkind: pushover\noptions:\n  title: Alert from Kapacitor\n  sound: siren\n",
        ],
    );
}

/// `TestServer_AlertHandlers`, case pushover.
#[tokio::test]
async fn a_handler_file_sends_kapacitors_form() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&receiver, json!({})), json!({}));
    handler
        .handle(&event("message", Level::Critical))
        .await
        .expect("sent");
    assert_kapacitor_request(
        &receiver.next(),
        "message=message&priority=1&token=api_key&user=user",
    );
}

/// `TestStream_AlertPushover`: both handlers.
#[tokio::test]
async fn tickscript_handlers_send_kapacitors_forms() {
    let receiver = Receiver::http(vec![]);
    let service = service(
        &receiver,
        json!({"token": "KzGDORePKggMaC0QOYAMyEEuzJnyUi"}),
    );
    let tick = PushoverService::TICK;
    let first = tick
        .build_options(
            &[],
            &[
                ("sound", vec![json!("siren")]),
                ("device", vec![json!("mydev")]),
                ("title", vec![json!("mytitle")]),
                ("URL", vec![json!("http://example.com")]),
                ("URLTitle", vec![json!("myurltitle")]),
            ],
        )
        .unwrap();
    let second = tick
        .build_options(
            &[],
            &[
                ("title", vec![json!("othertitle")]),
                ("device", vec![json!("otherdev")]),
            ],
        )
        .unwrap();
    for options in [first, second] {
        handler(&*service, options)
            .handle(&event(STREAM_MESSAGE, Level::Critical))
            .await
            .expect("sent");
    }
    let message = "kapacitor%2Fcpu%2FserverA+is+CRITICAL+%401971-01-01+00%3A00%3A10+%2B0000+UTC";
    assert_kapacitor_request(
        &receiver.next(),
        &format!(
            "device=mydev&message={message}&priority=1&sound=siren&title=mytitle&token=KzGDORePKggMaC0QOYAMyEEuzJnyUi&url=http%3A%2F%2Fexample.com&url_title=myurltitle&user=user"
        ),
    );
    assert_kapacitor_request(
        &receiver.next(),
        &format!(
            "device=otherdev&message={message}&priority=1&title=othertitle&token=KzGDORePKggMaC0QOYAMyEEuzJnyUi&user=user"
        ),
    );
}

#[tokio::test]
async fn the_level_gives_the_priority_and_the_handler_may_name_its_user() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({}));
    let own = handler(&*service, json!({"user-key": "group"}));
    for (level, priority) in [
        (Level::Ok, "-2"),
        (Level::Info, "-1"),
        (Level::Warning, "0"),
        (Level::Critical, "1"),
    ] {
        own.handle(&event("m", level)).await.expect("sent");
        assert_kapacitor_request(
            &receiver.next(),
            &format!("message=m&priority={priority}&token=api_key&user=group"),
        );
    }
}

#[tokio::test]
async fn refusals_and_failures_say_why_and_whether_to_retry() {
    let receiver = Receiver::http(vec![
        Answer::status(400).body(
            r#"{"user":"invalid","errors":["user identifier is invalid"],"status":0,"request":"r"}"#,
        ),
        Answer::status(429).header("Retry-After", "30"),
        Answer::status(500).body("<html>oops</html>"),
    ]);
    let service = service(&receiver, json!({}));
    let handler = handler(&*service, json!({}));
    let url = receiver.url();
    let critical = event("m", Level::Critical);

    let err = handler.handle(&critical).await.expect_err("refused");
    assert_eq!(
        err.message(),
        format!("POST {url}: 400 Bad Request: user identifier is invalid")
    );
    assert!(!err.is_retryable());

    let err = handler.handle(&critical).await.expect_err("limited");
    assert_eq!(err.message(), format!("POST {url}: 429 Too Many Requests"));
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));

    let err = handler.handle(&critical).await.expect_err("failed");
    assert_eq!(
        err.message(),
        format!("POST {url}: 500 Internal Server Error: <html>oops</html>")
    );
    assert!(err.is_retryable());

    let disabled = build(&json!({"url": url})).unwrap();
    let err = self::handler(&*disabled, json!({}))
        .handle(&critical)
        .await
        .expect_err("disabled");
    assert_eq!(err.message(), "service is not enabled");
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_message() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({}));
    service.test(&Value::Null).await.expect("the test passes");
    assert_kapacitor_request(
        &receiver.next(),
        "message=test+pushover+message&priority=1&token=api_key&user=user",
    );
    service
        .test(&json!({"level": "OK", "title": "t", "user-key": "other"}))
        .await
        .expect("the test passes");
    assert_kapacitor_request(
        &receiver.next(),
        "message=test+pushover+message&priority=-2&title=t&token=api_key&user=other",
    );
    assert_disabled_service_test_fails::<PushoverService>().await;
}
