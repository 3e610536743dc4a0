//! The telegram handler through the real path: configuration and options decoded by the
//! registry, sendMessage requests to a local recording HTTP server, checked byte for byte against
//! Kapacitor's tests.

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{assert_documented, assert_registered_and_builds, handler};
use klaxon_core::{DynService, Event, EventState, Global, Level, Service};
use klaxon_http::testing::{Answer, Receiver};
use serde_json::{Value, json};

use crate::TelegramService;

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<TelegramService>(config).map_err(|e| e.to_string())
}

/// Kapacitor's test setup: the bot URL under `receiver`, token `TOKEN:AUTH`, and `extra` keys.
fn service(receiver: &Receiver, extra: Value) -> Arc<dyn DynService> {
    let mut config = json!({"enabled": true, "url": format!("{}bot", receiver.url()),
                            "token": "TOKEN:AUTH"});
    for (key, value) in extra.as_object().expect("an object") {
        config[key] = value.clone();
    }
    build(&config).unwrap_or_else(|e| panic!("the configuration is refused: {e}"))
}

fn event(message: &str) -> Event {
    Event {
        state: EventState {
            id: "id".to_owned(),
            message: message.to_owned(),
            level: Level::Critical,
            ..EventState::default()
        },
        ..Event::default()
    }
}

const SEND_MESSAGE: &str = "/botTOKEN:AUTH/sendMessage";

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<TelegramService>(
        &json!({"enabled": true, "token": "123456789:AAE", "chat-id": "123456789"}),
        &json!({"chat-id": "87654321", "parse-mode": "HTML"}),
    );
    assert_documented::<TelegramService>();
}

#[test]
fn defaults_and_the_listed_service_test_options_are_kapacitors() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "url": "https://api.telegram.org/bot", "token": "",
               "chat-id": "", "parse-mode": "", "disable-web-page-preview": false,
               "disable-notification": false, "global": false, "state-changes-only": false})
    );
    assert_eq!(
        service.default_options(),
        json!({"chat-id": "", "parse-mode": "", "disable-web-page-preview": false,
               "disable-notification": false})
    );
    assert_eq!(
        service.test_options(),
        json!({"chat-id": "", "parse-mode": "", "message": "test telegram message",
               "disable-web-page-preview": false, "disable-notification": false})
    );
}

/// The sample kapacitor.conf section, the documented one and pipeline/alert.go's are accepted.
#[test]
fn kapacitors_sections_are_accepted() {
    let sections = [
        json!({"enabled": false, "url": "https://api.telegram.org/bot", "token": "",
               "chat-id": "", "disable-web-page-preview": false, "disable-notification": false,
               "global": false, "state-changes-only": false}),
        json!({"enabled": false, "url": "https://api.telegram.org/bot", "token": "",
               "chat-id": "", "parse-mode": "Markdown", "disable-web-page-preview": false,
               "disable-notification": false, "global": false, "state-changes-only": false}),
        json!({"enabled": true, "token": "123456789:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
               "chat-id": "xxxxxxxxx", "parse-mode": "Markdown",
               "disable-web-page-preview": true, "disable-notification": false}),
    ];
    for section in sections {
        build(&section).unwrap_or_else(|e| panic!("{section}: {e}"));
    }
}

