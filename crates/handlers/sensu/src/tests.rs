//! The sensu handler through the real path (configuration and options decoded by the registry)
//! against a local Sensu client socket that speaks the protocol: it reads one JSON check result,
//! answers as scripted and closes the connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::testing::{
    alert_handlers_event, assert_documented, assert_registered_and_builds, build, handler,
    option_error, stream_alert_event,
};
use klaxon_core::{DynService, Event, Handler, Level, Service};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::SensuService;

/// Generous bound for anything that should happen promptly, on a loaded machine.
const PROMPTLY: Duration = Duration::from_secs(30);

/// A Sensu client's socket on a loopback port: per connection, reads until the bytes parse as
/// one JSON object, records them, answers with the next scripted answer (`ok` when the script
/// has run out; `None` closes without a word) and closes the connection.
struct SensuClient {
    addr: String,
    received: mpsc::UnboundedReceiver<String>,
}

impl SensuClient {
    async fn start(script: Vec<Option<&'static str>>) -> SensuClient {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address").to_string();
        let (tx, received) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut script = script.into_iter();
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = Vec::new();
                let mut chunk = [0; 4096];
                while serde_json::from_slice::<Value>(&buffer).is_err() {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = tx.send(String::from_utf8_lossy(&buffer).into_owned());
                if let Some(answer) = script.next().unwrap_or(Some("ok")) {
                    let _ = stream.write_all(answer.as_bytes()).await;
                }
            }
        });
        SensuClient { addr, received }
    }

    /// The next check result received, as sent.
    async fn next(&mut self) -> String {
        tokio::time::timeout(PROMPTLY, self.received.recv())
            .await
            .expect("a check result within the deadline")
            .expect("the client runs")
    }
}

fn service(config: Value) -> Arc<dyn DynService> {
    klaxon_core::testing::service::<SensuService>(&config)
}

fn enabled(addr: &str) -> Arc<dyn DynService> {
    service(json!({"enabled": true, "addr": addr, "source": "Kapacitor"}))
}

/// The one event of Kapacitor's `TestStream_AlertSensu`.
fn stream_test_event() -> Event {
    let mut event = stream_alert_event("kapacitor.cpu.serverA is CRITICAL");
    event.state.id = "kapacitor.cpu.serverA".into();
    event
}

/// Delivers `event` through `handler` to `client` and returns what the client received.
async fn deliver(handler: &dyn Handler, event: &Event, client: &mut SensuClient) -> String {
    let (sent, received) = tokio::join!(handler.handle(event), client.next());
    sent.expect("delivered");
    received
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<SensuService>(
        &json!({"enabled": true, "addr": "sensu-client:3030", "source": "Kapacitor",
                "handlers": ["sns", "slack"]}),
        &json!({"source": "Kapacitor", "handlers": ["tcp"], "metadata": {"k": 1}}),
    );
    assert_documented::<SensuService>();
}

#[test]
fn defaults_are_kapacitors() {
    let service = service(Value::Null);
    assert_eq!(
        service.config(),
        json!({"enabled": false, "addr": "", "source": "Kapacitor", "handlers": [],
               "timeout": "10s"})
    );
    assert_eq!(
        service.default_options(),
        json!({"source": "", "handlers": [], "metadata": {}})
    );
    assert_eq!(
        service.test_options(),
        json!({"name": "testName", "source": "Kapacitor", "output": "testOutput",
               "handlers": [], "metadata": {}, "level": "CRITICAL"})
    );
}

#[test]
fn kapacitors_documented_sections_are_accepted() {
    for section in [
        json!({"enabled": true, "addr": "sensu-client:3030", "source": "Kapacitor",
               "handlers": ["hander1-name", "handler2-name"]}),
        json!({"enabled": true, "addr": "123.45.67.89:3030", "source": "Kapacitor",
               "handlers": ["tcp", "transport"]}),
        json!({"enabled": false, "addr": "sensu-client:3030", "source": "Kapacitor"}),
        json!({"enabled": true, "addr": "sensu:3030", "source": "Kapacitor",
               "handlers": ["sns", "slack"]}),
        json!({"enabled": true, "addr": "[::1]:3030"}),
    ] {
        build::<SensuService>(&section).unwrap_or_else(|e| panic!("{section}: {e}"));
    }
}

