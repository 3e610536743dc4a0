//! The kafka handler through the real path: configuration and options decoded by the registry,
//! messages written to a real Kafka-protocol broker (tansu, started by each test) and read back
//! by a consumer: Kapacitor's TestServer_AlertHandlers and TestStream_AlertKafka cases, its
//! partitioners, batching, SASL, a broker that is down, and the service test.

mod tansu;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::testing::{assert_documented, assert_registered_and_builds, undocumented_fields};
use klaxon_core::{
    AlertResult, DynService, Event, EventData, EventState, FieldValue, Handler, Level, Row,
    Service, Timestamp,
};
use serde_json::{Value, json};

use crate::{Cluster, KafkaService, Partitioner};
use tansu::{Tansu, free_port};

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<KafkaService>(config).map_err(|e| e.to_string())
}

fn service(config: &Value) -> Arc<dyn DynService> {
    build(config).unwrap_or_else(|e| panic!("the configuration is refused: {e}"))
}

fn handler(service: &dyn DynService, options: Value) -> Arc<dyn Handler> {
    service
        .handler(&options)
        .unwrap_or_else(|e| panic!("the options are refused: {e}"))
}

/// Kapacitor's test configuration: one enabled cluster `default` at a local tansu.
fn cluster(broker: &Tansu, extra: Value) -> Value {
    let mut cluster = json!({"enabled": true, "id": "default", "brokers": [broker.addr]});
    if let (Some(cluster), Value::Object(extra)) = (cluster.as_object_mut(), extra) {
        cluster.extend(extra);
    }
    json!([cluster])
}

/// The event of Kapacitor's TestServer_AlertHandlers: `.id('id') .message('message')
/// .details('details') .crit(lambda: TRUE)` on the point `alert value=1 0`.
fn harness_event() -> Event {
    let fields = BTreeMap::from([("value".to_owned(), FieldValue::Float(1.0))]);
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
            recoverable: true,
            result: AlertResult {
                series: vec![Row::from_point(
                    "alert",
                    &BTreeMap::new(),
                    &fields,
                    Timestamp::EPOCH,
                )],
            },
            fields,
            ..EventData::default()
        },
        ..Event::default()
    }
}

/// The event of Kapacitor's TestStream_AlertKafka: serverA's count of 10, CRITICAL.
fn stream_event() -> Event {
    let mut event = harness_event();
    event.state.id = "kapacitor/cpu/serverA".to_owned();
    event.state.message = "kapacitor/cpu/serverA is CRITICAL".to_owned();
    event
}

fn now_millis() -> i64 {
    Timestamp::now().as_nanos() / 1_000_000
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<KafkaService>(
        &json!([{"enabled": true, "id": "localhost", "brokers": ["localhost:9092"]}]),
        &json!({"cluster": "localhost", "topic": "alerts", "template": "{{ .Message }}",
                "partitionAlgorithm": "murmur2"}),
    );
    assert_documented::<KafkaService>();
    let schema = klaxon_core::schemars::schema_for!(Cluster);
    assert_eq!(undocumented_fields(&schema), Vec::<String>::new());
}

#[test]
fn defaults_are_kapacitors_built_in_cluster_and_secrets_are_redacted() {
    let service = build(&Value::Null).expect("the defaults are valid");
    let config = service.config();
    assert_eq!(config[0]["id"], "default");
    assert_eq!(config[0]["enabled"], false);
    assert_eq!(config[0]["timeout"], "10s");
    assert_eq!(config[0]["sasl-oauth-token-expiry-margin"], "10s");
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        [
            "sasl-password",
            "sasl-oauth-client-secret",
            "sasl-access-token"
        ]
    );
    assert_eq!(
        service.test_options(),
        json!({"cluster": "default", "topic": "test", "key": "key",
               "message": "test kafka message"})
    );
}

