//! The tcp handler through the real path: options decoded by the registry, real sockets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::testing::{assert_documented, assert_registered_and_builds, build, option_error};
use klaxon_core::{DynService, Event, Handler, Service, TestError};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::TcpService;

/// Generous bound for anything that should happen promptly, on a loaded machine.
const PROMPTLY: Duration = Duration::from_secs(10);

fn service(config: Value) -> Arc<dyn DynService> {
    klaxon_core::testing::service::<TcpService>(&config)
}

fn handler(service: &dyn DynService, options: Value) -> Arc<dyn Handler> {
    service.handler(&options).expect("the options are valid")
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address").to_string();
    (listener, address)
}

/// Accepts one connection and reads it to the end.
async fn receive_one(listener: &TcpListener) -> Vec<u8> {
    let read = async {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.expect("read");
        received
    };
    tokio::time::timeout(PROMPTLY, read)
        .await
        .expect("a connection arrives")
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<TcpService>(
        &json!({"timeout": "5s"}),
        &json!({"address": "127.0.0.1:7777"}),
    );
    assert_documented::<TcpService>();
}

#[test]
fn default_configuration_is_a_ten_second_timeout() {
    assert_eq!(service(Value::Null).config(), json!({"timeout": "10s"}));
    assert_eq!(
        service(Value::Null).default_options(),
        json!({"address": ""})
    );
}

#[test]
fn a_timeout_that_is_not_positive_is_refused() {
    let err =
        build::<TcpService>(&json!({"timeout": "0s"})).expect_err("a zero timeout is refused");
    assert_eq!(
        err.to_string(),
        "tcp: timeout must be greater than zero, got 0s"
    );
}

#[test]
fn tickscript_argument_is_the_address() {
    let options = TcpService::TICK
        .build_options(&[json!("127.0.0.1:7777")], &[])
        .expect("one argument");
    assert_eq!(options, json!({"address": "127.0.0.1:7777"}));
    handler(&*service(Value::Null), options);
}

#[test]
fn bad_options_name_the_kind_and_the_field() {
    let cases = [
        (
            json!({"adress": "127.0.0.1:7777"}),
            r#"tcp: unknown option "adress", expected one of: address"#,
        ),
        (
            json!({"address": 7777}),
            r#"tcp: option "address": invalid type: integer `7777`, expected a string"#,
        ),
        (json!({}), "tcp: address is required; write it as host:port"),
        (
            json!({"address": "localhost"}),
            r#"tcp: address "localhost" has no port; write it as host:port"#,
        ),
        (
            json!({"address": "[::1]"}),
            r#"tcp: address "[::1]" has no port; write it as host:port"#,
        ),
        (
            json!({"address": ":7777"}),
            r#"tcp: address ":7777" has no host; write it as host:port"#,
        ),
        (
            json!({"address": "::1:7777"}),
            r#"tcp: address "::1:7777" is ambiguous; write an IPv6 host in brackets, as [host]:port"#,
        ),
        (
            json!({"address": "localhost:http"}),
            r#"tcp: address "localhost:http" has an invalid port "http"; the port is a number from 1 to 65535"#,
        ),
        (
            json!({"address": "localhost:0"}),
            r#"tcp: address "localhost:0" has an invalid port "0"; the port is a number from 1 to 65535"#,
        ),
    ];
    for (options, expected) in cases {
        assert_eq!(
            option_error::<TcpService>(&options),
            expected,
            "options {options}"
        );
    }
    for address in [
        "localhost:7777",
        "127.0.0.1:1",
        "[::1]:65535",
        "alerts.example.com:9",
    ] {
        handler(&*service(Value::Null), json!({ "address": address }));
    }
}

/// Delivers `event` through a tcp handler to a listener of its own; what the listener read.
async fn deliver_one(event: &Event) -> Vec<u8> {
    let (listener, address) = listener().await;
    let handler = handler(&*service(Value::Null), json!({ "address": address }));
    let (sent, received) = tokio::join!(handler.handle(event), receive_one(&listener));
    sent.expect("delivered");
    received
}

