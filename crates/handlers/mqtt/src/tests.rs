//! The mqtt handler through the real path: configuration and options decoded by the registry,
//! messages published to a real MQTT broker (Debian's mosquitto, started by each test) and read
//! back by a subscriber: Kapacitor's TestServer_AlertHandlers cases, QoS, the retained flag,
//! authentication, TLS, WebSockets, a broker that is down, and the service test.

mod mosquitto;

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::testing::{assert_documented, assert_registered_and_builds, undocumented_fields};
use klaxon_core::{DynService, Event, EventData, EventState, Handler, Level, Service, Timestamp};
use klaxon_http::testing::TestPki;
use rumqttc::{Publish, QoS};
use serde_json::{Value, json};

use crate::{Broker, MqttService};
use mosquitto::{Conf, Mosquitto, Subscriber, free_port};

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<MqttService>(config).map_err(|e| e.to_string())
}

fn service(config: &Value) -> Arc<dyn DynService> {
    build(config).unwrap_or_else(|e| panic!("the configuration is refused: {e}"))
}

fn handler(service: &dyn DynService, options: Value) -> Arc<dyn Handler> {
    service
        .handler(&options)
        .unwrap_or_else(|e| panic!("the options are refused: {e}"))
}

/// What the service says when refusing `options`.
fn refusal(service: &dyn DynService, options: Value) -> String {
    match service.handler(&options) {
        Ok(_) => panic!("the options {options} are accepted"),
        Err(e) => e.to_string(),
    }
}

/// Kapacitor's configuration in TestServer_AlertHandlers: one enabled broker named `test`
/// (not marked default: the only broker is the default), here at a local mosquitto.
fn single(port: u16) -> Value {
    json!([{"enabled": true, "name": "test", "url": format!("tcp://127.0.0.1:{port}")}])
}

/// The event of Kapacitor's TestServer_AlertHandlers: `.id('id') .message('message')
/// .details('details') .crit(lambda: TRUE)` on the point `alert value=1 0`.
fn harness_event() -> Event {
    Event {
        topic: "test".to_owned(),
        state: EventState {
            id: "id".to_owned(),
            message: "message".to_owned(),
            details: "details".to_owned(),
            time: Timestamp::EPOCH,
            level: Level::Critical,
            ..EventState::default()
        },
        data: EventData {
            name: "alert".to_owned(),
            task_name: "testAlertHandlers".to_owned(),
            group: "nil".to_owned(),
            recoverable: true,
            ..EventData::default()
        },
        ..Event::default()
    }
}

fn assert_message(publish: &Publish, topic: &str, qos: QoS, retain: bool, payload: &str) {
    assert_eq!(publish.topic, topic);
    assert_eq!(publish.qos, qos, "QoS of {publish:?}");
    assert_eq!(publish.retain, retain, "retained flag of {publish:?}");
    assert_eq!(String::from_utf8_lossy(&publish.payload), payload);
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<MqttService>(
        &json!([{"enabled": true, "name": "localhost", "default": true,
                 "url": "tcp://localhost:1883"}]),
        &json!({"broker-name": "localhost", "topic": "alerts", "qos": 1, "retained": true}),
    );
    assert_documented::<MqttService>();
    let schema = klaxon_core::schemars::schema_for!(Broker);
    assert_eq!(undocumented_fields(&schema), Vec::<String>::new());
}

#[test]
fn defaults_are_kapacitors_built_in_broker_and_the_password_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!([{"enabled": false, "name": "default", "default": false, "url": "",
                "ssl-ca": "", "ssl-cert": "", "ssl-key": "", "insecure-skip-verify": false,
                "client-id": "", "username": "", "password": "", "timeout": "10s"}])
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["password"]
    );
    assert_eq!(
        service.test_options(),
        json!({"broker-name": "default", "topic": "", "message": "test MQTT message",
               "qos": "at-most-once", "retained": false})
    );
}

