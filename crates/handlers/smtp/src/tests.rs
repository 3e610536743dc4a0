//! The smtp handler through the real path: configuration and options decoded by the registry,
//! emails sent to a local SMTP stand-in and checked as received against what Kapacitor sends for
//! the same alert (its `TestServer_AlertHandlers` and `TestStream_AlertEmail` cases).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{
    alert_handlers_event as server_test_event, assert_disabled_service_test_fails,
    assert_documented, assert_global, assert_handler_files_accepted, assert_registered_and_builds,
    handler, stream_alert_event,
};
use klaxon_core::{DynService, Event, FieldValue, Service};
use serde_json::{Value, json};

use crate::SmtpService;
use crate::stand_in::{Received, Script, StandIn};

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<SmtpService>(config).map_err(|e| e.to_string())
}

/// An enabled service mailing through `server` from `test@example.com`, with `extra` keys.
fn service(server: &StandIn, extra: Value) -> Arc<dyn DynService> {
    let mut config = json!({
        "enabled": true, "host": "127.0.0.1", "port": server.port(), "from": "test@example.com",
    });
    for (key, value) in extra.as_object().expect("an object") {
        config[key] = value.clone();
    }
    build(&config).expect("valid configuration")
}

/// The headers and body of a message as received: header names with their values (unfolded),
/// and the body with CRLF as LF, as Kapacitor's `smtptest` reads them.
fn parse(data: &str) -> (BTreeMap<String, String>, String) {
    let data = data.replace("\r\n", "\n");
    let (head, body) = data
        .split_once("\n\n")
        .expect("a blank line after the headers");
    let mut headers = BTreeMap::new();
    for line in head.replace("\n ", " ").lines() {
        let (name, value) = line.split_once(": ").expect("a header");
        headers.insert(name.to_owned(), value.to_owned());
    }
    (headers, body.to_owned())
}

/// Asserts Kapacitor's headers (those its tests list) and body.
fn assert_kapacitor_mail(data: &str, to: &str, subject: &str, body: &str) {
    let (headers, received) = parse(data);
    for (name, value) in [
        ("Mime-Version", "1.0"),
        ("Content-Type", "text/html; charset=UTF-8"),
        ("Content-Transfer-Encoding", "quoted-printable"),
        ("To", to),
        ("From", "test@example.com"),
        ("Subject", subject),
    ] {
        assert_eq!(
            headers.get(name).map(String::as_str),
            Some(value),
            "{name} in {data:?}"
        );
    }
    assert!(headers.contains_key("Date"), "{data:?}");
    assert!(headers["Message-ID"].ends_with("@example.com>"), "{data:?}");
    assert_eq!(received, body);
}

const STREAM_DETAILS: &str = "\n<b>kapacitor.cpu.serverA is CRITICAL</b>\n\nValue: 10\n<a href=\"http://graphs.example.com/host/serverA\">Details</a>\n";

/// The QP body Kapacitor's `TestStream_AlertEmail` expects for [`STREAM_DETAILS`].
const STREAM_BODY: &str = "\n<b>kapacitor.cpu.serverA is CRITICAL</b>\n\nValue: 10\n<a href=3D\"http://graphs.example.com/host/serverA\">Details</a>\n";

/// The event of Kapacitor's `TestStream_AlertEmail`, with its `|default()` field and tag.
fn stream_test_event() -> Event {
    let mut event = stream_alert_event("kapacitor.cpu.serverA is CRITICAL");
    event.state.id = "kapacitor.cpu.serverA".into();
    event.state.details = STREAM_DETAILS.into();
    event
        .data
        .tags
        .insert("tagemail".into(), "bob2@example.com".into());
    event.data.fields.insert(
        "extraemail".into(),
        FieldValue::String("bob@example.com".into()),
    );
    event
}

/// TICKscript options through the crate's shape.
fn tick(positional: &[&str], chained: &[(&str, &[&str])]) -> Value {
    let positional: Vec<Value> = positional.iter().map(|s| json!(s)).collect();
    let chained: Vec<(&str, Vec<Value>)> = chained
        .iter()
        .map(|(p, args)| (*p, args.iter().map(|s| json!(s)).collect()))
        .collect();
    SmtpService::TICK
        .build_options(&positional, &chained)
        .expect("valid TICKscript")
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<SmtpService>(
        &json!({"enabled": true, "from": "kapacitor@example.com"}),
        &json!({"to": ["oncall@example.com"]}),
    );
    assert_documented::<SmtpService>();
}

