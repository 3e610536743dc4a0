//! `[[kafka-consumer]]` against a real Kafka-protocol broker (tansu, installed by `.ci/run`):
//! line protocol produced to a topic's partitions reaches the tasks as a `/write` would, bad
//! messages are skipped, offsets are committed, and two klaxonds in one consumer group share the
//! partitions, the one that stops handing its partitions to the other.

use std::collections::BTreeMap;

use klaxon_e2e::{Klaxond, TcpSink, wait_for};
use rskafka::client::partition::{Compression, UnknownTopicHandling};
use rskafka::client::{ClientBuilder, Credentials, SaslConfig};
use rskafka::record::Record;

use crate::broker_handlers::{Tansu, TlsProxy};

/// A member's consumer section: short heartbeats, so that rebalances are quick in a test.
fn consumer_config(broker: &Tansu, topic: &str) -> String {
    format!(
        "[[kafka-consumer]]\nbrokers = [\"{}\"]\ntopics = [\"{topic}\"]\ngroup-id = \"alerting\"\n\
         database = \"telegraf\"\nstart-from = \"earliest\"\nheartbeat-interval = \"300ms\"\n\
         session-timeout = \"10s\"\nrebalance-timeout = \"5s\"\ncommit-interval = \"200ms\"\n\
         fetch-max-wait = \"100ms\"\n",
        broker.addr
    )
}

/// Every point with usage_idle under 10 is CRITICAL, one alert per host, sent to `sink` with
/// the message `message`, on every point or (`changes_only`) on state changes.
fn define_alert_task(server: &Klaxond, sink: &TcpSink, message: &str, changes_only: bool) {
    let only = if changes_only {
        "\n        .stateChangesOnly()"
    } else {
        ""
    };
    let script = format!(
        "stream\n    |from()\n        .measurement('cpu')\n        .groupBy('host')\n    |alert()\n        \
         .id('{{{{ index .Tags \"host\" }}}}')\n        .message('{message}')\n        \
         .crit(lambda: \"usage_idle\" < 10){only}\n        .tcp('{}')\n",
        sink.address()
    );
    let (status, answer) = server.define_task("cpu_alert", &script, &[("telegraf", "autogen")]);
    assert_eq!(status, 200, "{answer}");
}

/// Alerts on every point, `<host> <unix seconds>`.
fn define_task(server: &Klaxond, sink: &TcpSink) {
    define_alert_task(server, sink, "{{ .ID }} {{ .Time.Unix }}", false);
}

/// Alerts on state changes, `<host> <level>`.
fn define_state_change_task(server: &Klaxond, sink: &TcpSink) {
    define_alert_task(server, sink, "{{ .ID }} {{ .Level }}", true);
}

/// How the test's producer reaches the broker: a SASL login, TLS.
#[derive(Default, Clone)]
struct Connect {
    login: Option<SaslConfig>,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// Runs `f` with a kafka client of `broker`, connecting as `connect` says, on a runtime of its
/// own.
fn with_client<T>(
    broker: &Tansu,
    connect: Connect,
    f: impl AsyncFnOnce(rskafka::client::Client) -> T,
) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut builder = ClientBuilder::new(vec![broker.addr.clone()]);
        if let Some(login) = connect.login {
            builder = builder.sasl_config(login);
        }
        if let Some(tls) = connect.tls {
            builder = builder.tls_config(tls);
        }
        let client = builder.build().await.expect("a kafka client");
        f(client).await
    })
}

/// Produces each (partition, message) to `topic`, in order, uncompressed.
fn produce(broker: &Tansu, topic: &str, messages: &[(i32, String)]) {
    produce_with(
        broker,
        topic,
        messages,
        Compression::NoCompression,
        Connect::default(),
    );
}

/// Produces each (partition, message) to `topic`, in order, in batches compressed so,
/// connecting as `connect` says.
fn produce_with(
    broker: &Tansu,
    topic: &str,
    messages: &[(i32, String)],
    compression: Compression,
    connect: Connect,
) {
    with_client(broker, connect, async |client| {
        for (partition, value) in messages {
            let partition_client = client
                .partition_client(topic, *partition, UnknownTopicHandling::Retry)
                .await
                .expect("a partition client");
            let record = Record {
                key: None,
                value: Some(value.clone().into_bytes()),
                headers: BTreeMap::new(),
                timestamp: chrono::Utc::now(),
            };
            partition_client
                .produce(vec![record], compression)
                .await
                .expect("produce");
        }
    });
}