#[test]
fn kapacitors_documented_sections_are_accepted() {
    // The two-broker configuration of Kapacitor's MQTT page, TLS files left out (they would
    // have to exist), and a single [mqtt] table, which is one broker.
    let two = json!([
        {"enabled": true, "name": "localhost", "default": true, "url": "tcp://localhost:1883"},
        {"enabled": true, "name": "alerts-broker", "default": false,
         "url": "ssl://123.45.67.89:1883", "client-id": "alerts-broker",
         "username": "myuser", "password": "mysupersecretpassw0rd"},
    ]);
    let service = service(&two);
    assert_eq!(service.test_options()["broker-name"], "localhost");
    let one = json!({"enabled": true, "name": "localhost", "default": true,
                     "url": "tcp://localhost:1883", "client-id": "xxxx",
                     "username": "xxxx", "password": "xxxx"});
    assert!(build(&one).is_ok());
}

#[test]
fn invalid_configurations_are_refused_naming_the_broker() {
    let pki_dir = tempfile::tempdir().unwrap();
    let missing = pki_dir.path().join("missing.pem");
    let cases = [
        (
            json!([{"enabled": true, "url": "tcp://h:1883"}]),
            r#"[[mqtt]] element 1: must specify a name for the mqtt broker, such as name = "localhost""#.to_owned(),
        ),
        (
            json!([{"enabled": true, "name": "local"}]),
            r#"broker "local": must specify a url for mqtt service, such as url = "tcp://localhost:1883""#.to_owned(),
        ),
        (
            json!([{"name": "local", "url": "http://h:1883"}]),
            r#"broker "local": url "http://h:1883" has the scheme "http"; use tcp://, ssl://, ws:// or wss://"#.to_owned(),
        ),
        (
            json!([{"name": "local", "url": "localhost:1883"}]),
            r#"broker "local": url "localhost:1883" has no host; write it as tcp://host:port"#.to_owned(),
        ),
        (
            json!([{"name": "a", "default": true}, {"name": "b", "default": true}]),
            r#"only one [[mqtt]] broker may have default = true; "a" and "b" do"#.to_owned(),
        ),
        (
            json!([{"name": "a"}, {"name": "b"}]),
            r#"one [[mqtt]] broker must have default = true; the [[mqtt]] brokers are: "a", "b""#.to_owned(),
        ),
        (
            json!([{"name": "a", "default": true}, {"name": "a"}]),
            r#"name "a" appears twice; each element needs its own name"#.to_owned(),
        ),
        (
            json!([{"name": "a", "timeout": "0s"}]),
            r#"broker "a": timeout must be greater than zero, got 0s"#.to_owned(),
        ),
        (
            json!([{"name": "a", "passwd": "x"}]),
            "element 1: unknown key \"passwd\", expected one of: client-id, default, enabled, \
             insecure-skip-verify, name, password, ssl-ca, ssl-cert, ssl-key, timeout, url, \
             username"
                .to_owned(),
        ),
        (
            json!([{"enabled": true, "name": "secure", "url": "ssl://h:8883",
                    "ssl-ca": missing}]),
            format!(
                "broker \"secure\": cannot read ssl-ca {}: No such file or directory (os error 2)",
                missing.display()
            ),
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(
            build(&config).unwrap_err(),
            format!("mqtt: {expected}"),
            "{config}"
        );
    }
    // A disabled broker's TLS files are not read: it makes no connection.
    let disabled = json!([{"name": "secure", "url": "ssl://h:8883", "ssl-ca": missing}]);
    assert!(build(&disabled).is_ok());
}

#[test]
fn invalid_options_are_refused_where_they_are_defined() {
    let service = service(&single(1883));
    let cases = [
        (
            json!({"broker-name": "other", "topic": "t"}),
            r#"unknown MQTT broker "other"; the [[mqtt]] brokers are: "test""#,
        ),
        (
            json!({}),
            "topic is required: the MQTT topic to publish to, such as .mqtt('alerts') or topic: alerts",
        ),
        (
            json!({"topic": "alerts/+"}),
            r#"topic "alerts/+" has a wildcard (+ or #), which MQTT allows only in subscriptions"#,
        ),
        (
            json!({"topic": "alerts/{{ .TaskName"}),
            r#"topic "alerts/{{ .TaskName": template: topic:1:20: unclosed action"#,
        ),
        (
            json!({"topic": "t", "qos": 3}),
            r#"option "qos": 3 is not a QoS level; write 0 (at most once), 1 (at least once) or 2 (exactly once)"#,
        ),
        (
            json!({"topic": "t", "qos": "twice"}),
            r#"option "qos": "twice" is not a QoS level; write "at-most-once", "at-least-once" or "exactly-once", or 0, 1 or 2"#,
        ),
        (
            json!({"topic": "t", "retain": true}),
            r#"unknown option "retain", expected one of: broker-name, qos, retained, topic"#,
        ),
    ];
    for (options, expected) in cases {
        assert_eq!(
            refusal(&*service, options.clone()),
            format!("mqtt: {expected}"),
            "{options}"
        );
    }
}

#[test]
fn qos_is_a_number_or_kapacitors_names() {
    let service = service(&single(1883));
    for qos in [
        json!(0),
        json!(1),
        json!(2),
        json!(2.0),
        json!("at-most-once"),
        json!("at-least-once"),
        json!("exactly-one"),
        json!("exactly-once"),
    ] {
        handler(&*service, json!({"topic": "t", "qos": qos}));
    }
}

#[test]
fn tickscript_is_kapacitors() {
    let tick = MqttService::TICK;
    // Kapacitor's documentation: .mqtt('topic-name').brokerName('name').qos(1).retained(TRUE)
    let options = tick
        .build_options(
            &[json!("topic-name")],
            &[
                ("brokerName", vec![json!("name")]),
                ("qos", vec![json!(1)]),
                ("retained", vec![json!(true)]),
            ],
        )
        .unwrap();
    assert_eq!(
        options,
        json!({"topic": "topic-name", "broker-name": "name", "qos": 1, "retained": true})
    );
    // .topic() after .mqtt() sets the MQTT topic, as in Kapacitor.
    let options = tick
        .build_options(&[json!("a")], &[("topic", vec![json!("b")])])
        .unwrap();
    assert_eq!(options, json!({"topic": "b"}));
    let err = tick.build_options(&[], &[]).unwrap_err();
    assert_eq!(err.to_string(), ".mqtt(topic) takes 1 argument, got 0");
}

/// Kapacitor's TestServer_AlertHandlers "mqtt" cases against a real broker: topic `test`,
/// `at-least-once`, retained; then the topic template `test/{{.TaskName}}`. A subscriber that
/// comes after the publish gets the message only because the broker retained it.
#[tokio::test]
async fn kapacitors_alert_handler_cases_reach_a_real_broker() {
    let Some(conf) = Conf::new() else { return };
    let port = free_port();
    let broker = conf.tcp(port).start();
    let service = service(&single(port));

    let plain = handler(
        &*service,
        json!({"topic": "test", "qos": "at-least-once", "retained": true}),
    );
    plain.handle(&harness_event()).await.expect("published");
    let mut late = Subscriber::start(port, "test", QoS::ExactlyOnce).await;
    assert_message(
        &late.next().await,
        "test",
        QoS::AtLeastOnce,
        true,
        "message",
    );

    let templated = handler(
        &*service,
        json!({"topic": "test/{{.TaskName}}", "qos": "at-least-once", "retained": true}),
    );
    templated.handle(&harness_event()).await.expect("published");
    let mut late = Subscriber::start(port, "test/#", QoS::ExactlyOnce).await;
    assert_message(
        &late.next().await,
        "test/testAlertHandlers",
        QoS::AtLeastOnce,
        true,
        "message",
    );

    // Kapacitor's client: MQTT 3.1.1 (p2), a clean session (c1), keep-alive 30 s, the broker's
    // name as client identifier; one connection for both handlers.
    let line = broker.wait_for_log(" as test ");
    assert!(line.ends_with("as test (p2, c1, k30)."), "{line}");
    assert_eq!(
        broker.log().matches(" as test ").count(),
        1,
        "{}",
        broker.log()
    );
}

#[tokio::test]
async fn each_qos_reaches_the_subscriber_and_the_payload_is_the_message_alone() {
    let Some(conf) = Conf::new() else { return };
    let port = free_port();
    let _broker = conf.tcp(port).start();
    let service = service(&single(port));
    let mut subscriber = Subscriber::start(port, "alerts/#", QoS::ExactlyOnce).await;
    let mut event = harness_event();
    event.state.message = "cpu <high> & \"hot\"\nsecond line".to_owned();

    for (qos, expected) in [
        (0, QoS::AtMostOnce),
        (1, QoS::AtLeastOnce),
        (2, QoS::ExactlyOnce),
    ] {
        let topic = format!("alerts/{qos}");
        let h = handler(&*service, json!({"topic": topic, "qos": qos}));
        h.handle(&event).await.expect("published");
        // A live delivery is not flagged retained, whatever the publish said.
        assert_message(
            &subscriber.next().await,
            &topic,
            expected,
            false,
            "cpu <high> & \"hot\"\nsecond line",
        );
    }
}

#[tokio::test]
async fn the_topic_template_sees_kapacitors_template_data() {
    let Some(conf) = Conf::new() else { return };
    let port = free_port();
    let _broker = conf.tcp(port).start();
    let service = service(&single(port));
    let mut subscriber = Subscriber::start(port, "#", QoS::AtMostOnce).await;
    let mut event = harness_event();
    event
        .data
        .tags
        .insert("host".to_owned(), "serverA".to_owned());
    let h = handler(
        &*service,
        json!({"topic": "{{ .Name }}/{{ index .Tags \"host\" }}/{{ .Level }}/{{ .ID }}"}),
    );
    h.handle(&event).await.expect("published");
    assert_eq!(subscriber.next().await.topic, "alert/serverA/CRITICAL/id");

    let typo = handler(&*service, json!({"topic": "{{ .Nmae }}"}));
    let err = typo.handle(&event).await.expect_err("no such field");
    assert!(!err.is_retryable());
    assert!(
        err.message()
            .starts_with("topic template \"{{ .Nmae }}\": "),
        "{err}"
    );
    let empty = handler(&*service, json!({"topic": "{{ if false }}t{{ end }}"}));
    let err = empty.handle(&event).await.expect_err("empty topic");
    assert_eq!(
        err.message(),
        "missing MQTT topic: the topic template \"{{ if false }}t{{ end }}\" gave an empty topic"
    );
}

#[tokio::test]
async fn named_brokers_get_their_own_messages_and_client_ids() {
    let Some(first) = Conf::new() else { return };
    let Some(second) = Conf::new() else { return };
    let (one, two) = (free_port(), free_port());
    let first = first.tcp(one).start();
    let second = second.tcp(two).start();
    let service = service(&json!([
        {"enabled": true, "name": "localhost", "default": true,
         "url": format!("tcp://127.0.0.1:{one}")},
        {"enabled": true, "name": "alerts-broker", "client-id": "klaxon-alerts",
         "url": format!("mqtt://127.0.0.1:{two}")},
    ]));
    let mut on_first = Subscriber::start(one, "#", QoS::AtMostOnce).await;
    let mut on_second = Subscriber::start(two, "#", QoS::AtMostOnce).await;

    handler(&*service, json!({"topic": "default"}))
        .handle(&harness_event())
        .await
        .unwrap();
    handler(
        &*service,
        json!({"topic": "named", "broker-name": "alerts-broker"}),
    )
    .handle(&harness_event())
    .await
    .unwrap();

    assert_eq!(on_first.next().await.topic, "default");
    assert_eq!(on_second.next().await.topic, "named");
    assert!(
        on_first
            .next_within(Duration::from_millis(300))
            .await
            .is_none()
    );
    first.wait_for_log(" as localhost (p2, c1, k30)");
    second.wait_for_log(" as klaxon-alerts (p2, c1, k30)");
}

#[tokio::test]
async fn credentials_are_sent_and_a_refused_login_is_permanent() {
    let Some(conf) = Conf::new() else { return };
    let port = free_port();
    let broker = conf.user("kapacitor", "s3cret").tcp(port).start();
    let url = format!("tcp://127.0.0.1:{port}");

    let good = service(&json!([{"enabled": true, "name": "auth", "url": url,
                                "username": "kapacitor", "password": "s3cret"}]));
    handler(&*good, json!({"topic": "t"}))
        .handle(&harness_event())
        .await
        .expect("accepted credentials");
    broker.wait_for_log("u'kapacitor'");

    for config in [
        json!([{"enabled": true, "name": "auth", "url": url,
                "username": "kapacitor", "password": "wrong"}]),
        json!([{"enabled": true, "name": "auth", "url": url}]),
    ] {
        let bad = service(&config);
        let err = handler(&*bad, json!({"topic": "t"}))
            .handle(&harness_event())
            .await
            .expect_err("refused");
        assert!(!err.is_retryable(), "{err}");
        assert!(
            err.message()
                .starts_with("MQTT broker \"auth\" refused the connection: not authorized;"),
            "{err}"
        );
        assert!(
            !err.message().contains("wrong"),
            "the password is never shown: {err}"
        );
    }
}

#[tokio::test]
async fn a_broker_that_is_down_is_retryable_and_its_return_is_noticed() {
    let Some(conf) = Conf::new() else { return };
    let port = free_port();
    let service = service(&single(port));
    let h = handler(&*service, json!({"topic": "t", "qos": 1}));

    let err = h
        .handle(&harness_event())
        .await
        .expect_err("nothing listens");
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.message()
            .starts_with("connect to MQTT broker \"test\": Connection refused"),
        "{err}"
    );

    // The next delivery attempt connects at once, without waiting for the reconnect backoff.
    let broker = conf.tcp(port).start();
    let mut subscriber = Subscriber::start(port, "t", QoS::AtLeastOnce).await;
    h.handle(&harness_event())
        .await
        .expect("the broker is back");
    assert_message(
        &subscriber.next().await,
        "t",
        QoS::AtLeastOnce,
        false,
        "message",
    );

    // A broker that goes away under an open connection: retryable again.
    drop(subscriber);
    drop(broker);
    let err = h
        .handle(&harness_event())
        .await
        .expect_err("the broker is gone");
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn a_broker_that_never_answers_times_out() {
    // Accepts the TCP connection and never answers CONNECT.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let service = service(&json!([{"enabled": true, "name": "slow", "timeout": "1s",
                                   "url": format!("tcp://127.0.0.1:{port}")}]));
    let h = handler(&*service, json!({"topic": "t"}));
    let started = std::time::Instant::now();
    let err = h.handle(&harness_event()).await.expect_err("no CONNACK");
    assert!(err.is_retryable(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the timeout"
    );
    assert!(
        err.message() == "publishing to MQTT broker \"slow\" timed out after 1s"
            || err.message() == "connect to MQTT broker \"slow\": no answer in time",
        "{err}"
    );
}

