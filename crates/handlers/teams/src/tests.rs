//! The teams handler through the real path: configuration and options decoded by the registry,
//! cards posted to a local recording HTTP server, checked byte for byte against Kapacitor's tests.

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{assert_documented, assert_registered_and_builds, handler};
use klaxon_core::{DynService, Event, EventState, Global, Level, Service};
use klaxon_http::testing::{Answer, Receiver};
use serde_json::{Value, json};

use crate::TeamsService;

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<TeamsService>(config).map_err(|e| e.to_string())
}

/// An enabled service posting to `url`.
fn service(url: &str) -> Arc<dyn DynService> {
    build(&json!({"enabled": true, "channel-url": url})).expect("a valid configuration")
}

fn event(topic: &str, id: &str, message: &str, level: Level) -> Event {
    Event {
        topic: topic.to_owned(),
        state: EventState {
            id: id.to_owned(),
            message: message.to_owned(),
            level,
            ..EventState::default()
        },
        ..Event::default()
    }
}

/// Kapacitor's card, as `json.Marshal` writes it (no newline).
fn card(title: &str, text: &str, summary: &str, color: &str) -> String {
    format!(
        r#"{{"@type":"MessageCard","@context":"http://schema.org/extensions","title":"{title}","text":"{text}","summary":"{summary}","themeColor":"{color}"}}"#
    )
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<TeamsService>(
        &json!({"enabled": true, "channel-url": "https://outlook.office.com/webhook/abc"}),
        &json!({"channel-url": "https://outlook.office.com/webhook/def"}),
    );
    assert_documented::<TeamsService>();
}

#[test]
fn defaults_and_the_listed_service_test_options_are_kapacitors() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "channel-url": "", "global": false, "state-changes-only": false})
    );
    assert_eq!(service.default_options(), json!({"channel-url": ""}));
    assert_eq!(
        service.test_options(),
        json!({"channel_url": "", "alert_topic": "test kapacitor alert topic",
               "alert_id": "foo/bar/bat", "message": "test teams message", "level": "CRITICAL"})
    );
}

/// The sections of Kapacitor's config API test, of its TICKscript reference and of its Teams
/// documentation (with a `default` key that Kapacitor ignores) are accepted.
#[test]
fn kapacitors_sections_are_accepted() {
    build(
        &json!({"enabled": false, "global": false, "state-changes-only": false,
                  "channel-url": "http://teams.example.com/abcde"}),
    )
    .expect("the config API's section");
    build(&json!({"enabled": true, "channel-url": "https://outlook.office.com/webhook/..."}))
        .expect("pipeline/alert.go's section");
    let documented = build(&json!({"enabled": true, "default": true,
                                   "channel-url": "https://outlook.office.com/webhook/...",
                                   "global": true, "state-changes-only": true}))
    .expect("the documented section");
    assert_eq!(
        documented.config(),
        json!({"enabled": true, "channel-url": "https://outlook.office.com/webhook/...",
               "global": true, "state-changes-only": true}),
        "the ignored key is not shown"
    );
    assert_eq!(
        build(&json!({"defaults": true})).expect_err("no such key"),
        r#"teams: unknown key "defaults", expected one of: channel-url, default, enabled, global, state-changes-only"#
    );
}

