//! The foo handler through the real path: options decoded by the registry, posts to a real local
//! HTTP server (the demo Foo server).

use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::testing::{assert_documented, assert_registered_and_builds};
use klaxon_core::{DynService, Event, Handler, HandlerError, Service, TestError};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::FooService;
use crate::demo::{FooServer, Message, Request};

/// Generous bound for anything that should happen promptly, on a loaded machine.
const PROMPTLY: Duration = Duration::from_secs(10);

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<FooService>(config).map_err(|e| e.to_string())
}

/// An enabled service posting to `url`, with the default room `alerts`.
fn service(url: &str) -> Arc<dyn DynService> {
    build(&json!({"enabled": true, "url": url, "room": "alerts"})).expect("valid configuration")
}

fn handler(service: &dyn DynService, options: Value) -> Arc<dyn Handler> {
    service.handler(&options).expect("the options are valid")
}

async fn foo_server() -> FooServer {
    FooServer::start().await.expect("the Foo server starts")
}

fn message(room: &str, message: &str) -> Message {
    Message {
        room: room.to_owned(),
        message: message.to_owned(),
    }
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<FooService>(
        &json!({"enabled": true, "url": "http://127.0.0.1:8088/", "room": "alerts"}),
        &json!({"room": "ops"}),
    );
    assert_documented::<FooService>();
}

#[test]
fn defaults_are_disabled_with_a_ten_second_timeout() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "url": "", "room": "", "timeout": "10s", "ssl-ca": "",
               "insecure-skip-verify": false})
    );
    assert_eq!(service.default_options(), json!({"room": ""}));
}

#[test]
fn test_options_default_to_the_configured_room() {
    assert_eq!(
        service("http://127.0.0.1:8088/").test_options(),
        json!({"room": "alerts", "message": "test foo message"})
    );
}

