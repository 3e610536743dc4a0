//! The discord handler through the real path: configuration and options decoded by the registry,
//! posts to a local recording HTTP(S) server, checked byte for byte against Kapacitor's tests.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{
    assert_documented, assert_registered_and_builds, handler, undocumented_fields,
};
use klaxon_core::{DynService, Event, EventData, EventState, Global, Level, Service, Timestamp};
use klaxon_http::testing::{Answer, Received, Receiver, TestPki};
use serde_json::{Value, json};

use crate::{DiscordService, Workspace};

const AVATAR: &str =
    "https://influxdata.github.io/branding/img/downloads/influxdata-logo--symbol--pool-alpha.png";

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<DiscordService>(config).map_err(|e| e.to_string())
}

fn service(config: &Value) -> Arc<dyn DynService> {
    build(config).unwrap_or_else(|e| panic!("the configuration is refused: {e}"))
}

/// An enabled single workspace posting to `url`.
fn single(url: &str) -> Value {
    json!({"enabled": true, "url": url})
}

fn event(id: &str, message: &str, level: Level) -> Event {
    Event {
        topic: "test".to_owned(),
        state: EventState {
            id: id.to_owned(),
            message: message.to_owned(),
            level,
            time: Timestamp::from_nanos(31_536_010_250_000_000),
            ..EventState::default()
        },
        data: EventData {
            name: "cpu".to_owned(),
            tags: BTreeMap::from([("host".to_owned(), "serverA".to_owned())]),
            ..EventData::default()
        },
        ..Event::default()
    }
}

/// The body Kapacitor posts, with its trailing newline.
fn body(avatar: &str, color: u32, title: &str, message: &str, time: &str, user: &str) -> String {
    format!(
        r#"{{"avatar_url":"{avatar}","embeds":[{{"color":{color},"title":"{title}","description":"{message}","timestamp":"{time}"}}],"username":"{user}"}}"#
    ) + "\n"
}

fn assert_post(request: &Received, target: &str, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, target);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.text(), body);
}

const CRITICAL: u32 = 16_342_867;

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<DiscordService>(
        &json!([{"enabled": true, "workspace": "guild-alerts",
                 "url": "https://discord.com/api/webhooks/1/abc"}]),
        &json!({"workspace": "guild-alerts", "embed-title": "{{ .Level }}"}),
    );
    assert_documented::<DiscordService>();
    let schema = klaxon_core::schemars::schema_for!(Workspace);
    assert_eq!(undocumented_fields(&schema), Vec::<String>::new());
}

#[test]
fn defaults_and_the_listed_service_test_options_are_kapacitors() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!([{"enabled": false, "default": true, "workspace": "", "url": "",
                "timestamp": false, "username": "", "avatar-url": "", "embed-title": "",
                "global": false, "state-changes-only": false, "ssl-ca": "", "ssl-cert": "",
                "ssl-key": "", "insecure-skip-verify": false}])
    );
    assert_eq!(
        service.default_options(),
        json!({"workspace": "", "username": "", "avatar-url": "", "embed-title": ""})
    );
    assert_eq!(
        service.test_options(),
        json!({"workspace": "", "message": "test discord message", "level": "INFO",
               "username": "Kapacitor", "avatar-url": AVATAR, "embed-title": "Kapacitor Alert",
               "time-val": "1970-01-01T00:00:01Z"})
    );
}

/// Kapacitor's documented section, pasted (with TLS files that exist).
#[test]
fn kapacitors_documented_section_is_accepted() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let service = service(&json!([{
        "enabled": false,
        "default": true,
        "url": "https://discordapp.com/api/webhooks/xxxxxxxxxxxxxxxxxx/xxxxxxxxxxxxxxxxxxxxxxxx",
        "workspace": "guild-channel",
        "timestamp": true,
        "username": "Kapacitor",
        "avatar-url": AVATAR,
        "embed-title": "Kapacitor Alert",
        "global": false,
        "state-changes-only": false,
        "ssl-ca": pki.ca,
        "ssl-cert": pki.client_cert,
        "ssl-key": pki.client_key,
        "insecure-skip-verify": false
    }]));
    assert_eq!(service.test_options()["workspace"], "guild-channel");
}