#[test]
fn bad_configurations_are_refused_without_repeating_the_url() {
    let cases = [
        (
            json!({"enabled": true}),
            "teams: channel-url is required when enabled: the incoming-webhook URL of the Teams channel",
        ),
        (
            json!({"channel-url": "outlook.office.com/webhook/SECRET"}),
            "teams: channel-url is not an http or https URL with a host (its value is secret and not shown)",
        ),
        (
            json!({"global": "yes"}),
            r#"teams: key "global": invalid type: string "yes", expected a boolean"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
}

#[test]
fn tickscript_and_handler_files_are_kapacitors() {
    let tick = TeamsService::TICK;
    assert_eq!(tick.build_options(&[], &[]).expect("bare"), json!({}));
    let options = tick
        .build_options(
            &[],
            &[(
                "channelURL",
                vec![json!("https://outlook.office.com/webhook/...")],
            )],
        )
        .expect("the documented property");
    assert_eq!(
        options,
        json!({"channel-url": "https://outlook.office.com/webhook/..."})
    );
    let service = service("https://outlook.office.com/webhook/abc");
    handler(&*service, options);

    // The documented handler file's options do not exist in Kapacitor either.
    let err = service
        .handler(&json!({"team": "teams.microsoft.com/team/", "channel": "#alerts"}))
        .expect_err("unknown options");
    assert_eq!(
        err.to_string(),
        r#"teams: unknown option "team", expected one of: channel-url"#
    );
    let err = service
        .handler(&json!({"channel-url": "alerts"}))
        .expect_err("not a URL");
    assert!(
        err.to_string()
            .starts_with(r#"teams: channel-url "alerts" has no scheme"#),
        "{err}"
    );
}

/// server_test.go TestServer_AlertHandlers, case teams: a topic handler without options.
#[tokio::test]
async fn posts_what_kapacitors_topic_handler_test_expects() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(receiver.url()), json!({}));

    handler
        .handle(&event("test", "id", "message", Level::Critical))
        .await
        .expect("delivered");

    let request = receiver.next();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.text(),
        card(
            "CRITICAL: [id]",
            "message",
            "CRITICAL: [id] - message...",
            "CC4A31"
        )
    );
}

/// integrations/streamer_test.go TestStream_AlertTeams: `.teams()` and
/// `.teams().channelURL(<url>)` post the same card.
#[tokio::test]
async fn posts_what_kapacitors_stream_test_expects() {
    let (configured, own) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service(configured.url());
    let options = TeamsService::TICK
        .build_options(&[], &[("channelURL", vec![json!(own.url())])])
        .expect("options");
    let alert = event(
        "main:teams:alert2",
        "kapacitor/cpu/serverA",
        "kapacitor/cpu/serverA is CRITICAL",
        Level::Critical,
    );

    handler(&*service, json!({}))
        .handle(&alert)
        .await
        .expect("delivered");
    handler(&*service, options)
        .handle(&alert)
        .await
        .expect("delivered");

    let expected = card(
        "CRITICAL: [kapacitor/cpu/serverA]",
        "kapacitor/cpu/serverA is CRITICAL",
        "CRITICAL: [kapacitor/cpu/serverA] - kapacitor/cpu/serverA is CRITICAL...",
        "CC4A31",
    );
    assert_eq!(configured.next().text(), expected);
    assert_eq!(own.next().text(), expected);
}

#[tokio::test]
async fn titles_summaries_and_colors_follow_kapacitor() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(receiver.url()), json!({}));
    let long = "0123456789".repeat(10);
    let cases = [
        (
            event("", "", "m", Level::Ok),
            card("OK", "m", "OK: m...", "34CC25"),
        ),
        (
            event("cpu", "", "m", Level::Info),
            card("INFO: [cpu]", "m", "INFO: [cpu] - m...", "34CC25"),
        ),
        (
            event("cpu", "id", "a <b> & c", Level::Warning),
            card(
                "WARNING: [id]",
                r"a \u003cb\u003e \u0026 c",
                r"WARNING: [id] - a \u003cb\u003e \u0026 c...",
                "FFA533",
            ),
        ),
        // The summary keeps 70 bytes, then "...".
        (
            event("cpu", "id", &long, Level::Critical),
            card(
                "CRITICAL: [id]",
                &long,
                &format!("CRITICAL: [id] - {}...", &long[..53]),
                "CC4A31",
            ),
        ),
        // ...and never splits a character: "é" would straddle byte 70.
        (
            event(
                "cpu",
                "id",
                &format!("{}é", "x".repeat(52)),
                Level::Critical,
            ),
            card(
                "CRITICAL: [id]",
                &format!("{}é", "x".repeat(52)),
                &format!("CRITICAL: [id] - {}...", "x".repeat(52)),
                "CC4A31",
            ),
        ),
    ];
    for (alert, expected) in cases {
        handler.handle(&alert).await.expect("delivered");
        assert_eq!(receiver.next().text(), expected);
    }
}

