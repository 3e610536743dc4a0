//! The slack handler through the real path: configuration and options decoded by the registry,
//! posts to a local recording HTTP(S) server, checked byte for byte against Kapacitor's tests.

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{
    assert_documented, assert_registered_and_builds, handler, undocumented_fields,
};
use klaxon_core::{DynService, Event, EventState, Global, Level, Service, TestError};
use klaxon_http::testing::{Answer, Received, Receiver, TestPki};
use serde_json::{Value, json};

use crate::{SlackService, Workspace};

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<SlackService>(config).map_err(|e| e.to_string())
}

fn service(config: &Value) -> Arc<dyn DynService> {
    build(config).unwrap_or_else(|e| panic!("the configuration is refused: {e}"))
}

/// An enabled single workspace posting to `url`, as Kapacitor's built-in one (username
/// `kapacitor`).
fn single(url: &str) -> Value {
    json!({"enabled": true, "url": url, "username": "kapacitor"})
}

/// An event as the alert node makes it: `message` at `level`.
fn event(id: &str, message: &str, level: Level) -> Event {
    Event {
        topic: "test".to_owned(),
        state: EventState {
            id: id.to_owned(),
            message: message.to_owned(),
            level,
            ..EventState::default()
        },
        ..Event::default()
    }
}

/// The body Kapacitor posts for `message` at `color`, with its trailing newline.
fn body(message: &str, color: &str, channel: &str, icon: &str, username: &str) -> String {
    format!(
        r#"{{"attachments":[{{"fallback":"{message}","color":"{color}","text":"{message}","mrkdwn_in":["text"]}}],"channel":"{channel}","icon_emoji":"{icon}","text":"","username":"{username}"}}"#
    ) + "\n"
}

fn assert_post(request: &Received, target: &str, authorization: Option<&str>, body: &str) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, target);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), authorization);
    assert_eq!(request.text(), body);
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<SlackService>(
        &json!([{"enabled": true, "default": true, "workspace": "example.slack.com",
                 "url": "https://hooks.slack.com/services/T/B/X", "channel": "#alerts"}]),
        &json!({"workspace": "example.slack.com", "channel": "#ops"}),
    );
    assert_documented::<SlackService>();
    let schema = klaxon_core::schemars::schema_for!(Workspace);
    assert_eq!(undocumented_fields(&schema), Vec::<String>::new());
}

#[test]
fn defaults_are_kapacitors_built_in_workspace() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!([{"enabled": false, "default": true, "workspace": "", "url": "", "token": "",
                "channel": "", "username": "kapacitor", "icon-emoji": "", "global": false,
                "state-changes-only": false, "ssl-ca": "", "ssl-cert": "", "ssl-key": "",
                "insecure-skip-verify": false}])
    );
    assert_eq!(
        service.default_options(),
        json!({"workspace": "", "channel": "", "username": "", "icon-emoji": ""})
    );
    // TestServer_ListServiceTests.
    assert_eq!(
        service.test_options(),
        json!({"workspace": "", "channel": "", "message": "test slack message",
               "level": "CRITICAL", "username": "", "icon-emoji": ""})
    );
    assert_eq!(service.global(), Global::OFF);
}

#[test]
fn written_workspaces_start_from_empty_values_as_in_kapacitor() {
    let service = service(&json!({"enabled": true, "url": "http://127.0.0.1:1/"}));
    let config = service.config();
    assert_eq!(config[0]["username"], "");
    assert_eq!(
        config[0]["default"], false,
        "a lone workspace is the default anyway"
    );
    assert_eq!(
        service.test_options()["workspace"],
        "",
        "the single table is one unnamed workspace"
    );
}

/// Kapacitor's documented section, pasted (with TLS files that exist).
#[test]
fn kapacitors_documented_section_is_accepted() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let service = service(&json!([{
        "enabled": true,
        "default": true,
        "workspace": "example.slack.com",
        "url": "https://slack.com/api/chat.postMessage",
        "token": "mY5uP3Rs3CrE7t0keN",
        "channel": "#alerts",
        "username": "kapacitor",
        "global": false,
        "state-changes-only": false,
        "ssl-ca": pki.ca,
        "ssl-cert": pki.client_cert,
        "ssl-key": pki.client_key,
        "insecure-skip-verify": false
    }]));
    assert_eq!(service.test_options()["workspace"], "example.slack.com");
    assert_eq!(service.test_options()["channel"], "#alerts");
}