#[test]
fn bad_configuration_names_the_key() {
    let cases = [
        (
            json!({"enabled": true}),
            r#"sensu: must specify client address: set addr to the Sensu client's host:port, such as "sensu-client:3030""#,
        ),
        (
            json!({"addr": "sensu-client"}),
            r#"sensu: addr "sensu-client" is not host:port; write it like "sensu-client:3030""#,
        ),
        (
            json!({"addr": "sensu-client:sensu"}),
            r#"sensu: addr "sensu-client:sensu" is not host:port; write it like "sensu-client:3030""#,
        ),
        (
            json!({"addr": ":3030"}),
            r#"sensu: addr ":3030" is not host:port; write it like "sensu-client:3030""#,
        ),
        (
            json!({"addr": "[::1]"}),
            r#"sensu: addr "[::1]" is not host:port; write it like "sensu-client:3030""#,
        ),
        (
            json!({"timeout": "0s"}),
            "sensu: timeout must be greater than zero, got 0s",
        ),
    ];
    for (section, expected) in cases {
        let err = build::<SensuService>(&section).expect_err("refused");
        assert_eq!(err.to_string(), expected, "{section}");
    }
}

#[test]
fn bad_options_name_the_option() {
    assert_eq!(
        option_error::<SensuService>(&json!({"sources": "x"})),
        r#"sensu: unknown option "sources", expected one of: handlers, metadata, source"#
    );
    assert_eq!(
        option_error::<SensuService>(&json!({"handlers": "tcp"})),
        r#"sensu: option "handlers": invalid type: string "tcp", expected a sequence"#
    );
    assert!(
        option_error::<SensuService>(&json!({"source": "{{ .Tags"})).starts_with("sensu: source: "),
    );
}

/// The TICKscript of Kapacitor's documentation, chained properties as written.
#[test]
fn documented_tickscript_builds_the_documented_options() {
    let options = SensuService::TICK
        .build_options(
            &[],
            &[
                ("source", vec![json!("Kapacitor")]),
                (
                    "handlers",
                    vec![json!("handler1-name"), json!("handler2-name")],
                ),
                ("metadata", vec![json!("key1"), json!("value1")]),
                ("metadata", vec![json!("key2"), json!(5)]),
                ("metadata", vec![json!("key3"), json!(5.0)]),
            ],
        )
        .expect("the documented properties");
    assert_eq!(
        options,
        json!({"source": "Kapacitor", "handlers": ["handler1-name", "handler2-name"],
               "metadata": {"key1": "value1", "key2": 5, "key3": 5.0}})
    );
    handler(&*service(Value::Null), options);
}

/// The handler files of Kapacitor's documentation, as the CLI reads YAML.
#[test]
fn documented_handler_files_decode() {
    let files = [
        "id: handler-id\ntopic: topic-name\nkind: sensu\noptions:\n  source: Kapacitor\n  handlers:\n    - handler1-name\n    - handler2-name\n  metadata:\n    key1: value1\n    key2: 5\n    key3: 5.0\n",
        "id: sensu-cpu-alert\ntopic: cpu\nkind: sensu\noptions:\n  source: Kapacitor\n  handlers:\n    - tcp\n    - transport\n",
    ];
    klaxon_core::testing::assert_handler_files_accepted::<SensuService>(&Value::Null, &files);
}

/// Kapacitor's `TestServer_AlertHandlers` case `sensu`, byte for byte.
#[tokio::test]
async fn sends_kapacitors_server_test_check_result() {
    let mut client = SensuClient::start(vec![]).await;
    let service = enabled(&client.addr);
    let handler = handler(
        &*service,
        json!({"source": "Kapacitor", "metadata": {"k1": "v1", "k2": 5}}),
    );

    let received = deliver(&*handler, &alert_handlers_event(), &mut client).await;

    assert_eq!(
        received,
        "{\"handlers\":null,\"k1\":\"v1\",\"k2\":5,\"name\":\"id\",\"output\":\"message\",\"source\":\"Kapacitor\",\"status\":2}\n"
    );
}

/// Kapacitor's `TestStream_AlertSensu`: `.sensu().metadata('k1', 'v1').metadata('k2', 5)`.
#[tokio::test]
async fn sends_kapacitors_stream_test_check_result() {
    let mut client = SensuClient::start(vec![]).await;
    let service = enabled(&client.addr);
    let options = SensuService::TICK
        .build_options(
            &[],
            &[
                ("metadata", vec![json!("k1"), json!("v1")]),
                ("metadata", vec![json!("k2"), json!(5)]),
            ],
        )
        .unwrap();
    let handler = handler(&*service, options);

    let received = deliver(&*handler, &stream_test_event(), &mut client).await;

    assert_eq!(
        received,
        "{\"handlers\":null,\"k1\":\"v1\",\"k2\":5,\"name\":\"kapacitor.cpu.serverA\",\"output\":\"kapacitor.cpu.serverA is CRITICAL\",\"source\":\"Kapacitor\",\"status\":2}\n"
    );
}