/// The `message` of the next `n` alerts.
fn next_messages(sink: &TcpSink, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            sink.next_json()["message"]
                .as_str()
                .expect("a message")
                .to_owned()
        })
        .collect()
}

/// The partitions the last "kafka group joined" line of `server`'s log gives it.
fn owned_partitions(server: &Klaxond, topic: &str) -> Option<usize> {
    let log = server.log_text();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("kafka group joined"))?;
    Some(
        line.matches(&format!("\\\"{topic}\\\", ")).count()
            + line.matches(&format!("\"{topic}\", ")).count(),
    )
}

#[test]
fn kafka_messages_feed_tasks_bad_ones_are_skipped_and_offsets_survive_a_restart() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    broker.create_topic("metrics", 3);
    let sink = TcpSink::start();
    let mut server = Klaxond::builder()
        .config(&consumer_config(&broker, "metrics"))
        .start();
    define_task(&server, &sink);
    produce(
        &broker,
        "metrics",
        &[
            (0, "cpu,host=a usage_idle=5 1000000000".into()),
            (1, "this is not line protocol".into()),
            (1, "cpu,host=b usage_idle=3 2000000000".into()),
            (
                2,
                "cpu,host=c usage_idle=50 3000000000\ncpu,host=c usage_idle=1 4000000000".into(),
            ),
        ],
    );
    let mut got = next_messages(&sink, 3);
    got.sort();
    assert_eq!(got, ["a 1", "b 2", "c 4"]);
    let log = server.wait_for_log("kafka message skipped");
    assert!(
        log.contains("partition=1") || log.contains("\"partition\":1"),
        "{log}"
    );
    let metrics = server.metrics();
    assert_eq!(
        metrics.value(
            "klaxon_kafka_messages_malformed_total",
            &[("group", "alerting")]
        ),
        1.0
    );

    // Committed: the restarted server reads on from there, so the first alert it sends is the
    // new message's, not one of the old messages' again.
    wait_for("the offsets committed", || {
        let metrics = server.metrics();
        (0..3).all(|p| {
            let p = p.to_string();
            let labels = [("group", "alerting"), ("partition", p.as_str())];
            metrics.value_or_zero("klaxon_kafka_lag_messages", &labels) == 0.0
        }) && metrics.value("klaxon_kafka_messages_total", &[("group", "alerting")]) == 3.0
    });
    server.restart();
    produce(
        &broker,
        "metrics",
        &[(2, "cpu,host=d usage_idle=2 5000000000".into())],
    );
    assert_eq!(next_messages(&sink, 1), ["d 5"]);
}

/// A broker that wants a SCRAM login: the consumer logs in, on its group connections as on its
/// fetches; with a wrong password it says why it cannot join, and reads nothing.
#[test]
fn a_broker_that_wants_a_login_is_read_with_sasl() {
    let Some(broker) = Tansu::start_with_user("alerting", "s3cret") else {
        return;
    };
    let login = |password: &str| {
        format!(
            "sasl-username = \"alerting\"\nsasl-password = \"{password}\"\nsasl-mechanism = \"SCRAM-SHA-512\"\n"
        )
    };
    let credentials = SaslConfig::ScramSha512(Credentials::new("alerting".into(), "s3cret".into()));
    // Topics are created through the broker's API, which wants the login too.
    let as_alerting = Connect {
        login: Some(credentials.clone()),
        tls: None,
    };
    with_client(&broker, as_alerting, async |client| {
        client
            .controller_client()
            .unwrap()
            .create_topic("secured", 1, 1, 10_000)
            .await
            .expect("create the topic");
    });
    let sink = TcpSink::start();
    let server = Klaxond::builder()
        .config(&(consumer_config(&broker, "secured") + &login("s3cret")))
        .start();
    define_task(&server, &sink);
    produce_with(
        &broker,
        "secured",
        &[(0, "cpu,host=a usage_idle=5 1000000000".into())],
        Compression::NoCompression,
        Connect {
            login: Some(credentials),
            tls: None,
        },
    );
    assert_eq!(next_messages(&sink, 1), ["a 1"]);

    let mut refused = Klaxond::builder()
        .config(&(consumer_config(&broker, "secured") + &login("wrong")))
        .start();
    let line = refused.wait_for_log("the kafka brokers refuse the login");
    assert!(line.contains("invalid proof"), "{line}");
}