#[test]
fn bad_configurations_are_refused() {
    let cases = [
        (
            json!({"enabled": true}),
            "telegram: token is required when enabled: the bot's token, from @BotFather",
        ),
        (
            json!({"enabled": true, "token": "t", "url": ""}),
            r#"telegram: url is required when enabled; Telegram's is "https://api.telegram.org/bot""#,
        ),
        (
            json!({"url": "api.telegram.org/bot"}),
            r#"telegram: url "api.telegram.org/bot" has no scheme; write it like "https://api.telegram.org/bot""#,
        ),
        (
            json!({"parse-mode": "RTF"}),
            r#"telegram: parse-mode "RTF" is not one of Markdown, MarkdownV2 or HTML"#,
        ),
        (
            json!({"chat-id": true}),
            r#"telegram: key "chat-id": expected a chat ID, as text or a whole number, got true"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(build(&config).expect_err("refused"), expected, "{config}");
    }
}

#[test]
fn tickscript_properties_are_kapacitors() {
    let options = TelegramService::TICK
        .build_options(
            &[],
            &[
                ("chatId", vec![json!("123456789")]),
                ("disableNotification", vec![]),
                ("disableWebPagePreview", vec![]),
                ("parseMode", vec![json!("Markdown")]),
            ],
        )
        .expect("the documented properties");
    assert_eq!(
        options,
        json!({"chat-id": "123456789", "disable-notification": true,
               "disable-web-page-preview": true, "parse-mode": "Markdown"})
    );
    assert_eq!(
        TelegramService::TICK.build_options(&[], &[]).expect("bare"),
        json!({})
    );
    let err = TelegramService::TICK
        .build_options(&[], &[("disableNotification", vec![json!(true)])])
        .expect_err("a flag takes no argument");
    assert_eq!(
        err.to_string(),
        ".disableNotification() takes 0 arguments, got 1"
    );
}

#[test]
fn handler_files_are_accepted_and_bad_options_refused() {
    let service = build(&Value::Null).expect("the defaults are valid");
    for options in [
        json!({"chat-id": "123456789", "parse-mode": "Markdown",
               "disable-web-page-preview": false, "disable-notification": false}),
        json!({"chat-id": "123456789"}),
        // An unquoted chat ID in YAML is a number, which Kapacitor refuses.
        json!({"chat-id": -1001234567890_i64}),
        json!({"parse-mode": "markdownv2"}),
    ] {
        handler(&*service, options);
    }
    let cases = [
        (
            json!({"parse-mode": "Markdown2"}),
            r#"telegram: parse-mode "Markdown2" is not one of Markdown, MarkdownV2 or HTML"#,
        ),
        (
            json!({"chat-id": 1.5}),
            r#"telegram: option "chat-id": expected a chat ID, as text or a whole number, got 1.5"#,
        ),
        (
            json!({"chat": "1"}),
            r#"telegram: unknown option "chat", expected one of: chat-id, disable-notification, disable-web-page-preview, parse-mode"#,
        ),
    ];
    for (options, expected) in cases {
        let err = service.handler(&options).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{options}");
    }
}

/// server_test.go TestServer_AlertHandlers, case telegram.
#[tokio::test]
async fn sends_what_kapacitors_topic_handler_test_expects() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({}));
    let handler = handler(
        &*service,
        json!({"chat-id": "chat id", "disable-web-page-preview": true}),
    );

    handler.handle(&event("message")).await.expect("delivered");

    let request = receiver.next();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, SEND_MESSAGE);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.text(),
        "{\"chat_id\":\"chat id\",\"disable_web_page_preview\":true,\"text\":\"message\"}\n"
    );
}

/// integrations/streamer_test.go TestStream_AlertTelegram: the configured flag is added to each
/// handler's, and a handler's chat, parse mode and flag win.
#[tokio::test]
async fn sends_what_kapacitors_stream_test_expects() {
    let receiver = Receiver::http(vec![]);
    let service = service(
        &receiver,
        json!({"chat-id": "123456789", "disable-web-page-preview": true,
               "disable-notification": false}),
    );
    let tick = TelegramService::TICK;
    let first = tick
        .build_options(
            &[],
            &[
                ("chatId", vec![json!("12345678")]),
                ("disableNotification", vec![]),
                ("parseMode", vec![json!("HTML")]),
            ],
        )
        .expect("options");
    let second = tick
        .build_options(&[], &[("chatId", vec![json!("87654321")])])
        .expect("options");
    let alert = event("kapacitor/cpu/serverA is CRITICAL");

    handler(&*service, first)
        .handle(&alert)
        .await
        .expect("delivered");
    handler(&*service, second)
        .handle(&alert)
        .await
        .expect("delivered");

    let request = receiver.next();
    assert_eq!(request.target, SEND_MESSAGE);
    assert_eq!(
        request.text(),
        "{\"chat_id\":\"12345678\",\"disable_notification\":true,\"disable_web_page_preview\":true,\"parse_mode\":\"HTML\",\"text\":\"kapacitor/cpu/serverA is CRITICAL\"}\n"
    );
    let request = receiver.next();
    assert_eq!(request.target, SEND_MESSAGE);
    assert_eq!(
        request.text(),
        "{\"chat_id\":\"87654321\",\"disable_web_page_preview\":true,\"text\":\"kapacitor/cpu/serverA is CRITICAL\"}\n"
    );
}