#[test]
fn kapacitors_documented_sections_are_accepted() {
    // The documentation's full section, brokers filled in (it has none, which Kapacitor itself
    // refuses when enabled), with its `sasl-version = ""`, `sasl-oauth-scopes = ""` and
    // `sasl-extensions = {}`, and the keys after [kafka.sasl-oauth-parameters], which TOML puts
    // in that table.
    let documented = json!({
        "enabled": true, "id": "localhost", "brokers": ["localhost:9092"], "timeout": "10s",
        "batch-size": 100, "batch-timeout": "1s", "use-ssl": false, "ssl-ca": "",
        "ssl-cert": "", "ssl-key": "", "insecure-skip-verify": false,
        "sasl-username": "xxxxx", "sasl-password": "xxxxxxxx", "sasl-extensions": {},
        "sasl-mechanism": "", "sasl-version": "", "sasl-gssapi-service-name": "",
        "sasl-gssapi-auth-type": "KRB5_USER_AUTH", "sasl-gssapi-disable-pafxfast": false,
        "sasl-gssapi-kerberos-config-path": "/", "sasl-gssapi-key-tab-path": "",
        "sasl-gssapi-realm": "realm", "sasl-oauth-service": "auth0",
        "sasl-oauth-client-id": "xxxxxxx", "sasl-oauth-client-secret": "xxxxxxxx",
        "sasl-oauth-token-url": "dedicated-auth0-token-url",
        "sasl-oauth-token-expiry-margin": "10s", "sasl-oauth-scopes": "",
        "sasl-oauth-tenant-id": "",
        "sasl-oauth-parameters": {"audience": "development", "sasl-access-token": ""},
    });
    let service = service(&documented);
    assert_eq!(service.config()[0]["sasl-oauth-scopes"], json!([]));
    assert_eq!(service.config()[0]["sasl-version"], Value::Null);
    // Kapacitor's own spelling of the extensions key.
    assert!(build(&json!({"id": "a", "sasl_extensions": {"k": "v"}})).is_ok());
    // The second documented section uses TLS, which Klaxon's client does not have yet.
    let tls = json!({"enabled": true, "id": "infra-monitoring",
                     "brokers": ["123.45.67.89:9092", "123.45.67.90:9092"], "timeout": "10s",
                     "batch-size": 100, "batch-timeout": "1s", "use-ssl": true,
                     "ssl-ca": "/etc/ssl/certs/ca.crt", "ssl-cert": "/etc/ssl/certs/cert.crt",
                     "ssl-key": "/etc/ssl/certs/cert-key.key", "insecure-skip-verify": true});
    let err = build(&tls).unwrap_err();
    assert!(
        err.starts_with(
            r#"kafka: cluster "infra-monitoring": use-ssl = true is not available yet"#
        ),
        "{err}"
    );
}

#[test]
fn invalid_configurations_are_refused_naming_the_cluster() {
    let cases = [
        (
            json!([{"enabled": true, "brokers": ["h:9092"]}]),
            r#"[[kafka]] element 1: id must not be empty: handlers name the cluster by it, such as id = "localhost""#,
        ),
        (
            json!([{"enabled": true, "id": "a"}]),
            r#"cluster "a": no brokers specified, must provide at least one broker URL, such as brokers = ["localhost:9092"]"#,
        ),
        (
            json!([{"enabled": true, "id": "a", "brokers": ["localhost"]}]),
            r#"cluster "a": broker "localhost" is not host:port, such as "localhost:9092""#,
        ),
        (
            json!([{"enabled": true, "id": "a", "brokers": ["h:1"], "sasl-mechanism": "MD5"}]),
            r#"cluster "a": invalid sasl-mechanism "MD5"; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"#,
        ),
        (
            json!([{"enabled": true, "id": "a", "brokers": ["h:1"], "sasl-mechanism": "GSSAPI"}]),
            r#"cluster "a": sasl-mechanism GSSAPI (Kerberos) is not supported by Klaxon's Kafka client; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"#,
        ),
        (
            json!([{"enabled": true, "id": "a", "brokers": ["h:1"], "sasl-version": 3}]),
            r#"cluster "a": invalid SASL version; use 1"#,
        ),
        (
            json!([{"enabled": true, "id": "a", "brokers": ["h:1"],
                    "sasl-mechanism": "OAUTHBEARER"}]),
            r#"cluster "a": 'sasl-oauth-client-id' and 'sasl-oauth-client-secret' are required"#,
        ),
        (
            json!([{"enabled": true, "id": "a", "brokers": ["h:1"],
                    "sasl-mechanism": "OAUTHBEARER", "sasl-oauth-service": "auth0",
                    "sasl-oauth-client-id": "c", "sasl-oauth-client-secret": "s",
                    "sasl-oauth-token-url": "https://auth0.example.com/token"}]),
            r#"cluster "a": 'audience' parameter is required for Auth0"#,
        ),
        (
            json!([{"enabled": true, "id": "a", "brokers": ["h:1"],
                    "sasl-mechanism": "OAUTHBEARER", "sasl-access-token": "t",
                    "sasl-oauth-service": "custom", "sasl-oauth-token-url": "https://t/"}]),
            r#"cluster "a": cannot set 'sasl-access-token' with 'sasl-oauth-service' and 'sasl-oauth-token-url'"#,
        ),
        (
            json!([{"id": "a", "batch-timeout": "-1s"}]),
            r#"cluster "a": timeout and batch-timeout cannot be negative"#,
        ),
        (
            json!([{"id": "a"}, {"id": "a"}]),
            r#"id "a" appears twice; each element needs its own id"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(
            build(&config).unwrap_err(),
            format!("kafka: {expected}"),
            "{config}"
        );
    }
    // A disabled cluster is not checked, as in Kapacitor.
    assert!(build(&json!([{"id": "off", "sasl-mechanism": "GSSAPI"}])).is_ok());
}