/// Brokers behind TLS (Debian's stunnel in front of tansu, with a test CA): `use-ssl` with
/// `ssl-ca` reads them, on the group connections as on the fetches; without the CA the
/// certificate is refused and the log says so.
#[test]
fn brokers_behind_tls_are_read_with_use_ssl() {
    let tls_port = crate::broker_handlers::free_tcp_port();
    let Some(broker) = Tansu::start_behind(tls_port) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = klaxon_http::testing::TestPki::generate(dir.path());
    let plain_port: u16 = broker.url.rsplit(':').next().unwrap().parse().unwrap();
    let Some(_proxy) = TlsProxy::start(tls_port, plain_port, &pki.server_cert, &pki.server_key)
    else {
        return;
    };
    broker.create_topic("private", 1);
    let sink = TcpSink::start();
    let tls =
        |ca: &std::path::Path| format!("use-ssl = true\nssl-ca = {:?}\n", ca.display().to_string());
    let server = Klaxond::builder()
        .config(&(consumer_config(&broker, "private") + &tls(&pki.ca)))
        .start();
    define_task(&server, &sink);
    let trusted = klaxon_http::rustls_client(&klaxon_http::ClientTls {
        ca: pki.ca.display().to_string(),
        ..Default::default()
    })
    .unwrap();
    produce_with(
        &broker,
        "private",
        &[(0, "cpu,host=a usage_idle=5 1000000000".into())],
        Compression::NoCompression,
        Connect {
            login: None,
            tls: Some(trusted),
        },
    );
    assert_eq!(next_messages(&sink, 1), ["a 1"]);

    // Without the CA the brokers' certificate is not trusted.
    let mut untrusting = Klaxond::builder()
        .config(&(consumer_config(&broker, "private") + "use-ssl = true\n"))
        .start();
    let line = untrusting.wait_for_log("cannot reach the kafka brokers");
    assert!(
        line.contains("certificate") || line.contains("Certificate"),
        "{line}"
    );
}

#[test]
fn bad_kafka_consumer_sections_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("klaxon.toml");
    std::fs::write(
        &config,
        "[[kafka-consumer]]\nbrokers = [\"127.0.0.1:9092\"]\ntopics = [\"metrics\"]\ngroup-id = \"g\"\n",
    )
    .unwrap();
    let output = klaxon_e2e::run_klaxond(&["-config", config.to_str().unwrap()], dir.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(
            "[[kafka-consumer]] database is empty: name the database the points belong to"
        ),
        "{stderr}"
    );
}

#[test]
fn two_klaxonds_in_a_group_share_the_partitions_and_a_stopped_one_hands_them_over() {
    let Some(broker) = Tansu::start() else {
        return;
    };
    broker.create_topic("shared", 6);
    let sink = TcpSink::start();
    let config = consumer_config(&broker, "shared");
    let mut first = Klaxond::builder().config(&config).start();
    define_task(&first, &sink);
    let second = Klaxond::builder().config(&config).start();
    define_task(&second, &sink);
    wait_for("both members to own three partitions each", || {
        owned_partitions(&first, "shared") == Some(3)
            && owned_partitions(&second, "shared") == Some(3)
    });

    // Five series in each partition, each CRITICAL once: thirty alerts, each sent once,
    // whichever member owns the partition.
    let round = |second: u64| -> Vec<(i32, String)> {
        (0..6)
            .flat_map(|p| {
                (0..5).map(move |i| {
                    (
                        p,
                        format!("cpu,host=h{p}-{i} usage_idle=1 {second}000000000"),
                    )
                })
            })
            .collect()
    };
    produce(&broker, "shared", &round(1));
    let mut got = next_messages(&sink, 30);
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 30, "{got:?}");

    // The first member stops: it commits and leaves, and the second takes all six partitions.
    first.stop();
    wait_for("the second member to own all six partitions", || {
        owned_partitions(&second, "shared") == Some(6)
    });
    produce(&broker, "shared", &round(2));
    let mut got = next_messages(&sink, 30);
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 30, "{got:?}");
    assert!(
        got.iter().all(|m| m.ends_with(" 2")),
        "round 1 read again: {got:?}"
    );
    // A sentinel per partition, after everything: had a partition been read again from before
    // the first member's commit, its old alerts would arrive before its sentinel.
    let sentinels: Vec<(i32, String)> = (0..6)
        .map(|p| (p, format!("cpu,host=sentinel{p} usage_idle=1 3000000000")))
        .collect();
    produce(&broker, "shared", &sentinels);
    let mut got = next_messages(&sink, 6);
    got.sort();
    assert_eq!(
        got,
        (0..6).map(|p| format!("sentinel{p} 3")).collect::<Vec<_>>()
    );
}