#[tokio::test]
async fn levels_become_sensu_statuses() {
    let mut client = SensuClient::start(vec![]).await;
    let handler = handler(&*enabled(&client.addr), json!({}));
    for (level, status) in [
        (Level::Ok, 0),
        (Level::Info, 0),
        (Level::Warning, 1),
        (Level::Critical, 2),
    ] {
        let mut event = stream_test_event();
        event.state.level = level;
        let received = deliver(&*handler, &event, &mut client).await;
        let check: Value = serde_json::from_str(&received).unwrap();
        assert_eq!(check["status"], status, "{level:?}");
    }
}

/// The default alert ID `cpu:nil`, which Kapacitor refuses to send, is the check `cpu_nil`.
#[tokio::test]
async fn names_and_sources_sensu_would_refuse_are_made_acceptable() {
    let mut client = SensuClient::start(vec![]).await;
    let service = enabled(&client.addr);
    let handler = handler(
        &*service,
        json!({"source": "{{ index .Tags \"host\" }} (eu/west)"}),
    );
    let mut event = stream_test_event();
    event.state.id = "cpu:nil".into();

    let received = deliver(&*handler, &event, &mut client).await;

    let check: Value = serde_json::from_str(&received).unwrap();
    assert_eq!(check["name"], "cpu_nil");
    assert_eq!(check["source"], "serverA__eu_west_");
}

#[tokio::test]
async fn the_source_is_a_template_over_kapacitors_template_data() {
    let mut client = SensuClient::start(vec![]).await;
    let handler = handler(
        &*enabled(&client.addr),
        json!({"source": "{{ .TaskName }}.{{ .Name }}.{{ .Level }}.{{ index .Fields \"count\" }}"}),
    );

    let received = deliver(&*handler, &stream_test_event(), &mut client).await;

    let check: Value = serde_json::from_str(&received).unwrap();
    assert_eq!(check["source"], "TestStream_Alert.cpu.CRITICAL.10");
}