#[tokio::test]
async fn tls_brokers_are_verified_with_ssl_ca_and_client_certificates_are_sent() {
    let Some(conf) = Conf::new() else { return };
    let pki = TestPki::generate(conf.dir());
    let (port, mutual, untrusted, clear) = (free_port(), free_port(), free_port(), free_port());
    let _broker = conf
        .tls(port, &pki.server_cert, &pki.server_key, None)
        .tls(mutual, &pki.server_cert, &pki.server_key, Some(&pki.ca))
        .tls(untrusted, &pki.untrusted_cert, &pki.untrusted_key, None)
        .tcp(clear)
        .start();
    let mut subscriber = Subscriber::start(clear, "#", QoS::AtMostOnce).await;
    let ca = pki.ca.display().to_string();
    let publish = |broker: Value| async move {
        let service = service(&json!([broker]));
        handler(&*service, json!({"topic": "secure"}))
            .handle(&harness_event())
            .await
    };

    publish(
        json!({"enabled": true, "name": "tls", "url": format!("ssl://localhost:{port}"),
                   "ssl-ca": ca}),
    )
    .await
    .expect("verified with ssl-ca");
    assert_eq!(subscriber.next().await.topic, "secure");

    publish(
        json!({"enabled": true, "name": "tls", "url": format!("mqtts://localhost:{mutual}"),
                   "ssl-ca": ca, "ssl-cert": pki.client_cert, "ssl-key": pki.client_key}),
    )
    .await
    .expect("with a client certificate");
    assert_eq!(subscriber.next().await.topic, "secure");

    publish(
        json!({"enabled": true, "name": "tls", "insecure-skip-verify": true,
                   "url": format!("ssl://localhost:{untrusted}")}),
    )
    .await
    .expect("insecure-skip-verify accepts any certificate");
    assert_eq!(subscriber.next().await.topic, "secure");

    let err = publish(json!({"enabled": true, "name": "tls", "ssl-ca": ca,
                             "url": format!("ssl://localhost:{untrusted}")}))
    .await
    .expect_err("a certificate nothing trusts");
    assert!(!err.is_retryable(), "{err}");
    assert!(
        err.message()
            .starts_with("TLS with MQTT broker \"tls\" failed: "),
        "{err}"
    );
}