#[test]
fn invalid_options_are_refused_where_they_are_defined() {
    let service = service(&json!([
        {"enabled": true, "id": "a", "brokers": ["h:1"]},
        {"enabled": true, "id": "b", "brokers": ["h:1"]},
    ]));
    let cases = [
        (
            json!({"cluster": "c", "topic": "t"}),
            r#"unknown cluster "c"; the [[kafka]] clusters are: "a", "b""#,
        ),
        (
            json!({"topic": "t"}),
            r#"unknown cluster ""; the [[kafka]] clusters are: "a", "b""#,
        ),
        (
            json!({"cluster": "a"}),
            "topic must not be empty: the Kafka topic to write to, such as .kafkaTopic('alerts') or topic: alerts",
        ),
        (
            json!({"cluster": "a", "topic": "t", "template": "{{ .Message"}),
            "failed to parse template: template: kafka:1:12: unclosed action",
        ),
        (
            json!({"cluster": "a", "topic": "t", "partitionAlgorithm": "md5"}),
            r#"invalid partition algorithm: "md5"; use crc32, murmur2, murmur3 or fnv-1a"#,
        ),
        (
            json!({"cluster": "a", "topic": "t", "partition-algorithm": "crc32"}),
            r#"unknown option "partition-algorithm", expected one of: cluster, disablePartitionById, partitionAlgorithm, template, topic"#,
        ),
    ];
    for (options, expected) in cases {
        let refusal = match service.handler(&options) {
            Ok(_) => panic!("{options} is accepted"),
            Err(e) => e.to_string(),
        };
        assert_eq!(refusal, format!("kafka: {expected}"), "{options}");
    }
}

#[test]
fn tickscript_is_kapacitors() {
    let tick = KafkaService::TICK;
    // TestStream_AlertKafka.
    let options = tick
        .build_options(
            &[],
            &[
                ("cluster", vec![json!("default")]),
                ("kafkaTopic", vec![json!("testTopic")]),
                ("template", vec![json!("{{.Message}}")]),
            ],
        )
        .unwrap();
    assert_eq!(
        options,
        json!({"cluster": "default", "topic": "testTopic", "template": "{{.Message}}"})
    );
    // Kapacitor's .disablePartitionById() and .partitionHashAlgorithm(), and the documented
    // .partitionAlgorithm().
    let options = tick
        .build_options(
            &[],
            &[
                ("disablePartitionById", vec![]),
                ("partitionHashAlgorithm", vec![json!("murmur2")]),
            ],
        )
        .unwrap();
    assert_eq!(
        options,
        json!({"disablePartitionById": true, "partitionAlgorithm": "murmur2"})
    );
    let options = tick
        .build_options(&[], &[("partitionAlgorithm", vec![json!("crc32")])])
        .unwrap();
    assert_eq!(options, json!({"partitionAlgorithm": "crc32"}));
}