/// The next `n` alerts as (message, previousLevel, duration in seconds), sorted.
fn next_alerts(sink: &TcpSink, n: usize) -> Vec<(String, String, i64)> {
    let mut got: Vec<_> = (0..n).map(|_| summary(&sink.next_json())).collect();
    got.sort();
    got
}

/// An alert as (message, previousLevel, duration in seconds).
fn summary(alert: &serde_json::Value) -> (String, String, i64) {
    let text = |key: &str| alert[key].as_str().unwrap_or_default().to_owned();
    (
        text("message"),
        text("previousLevel"),
        alert["duration"].as_i64().unwrap_or_default() / 1_000_000_000,
    )
}

/// Host x's point in partition 0 and host y's in partition 1, at `second`.
fn both_hosts(usage_idle: u32, second: u32) -> Vec<(i32, String)> {
    vec![
        (
            0,
            format!("cpu,host=x usage_idle={usage_idle} {second}000000000"),
        ),
        (
            1,
            format!("cpu,host=y usage_idle={usage_idle} {second}000000000"),
        ),
    ]
}

/// A broker with `topic` made of `partitions` partitions, a sink, and a first member of the
/// group reading the topic with the state-change task to the sink, once it owns every
/// partition; none when the broker is not installed (the test is then skipped).
struct GroupOfOne {
    broker: Tansu,
    sink: TcpSink,
    first: Klaxond,
    /// The group's consumer section, for more members.
    config: String,
}

fn group_of_one(topic: &str, partitions: u32) -> Option<GroupOfOne> {
    let broker = Tansu::start()?;
    broker.create_topic(topic, partitions);
    let sink = TcpSink::start();
    let config = consumer_config(&broker, topic);
    let first = Klaxond::builder().config(&config).start();
    define_state_change_task(&first, &sink);
    wait_for("the first member to own every partition", || {
        owned_partitions(&first, topic) == Some(partitions as usize)
    });
    Some(GroupOfOne {
        broker,
        sink,
        first,
        config,
    })
}