#[tokio::test]
async fn websocket_brokers_work() {
    let Some(conf) = Conf::new() else { return };
    let (ws, clear) = (free_port(), free_port());
    let _broker = conf.websocket(ws).tcp(clear).start();
    let mut subscriber = Subscriber::start(clear, "#", QoS::AtMostOnce).await;
    let service = service(&json!([{"enabled": true, "name": "ws",
                                   "url": format!("ws://127.0.0.1:{ws}/mqtt")}]));
    handler(&*service, json!({"topic": "over/ws", "qos": 1}))
        .handle(&harness_event())
        .await
        .expect("published over a WebSocket");
    assert_message(
        &subscriber.next().await,
        "over/ws",
        QoS::AtMostOnce,
        false,
        "message",
    );
}

#[tokio::test]
async fn a_disabled_or_removed_broker_fails_permanently() {
    let service = service(&json!([
        {"name": "a", "default": true, "url": "tcp://127.0.0.1:1"},
        {"name": "b", "url": "tcp://127.0.0.1:1"},
    ]));
    let h = handler(&*service, json!({"topic": "t", "broker-name": "b"}));
    let err = h.handle(&harness_event()).await.expect_err("disabled");
    assert!(!err.is_retryable());
    assert_eq!(
        err.message(),
        "MQTT broker \"b\" is not enabled; set enabled = true in its [[mqtt]] section"
    );
    // The same handler after its broker was removed from the configuration.
    service
        .update(&json!([{"name": "a", "url": "tcp://127.0.0.1:1"}]))
        .expect("a valid configuration");
    let err = h.handle(&harness_event()).await.expect_err("removed");
    assert!(!err.is_retryable());
    assert_eq!(
        err.message(),
        r#"unknown MQTT broker "b"; the [[mqtt]] brokers are: "a""#
    );
}