#[tokio::test]
async fn teams_error_answers_carry_its_text_and_are_retried_as_http_says() {
    let receiver = Receiver::http(vec![
        Answer::status(400).body("Summary or Text is required."),
        Answer::status(403).body(r#"{"error":"forbidden"}"#),
        Answer::status(502),
        Answer::status(429).header("Retry-After", "11"),
        Answer::status(202),
    ]);
    let url = format!("{}webhook/SECRET", receiver.url());
    let handler = handler(&*service(&url), json!({}));
    let shown = format!("POST {}[redacted]", receiver.url());
    let expected = [
        (
            format!("{shown}: 400 Bad Request: Summary or Text is required."),
            false,
            None,
        ),
        (format!("{shown}: 403 Forbidden: forbidden"), false, None),
        (format!("{shown}: 502 Bad Gateway"), true, None),
        (
            format!("{shown}: 429 Too Many Requests"),
            true,
            Some(Duration::from_secs(11)),
        ),
    ];
    let alert = event("t", "id", "m", Level::Critical);
    for (message, retryable, retry_after) in expected {
        let err = handler.handle(&alert).await.expect_err("refused");
        assert_eq!(err.message(), message);
        assert_eq!(err.is_retryable(), retryable, "{message}");
        assert_eq!(err.retry_after(), retry_after, "{message}");
        assert!(!err.message().contains("SECRET"), "{err}");
        receiver.next();
    }
    handler.handle(&alert).await.expect("202 is a success");
}

#[tokio::test]
async fn a_disabled_service_posts_nothing() {
    let receiver = Receiver::http(vec![]);
    let service = build(&json!({"channel-url": receiver.url()})).expect("valid");
    let err = handler(&*service, json!({}))
        .handle(&event("t", "id", "m", Level::Critical))
        .await
        .expect_err("disabled");
    assert_eq!(err.message(), "service is not enabled");
    assert_eq!(receiver.next_within(Duration::from_millis(200)), None);
}

#[tokio::test]
async fn configuration_changes_reach_existing_handlers() {
    let (before, after) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service(before.url());
    let handler = handler(&*service, json!({}));
    let alert = event("t", "id", "m", Level::Critical);
    handler.handle(&alert).await.expect("delivered");
    before.next();

    service
        .update(&json!({"enabled": true, "channel-url": after.url()}))
        .expect("a valid change");
    handler.handle(&alert).await.expect("delivered");
    after.next();
}

#[tokio::test]
async fn the_service_test_posts_kapacitors_test_card() {
    let (configured, other) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service(configured.url());

    service.test(&Value::Null).await.expect("the test passes");
    assert_eq!(
        configured.next().text(),
        card(
            "CRITICAL: [foo/bar/bat]",
            "test teams message",
            "CRITICAL: [foo/bar/bat] - test teams message...",
            "CC4A31"
        )
    );

    let options = json!({"channel_url": other.url(), "alert_id": "", "alert_topic": "cpu",
                         "message": "hello", "level": "WARNING"});
    service.test(&options).await.expect("the test passes");
    assert_eq!(
        other.next().text(),
        card(
            "WARNING: [cpu]",
            "hello",
            "WARNING: [cpu] - hello...",
            "FFA533"
        )
    );

    let disabled = build(&Value::Null).expect("the defaults are valid");
    let err = disabled.test(&json!({})).await.expect_err("disabled");
    assert_eq!(err.to_string(), "service is not enabled");
}

#[test]
fn global_needs_the_service_enabled() {
    let url = "https://outlook.office.com/webhook/abc";
    let cases = [
        (json!({"enabled": true, "channel-url": url}), Global::OFF),
        (
            json!({"enabled": true, "channel-url": url, "global": true}),
            Global::from_keys(true, false),
        ),
        (
            json!({"enabled": true, "channel-url": url, "global": true,
                   "state-changes-only": true}),
            Global::from_keys(true, true),
        ),
        (
            json!({"enabled": true, "channel-url": url, "state-changes-only": true}),
            Global::OFF,
        ),
        (json!({"channel-url": url, "global": true}), Global::OFF),
    ];
    for (config, expected) in cases {
        let service = build(&config).expect("valid");
        assert_eq!(service.global(), expected, "{config}");
    }
}