#[tokio::test]
async fn a_source_template_that_fails_for_the_alert_is_a_permanent_failure() {
    let client = SensuClient::start(vec![]).await;
    let handler = handler(&*enabled(&client.addr), json!({"source": "{{ len 3 }}"}));

    let err = handler
        .handle(&stream_test_event())
        .await
        .expect_err("fails");

    assert!(
        err.message()
            .starts_with("failed to evaluate Sensu source template: "),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn configured_source_and_handlers_serve_handlers_that_name_none() {
    let mut client = SensuClient::start(vec![]).await;
    let service = service(
        json!({"enabled": true, "addr": client.addr, "source": "klaxon-1",
                                 "handlers": ["tcp", "transport"]}),
    );
    let by_default = handler(&*service, json!({}));
    let own = handler(
        &*service,
        json!({"source": "edge", "handlers": ["pagerduty"]}),
    );

    let default_check = deliver(&*by_default, &stream_test_event(), &mut client).await;
    let own_check = deliver(&*own, &stream_test_event(), &mut client).await;

    assert!(
        default_check.starts_with("{\"handlers\":[\"tcp\",\"transport\"],"),
        "{default_check}"
    );
    assert!(
        default_check.ends_with(",\"source\":\"klaxon-1\",\"status\":2}\n"),
        "{default_check}"
    );
    assert!(
        own_check.starts_with("{\"handlers\":[\"pagerduty\"],"),
        "{own_check}"
    );
    assert!(own_check.contains(",\"source\":\"edge\","), "{own_check}");
}

#[tokio::test]
async fn an_empty_source_is_left_out() {
    let mut client = SensuClient::start(vec![]).await;
    let service = service(json!({"enabled": true, "addr": client.addr, "source": ""}));
    let handler = handler(&*service, json!({}));

    let received = deliver(&*handler, &stream_test_event(), &mut client).await;

    assert_eq!(
        received,
        "{\"handlers\":null,\"name\":\"kapacitor.cpu.serverA\",\"output\":\"kapacitor.cpu.serverA is CRITICAL\",\"status\":2}\n"
    );
}

#[tokio::test]
async fn metadata_cannot_replace_the_check_keys_and_goes_out_sorted() {
    let mut client = SensuClient::start(vec![]).await;
    let handler = handler(
        &*enabled(&client.addr),
        json!({"metadata": {
            "status": 0, "name": "other", "source": "other", "output": "other", "handlers": ["x"],
            "zone": {"b": 1, "a": [{"d": "<&>", "c": 0.5}]}, "interval": 300_000_000_000_i64,
        }}),
    );

    let received = deliver(&*handler, &stream_test_event(), &mut client).await;

    assert_eq!(
        received,
        concat!(
            "{\"handlers\":null,\"interval\":300000000000,\"name\":\"kapacitor.cpu.serverA\",",
            "\"output\":\"kapacitor.cpu.serverA is CRITICAL\",\"source\":\"Kapacitor\",\"status\":2,",
            "\"zone\":{\"a\":[{\"c\":0.5,\"d\":\"\\u003c\\u0026\\u003e\"}],\"b\":1}}\n"
        )
    );
}

#[tokio::test]
async fn invalid_is_a_permanent_failure_naming_the_client() {
    let mut client = SensuClient::start(vec![Some("invalid")]).await;
    let handler = handler(&*enabled(&client.addr), json!({}));

    let event = stream_test_event();
    let (sent, _) = tokio::join!(handler.handle(&event), client.next());

    let err = sent.expect_err("refused");
    assert_eq!(
        err.message(),
        format!(
            "sensu socket error: sensu client {} answered \"invalid\": it could not read or refused the check result (its log says why)",
            client.addr
        )
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn another_answer_is_a_permanent_failure_quoting_it() {
    let mut client = SensuClient::start(vec![Some("pong")]).await;
    let handler = handler(&*enabled(&client.addr), json!({}));

    let event = stream_test_event();
    let (sent, _) = tokio::join!(handler.handle(&event), client.next());

    let err = sent.expect_err("not ok");
    assert!(
        err.message()
            .ends_with("answered \"pong\" instead of \"ok\""),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn closing_without_an_answer_is_retryable() {
    let mut client = SensuClient::start(vec![None]).await;
    let handler = handler(&*enabled(&client.addr), json!({}));

    let event = stream_test_event();
    let (sent, _) = tokio::join!(handler.handle(&event), client.next());

    let err = sent.expect_err("no answer");
    assert!(
        err.message()
            .ends_with("closed the connection without answering \"ok\""),
        "{err}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_client_that_is_not_there_is_retryable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let handler = handler(&*enabled(&addr), json!({}));

    let err = handler
        .handle(&stream_test_event())
        .await
        .expect_err("refused");

    assert!(
        err.message()
            .starts_with(&format!("connect to sensu client {addr}: ")),
        "{err}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_client_that_never_answers_times_out_at_the_live_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let service = enabled(&addr);
    let handler = handler(&*service, json!({}));
    // The handler was made under the default 10s; the update reaches it.
    service
        .update(&json!({"enabled": true, "addr": addr, "timeout": "300ms"}))
        .expect("valid configuration");
    let accept = async { listener.accept().await.expect("accept") };

    let started = Instant::now();
    let event = stream_test_event();
    let (sent, _silent) = tokio::join!(handler.handle(&event), accept);

    let err = sent.expect_err("no answer in time");
    assert_eq!(
        err.message(),
        format!("send to sensu client {addr} timed out after 300ms")
    );
    assert!(err.is_retryable());
    assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_disabled_service_fails_every_delivery() {
    let service = service(json!({"addr": "127.0.0.1:3030"}));
    let handler = handler(&*service, json!({}));

    let err = handler
        .handle(&stream_test_event())
        .await
        .expect_err("disabled");

    assert_eq!(err.message(), "service is not enabled");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_new_address_reaches_existing_handlers() {
    let mut first = SensuClient::start(vec![]).await;
    let mut second = SensuClient::start(vec![]).await;
    let service = enabled(&first.addr);
    let handler = handler(&*service, json!({}));
    deliver(&*handler, &stream_test_event(), &mut first).await;

    service
        .update(&json!({"enabled": true, "addr": second.addr}))
        .expect("valid configuration");

    deliver(&*handler, &stream_test_event(), &mut second).await;
}

#[tokio::test]
async fn service_test_sends_kapacitors_test_check_result() {
    let mut client = SensuClient::start(vec![]).await;
    let service = enabled(&client.addr);

    let options = json!({});
    let (tested, received) = tokio::join!(service.test(&options), client.next());

    tested.expect("the test passes");
    assert_eq!(
        received,
        "{\"handlers\":null,\"name\":\"testName\",\"output\":\"testOutput\",\"source\":\"Kapacitor\",\"status\":2}\n"
    );
}

#[tokio::test]
async fn service_test_takes_kapacitors_options() {
    let mut client = SensuClient::start(vec![]).await;
    let service = enabled(&client.addr);
    let options = json!({"name": "disk", "source": "db-1", "output": "full", "level": "WARNING",
                         "handlers": ["mail"], "metadata": {"team": "ops"}});

    let (tested, received) = tokio::join!(service.test(&options), client.next());

    tested.expect("the test passes");
    assert_eq!(
        received,
        "{\"handlers\":[\"mail\"],\"name\":\"disk\",\"output\":\"full\",\"source\":\"db-1\",\"status\":1,\"team\":\"ops\"}\n"
    );
}

#[tokio::test]
async fn service_test_of_a_disabled_service_says_so() {
    klaxon_core::testing::assert_disabled_service_test_fails::<SensuService>().await;
}