#[test]
fn bad_sections_are_refused_naming_the_workspace() {
    let cases = [
        (
            json!({"enabled": true}),
            "discord: [[discord]]: url is required when enabled: the Discord channel's webhook URL",
        ),
        (
            json!([{"workspace": "g", "url": "discord.com/api/webhooks/1/SECRET"}]),
            r#"discord: workspace "g": url is not an http or https URL with a host (its value is secret and not shown)"#,
        ),
        (
            json!([{"workspace": "g", "avatar-url": "avatar.png"}]),
            r#"discord: workspace "g": avatar-url "avatar.png" has no scheme; write it like "https://avatar.png""#,
        ),
        (
            json!([{"workspace": "g", "embed-title": "{{ .Level "}]),
            r#"discord: workspace "g": embed-title "{{ .Level " is not a valid template: "#,
        ),
        (
            json!([{"workspace": "a"}, {"workspace": "b"}]),
            r#"discord: one [[discord]] workspace must have default = true; the [[discord]] workspaces are: "a", "b""#,
        ),
        (
            json!([{"workspace": "a", "default": true}, {"workspace": "b", "global": true}]),
            r#"discord: workspace "b": global = true is only allowed on the default workspace"#,
        ),
    ];
    for (config, expected) in cases {
        let err = build(&config).expect_err("refused");
        assert!(err.starts_with(expected), "{config}: {err}");
    }
}

#[test]
fn tickscript_properties_are_kapacitors_not_its_documentations() {
    let options = DiscordService::TICK
        .build_options(
            &[],
            &[
                ("workspace", vec![json!("guild-channel")]),
                ("username", vec![json!("Kapacitor")]),
                ("avatarURL", vec![json!(AVATAR)]),
                ("embedTitle", vec![json!("Kapacitor Alert")]),
            ],
        )
        .expect("Kapacitor's properties");
    assert_eq!(
        options,
        json!({"workspace": "guild-channel", "username": "Kapacitor", "avatar-url": AVATAR,
               "embed-title": "Kapacitor Alert"})
    );
    let config =
        json!([{"workspace": "guild-channel", "url": "https://discord.com/api/webhooks/1/a"}]);
    handler(&*service(&config), options);

    // The documentation writes .avatarUrl() and .timestamp(), which Kapacitor does not have.
    for property in ["avatarUrl", "timestamp"] {
        let err = DiscordService::TICK
            .build_options(&[], &[(property, vec![json!(true)])])
            .expect_err("not a property");
        assert_eq!(
            err.to_string(),
            format!(
                ".discord() does not take .{property}(); it takes: .workspace(), .username(), .avatarURL(), .embedTitle()"
            )
        );
    }
}