#[tokio::test]
async fn sends_the_alert_json_and_an_empty_line_then_closes() {
    let event = Event::sample("cpu is CRITICAL");

    let received = deliver_one(&event).await;

    let expected = format!("{}\n", event.alert_json());
    assert!(expected.ends_with("}\n\n"), "{expected:?}");
    assert_eq!(String::from_utf8(received).expect("utf-8"), expected);
}

#[tokio::test]
async fn each_event_gets_its_own_connection() {
    let (listener, address) = listener().await;
    let handler = handler(&*service(Value::Null), json!({ "address": address }));
    for message in ["first", "second"] {
        let event = Event::sample(message);
        let (sent, received) = tokio::join!(handler.handle(&event), receive_one(&listener));
        sent.expect("delivered");
        assert_eq!(received, format!("{}\n", event.alert_json()).into_bytes());
    }
}

/// A host name takes the resolving path, an IP address the direct one: both deliver alike.
#[tokio::test]
async fn a_host_name_is_resolved_and_delivered_to() {
    let (listener, _) = listener().await;
    let port = listener.local_addr().expect("local address").port();
    let named = format!("localhost:{port}");
    let handler = handler(&*service(Value::Null), json!({ "address": named }));
    let event = Event::sample("by name");

    let (sent, received) = tokio::join!(handler.handle(&event), receive_one(&listener));

    sent.expect("delivered");
    assert_eq!(received, format!("{}\n", event.alert_json()).into_bytes());
}

/// The segments the receiving end of a connection from 127.0.0.1 to `listening` got, as the
/// kernel counts them (`ss`, from iproute2): the accepted socket must still be open, at the end
/// of its stream (CLOSE-WAIT).
fn segments_received(listening: std::net::SocketAddr) -> u64 {
    let output = std::process::Command::new("ss")
        .args([
            "-tinH",
            "state",
            "close-wait",
            "src",
            &listening.to_string(),
        ])
        .output()
        .expect("ss runs (it is in Debian's iproute2, which .ci/run installs)");
    let text = String::from_utf8_lossy(&output.stdout);
    let counts: Vec<u64> = text
        .split_whitespace()
        .filter_map(|word| word.strip_prefix("segs_in:"))
        .map(|n| n.parse().expect("a count"))
        .collect();
    assert_eq!(counts.len(), 1, "one connection in CLOSE-WAIT: {text}");
    counts[0]
}

/// An alert that fits a segment arrives in one: the handshake's last ACK waits for the payload,
/// and the FIN rides on it, so the receiver takes the SYN and one more segment, and is woken
/// once. A sender that acknowledges the handshake at once and pushes the payload before its
/// FIN, as a plain connect, write, close does, sends it four; either half alone, three. The
/// kernel sends the ACK alone after 200 ms all the same, so a test thread stalled that long
/// between the connect and the send makes three: of five alerts, the fewest segments must be
/// two, and none more than three.
#[tokio::test]
async fn an_alert_is_one_segment_after_the_syn() {
    let (listener, address) = listener().await;
    let handler = handler(&*service(Value::Null), json!({ "address": address }));
    let listening = listener.local_addr().expect("local address");
    let mut segments = Vec::new();
    for message in ["first", "second", "third", "fourth", "fifth"] {
        let event = Event::sample(message);
        handler.handle(&event).await.expect("delivered");

        let (mut stream, _) = tokio::time::timeout(PROMPTLY, listener.accept())
            .await
            .expect("a connection arrives")
            .expect("accept");
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.expect("read");
        assert_eq!(received, format!("{}\n", event.alert_json()).into_bytes());
        segments.push(segments_received(listening));
    }
    assert_eq!(
        segments.iter().min(),
        Some(&2),
        "segments per alert: {segments:?}"
    );
    assert!(
        segments.iter().all(|n| *n <= 3),
        "segments per alert: {segments:?}"
    );
}