#[test]
fn defaults_are_kapacitors_and_the_password_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "host": "localhost", "port": 25, "username": "",
               "password": "", "no-verify": false, "global": false, "state-changes-only": false,
               "from": "", "to": [], "toTemplates": [], "idle-timeout": "30s", "timeout": "10s"})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["password"]
    );
    assert_eq!(service.default_options(), json!({"to": [], "to-field": []}));
    assert_eq!(
        service.test_options(),
        json!({"to": null, "subject": "test subject", "body": "test body"})
    );
    let service = build(&json!({"to": ["oncall@example.com"]})).unwrap();
    assert_eq!(service.test_options()["to"], json!(["oncall@example.com"]));
}

#[test]
fn kapacitors_sample_sections_are_accepted() {
    // The documentation's [smtp], and etc/kapacitor/kapacitor.conf's, as TOML reads them.
    let documented = json!({
        "enabled": true, "host": "localhost", "port": 25, "username": "username",
        "password": "passw0rd", "from": "me@example.com",
        "to": ["me@example.com", "you@example.com"], "no-verify": false,
        "idle-timeout": "30s", "global": false, "state-changes-only": false,
    });
    build(&documented).expect("the documented section is accepted");
    let shipped = json!({
        "enabled": false, "host": "localhost", "port": 25, "username": "", "password": "",
        "from": "", "no-verify": false, "idle-timeout": "30s", "global": false,
        "state-changes-only": false,
    });
    build(&shipped).expect("the shipped section is accepted");
    build(&json!({
        "enabled": true, "from": "kapacitor@example.com", "to": ["oncall@example.com"],
        "global": true, "state-changes-only": true, "toTemplates": ["{{ .Name }}@example.com"],
    }))
    .expect("the pipeline documentation's global section, with templates");
    assert_global::<SmtpService>();
}