#[test]
fn invalid_configurations_are_refused() {
    let cases = [
        (
            json!({"enabled": true}),
            "foo: must specify the Foo server URL",
        ),
        (
            json!({"url": "localhost:8088"}),
            r#"foo: url "localhost:8088" has no scheme; write it like "https://localhost:8088""#,
        ),
        (
            json!({"url": "127.0.0.1:8088"}),
            r#"foo: url "127.0.0.1:8088" has no scheme; write it like "https://127.0.0.1:8088""#,
        ),
        (
            json!({"timeout": "0s"}),
            "foo: timeout must be greater than zero, got 0s",
        ),
        (
            json!({"rooms": "a"}),
            r#"foo: unknown key "rooms", expected one of: enabled, insecure-skip-verify, room, ssl-ca, timeout, url"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
}

#[test]
fn tickscript_room_is_a_chained_property() {
    let options = FooService::TICK
        .build_options(&[], &[("room", vec![json!("ops")])])
        .expect("one room");
    assert_eq!(options, json!({"room": "ops"}));
    handler(&*service("http://127.0.0.1:8088/"), options);

    let bare = FooService::TICK.build_options(&[], &[]).expect("no room");
    assert_eq!(bare, json!({}));
    let err = FooService::TICK
        .build_options(&[json!("ops")], &[])
        .expect_err("no positional argument");
    assert_eq!(err.to_string(), ".foo() takes 0 arguments, got 1");
}

#[test]
fn bad_options_name_the_kind_and_the_field() {
    let service = service("http://127.0.0.1:8088/");
    let cases = [
        (
            json!({"channel": "ops"}),
            r#"foo: unknown option "channel", expected one of: room"#,
        ),
        (
            json!({"room": 5}),
            r#"foo: option "room": invalid type: integer `5`, expected a string"#,
        ),
    ];
    for (options, expected) in cases {
        let err = service.handler(&options).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{options}");
    }
}

#[tokio::test]
async fn posts_the_room_and_message_as_json() {
    let foo = foo_server().await;
    let handler = handler(&*service(&foo.url()), json!({"room": "ops"}));

    handler
        .handle(&Event::sample("cpu is <CRITICAL> & rising"))
        .await
        .expect("delivered");

    // Go's encoding, as Kapacitor's Foo service sends it: `<`, `>` and `&` escaped.
    let body = r#"{"room":"ops","message":"cpu is \u003cCRITICAL\u003e \u0026 rising"}"#;
    assert_eq!(
        foo.requests(),
        [Request {
            method: "POST".to_owned(),
            path: "/".to_owned(),
            content_type: Some("application/json".to_owned()),
            body: body.to_owned(),
        }]
    );
    assert_eq!(
        foo.messages(),
        [message("ops", "cpu is <CRITICAL> & rising")]
    );
}

#[tokio::test]
async fn a_handler_without_a_room_posts_to_the_configured_room() {
    let foo = foo_server().await;
    let handler = handler(&*service(&foo.url()), json!({}));

    handler
        .handle(&Event::sample("disk full"))
        .await
        .expect("delivered");

    assert_eq!(foo.messages(), [message("alerts", "disk full")]);
}

#[tokio::test]
async fn answers_other_than_200_are_errors_retryable_for_5xx_and_429() {
    let foo = foo_server().await;
    let handler = handler(&*service(&foo.url()), json!({}));
    for (status, retryable) in [
        (500, true),
        (503, true),
        (429, true),
        (400, false),
        (201, false),
    ] {
        foo.set_status(status);
        let err = handler
            .handle(&Event::sample("m"))
            .await
            .expect_err("not 200");
        assert_eq!(
            err.message(),
            format!("unexpected response code {status} from Foo service")
        );
        assert_eq!(err.is_retryable(), retryable, "{status}");
    }
    assert_eq!(foo.messages(), []);
}

#[tokio::test]
async fn a_disabled_service_posts_nothing() {
    let foo = foo_server().await;
    let service = build(&json!({"enabled": false, "url": foo.url()})).expect("valid");
    let handler = handler(&*service, json!({"room": "ops"}));

    let err = handler
        .handle(&Event::sample("m"))
        .await
        .expect_err("disabled");

    assert_eq!(err, HandlerError::permanent("service is not enabled"));
    assert_eq!(foo.requests(), []);
}

#[tokio::test]
async fn configuration_updates_reach_existing_handlers() {
    let (day, night) = (foo_server().await, foo_server().await);
    let service = service(&day.url());
    let default_room = handler(&*service, json!({}));
    let own_room = handler(&*service, json!({"room": "ops"}));
    default_room
        .handle(&Event::sample("one"))
        .await
        .expect("delivered");

    service
        .update(&json!({"enabled": true, "url": night.url(), "room": "night-shift"}))
        .expect("valid configuration");
    default_room
        .handle(&Event::sample("two"))
        .await
        .expect("delivered");
    own_room
        .handle(&Event::sample("three"))
        .await
        .expect("delivered");

    assert_eq!(day.messages(), [message("alerts", "one")]);
    assert_eq!(
        night.messages(),
        [message("night-shift", "two"), message("ops", "three")]
    );

    service
        .update(&json!({"enabled": false, "url": night.url()}))
        .expect("valid configuration");
    let err = own_room
        .handle(&Event::sample("four"))
        .await
        .expect_err("disabled");
    assert_eq!(err.message(), "service is not enabled");
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error_naming_the_url() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    drop(listener);
    let handler = handler(&*service(&url), json!({}));

    let err = handler
        .handle(&Event::sample("m"))
        .await
        .expect_err("refused");

    assert!(err.message().starts_with(&format!("POST {url}: ")), "{err}");
    assert!(
        err.message().ends_with("Connection refused (os error 111)"),
        "{err}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_live_timeout() {
    // Accepts connections (the kernel does, from the backlog) and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("address"));
    let service = service(&url);
    let handler = handler(&*service, json!({}));
    service
        .update(&json!({"enabled": true, "url": url, "timeout": "300ms"}))
        .expect("valid configuration");

    let started = Instant::now();
    let err = handler
        .handle(&Event::sample("m"))
        .await
        .expect_err("no answer");

    assert_eq!(err.message(), format!("POST {url} timed out after 300ms"));
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_millis(300) + PROMPTLY);
}

#[tokio::test]
async fn the_service_test_posts_a_test_message() {
    let foo = foo_server().await;
    let service = service(&foo.url());

    service.test(&Value::Null).await.expect("the test passes");
    service
        .test(&json!({"room": "ops", "message": "hello"}))
        .await
        .expect("the test passes");

    assert_eq!(
        foo.messages(),
        [
            message("alerts", "test foo message"),
            message("ops", "hello")
        ]
    );
}

#[tokio::test]
async fn the_service_test_reports_a_disabled_service() {
    let service = build(&Value::Null).expect("the defaults are valid");
    let err = service.test(&Value::Null).await.expect_err("disabled");
    assert_eq!(
        err,
        TestError::Failed(HandlerError::permanent("service is not enabled"))
    );
}

#[tokio::test]
async fn the_demo_server_refuses_what_is_not_a_foo_post() {
    let foo = foo_server().await;
    klaxon_http::install_crypto_provider();
    let client = reqwest::Client::new();

    let get = client.get(foo.url()).send().await.expect("answered");
    assert_eq!(get.status().as_u16(), 405);
    let bad = client
        .post(format!("{}rooms?x=1", foo.url()))
        .body(r#"{"room": 1}"#)
        .send()
        .await
        .expect("answered");
    assert_eq!(bad.status().as_u16(), 400);

    assert_eq!(foo.messages(), []);
    let paths: Vec<_> = foo.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/", "/rooms?x=1"]);
}

#[tokio::test]
async fn the_demo_server_wakes_waiters_and_prints_room_colon_message() {
    let foo = foo_server().await;
    let handler = handler(&*service(&foo.url()), json!({"room": "ops"}));

    let event = Event::sample("cpu is CRITICAL");
    let (waited, sent) = tokio::join!(
        tokio::time::timeout(PROMPTLY, foo.wait_for_messages(1)),
        handler.handle(&event)
    );

    sent.expect("delivered");
    let messages = waited.expect("a message arrives");
    assert_eq!(messages[0].to_string(), "ops: cpu is CRITICAL");
}

/// An enabled service posting to an HTTPS `url`, with extra configuration keys.
fn https_service(url: &str, extra: Value) -> Result<Arc<dyn DynService>, String> {
    let mut config = json!({"enabled": true, "url": url, "room": "alerts"});
    for (key, value) in extra.as_object().expect("an object") {
        config[key] = value.clone();
    }
    build(&config)
}

#[tokio::test]
async fn https_works_with_the_configured_ca_and_is_refused_without_it() {
    use klaxon_http::testing::{Receiver, TestPki};
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.server_cert, &pki.server_key, vec![]);
    let event = Event::sample("cpu is CRITICAL");

    let trusting = https_service(receiver.url(), json!({"ssl-ca": pki.ca})).expect("valid");
    handler(&*trusting, json!({}))
        .handle(&event)
        .await
        .expect("delivered");
    let request = receiver.next();
    assert_eq!(
        request.text(),
        r#"{"room":"alerts","message":"cpu is CRITICAL"}"#
    );

    let untrusting = https_service(receiver.url(), json!({})).expect("valid");
    let err = handler(&*untrusting, json!({}))
        .handle(&event)
        .await
        .expect_err("an unknown CA is refused");
    assert!(err.message().contains("TLS with 127.0.0.1 failed"), "{err}");
    assert!(!err.is_retryable());

    // A CA changed through the config API reaches an existing handler at its next alert.
    let existing = handler(&*untrusting, json!({}));
    let mut config = untrusting.config();
    config["ssl-ca"] = json!(pki.ca);
    untrusting.update(&config).expect("a valid change");
    existing
        .handle(&event)
        .await
        .expect("delivered with the new CA");

    let skipping =
        https_service(receiver.url(), json!({"insecure-skip-verify": true})).expect("valid");
    handler(&*skipping, json!({}))
        .handle(&event)
        .await
        .expect("delivered");
}

#[test]
fn a_ca_file_that_cannot_be_used_is_refused_at_start_and_through_the_config_api() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("missing.pem");
    let err =
        https_service("https://127.0.0.1:1/", json!({"ssl-ca": missing})).expect_err("refused");
    assert!(
        err.starts_with(&format!("foo: cannot read ssl-ca {}: ", missing.display())),
        "{err}"
    );
    let service = https_service("https://127.0.0.1:1/", json!({})).expect("valid");
    let mut config = service.config();
    config["ssl-ca"] = json!(missing);
    let err = service.update(&config).expect_err("refused").to_string();
    assert!(err.starts_with("foo: cannot read ssl-ca"), "{err}");
    assert_eq!(
        service.config()["ssl-ca"],
        "",
        "the refused change is not applied"
    );
}