/// server/config_test.go: several workspaces, one of them the default.
#[test]
fn several_workspaces_need_names_and_one_default() {
    let private = json!({"workspace": "private", "default": true, "enabled": true,
                         "url": "http://127.0.0.1:1/private"});
    let public = json!({"workspace": "public", "default": false, "enabled": false});
    build(&json!([private, public])).expect("one default");

    let cases = [
        (
            json!([{"workspace": "a"}, {"workspace": "b"}]),
            r#"slack: one [[slack]] workspace must have default = true; the [[slack]] workspaces are: "a", "b""#,
        ),
        (
            json!([{"workspace": "a", "default": true}, {"workspace": "b", "default": true}]),
            r#"slack: only one [[slack]] workspace may have default = true; "a" and "b" do"#,
        ),
        (
            json!([{"workspace": "a", "default": true}, {"default": false}]),
            r#"slack: [[slack]] element 2 has no workspace name; each of several workspaces needs one, such as workspace = "alerts""#,
        ),
        (
            json!([{"workspace": "a"}, {"workspace": "a"}]),
            r#"slack: workspace "a" appears twice; each element needs its own workspace"#,
        ),
        (
            json!([{"workspace": "a", "default": true}, {"workspace": "b", "global": true}]),
            r#"slack: workspace "b": global = true is only allowed on the default workspace"#,
        ),
        (
            json!({"state-changes-only": true}),
            "slack: [[slack]]: state-changes-only = true needs global = true on the default workspace",
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
    // A lone workspace is the default, also for global (Kapacitor refuses it without default).
    build(
        &json!({"enabled": true, "url": "http://127.0.0.1:1/", "global": true,
                  "state-changes-only": true}),
    )
    .expect("a lone workspace may be global");
}

#[test]
fn bad_workspaces_are_refused_without_repeating_their_url() {
    let cases = [
        (
            json!({"enabled": true}),
            r#"slack: [[slack]]: url is required when enabled: an incoming-webhook URL, or "https://slack.com/api/chat.postMessage" with a token"#,
        ),
        (
            json!([{"workspace": "ops", "url": "hooks.slack.com/services/T/B/SECRET"}]),
            r#"slack: workspace "ops": url is not an http or https URL with a host (its value is secret and not shown)"#,
        ),
        (
            json!([{"workspace": "ops", "urll": "x"}]),
            r#"slack: element 1: unknown key "urll", expected one of: channel, default, enabled, global, icon-emoji, insecure-skip-verify, ssl-ca, ssl-cert, ssl-key, state-changes-only, token, url, username, workspace"#,
        ),
        (
            json!("https://hooks.slack.com/"),
            "slack: expected a list of tables, got string",
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
}

#[test]
fn tls_files_that_cannot_be_used_are_refused_naming_the_workspace() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("missing.pem");
    let config = json!([{"workspace": "ops", "url": "https://127.0.0.1:1/", "ssl-ca": missing}]);
    let err = build(&config).expect_err("refused");
    let start = format!(
        "slack: workspace \"ops\": cannot read ssl-ca {}: ",
        missing.display()
    );
    assert!(err.starts_with(&start), "{err}");

    let service = service(&json!([{"workspace": "ops", "url": "https://127.0.0.1:1/"}]));
    let mut changed = service.config();
    changed[0]["ssl-cert"] = json!(missing);
    let err = service.update(&changed).expect_err("refused").to_string();
    assert_eq!(
        err,
        "slack: workspace \"ops\": ssl-cert is set but ssl-key is not: a client certificate needs both"
    );
}

#[test]
fn tickscript_properties_are_kapacitors() {
    let options = SlackService::TICK
        .build_options(
            &[],
            &[
                ("workspace", vec![json!("workspace.slack.com")]),
                ("channel", vec![json!("#alerts")]),
                ("username", vec![json!("kapacitor")]),
                ("iconEmoji", vec![json!(":smile:")]),
            ],
        )
        .expect("the documented properties");
    assert_eq!(
        options,
        json!({"workspace": "workspace.slack.com", "channel": "#alerts",
               "username": "kapacitor", "icon-emoji": ":smile:"})
    );
    let config = json!([{"workspace": "workspace.slack.com", "enabled": true,
                         "url": "http://127.0.0.1:1/"}]);
    handler(&*service(&config), options);

    let err = SlackService::TICK
        .build_options(&[], &[("icon", vec![json!(":x:")])])
        .expect_err("not a property");
    assert_eq!(
        err.to_string(),
        ".slack() does not take .icon(); it takes: .workspace(), .channel(), .username(), .iconEmoji()"
    );
}

/// The documented handler files decode and make handlers when the workspace exists.
#[test]
fn documented_handler_files_are_accepted() {
    let config = json!([
        {"workspace": "workspace.slack.com", "default": true, "enabled": true,
         "url": "http://127.0.0.1:1/a"},
        {"workspace": "alerts", "enabled": true, "url": "http://127.0.0.1:1/b"},
        {"workspace": "error-reports", "enabled": true, "url": "http://127.0.0.1:1/c"},
    ]);
    let service = service(&config);
    for options in [
        json!({"workspace": "workspace.slack.com", "channel": "#alerts",
               "username": "kapacitor", "icon-emoji": ":smile:"}),
        json!({"workspace": "alerts", "icon-emoji": ":fire:"}),
        json!({"workspace": "error-reports"}),
    ] {
        handler(&*service, options);
    }
}

#[test]
fn bad_options_are_refused_where_they_are_defined() {
    let config = json!([
        {"workspace": "a", "default": true, "url": "http://127.0.0.1:1/"},
        {"workspace": "b", "url": "http://127.0.0.1:1/"},
    ]);
    let two = service(&config);
    let cases = [
        (
            json!({"workspace": "c"}),
            r#"slack: unknown workspace "c"; the [[slack]] workspaces are: "a", "b""#,
        ),
        (
            json!({"iconEmoji": ":x:"}),
            r#"slack: unknown option "iconEmoji", expected one of: channel, icon-emoji, username, workspace"#,
        ),
        (
            json!({"channel": 5}),
            r#"slack: option "channel": invalid type: integer `5`, expected a string"#,
        ),
    ];
    for (options, expected) in cases {
        let err = two.handler(&options).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{options}");
    }
    let single = service(&single("http://127.0.0.1:1/"));
    let err = single
        .handler(&json!({"workspace": "x"}))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"slack: unknown workspace "x"; [[slack]] has only its unnamed default workspace: leave workspace empty"#
    );
    let none = service(&json!([]));
    let err = none.handler(&json!({})).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "slack: no [[slack]] workspace is configured"
    );
}

/// server_test.go TestServer_AlertHandlers, case slack: a topic handler with `channel: #test`.
#[tokio::test]
async fn posts_what_kapacitors_topic_handler_test_expects() {
    let receiver = Receiver::http(vec![]);
    let url = format!("{}test/slack/url", receiver.url());
    let handler = handler(&*service(&single(&url)), json!({"channel": "#test"}));

    handler
        .handle(&event("id", "message", Level::Critical))
        .await
        .expect("delivered");

    let expected = body("message", "danger", "#test", "", "kapacitor");
    assert_post(&receiver.next(), "/test/slack/url", None, &expected);
}

/// integrations/streamer_test.go TestStream_AlertSlack: two workspaces, one with a token, and
/// the TICKscript `.slack().workspace('company_private').channel('#alerts').slack().channel('@jim')`.
#[tokio::test]
async fn posts_what_kapacitors_stream_test_expects_with_and_without_a_token() {
    let receiver = Receiver::http(vec![]);
    let config = json!([
        {"workspace": "example", "default": true, "enabled": true,
         "url": format!("{}test/slack/url", receiver.url()), "channel": "#channel",
         "username": "kapacitor"},
        {"workspace": "company_private", "enabled": true,
         "url": format!("{}test/slack/url2", receiver.url()), "token": "my_secret_token",
         "channel": "#channel", "username": "kapacitor"},
    ]);
    let service = service(&config);
    let private = SlackService::TICK
        .build_options(
            &[],
            &[
                ("workspace", vec![json!("company_private")]),
                ("channel", vec![json!("#alerts")]),
            ],
        )
        .expect("options");
    let jim = SlackService::TICK
        .build_options(&[], &[("channel", vec![json!("@jim")])])
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
    handler(&*service, jim)
        .handle(&alert)
        .await
        .expect("delivered");

    let message = "kapacitor/cpu/serverA is CRITICAL";
    assert_post(
        &receiver.next(),
        "/test/slack/url2",
        Some("Bearer my_secret_token"),
        &body(message, "danger", "#alerts", "", "kapacitor"),
    );
    assert_post(
        &receiver.next(),
        "/test/slack/url",
        None,
        &body(message, "danger", "@jim", "", "kapacitor"),
    );
}

#[tokio::test]
async fn colors_follow_the_level_and_handler_values_win_over_the_workspaces() {
    let receiver = Receiver::http(vec![]);
    let config = json!({"enabled": true, "url": receiver.url(), "channel": "#c",
                        "username": "bot", "icon-emoji": ":robot_face:"});
    let service = service(&config);
    let own = handler(
        &*service,
        json!({"channel": "@me", "username": "me", "icon-emoji": ":x:"}),
    );
    let configured = handler(&*service, json!({}));

    for (level, color) in [
        (Level::Ok, "good"),
        (Level::Info, "good"),
        (Level::Warning, "warning"),
        (Level::Critical, "danger"),
    ] {
        configured
            .handle(&event("id", "m", level))
            .await
            .expect("delivered");
        let expected = body("m", color, "#c", ":robot_face:", "bot");
        assert_eq!(receiver.next().text(), expected, "{level}");
    }
    own.handle(&event("id", "cpu <high> & rising", Level::Critical))
        .await
        .expect("delivered");
    // Go's escaping of <, > and &.
    let message = r"cpu \u003chigh\u003e \u0026 rising";
    assert_eq!(
        receiver.next().text(),
        body(message, "danger", "@me", ":x:", "me")
    );
}

#[tokio::test]
async fn slacks_error_answers_carry_its_text_and_are_retried_as_http_says() {
    let receiver = Receiver::http(vec![
        Answer::status(404).body("channel_not_found"),
        Answer::status(400).body(r#"{"ok":false,"error":"invalid_blocks"}"#),
        Answer::status(500),
        Answer::status(429).header("Retry-After", "7"),
        Answer::status(200).body(r#"{"ok":false,"error":"not_in_channel"}"#),
        Answer::status(200)
            .header("Retry-After", "3")
            .body(r#"{"ok":false,"error":"ratelimited"}"#),
    ]);
    let url = format!("{}services/T000/B000/SECRET", receiver.url());
    let handler = handler(&*service(&single(&url)), json!({}));
    let shown = format!("POST {}[redacted]", receiver.url());
    let expected = [
        (
            format!("{shown}: 404 Not Found: channel_not_found"),
            false,
            None,
        ),
        (
            format!("{shown}: 400 Bad Request: invalid_blocks"),
            false,
            None,
        ),
        (format!("{shown}: 500 Internal Server Error"), true, None),
        (
            format!("{shown}: 429 Too Many Requests"),
            true,
            Some(Duration::from_secs(7)),
        ),
        (format!("{shown}: 200 OK: not_in_channel"), false, None),
        (
            format!("{shown}: 200 OK: ratelimited"),
            true,
            Some(Duration::from_secs(3)),
        ),
    ];
    for (message, retryable, retry_after) in expected {
        let err = handler
            .handle(&event("id", "m", Level::Critical))
            .await
            .expect_err("refused");
        assert_eq!(err.message(), message);
        assert_eq!(err.is_retryable(), retryable, "{message}");
        assert_eq!(err.retry_after(), retry_after, "{message}");
        assert!(!err.message().contains("SECRET"), "{err}");
        receiver.next();
    }
}

#[tokio::test]
async fn success_is_any_2xx_that_is_not_a_refusal() {
    let receiver = Receiver::http(vec![
        Answer::status(200).body("ok"),
        Answer::status(200).body(r#"{"ok":true,"channel":"C1","ts":"1.2"}"#),
        Answer::status(204),
    ]);
    let handler = handler(&*service(&single(receiver.url())), json!({}));
    for _ in 0..3 {
        handler
            .handle(&event("id", "m", Level::Critical))
            .await
            .expect("delivered");
        receiver.next();
    }
}

#[tokio::test]
async fn a_disabled_workspace_posts_nothing() {
    let receiver = Receiver::http(vec![]);
    let config = json!({"enabled": false, "url": receiver.url()});
    let handler = handler(&*service(&config), json!({}));

    let err = handler
        .handle(&event("id", "m", Level::Critical))
        .await
        .expect_err("disabled");

    assert_eq!(err.message(), "service is not enabled");
    assert!(!err.is_retryable());
    assert_eq!(receiver.next_within(Duration::from_millis(200)), None);
}

#[tokio::test]
async fn an_unreachable_slack_is_retryable_and_the_url_stays_secret() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let handler = handler(
        &*service(&single(&format!("{origin}/services/SECRET"))),
        json!({}),
    );

    let err = handler
        .handle(&event("id", "m", Level::Critical))
        .await
        .expect_err("refused");

    assert!(
        err.message()
            .starts_with(&format!("POST {origin}/[redacted]: ")),
        "{err}"
    );
    assert!(!err.message().contains("SECRET"), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn configuration_changes_reach_existing_handlers() {
    let (before, after) = (Receiver::http(vec![]), Receiver::http(vec![]));
    let service = service(&single(before.url()));
    let handler = handler(&*service, json!({"channel": "#a"}));
    handler
        .handle(&event("id", "one", Level::Critical))
        .await
        .expect("delivered");
    assert_eq!(before.next().header("authorization"), None);

    let mut changed = single(after.url());
    changed["token"] = json!("xoxb-new");
    changed["username"] = json!("night-shift");
    service.update(&changed).expect("a valid change");
    handler
        .handle(&event("id", "two", Level::Warning))
        .await
        .expect("delivered");

    assert_post(
        &after.next(),
        "/",
        Some("Bearer xoxb-new"),
        &body("two", "warning", "#a", "", "night-shift"),
    );
}

#[tokio::test]
async fn the_service_test_posts_kapacitors_test_message() {
    let receiver = Receiver::http(vec![]);
    let config = json!([
        {"workspace": "main", "default": true, "enabled": true,
         "url": format!("{}main", receiver.url()), "channel": "#general"},
        {"workspace": "ops", "enabled": true, "url": format!("{}ops", receiver.url())},
    ]);
    let service = service(&config);
    assert_eq!(
        service.test_options(),
        json!({"workspace": "main", "channel": "#general", "message": "test slack message",
               "level": "CRITICAL", "username": "", "icon-emoji": ""})
    );

    service.test(&Value::Null).await.expect("the test passes");
    assert_post(
        &receiver.next(),
        "/main",
        None,
        &body("test slack message", "danger", "#general", "", ""),
    );

    let options = json!({"workspace": "ops", "channel": "#x", "message": "hello",
                         "level": "WARNING", "username": "u", "icon-emoji": ":e:"});
    service.test(&options).await.expect("the test passes");
    assert_post(
        &receiver.next(),
        "/ops",
        None,
        &body("hello", "warning", "#x", ":e:", "u"),
    );

    let err = service
        .test(&json!({"workspace": "nope"}))
        .await
        .expect_err("unknown");
    assert_eq!(
        err.to_string(),
        r#"unknown workspace "nope"; the [[slack]] workspaces are: "main", "ops""#
    );
    let err = service
        .test(&json!({"level": "LOUD"}))
        .await
        .expect_err("bad level");
    assert!(matches!(err, TestError::Options(_)), "{err:?}");
}

#[tokio::test]
async fn the_service_test_reports_a_disabled_service() {
    let service = build(&Value::Null).expect("the defaults are valid");
    let err = service.test(&json!({})).await.expect_err("disabled");
    assert_eq!(err.to_string(), "service is not enabled");
}

#[test]
fn global_comes_from_the_enabled_default_workspace() {
    let url = "http://127.0.0.1:1/";
    let cases = [
        (json!({"enabled": true, "url": url}), Global::OFF),
        (
            json!({"enabled": true, "url": url, "global": true}),
            Global::from_keys(true, false),
        ),
        (
            json!({"enabled": true, "url": url, "global": true, "state-changes-only": true}),
            Global::from_keys(true, true),
        ),
        (json!({"url": url, "global": true}), Global::OFF),
        (
            json!([{"workspace": "a", "default": true, "enabled": true, "url": url,
                    "global": true}, {"workspace": "b"}]),
            Global::from_keys(true, false),
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(service(&config).global(), expected, "{config}");
    }
}

#[tokio::test]
async fn https_works_with_the_workspaces_ca_and_is_refused_without_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = TestPki::generate(dir.path());
    let receiver = Receiver::https(&pki.server_cert, &pki.server_key, vec![]);
    let alert = event("id", "m", Level::Critical);

    let mut trusting = single(receiver.url());
    trusting["ssl-ca"] = json!(pki.ca);
    handler(&*service(&trusting), json!({}))
        .handle(&alert)
        .await
        .expect("delivered");
    assert_eq!(
        receiver.next().text(),
        body("m", "danger", "", "", "kapacitor")
    );

    let err = handler(&*service(&single(receiver.url())), json!({}))
        .handle(&alert)
        .await
        .expect_err("an unknown CA is refused");
    assert!(err.message().contains("TLS with 127.0.0.1 failed"), "{err}");
    assert!(!err.is_retryable());
}