#[test]
fn invalid_configurations_and_options_are_refused_naming_the_key() {
    let address_hint =
        r#"write one address, like "oncall@example.com" or "On Call <oncall@example.com>""#;
    let cases = [
        (
            json!({"host": ""}),
            r#"smtp: host is required; write the SMTP server's name, like "smtp.example.com""#
                .to_owned(),
        ),
        (
            json!({"port": 0}),
            "smtp: port 0 is not a port; write the SMTP server's port, like 25 or 587".to_owned(),
        ),
        (
            json!({"port": 70000}),
            r#"smtp: key "port": invalid value: integer `70000`, expected u16"#.to_owned(),
        ),
        (
            json!({"idle-timeout": "-1s"}),
            "smtp: idle-timeout must not be negative, got -1s".to_owned(),
        ),
        (
            json!({"timeout": "0s"}),
            "smtp: timeout must be greater than zero, got 0s".to_owned(),
        ),
        (
            json!({"enabled": true}),
            r#"smtp: from is required when enabled; write the sender, like "kapacitor@example.com""#
                .to_owned(),
        ),
        (
            json!({"from": "kapacitor"}),
            format!(r#"smtp: from "kapacitor" is not an email address; {address_hint}"#),
        ),
        (
            json!({"to": ["a@example.com", "a@example.com, b@example.com"]}),
            format!(
                r#"smtp: to[1] "a@example.com, b@example.com" is not an email address; {address_hint}"#
            ),
        ),
        (
            json!({"toTemplates": ["{{ .Name "]}),
            "smtp: toTemplates[0] \"{{ .Name \" is not a valid template: ".to_owned(),
        ),
        (
            json!({"to-templates": []}),
            "smtp: unknown key \"to-templates\", expected one of: enabled, from, global, host, idle-timeout, no-verify, password, port, state-changes-only, timeout, to, toTemplates, username".to_owned(),
        ),
    ];
    for (config, expected) in cases {
        let err = build(&config).expect_err("refused");
        assert!(err.starts_with(&expected), "{config}: {err}");
    }
    let service = build(&Value::Null).unwrap();
    for (options, expected) in [
        (
            json!({"to": ["oncall"]}),
            format!(r#"smtp: to[0] "oncall" is not an email address; {address_hint}"#),
        ),
        (
            json!({"to-field": ["{{ index .Tags }"]}),
            "smtp: to-field[0] \"{{ index .Tags }\" is not a valid template: ".to_owned(),
        ),
        (
            json!({"toTemplates": []}),
            r#"smtp: unknown option "toTemplates", expected one of: to, to-field"#.to_owned(),
        ),
    ] {
        let err = service.handler(&options).expect_err("refused").to_string();
        assert!(err.starts_with(&expected), "{options}: {err}");
    }
}

#[test]
fn tickscript_appends_every_recipient_as_kapacitor_does() {
    let tick_shape = SmtpService::TICK;
    assert_eq!(tick_shape.property, "email");
    assert_eq!(
        tick(
            &["oncall1@example.com"],
            &[("to", &["oncall2@example.com"])]
        ),
        json!({"to": ["oncall1@example.com", "oncall2@example.com"]})
    );
    assert_eq!(
        tick(
            &[],
            &[
                ("to", &["oncall1@example.com"]),
                ("to", &["oncall2@example.com"]),
                ("toTemplates", &["{{ index .Tags \"owner\" }}"]),
            ]
        ),
        json!({"to": ["oncall1@example.com", "oncall2@example.com"],
               "to-field": ["{{ index .Tags \"owner\" }}"]})
    );
    assert_eq!(tick(&[], &[]), json!({"to": []}));
}

#[test]
fn kapacitors_documented_handler_files_decode() {
    assert_handler_files_accepted::<SmtpService>(
        &Value::Null,
        &[
            "id: handler-id\ntopic: topic-name\nkind: smtp\noptions:\n  to:\n    - oncall1@example.com\n    - oncall2@example.com\n",
            "id: email-cpu-alert\ntopic: cpu\nkind: smtp\noptions:\n  to:\n    - oncall1@mydomain.com\n    - oncall2@mydomain.com\n",
        ],
    );
}

/// `TestServer_AlertHandlers`, case smtp: a handler file with two recipients.
#[tokio::test]
async fn a_handler_file_sends_kapacitors_email() {
    let server = StandIn::start(vec![]);
    let service = service(&server, json!({}));
    let handler = handler(
        &*service,
        json!({"to": ["oncall@example.com", "backup@example.com"]}),
    );

    handler.handle(&server_test_event()).await.expect("sent");

    let (commands, _, data) = server.next_message();
    let commands: Vec<&str> = commands.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(
        commands,
        [
            "EHLO localhost",
            "MAIL FROM:<test@example.com>",
            "RCPT TO:<oncall@example.com>",
            "RCPT TO:<backup@example.com>",
            "DATA",
        ]
    );
    assert_kapacitor_mail(
        &data,
        "oncall@example.com, backup@example.com",
        "message",
        "details\n",
    );
}

/// `TestStream_AlertEmail`: "emails directly", "emails directly and in fields" and "emails
/// directly and in tag".
#[tokio::test]
async fn tickscript_handlers_send_kapacitors_emails() {
    let server = StandIn::start(vec![]);
    let service = service(&server, json!({}));
    let users: &[&str] = &["user1@example.com", "user2@example.com"];
    let cases = [
        (tick(users, &[]), "user1@example.com, user2@example.com"),
        (
            tick(&[], &[("to", users)]),
            "user1@example.com, user2@example.com",
        ),
        (
            tick(
                &[],
                &[
                    ("to", users),
                    ("toTemplates", &[r#"{{ index .Fields "extraemail" }}"#]),
                ],
            ),
            "user1@example.com, user2@example.com, bob@example.com",
        ),
        (
            tick(
                &[],
                &[
                    ("to", users),
                    ("toTemplates", &[r#"{{ index .Tags "tagemail" }}"#]),
                ],
            ),
            "user1@example.com, user2@example.com, bob2@example.com",
        ),
    ];
    let event = stream_test_event();
    for (options, to) in cases {
        handler(&*service, options.clone())
            .handle(&event)
            .await
            .expect("sent");
        let (_, _, data) = server.next_message();
        assert_kapacitor_mail(&data, to, "kapacitor.cpu.serverA is CRITICAL", STREAM_BODY);
    }
}

#[tokio::test]
async fn handlers_without_recipients_use_the_configured_ones() {
    let server = StandIn::start(vec![]);
    let service = service(
        &server,
        json!({"to": ["oncall@example.com"], "toTemplates": [r#"{{ index .Tags "host" }}@example.com"#]}),
    );
    let event = stream_test_event();
    // A template rendering nothing (a missing tag) or "<no value>" (a missing field) adds no one.
    let silent =
        json!({"to-field": [r#"{{ index .Tags "owner" }}"#, r#"{{ index .Fields "owner" }}"#]});
    for options in [json!({}), silent] {
        handler(&*service, options)
            .handle(&event)
            .await
            .expect("sent");
        let (commands, _, data) = server.next_message();
        assert!(
            commands
                .iter()
                .any(|(_, c)| c == "RCPT TO:<serverA@example.com>"),
            "{commands:?}"
        );
        assert_eq!(
            parse(&data).0["To"],
            "oncall@example.com, serverA@example.com"
        );
    }
}

#[tokio::test]
async fn a_recipient_given_twice_gets_the_email_once() {
    let server = StandIn::start(vec![]);
    let service = service(&server, json!({}));
    let options = json!({"to": ["On Call <oncall@example.com>", "oncall@example.com"]});
    handler(&*service, options)
        .handle(&server_test_event())
        .await
        .expect("sent");
    let (commands, _, data) = server.next_message();
    let rcpt: Vec<&str> = commands
        .iter()
        .map(|(_, c)| c.as_str())
        .filter(|c| c.starts_with("RCPT"))
        .collect();
    assert_eq!(rcpt, ["RCPT TO:<oncall@example.com>"]);
    assert_eq!(
        parse(&data).0["To"],
        "On Call <oncall@example.com>, oncall@example.com"
    );
}

#[tokio::test]
async fn non_ascii_subjects_are_q_encoded_and_bodies_quoted_printable() {
    let server = StandIn::start(vec![]);
    let service = service(&server, json!({}));
    let mut event = server_test_event();
    event.state.message = "café is CRITICAL".into();
    event.state.details = "température: 30 °C\n.hidden line".into();
    handler(&*service, json!({"to": ["oncall@example.com"]}))
        .handle(&event)
        .await
        .expect("sent");
    let (_, _, data) = server.next_message();
    let (headers, body) = parse(&data);
    assert_eq!(headers["Subject"], "=?UTF-8?q?caf=C3=A9_is_CRITICAL?=");
    assert_eq!(body, "temp=C3=A9rature: 30 =C2=B0C\n.hidden line\n");
}

#[tokio::test]
async fn refusals_and_missing_settings_fail_the_delivery() {
    let server = StandIn::start(vec![]);
    let disabled = service(&server, json!({"enabled": false, "to": ["a@example.com"]}));
    let err = handler(&*disabled, json!({}))
        .handle(&server_test_event())
        .await
        .expect_err("disabled");
    assert_eq!(err.message(), "service is not enabled");
    assert!(!err.is_retryable());

    let nobody = service(&server, json!({}));
    let err = handler(&*nobody, json!({}))
        .handle(&server_test_event())
        .await
        .expect_err("no recipients");
    assert!(
        err.message()
            .starts_with("not sending email, no recipients defined"),
        "{err}"
    );
    assert!(!err.is_retryable());

    let garbage = json!({"to-field": [r#"{{ index .Tags "host" }}"#]});
    let err = handler(&*nobody, garbage)
        .handle(&stream_test_event())
        .await
        .expect_err("not an address");
    assert!(
        err.message()
            .starts_with(r#"recipient "serverA" is not an email address"#),
        "{err}"
    );
    assert!(server.next_within(Duration::from_millis(200)).is_none());
}

#[tokio::test]
async fn the_servers_answers_decide_whether_a_retry_may_help() {
    let cases = [
        (
            Script::answer("RCPT", "550 5.1.1 no such user"),
            "send mail through 127.0.0.1:PORT: permanent error (550): 5.1.1 no such user",
            false,
        ),
        (
            Script::answer("MAIL", "451 4.3.0 try again later"),
            "send mail through 127.0.0.1:PORT: transient error (451): 4.3.0 try again later",
            true,
        ),
        (
            Script::answer("EHLO", "554 go away"),
            "connect to 127.0.0.1:PORT: permanent error (554): go away",
            false,
        ),
    ];
    for (script, expected, retryable) in cases {
        let server = StandIn::start(vec![script]);
        let service = service(&server, json!({}));
        let err = handler(&*service, json!({"to": ["oncall@example.com"]}))
            .handle(&server_test_event())
            .await
            .expect_err("refused");
        let expected = expected.replace("PORT", &server.port().to_string());
        assert_eq!(err.message(), expected);
        assert_eq!(err.is_retryable(), retryable, "{err}");
    }

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let service = build(&json!({"enabled": true, "host": "127.0.0.1", "port": port,
                                "from": "test@example.com"}))
    .unwrap();
    let err = handler(&*service, json!({"to": ["oncall@example.com"]}))
        .handle(&server_test_event())
        .await
        .expect_err("nothing listens");
    assert!(
        err.message()
            .starts_with(&format!("connect to 127.0.0.1:{port}: ")),
        "{err}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let service = build(&json!({"enabled": true, "host": "127.0.0.1", "port": port,
                                "from": "test@example.com", "timeout": "300ms"}))
    .unwrap();
    let err = handler(&*service, json!({"to": ["oncall@example.com"]}))
        .handle(&server_test_event())
        .await
        .expect_err("timed out");
    assert_eq!(
        err.message(),
        format!("send mail through 127.0.0.1:{port} timed out after 300ms")
    );
    assert!(err.is_retryable());
    drop(silent);
}

/// Kapacitor's mailer: one connection for consecutive emails, closed (QUIT) after idle-timeout.
// Multi-threaded, so that the closing task runs while the test waits on the stand-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_serves_consecutive_emails_until_idle() {
    let server = StandIn::start(vec![]);
    let service = service(&server, json!({"idle-timeout": "500ms"}));
    let handler = handler(&*service, json!({"to": ["oncall@example.com"]}));
    handler.handle(&server_test_event()).await.expect("sent");
    handler.handle(&server_test_event()).await.expect("sent");
    let (first, n1, _) = server.next_message();
    let (second, n2, _) = server.next_message();
    assert_eq!(n1, n2, "the second email reuses the connection");
    assert_eq!(first[0].1, "EHLO localhost");
    assert_eq!(second[0].1, "NOOP", "a reused connection is checked first");
    assert_eq!(
        server.next(),
        Received::Command(n1, "QUIT".into()),
        "closed once idle"
    );
    handler.handle(&server_test_event()).await.expect("sent");
    let (third, n3, _) = server.next_message();
    assert_ne!(n3, n1, "a new connection after the idle close");
    assert_eq!(third[0].1, "EHLO localhost");
}

#[tokio::test]
async fn idle_timeout_zero_closes_after_each_email_and_new_settings_reconnect() {
    let server = StandIn::start(vec![]);
    let service = service(&server, json!({"idle-timeout": "0s"}));
    let handler = handler(&*service, json!({"to": ["oncall@example.com"]}));
    handler.handle(&server_test_event()).await.expect("sent");
    let (_, n, _) = server.next_message();
    assert_eq!(server.next(), Received::Command(n, "QUIT".into()));

    let mut config = service.config();
    config["idle-timeout"] = json!("1m");
    service.update(&config).expect("valid");
    handler.handle(&server_test_event()).await.expect("sent");
    let (_, kept, _) = server.next_message();
    // Another server setting: the kept connection is closed and a new one opened.
    config["username"] = json!("kapa");
    service.update(&config).expect("valid");
    handler.handle(&server_test_event()).await.expect("sent");
    let (commands, fresh, _) = server.next_message();
    assert_ne!(kept, fresh);
    assert!(commands.contains(&(kept, "QUIT".into())), "{commands:?}");
    service.close().await;
    assert_eq!(server.next(), Received::Command(fresh, "QUIT".into()));
}

#[tokio::test]
async fn credentials_go_to_a_server_that_offers_auth() {
    let server = StandIn::with_auth("kapa", "secret");
    let good = service(&server, json!({"username": "kapa", "password": "secret"}));
    handler(&*good, json!({"to": ["oncall@example.com"]}))
        .handle(&server_test_event())
        .await
        .expect("sent");
    let (commands, _, _) = server.next_message();
    assert!(
        commands.iter().any(|(_, c)| c.starts_with("AUTH PLAIN ")),
        "{commands:?}"
    );

    let bad = service(&server, json!({"username": "kapa", "password": "wrong"}));
    let err = handler(&*bad, json!({"to": ["oncall@example.com"]}))
        .handle(&server_test_event())
        .await
        .expect_err("refused");
    assert_eq!(
        err.message(),
        format!(
            "authenticate as \"kapa\" with 127.0.0.1:{}: permanent error (535): 5.7.8 Authentication credentials invalid",
            server.port()
        )
    );
    assert!(!err.is_retryable());
    assert!(!err.message().contains("wrong"));
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_email() {
    let server = StandIn::start(vec![]);
    let service = service(&server, json!({"to": ["oncall@example.com"]}));
    service
        .test(&Value::Null)
        .await
        .expect("the service test passes");
    let (commands, _, data) = server.next_message();
    assert!(commands.contains(&(commands[0].0, "RCPT TO:<oncall@example.com>".into())));
    let (headers, body) = parse(&data);
    assert_eq!(headers["Subject"], "test subject");
    assert_eq!(headers["To"], "oncall@example.com");
    assert_eq!(body, "test body\n");

    service
        .test(&json!({"to": ["other@example.com"], "subject": "s", "body": "b"}))
        .await
        .expect("the service test passes");
    let (_, _, data) = server.next_message();
    assert_eq!(parse(&data).0["To"], "other@example.com");

    assert_disabled_service_test_fails::<SmtpService>().await;
}