/// Kapacitor's TestServer_AlertHandlers "kafka" case against a real broker: the alert JSON
/// with its newline, keyed `id`, in the third of three partitions (crc32("id") % 3 = 2).
#[tokio::test]
async fn kapacitors_alert_handler_case_reaches_a_real_broker() {
    let Some(broker) = Tansu::start() else { return };
    broker.create_topic("test", 3).await;
    let service = service(&cluster(&broker, json!({})));
    let h = handler(&*service, json!({"cluster": "default", "topic": "test"}));
    let before = now_millis();
    h.handle(&harness_event()).await.expect("written");

    let messages = broker.consume("test", 1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!((message.partition, message.offset), (2, 0));
    assert_eq!(message.key, "id");
    assert_eq!(
        message.value,
        "{\"id\":\"id\",\"message\":\"message\",\"details\":\"details\",\"time\":\"1970-01-01T00:00:00Z\",\"duration\":0,\"level\":\"CRITICAL\",\"data\":{\"series\":[{\"name\":\"alert\",\"columns\":[\"time\",\"value\"],\"values\":[[\"1970-01-01T00:00:00Z\",1]]}]},\"previousLevel\":\"OK\",\"recoverable\":true}\n"
    );
    assert!(
        (before - 10_000..=now_millis() + 10_000).contains(&message.timestamp),
        "stamped now: {message:?}"
    );
}

/// Kapacitor's TestStream_AlertKafka: the template `{{.Message}}` (no newline), batch-size 1,
/// in the second partition (crc32("kapacitor/cpu/serverA") % 3 = 1).
#[tokio::test]
async fn kapacitors_stream_case_uses_the_template() {
    let Some(broker) = Tansu::start() else { return };
    broker.create_topic("testTopic", 3).await;
    let service = service(&cluster(&broker, json!({"batch-size": 1})));
    let options = KafkaService::TICK
        .build_options(
            &[],
            &[
                ("cluster", vec![json!("default")]),
                ("kafkaTopic", vec![json!("testTopic")]),
                ("template", vec![json!("{{.Message}}")]),
            ],
        )
        .unwrap();
    handler(&*service, options)
        .handle(&stream_event())
        .await
        .expect("written");
    let messages = broker.consume("testTopic", 1).await;
    assert_eq!(
        (messages[0].partition, messages[0].offset, &*messages[0].key),
        (1, 0, "kapacitor/cpu/serverA")
    );
    assert_eq!(messages[0].value, "kapacitor/cpu/serverA is CRITICAL");
}

/// Kapacitor's TestStream_AlertKafka_Partitioning: each alert ID always lands in one partition,
/// the one its partitioner says.
#[tokio::test]
async fn each_partitioner_puts_an_id_in_its_partition() {
    let Some(broker) = Tansu::start() else { return };
    let service = service(&cluster(&broker, json!({})));
    let hosts = ["serverA", "serverB", "serverC", "serverD", "serverE"];
    for (topic, options, partitioner) in [
        ("crc32", json!({}), Partitioner::Crc32),
        (
            "murmur2",
            json!({"partitionAlgorithm": "murmur2"}),
            Partitioner::Murmur2,
        ),
        (
            "murmur3",
            json!({"partitionAlgorithm": "murmur3"}),
            Partitioner::Murmur3,
        ),
        (
            "fnv",
            json!({"partitionAlgorithm": "fnv-1a"}),
            Partitioner::Fnv1a,
        ),
        (
            "disabled",
            json!({"disablePartitionById": true}),
            Partitioner::Fnv1a,
        ),
    ] {
        broker.create_topic(topic, 5).await;
        let mut options = options;
        options["cluster"] = json!("default");
        options["topic"] = json!(topic);
        options["template"] = json!("{{ .ID }}");
        let h = handler(&*service, options);
        for _ in 0..2 {
            for host in hosts {
                let mut event = stream_event();
                event.state.id = host.to_owned();
                h.handle(&event).await.expect("written");
            }
        }
        let messages = broker.consume(topic, 2 * hosts.len()).await;
        for message in &messages {
            let expected = partitioner.index(message.key.as_bytes(), 5) as i32;
            assert_eq!(message.partition, expected, "{topic}: {message:?}");
            assert_eq!(message.value, message.key);
        }
    }
}

#[tokio::test]
async fn messages_are_batched_up_to_batch_size_or_batch_timeout() {
    let Some(broker) = Tansu::start() else { return };
    broker.create_topic("batched", 1).await;
    // Three messages fill a batch of three at once, long before an hour's batch-timeout.
    let service = service(&cluster(
        &broker,
        json!({"batch-size": 3, "batch-timeout": "1h", "timeout": "30s"}),
    ));
    let h = handler(&*service, json!({"cluster": "default", "topic": "batched"}));
    let started = Instant::now();
    let event = harness_event();
    let (a, b, c) = tokio::join!(h.handle(&event), h.handle(&event), h.handle(&event));
    a.and(b).and(c).expect("written together");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(broker.consume("batched", 3).await.len(), 3);

    // A lone message waits for batch-timeout, then goes.
    let lingering = self::service(&cluster(
        &broker,
        json!({"batch-size": 10, "batch-timeout": "300ms"}),
    ));
    let h = handler(
        &*lingering,
        json!({"cluster": "default", "topic": "batched"}),
    );
    let started = Instant::now();
    h.handle(&event)
        .await
        .expect("written after the batch timeout");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(broker.consume("batched", 4).await.len(), 4);
}

#[tokio::test]
async fn sasl_credentials_are_sent_and_a_refused_login_is_permanent() {
    let Some(broker) = Tansu::start_with_user("kapacitor", "s3cret") else {
        return;
    };
    broker.create_topic("secure", 1).await;
    // A generous timeout: the unoptimised broker's SCRAM key derivation is slow on a loaded
    // machine (6 s timed out once in CI); the refused login fails at once anyway.
    let login = |password: &str| {
        cluster(
            &broker,
            json!({"sasl-username": "kapacitor", "sasl-password": password,
                   "sasl-mechanism": "SCRAM-SHA-512", "timeout": "60s"}),
        )
    };
    let good = service(&login("s3cret"));
    handler(&*good, json!({"cluster": "default", "topic": "secure"}))
        .handle(&harness_event())
        .await
        .expect("authenticated");
    assert_eq!(broker.consume("secure", 1).await[0].key, "id");

    let bad = service(&login("wrong"));
    let err = handler(&*bad, json!({"cluster": "default", "topic": "secure"}))
        .handle(&harness_event())
        .await
        .expect_err("refused");
    assert!(!err.is_retryable(), "{err}");
    assert!(
        err.message()
            .starts_with("Kafka cluster \"default\" refused the SASL authentication (ScramSha512); check sasl-username, sasl-password and sasl-mechanism"),
        "{err}"
    );
    assert!(
        !err.message().contains("wrong"),
        "the password is never shown: {err}"
    );
}

#[tokio::test]
async fn a_broker_that_is_down_is_retryable_and_bounded_by_the_timeout() {
    let port = free_port();
    let service = service(&json!([{"enabled": true, "id": "down", "timeout": "2s",
                                   "brokers": [format!("127.0.0.1:{port}")]}]));
    let h = handler(&*service, json!({"topic": "t"}));
    let started = Instant::now();
    let err = h
        .handle(&harness_event())
        .await
        .expect_err("nothing listens");
    assert!(err.is_retryable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.message()
            .starts_with("connect to Kafka cluster \"down\": ")
            && err.message().contains("Connection refused"),
        "{err}"
    );
}

#[tokio::test]
async fn a_topic_that_does_not_exist_is_retryable() {
    let Some(broker) = Tansu::start() else { return };
    let service = service(&cluster(&broker, json!({})));
    let h = handler(&*service, json!({"cluster": "default", "topic": "missing"}));
    let err = h.handle(&harness_event()).await.expect_err("no such topic");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        err.message(),
        "topic \"missing\" does not exist in Kafka cluster \"default\"; create it, or let the brokers create topics (auto.create.topics.enable)"
    );
    // Created later, the next attempt writes.
    broker.create_topic("missing", 1).await;
    h.handle(&harness_event()).await.expect("written");
}