/// An alert larger than the socket buffers is written as the peer reads it, and arrives whole.
#[tokio::test]
async fn a_large_alert_is_written_as_the_peer_reads() {
    let event = Event::sample(&"y".repeat(8 << 20));

    let received = deliver_one(&event).await;

    assert_eq!(received, format!("{}\n", event.alert_json()).into_bytes());
}

/// A refused connection is retryable and names the address as it was written, an IP address
/// or a host name (whose addresses are tried in turn, none taking it).
#[tokio::test]
async fn a_refused_connection_is_a_retryable_error_naming_the_address() {
    let (listener, _) = listener().await;
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    for address in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let handler = handler(&*service(Value::Null), json!({ "address": address }));

        let err = handler
            .handle(&Event::sample("nobody listens"))
            .await
            .expect_err("refused");

        assert!(
            err.message()
                .starts_with(&format!("connect to {address}: ")),
            "{err}"
        );
        assert!(err.is_retryable(), "{err}");
    }
}

#[tokio::test]
async fn a_peer_that_never_reads_does_not_hold_up_a_small_alert() {
    let (listener, address) = listener().await;
    let handler = handler(&*service(Value::Null), json!({ "address": address }));
    let event = Event::sample("small");
    let accept = async { listener.accept().await.expect("accept") };

    // The kernel buffers a small alert, so delivery completes although the peer reads nothing.
    let (sent, _idle_peer) = tokio::time::timeout(PROMPTLY, async {
        tokio::join!(handler.handle(&event), accept)
    })
    .await
    .expect("delivery does not wait for the peer");
    sent.expect("delivered");
}

#[tokio::test]
async fn a_peer_that_never_reads_a_large_alert_times_out_at_the_live_timeout() {
    let (listener, address) = listener().await;
    let service = service(Value::Null);
    let handler = handler(&*service, json!({ "address": address }));
    // The handler was made under the default 10s; the update reaches it.
    service
        .update(&json!({"timeout": "300ms"}))
        .expect("valid configuration");
    // Far more than the socket buffers of both ends hold.
    let event = Event::sample(&"x".repeat(16 << 20));
    // The handler encodes the alert before the clock starts; allow for that.
    let encoding = Instant::now();
    event.alert_json();
    let encoding = encoding.elapsed();
    let accept = async { listener.accept().await.expect("accept") };

    let started = Instant::now();
    let (sent, _idle_peer) = tokio::join!(handler.handle(&event), accept);
    let elapsed = started.elapsed();

    let err = sent.expect_err("the write cannot finish");
    assert_eq!(
        err.message(),
        format!("send to {address} timed out after 300ms")
    );
    assert!(err.is_retryable());
    let limit = encoding + Duration::from_millis(300) + Duration::from_secs(1);
    assert!(elapsed < limit, "took {elapsed:?}, encoding {encoding:?}");
}

#[tokio::test]
async fn service_test_sends_a_sample_alert() {
    let (listener, address) = listener().await;
    let service = service(Value::Null);
    assert_eq!(service.test_options(), json!({"address": ""}));

    let options = json!({ "address": address });
    let (tested, received) = tokio::join!(service.test(&options), receive_one(&listener));

    tested.expect("the test passes");
    let received = String::from_utf8(received).expect("utf-8");
    assert!(
        received.contains(r#""message":"test tcp message""#),
        "{received}"
    );
    assert!(received.ends_with("}\n\n"), "{received:?}");
}

#[tokio::test]
async fn service_test_without_an_address_says_one_is_needed() {
    let err = service(Value::Null)
        .test(&Value::Null)
        .await
        .expect_err("no address");
    let TestError::Failed(err) = err else {
        panic!("expected a failed test, got {err:?}");
    };
    assert_eq!(err.message(), "address is required; write it as host:port");
}