#[test]
fn a_member_taking_over_partitions_goes_on_from_their_alert_states() {
    let Some(GroupOfOne {
        broker,
        sink,
        mut first,
        config,
    }) = group_of_one("handover", 2)
    else {
        return;
    };
    produce(&broker, "handover", &both_hosts(1, 1));
    assert_eq!(
        next_alerts(&sink, 2),
        [
            ("x CRITICAL".to_owned(), "OK".to_owned(), 0),
            ("y CRITICAL".to_owned(), "OK".to_owned(), 0)
        ]
    );

    // A second member joins and takes one of the partitions, and the states of its series
    // with it: still CRITICAL is no change, and the recovery is from CRITICAL, two seconds on.
    let mut second = Klaxond::builder().config(&config).start();
    define_state_change_task(&second, &sink);
    wait_for("each member to own one partition", || {
        owned_partitions(&first, "handover") == Some(1)
            && owned_partitions(&second, "handover") == Some(1)
    });
    second.wait_for_log("alert states adopted from the state topic");
    produce(&broker, "handover", &both_hosts(1, 2));
    produce(&broker, "handover", &both_hosts(50, 3));
    assert_eq!(
        next_alerts(&sink, 2),
        [
            ("x OK".to_owned(), "CRITICAL".to_owned(), 2),
            ("y OK".to_owned(), "CRITICAL".to_owned(), 2)
        ]
    );

    // Either member answers for the group: each series once, in its newest state, marked with
    // the member that holds it; the topic is OK although the first member still holds a stale
    // CRITICAL copy of the series it gave away.
    let topic = "/kapacitor/v1/alerts/topics/main:cpu_alert:alert2/events";
    for asked in [&first, &second] {
        let view: serde_json::Value = asked.get(topic).json().unwrap();
        let events = view["events"].as_array().unwrap();
        let states: Vec<(&str, &str)> = events
            .iter()
            .map(|e| {
                (
                    e["id"].as_str().unwrap(),
                    e["state"]["level"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(states, [("x", "OK"), ("y", "OK")], "{view:#}");
        let mut members: Vec<&str> = events
            .iter()
            .map(|e| e["member"].as_str().unwrap())
            .collect();
        members.sort();
        let mut expected = [first.url(), second.url()];
        expected.sort();
        assert_eq!(
            members, expected,
            "each owner answers for its own series: {view:#}"
        );
    }
    let local: serde_json::Value = first.get(&format!("{topic}?local=true")).json().unwrap();
    assert!(
        local["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("member").is_none())
    );
    let topics: serde_json::Value = second.get("/kapacitor/v1/alerts/topics").json().unwrap();
    assert_eq!(topics["topics"][0]["level"], "OK", "{topics:#}");
    assert_eq!(
        topics["cluster"]["members"].as_array().unwrap().len(),
        2,
        "{topics:#}"
    );

    // Both fire again; the first member stops, and the second, now owning both partitions,
    // sends the recoveries of the series the first one had.
    produce(&broker, "handover", &both_hosts(1, 4));
    assert_eq!(
        next_alerts(&sink, 2),
        [
            ("x CRITICAL".to_owned(), "OK".to_owned(), 0),
            ("y CRITICAL".to_owned(), "OK".to_owned(), 0)
        ]
    );
    first.stop();
    wait_for("the second member to own both partitions", || {
        owned_partitions(&second, "handover") == Some(2)
    });
    produce(&broker, "handover", &both_hosts(50, 6));
    assert_eq!(
        next_alerts(&sink, 2),
        [
            ("x OK".to_owned(), "CRITICAL".to_owned(), 2),
            ("y OK".to_owned(), "CRITICAL".to_owned(), 2)
        ]
    );
}

/// Alert states seen so far, by (id, level, time): what the idempotency key is made of. A
/// second alert of the same state is a redelivery (another member evaluated the same point
/// again after a crash; its details name that member, the rest is the same).
#[derive(Default)]
struct Seen {
    states: std::collections::HashSet<(String, String, String)>,
    redelivered: usize,
}

impl Seen {
    /// The next `n` alerts that are not redeliveries, as (message, previousLevel, duration in
    /// seconds), sorted.
    fn next_new(&mut self, sink: &TcpSink, n: usize) -> Vec<(String, String, i64)> {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            let alert = sink.next_json();
            let text = |key: &str| alert[key].as_str().unwrap_or_default().to_owned();
            if !self
                .states
                .insert((text("id"), text("level"), text("time")))
            {
                self.redelivered += 1;
                continue;
            }
            got.push(summary(&alert));
        }
        got.sort();
        got
    }
}

/// A member killed while publishing its alert states leaves part of a publication on the
/// broker: states newer than the checkpoint beside them. The next owner passes over them and
/// starts where the last finished publication's states are; adopting them, it would replay the
/// messages after the checkpoint over states that already include them, and raise a CRITICAL
/// from OK that never happened (CI saw exactly that once after a SIGKILL).
#[test]
fn a_state_publication_cut_short_is_passed_over() {
    let Some(GroupOfOne {
        broker,
        sink,
        mut first,
        config,
    }) = group_of_one("cut", 1)
    else {
        return;
    };
    let point = |usage_idle: u32, second: u32| {
        vec![(
            0,
            format!("cpu,host=x usage_idle={usage_idle} {second}000000000"),
        )]
    };
    produce(&broker, "cut", &point(1, 1));
    assert_eq!(
        next_alerts(&sink, 1),
        [("x CRITICAL".to_owned(), "OK".to_owned(), 0)]
    );
    // A clean stop publishes x's state (CRITICAL at second 1) and commits past its message.
    first.stop();

    // Then a member that took the partition processed seconds 2 and 3 (x recovers), published
    // x's new state and died before the rest of that publication (its checkpoint, its marker).
    produce(&broker, "cut", &point(1, 2));
    produce(&broker, "cut", &point(50, 3));
    with_client(&broker, Connect::default(), async |client| {
        let state = client
            .partition_client("alerting-klaxon-state", 0, UnknownTopicHandling::Retry)
            .await
            .expect("the state topic");
        let end = state
            .get_offset(rskafka::client::partition::OffsetAt::Latest)
            .await
            .expect("its end");
        let (records, _) = state
            .fetch_records(0, 1..4 << 20, 1000)
            .await
            .expect("its records");
        assert_eq!(records.last().map(|r| r.offset + 1), Some(end));
        let published_at = records
            .iter()
            .rposition(|r| r.record.key.as_ref().is_some_and(|k| k.first() != Some(&1)))
            .expect("x's published state");
        let published = &records[published_at];
        // What the first member published is marked: its publication, and the marker after.
        let publication = published
            .record
            .headers
            .get("klaxon-publish")
            .expect("a published state names its publication");
        let (publisher, number) = std::str::from_utf8(publication)
            .unwrap()
            .rsplit_once(':')
            .expect("publisher:number");
        let marker = [b"\x01published\0".as_slice(), publisher.as_bytes()].concat();
        assert!(
            records[published_at..].iter().any(|r| {
                r.record.key.as_deref() == Some(marker.as_slice())
                    && r.record.value.as_deref() == Some(number.as_bytes())
            }),
            "the publication's marker follows its records"
        );
        let mut value: serde_json::Value =
            serde_json::from_slice(published.record.value.as_ref().unwrap()).unwrap();
        assert_eq!(value["level"], "CRITICAL", "{value}");
        value["level"] = "OK".into();
        value["time"] = 3_000_000_000i64.into();
        let record = Record {
            key: published.record.key.clone(),
            value: Some(serde_json::to_vec(&value).unwrap()),
            headers: BTreeMap::from([("klaxon-publish".to_owned(), b"died:1".to_vec())]),
            timestamp: chrono::Utc::now(),
        };
        state
            .produce(vec![record], Compression::NoCompression)
            .await
            .expect("produce");
    });

    // The next owner starts after second 1 with x CRITICAL: second 2 is no change, second 3
    // the recovery, from CRITICAL, two seconds on.
    let mut second = Klaxond::builder().config(&config).start();
    define_state_change_task(&second, &sink);
    wait_for("the second member to own the partition", || {
        owned_partitions(&second, "cut") == Some(1)
    });
    second.wait_for_log("passed over the records of a state publication that never finished");
    assert_eq!(
        next_alerts(&sink, 1),
        [("x OK".to_owned(), "CRITICAL".to_owned(), 2)]
    );
}

/// One point for each of `series` hosts at `second`, host `s<i>` in partition `i % 6`, one
/// message per partition.
fn fleet(series: usize, usage_idle: u32, second: u32) -> Vec<(i32, String)> {
    (0..6)
        .map(|p| {
            let lines: Vec<String> = (0..series)
                .filter(|i| i % 6 == p)
                .map(|i| format!("cpu,host=s{i:04} usage_idle={usage_idle} {second}000000000"))
                .collect();
            (p as i32, lines.join("\n"))
        })
        .collect()
}

/// What every series should send: `<host> <level>`, the previous level and the duration.
fn expected(
    series: usize,
    level: &str,
    previous: &str,
    duration: i64,
) -> Vec<(String, String, i64)> {
    (0..series)
        .map(|i| (format!("s{i:04} {level}"), previous.to_owned(), duration))
        .collect()
}

/// Issue #26's scenario: three members over six partitions and a thousand series; one stops,
/// one is killed, one joins. Every state change of every series is delivered, each once but
/// for redeliveries of the very same alert state after the kill (the same event and key),
/// and every recovery carries the right previous level and duration.
#[test]
fn a_group_loses_no_alert_through_a_stop_a_kill_and_a_join() {
    const SERIES: usize = 1000;
    let Some(broker) = Tansu::start() else {
        return;
    };
    broker.create_topic("fleet", 6);
    let sink = TcpSink::start();
    let config = consumer_config(&broker, "fleet");
    let start = || {
        let server = Klaxond::builder().config(&config).start();
        define_state_change_task(&server, &sink);
        server
    };
    let (mut a, mut b, c) = (start(), start(), start());
    wait_for("three members owning two partitions each", || {
        [&a, &b, &c]
            .iter()
            .all(|m| owned_partitions(m, "fleet") == Some(2))
    });
    let mut seen = Seen::default();
    // Telegraf's compression codecs 1 and 2, gzip and snappy, as well as none.
    produce_with(
        &broker,
        "fleet",
        &fleet(SERIES, 1, 1),
        Compression::Gzip,
        Connect::default(),
    );
    assert_eq!(
        seen.next_new(&sink, SERIES),
        expected(SERIES, "CRITICAL", "OK", 0)
    );

    // A stops (SIGTERM): b and c take its partitions with their states. Still CRITICAL is no
    // change; the recoveries are from CRITICAL, two seconds on.
    a.stop();
    wait_for("two members owning three partitions each", || {
        [&b, &c]
            .iter()
            .all(|m| owned_partitions(m, "fleet") == Some(3))
    });
    produce(&broker, "fleet", &fleet(SERIES, 1, 2));
    produce_with(
        &broker,
        "fleet",
        &fleet(SERIES, 50, 3),
        Compression::Snappy,
        Connect::default(),
    );
    assert_eq!(
        seen.next_new(&sink, SERIES),
        expected(SERIES, "OK", "CRITICAL", 2)
    );
    assert_eq!(
        seen.redelivered, 0,
        "nothing is sent twice around a clean stop"
    );

    // B is killed (SIGKILL): once its session expires, c owns everything.
    b.kill();
    wait_for("the last member to own all six partitions", || {
        owned_partitions(&c, "fleet") == Some(6)
    });
    produce(&broker, "fleet", &fleet(SERIES, 1, 4));
    assert_eq!(
        seen.next_new(&sink, SERIES),
        expected(SERIES, "CRITICAL", "OK", 0)
    );

    // D joins and takes half, with the states of its series.
    let d = start();
    wait_for("two members owning three partitions each", || {
        [&c, &d]
            .iter()
            .all(|m| owned_partitions(m, "fleet") == Some(3))
    });
    produce(&broker, "fleet", &fleet(SERIES, 50, 5));
    assert_eq!(
        seen.next_new(&sink, SERIES),
        expected(SERIES, "OK", "CRITICAL", 1)
    );
    eprintln!("redelivered after the kill: {}", seen.redelivered);

    // The group's view, from either member, is what one klaxond given the same points over
    // /write holds.
    let single = Klaxond::builder().start();
    define_state_change_task(&single, &TcpSink::start());
    for (usage_idle, second) in [(1, 1), (1, 2), (50, 3), (1, 4), (50, 5)] {
        for (_, body) in fleet(SERIES, usage_idle, second) {
            let response = single.send("POST", "/write?db=telegraf&rp=autogen", &body);
            assert_eq!(response.status(), 204);
        }
    }
    let view = |server: &Klaxond| {
        let answer: serde_json::Value = server
            .get("/kapacitor/v1/alerts/topics/main:cpu_alert:alert2/events")
            .json()
            .unwrap();
        let mut events: Vec<(String, String, String)> = answer["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
                (
                    text(&e["id"]),
                    text(&e["state"]["level"]),
                    text(&e["state"]["time"]),
                )
            })
            .collect();
        events.sort();
        events
    };
    let alone = view(&single);
    assert_eq!(alone.len(), SERIES);
    assert_eq!(
        view(&c),
        alone,
        "the group's view from a member is the single server's"
    );
    assert_eq!(view(&d), alone);
}