#[tokio::test]
async fn a_disabled_cluster_and_a_failing_template_fail_permanently() {
    let service = service(&json!([{"id": "off", "brokers": ["127.0.0.1:1"]}]));
    let h = handler(&*service, json!({"topic": "t"}));
    let err = h.handle(&harness_event()).await.expect_err("disabled");
    assert!(!err.is_retryable());
    assert_eq!(
        err.message(),
        "Kafka cluster \"off\" is not enabled; set enabled = true in its [[kafka]] section"
    );
    let service =
        self::service(&json!([{"enabled": true, "id": "on", "brokers": ["127.0.0.1:1"]}]));
    let h = handler(&*service, json!({"topic": "t", "template": "{{ .Tags }}"}));
    let err = h
        .handle(&harness_event())
        .await
        .expect_err("no .Tags in alert.Data");
    assert!(!err.is_retryable());
    assert!(
        err.message()
            .starts_with("failed to execute alert template \"{{ .Tags }}\": "),
        "{err}"
    );
}

#[tokio::test]
async fn the_service_test_writes_kapacitors_test_message() {
    let Some(broker) = Tansu::start() else { return };
    broker.create_topic("test", 3).await;
    let service = service(&cluster(&broker, json!({})));
    service.test(&Value::Null).await.expect("the test passes");
    let messages = broker.consume("test", 1).await;
    assert_eq!(messages[0].key, "key");
    assert_eq!(messages[0].value, "test kafka message");
    // Sarama's default partitioner, which Kapacitor's test uses: FNV-1a.
    assert_eq!(
        messages[0].partition,
        Partitioner::Fnv1a.index(b"key", 3) as i32
    );
    let err = service
        .test(&json!({"cluster": "example"}))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"unknown cluster "example"; the [[kafka]] clusters are: "default""#
    );
}