#[test]
fn handler_files_are_checked_where_they_are_defined() {
    let config = json!([
        {"workspace": "guild-channel", "default": true, "url": "http://127.0.0.1:1/a"},
        {"workspace": "guild-alerts", "url": "http://127.0.0.1:1/b"},
        {"workspace": "guild-errors", "url": "http://127.0.0.1:1/c"},
    ]);
    let service = service(&config);
    handler(
        &*service,
        json!({"workspace": "guild-alerts", "embed-title": "Hey, Listen!"}),
    );
    handler(&*service, json!({"workspace": "guild-errors"}));
    let cases = [
        // The documented handler file: Kapacitor refuses its timestamp too.
        (
            json!({"workspace": "guild-channel", "username": "Kapacitor", "avatar-url": AVATAR,
                   "timestamp": true, "embed-title": "Kapacitor Alert"}),
            r#"discord: unknown option "timestamp", expected one of: avatar-url, embed-title, username, workspace"#,
        ),
        (
            json!({"workspace": "guild"}),
            r#"discord: unknown workspace "guild"; the [[discord]] workspaces are: "guild-channel", "guild-alerts", "guild-errors""#,
        ),
        (
            json!({"avatar-url": "/a.png"}),
            r#"discord: avatar-url "/a.png" has no scheme; write it like "https://a.png""#,
        ),
    ];
    for (options, expected) in cases {
        let err = service.handler(&options).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{options}");
    }
    let err = service
        .handler(&json!({"embed-title": "{{ if }}"}))
        .expect_err("refused");
    assert!(
        err.to_string()
            .starts_with(r#"discord: embed-title "{{ if }}" is not a valid template: "#),
        "{err}"
    );
}

/// server_test.go TestServer_AlertHandlers, case discord.
#[tokio::test]
async fn posts_what_kapacitors_topic_handler_test_expects() {
    let receiver = Receiver::http(vec![Answer::status(204)]);
    let url = format!("{}test/discord/url", receiver.url());
    let options = json!({"username": "Kapacitor", "avatar-url": AVATAR,
                         "embed-title": "Kapacitor Alert"});
    let handler = handler(&*service(&single(&url)), options);

    handler
        .handle(&event("id", "message", Level::Critical))
        .await
        .expect("delivered");

    let expected = body(
        AVATAR,
        CRITICAL,
        "Kapacitor Alert",
        "message",
        "",
        "Kapacitor",
    );
    assert_post(&receiver.next(), "/test/discord/url", &expected);
}

/// integrations/streamer_test.go TestStream_AlertDiscord: `.discord().workspace('company_private')`
/// and `.discord().username('testy')`. (Kapacitor's stand-in answers 200, which Kapacitor counts
/// as a failure; Klaxon as the success it is.)
#[tokio::test]
async fn posts_what_kapacitors_stream_test_expects() {
    let receiver = Receiver::http(vec![]);
    let config = json!([
        {"workspace": "main", "default": true, "enabled": true,
         "url": format!("{}test/discord/url", receiver.url())},
        {"workspace": "company_private", "enabled": true, "username": "comp testy",
         "url": format!("{}test/discord/url2", receiver.url())},
    ]);
    let service = service(&config);
    let tick = DiscordService::TICK;
    let private = tick
        .build_options(&[], &[("workspace", vec![json!("company_private")])])
        .expect("options");
    let testy = tick
        .build_options(&[], &[("username", vec![json!("testy")])])
        .expect("options");
    let alert = event(
        "kapacitor/cpu/serverA",
        "kapacitor/cpu/serverA is CRITICAL",
        Level::Critical,
    );

    handler(&*service, private)
        .handle(&alert)
        .await
        .expect("delivered");
    handler(&*service, testy)
        .handle(&alert)
        .await
        .expect("delivered");

    let message = "kapacitor/cpu/serverA is CRITICAL";
    assert_post(
        &receiver.next(),
        "/test/discord/url2",
        &body("", CRITICAL, "", message, "", "comp testy"),
    );
    assert_post(
        &receiver.next(),
        "/test/discord/url",
        &body("", CRITICAL, "", message, "", "testy"),
    );
}

#[tokio::test]
async fn titles_are_templates_colors_follow_the_level_and_the_time_is_in_seconds() {
    let receiver = Receiver::http(vec![]);
    let config = json!({"enabled": true, "url": receiver.url(), "timestamp": true,
                        "username": "bot", "avatar-url": "https://example.com/bot.png",
                        "embed-title": "{{ .Level }} on {{ index .Tags \"host\" }}"});
    let service = service(&config);
    let own = handler(
        &*service,
        json!({"embed-title": "{{ .ID }} & {{ .Name }}", "username": "me"}),
    );
    let configured = handler(&*service, json!({}));
    let avatar = "https://example.com/bot.png";

    for (level, color, title) in [
        (Level::Ok, 8_021_490, "OK on serverA"),
        (Level::Info, 8_021_490, "INFO on serverA"),
        (Level::Warning, 16_026_936, "WARNING on serverA"),
        (Level::Critical, CRITICAL, "CRITICAL on serverA"),
    ] {
        configured
            .handle(&event("id", "m", level))
            .await
            .expect("delivered");
        let expected = body(avatar, color, title, "m", "1971-01-01T00:00:10Z", "bot");
        assert_eq!(receiver.next().text(), expected, "{level}");
    }
    own.handle(&event("cpu:nil", "<m>", Level::Critical))
        .await
        .expect("delivered");
    let expected = body(
        avatar,
        CRITICAL,
        r"cpu:nil \u0026 cpu",
        r"\u003cm\u003e",
        "1971-01-01T00:00:10Z",
        "me",
    );
    assert_eq!(receiver.next().text(), expected);
}

#[tokio::test]
async fn discords_error_answers_carry_its_message_and_are_retried_as_http_says() {
    let receiver = Receiver::http(vec![
        Answer::status(404).body(r#"{"message": "Unknown Webhook", "code": 10015}"#),
        Answer::status(400).body("bad"),
        Answer::status(429).body(
            r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#,
        ),
        Answer::status(503),
        Answer::status(200),
    ]);
    let url = format!("{}api/webhooks/1/SECRET", receiver.url());
    let handler = handler(&*service(&single(&url)), json!({}));
    let shown = format!("POST {}[redacted]", receiver.url());
    let expected = [
        (
            format!("{shown}: 404 Not Found: Unknown Webhook"),
            false,
            None,
        ),
        (format!("{shown}: 400 Bad Request: bad"), false, None),
        (
            format!("{shown}: 429 Too Many Requests: You are being rate limited."),
            true,
            Some(Duration::from_secs(2)),
        ),
        (format!("{shown}: 503 Service Unavailable"), true, None),
    ];
    let alert = event("id", "m", Level::Critical);
    for (message, retryable, retry_after) in expected {
        let err = handler.handle(&alert).await.expect_err("refused");
        assert_eq!(err.message(), message);
        assert_eq!(err.is_retryable(), retryable, "{message}");
        assert_eq!(err.retry_after(), retry_after, "{message}");
        assert!(!err.message().contains("SECRET"), "{err}");
        receiver.next();
    }
    handler
        .handle(&alert)
        .await
        .expect("200 is a success, as 204 is");
}

#[tokio::test]
async fn a_disabled_workspace_posts_nothing() {
    let receiver = Receiver::http(vec![]);
    let handler = handler(&*service(&json!({"url": receiver.url()})), json!({}));
    let err = handler
        .handle(&event("id", "m", Level::Critical))
        .await
        .expect_err("disabled");
    assert_eq!(err.message(), "service is not enabled");
    assert_eq!(receiver.next_within(Duration::from_millis(200)), None);
}

#[tokio::test]
async fn the_service_test_posts_kapacitors_test_embed() {
    let receiver = Receiver::http(vec![]);
    let config = json!([
        {"workspace": "main", "default": true, "enabled": true,
         "url": format!("{}main", receiver.url())},
        {"workspace": "stamped", "enabled": true, "timestamp": true,
         "url": format!("{}stamped", receiver.url())},
    ]);
    let service = service(&config);
    assert_eq!(service.test_options()["workspace"], "main");

    service.test(&Value::Null).await.expect("the test passes");
    assert_post(
        &receiver.next(),
        "/main",
        &body(
            AVATAR,
            8_021_490,
            "Kapacitor Alert",
            "test discord message",
            "",
            "Kapacitor",
        ),
    );

    // The test's title is used as it is, and the time only where the workspace shows times.
    let options = json!({"workspace": "stamped", "embed-title": "{{ .ID }}",
                         "level": "CRITICAL", "time-val": "2024-05-01T12:00:00.5Z"});
    service.test(&options).await.expect("the test passes");
    assert_post(
        &receiver.next(),
        "/stamped",
        &body(
            AVATAR,
            CRITICAL,
            "{{ .ID }}",
            "test discord message",
            "2024-05-01T12:00:00Z",
            "Kapacitor",
        ),
    );

    let disabled = build(&Value::Null).expect("the defaults are valid");
    let err = disabled.test(&json!({})).await.expect_err("disabled");
    assert_eq!(err.to_string(), "service is not enabled");
}

#[tokio::test]
async fn configuration_changes_reach_existing_handlers() {
    let (before, after) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service(&single(before.url()));
    let handler = handler(&*service, json!({}));
    let alert = event("id", "m", Level::Critical);
    handler.handle(&alert).await.expect("delivered");
    before.next();

    let mut changed = single(after.url());
    changed["embed-title"] = json!("{{ .ID }}!");
    service.update(&changed).expect("a valid change");
    handler.handle(&alert).await.expect("delivered");
    assert_eq!(after.next().text(), body("", CRITICAL, "id!", "m", "", ""));
}

/// Kapacitor's Discord service reports `global` as its state-changes-only (a bug); here each key
/// means itself.
#[test]
fn global_and_state_changes_only_are_each_their_own_key() {
    let url = "http://127.0.0.1:1/";
    let cases = [
        (
            json!({"enabled": true, "url": url, "global": true}),
            Global::from_keys(true, false),
        ),
        (
            json!({"enabled": true, "url": url, "global": true, "state-changes-only": true}),
            Global::from_keys(true, true),
        ),
        (json!({"url": url, "global": true}), Global::OFF),
    ];
    for (config, expected) in cases {
        assert_eq!(service(&config).global(), expected, "{config}");
    }
}

#[tokio::test]
async fn https_works_with_the_workspaces_ca() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.server_cert, &pki.server_key, vec![]);
    let mut config = single(receiver.url());
    config["ssl-ca"] = json!(pki.ca);
    handler(&*service(&config), json!({}))
        .handle(&event("id", "m", Level::Critical))
        .await
        .expect("delivered");
    assert_eq!(receiver.next().text(), body("", CRITICAL, "", "m", "", ""));
}