#[tokio::test]
async fn a_configuration_change_reaches_existing_handlers() {
    let Some(first) = Conf::new() else { return };
    let Some(second) = Conf::new() else { return };
    let (one, two) = (free_port(), free_port());
    let _first = first.tcp(one).start();
    let _second = second.tcp(two).start();
    let service = service(&single(one));
    let h = handler(&*service, json!({"topic": "moved"}));
    let mut on_first = Subscriber::start(one, "#", QoS::AtMostOnce).await;
    let mut on_second = Subscriber::start(two, "#", QoS::AtMostOnce).await;
    h.handle(&harness_event()).await.unwrap();
    assert_eq!(on_first.next().await.topic, "moved");

    service.update(&single(two)).expect("valid");
    h.handle(&harness_event()).await.unwrap();
    assert_eq!(on_second.next().await.topic, "moved");
    assert!(
        on_first
            .next_within(Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn the_service_test_publishes_kapacitors_test_message() {
    let Some(conf) = Conf::new() else { return };
    let port = free_port();
    let _broker = conf.tcp(port).start();
    let service = service(&single(port));
    assert_eq!(
        service.test_options(),
        json!({"broker-name": "test", "topic": "", "message": "test MQTT message",
               "qos": "at-most-once", "retained": false})
    );
    let mut subscriber = Subscriber::start(port, "#", QoS::ExactlyOnce).await;

    service
        .test(&json!({"topic": "test", "qos": "exactly-one"}))
        .await
        .expect("the test passes");
    assert_message(
        &subscriber.next().await,
        "test",
        QoS::ExactlyOnce,
        false,
        "test MQTT message",
    );

    // Kapacitor's failures: no topic, and TestServer_DoServiceTest's unknown broker.
    let err = service.test(&json!({})).await.unwrap_err();
    assert_eq!(err.to_string(), "missing MQTT topic");
    let err = service
        .test(&json!({"broker-name": "default", "topic": "test"}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"unknown MQTT broker "default"; the [[mqtt]] brokers are: "test""#
    );
}

#[tokio::test]
async fn closing_disconnects_from_the_broker() {
    let Some(conf) = Conf::new() else { return };
    let port = free_port();
    let broker: Mosquitto = conf.tcp(port).start();
    let service = service(&single(port));
    handler(&*service, json!({"topic": "t"}))
        .handle(&harness_event())
        .await
        .unwrap();
    service.close().await;
    broker.wait_for_log("Client test disconnected.");
}