#[tokio::test]
async fn the_url_is_kapacitors_path_join_and_the_chat_falls_back_to_the_configured_one() {
    let receiver = Receiver::http(vec![]);
    for (base, target) in [
        ("bot", SEND_MESSAGE),
        ("bot/", "/bot/TOKEN:AUTH/sendMessage"),
        ("a//b/../bot?x=1", "/a/botTOKEN:AUTH/sendMessage?x=1"),
    ] {
        let config = json!({"enabled": true, "url": format!("{}{base}", receiver.url()),
                            "token": "TOKEN:AUTH", "chat-id": "42", "parse-mode": "markdown"});
        let service = build(&config).expect("valid");
        handler(&*service, json!({}))
            .handle(&event("a <b> & c"))
            .await
            .expect("delivered");
        let request = receiver.next();
        assert_eq!(request.target, target, "{base}");
        assert_eq!(
            request.text(),
            "{\"chat_id\":\"42\",\"parse_mode\":\"markdown\",\"text\":\"a \\u003cb\\u003e \\u0026 c\"}\n"
        );
    }
}

#[tokio::test]
async fn telegrams_error_answers_carry_its_description_and_never_the_token() {
    let receiver = Receiver::http(vec![
        Answer::status(400)
            .body(r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#),
        Answer::status(401).body("Unauthorized"),
        Answer::status(429).body(
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#,
        ),
        Answer::status(429)
            .header("Retry-After", "2")
            .body(r#"{"ok":false,"description":"Too Many Requests","parameters":{"retry_after":5}}"#),
        Answer::status(502).body("bad gateway"),
    ]);
    let handler = handler(&*service(&receiver, json!({"chat-id": "1"})), json!({}));
    let shown = format!("POST {}bot[token]/sendMessage", receiver.url());
    let expected = [
        (
            format!("{shown}: 400 Bad Request: Bad Request: chat not found"),
            false,
            None,
        ),
        (
            format!("{shown}: 401 Unauthorized: Unauthorized"),
            false,
            None,
        ),
        (
            format!("{shown}: 429 Too Many Requests: Too Many Requests: retry after 5"),
            true,
            Some(Duration::from_secs(5)),
        ),
        (
            format!("{shown}: 429 Too Many Requests: Too Many Requests"),
            true,
            Some(Duration::from_secs(2)),
        ),
        (format!("{shown}: 502 Bad Gateway: bad gateway"), true, None),
    ];
    for (message, retryable, retry_after) in expected {
        let err = handler.handle(&event("m")).await.expect_err("refused");
        assert_eq!(err.message(), message);
        assert_eq!(err.is_retryable(), retryable, "{message}");
        assert_eq!(err.retry_after(), retry_after, "{message}");
        assert!(!err.message().contains("TOKEN:AUTH"), "{err}");
        receiver.next();
    }
}

#[tokio::test]
async fn an_unreachable_telegram_is_retryable_and_the_token_stays_secret() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    let config = json!({"enabled": true, "url": format!("{origin}/bot"), "token": "SECRET:T"});
    let handler = handler(&*build(&config).expect("valid"), json!({}));

    let err = handler.handle(&event("m")).await.expect_err("refused");

    let start = format!("POST {origin}/bot[token]/sendMessage: ");
    assert!(err.message().starts_with(&start), "{err}");
    assert!(!err.message().contains("SECRET"), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_disabled_service_sends_nothing() {
    let receiver = Receiver::http(vec![]);
    let config = json!({"url": format!("{}bot", receiver.url()), "token": "T"});
    let handler = handler(&*build(&config).expect("valid"), json!({}));
    let err = handler.handle(&event("m")).await.expect_err("disabled");
    assert_eq!(err.message(), "service is not enabled");
    assert_eq!(receiver.next_within(Duration::from_millis(200)), None);
}

#[tokio::test]
async fn configuration_changes_reach_existing_handlers() {
    let receiver = Receiver::http(vec![]);
    let service = service(&receiver, json!({"chat-id": "1"}));
    let handler = handler(&*service, json!({}));
    handler.handle(&event("one")).await.expect("delivered");
    assert_eq!(receiver.next().target, SEND_MESSAGE);

    let changed = json!({"enabled": true, "url": format!("{}bot", receiver.url()),
                         "token": "NEW:TOKEN", "chat-id": "2", "disable-notification": true});
    service.update(&changed).expect("a valid change");
    handler.handle(&event("two")).await.expect("delivered");
    let request = receiver.next();
    assert_eq!(request.target, "/botNEW:TOKEN/sendMessage");
    assert_eq!(
        request.text(),
        "{\"chat_id\":\"2\",\"disable_notification\":true,\"text\":\"two\"}\n"
    );
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_message() {
    let receiver = Receiver::http(vec![]);
    let service = service(
        &receiver,
        json!({"chat-id": "123", "parse-mode": "HTML", "disable-notification": true}),
    );
    assert_eq!(
        service.test_options(),
        json!({"chat-id": "123", "parse-mode": "HTML", "message": "test telegram message",
               "disable-web-page-preview": false, "disable-notification": true})
    );

    service.test(&Value::Null).await.expect("the test passes");
    assert_eq!(
        receiver.next().text(),
        "{\"chat_id\":\"123\",\"disable_notification\":true,\"parse_mode\":\"HTML\",\"text\":\"test telegram message\"}\n"
    );
    let options = json!({"chat-id": 7, "parse-mode": "", "message": "hi",
                         "disable-notification": false});
    service.test(&options).await.expect("the test passes");
    // As in Kapacitor, false cannot turn the configured flag off, and empty is the configured.
    assert_eq!(
        receiver.next().text(),
        "{\"chat_id\":\"7\",\"disable_notification\":true,\"parse_mode\":\"HTML\",\"text\":\"hi\"}\n"
    );

    let err = service
        .test(&json!({"parse-mode": "RTF"}))
        .await
        .expect_err("bad mode");
    assert_eq!(
        err.to_string(),
        r#"parse-mode "RTF" is not one of Markdown, MarkdownV2 or HTML"#
    );
    let disabled = build(&Value::Null).expect("the defaults are valid");
    let err = disabled.test(&json!({})).await.expect_err("disabled");
    assert_eq!(err.to_string(), "service is not enabled");
}

#[test]
fn global_needs_the_service_enabled() {
    let base = json!({"enabled": true, "token": "T"});
    let with = |extra: Value| {
        let mut config = base.clone();
        for (key, value) in extra.as_object().expect("an object") {
            config[key] = value.clone();
        }
        build(&config).expect("valid").global()
    };
    assert_eq!(with(json!({})), Global::OFF);
    assert_eq!(
        with(json!({"global": true})),
        Global::from_keys(true, false)
    );
    assert_eq!(
        with(json!({"global": true, "state-changes-only": true})),
        Global::from_keys(true, true)
    );
    assert_eq!(with(json!({"enabled": false, "global": true})), Global::OFF);
}
