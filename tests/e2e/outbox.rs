//! Durable delivery through real crashes: a real klaxond SIGKILLed and restarted while a slow
//! (or down) TCP receiver takes its alerts; afterwards every event was received, in order,
//! and every duplicate is one the outbox announced as a redelivery at start.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use klaxon_e2e::{Klaxond, wait_for};

/// Receives the tcp handler's alerts (one connection each), slowly: `pause` per alert.
struct Receiver {
    /// The `message` of each alert, in arrival order.
    got: Arc<Mutex<Vec<u64>>>,
}

impl Receiver {
    /// Listens on `address` after `down` (the receiver is down until then).
    fn start(address: std::net::SocketAddr, listener: TcpListener, down: Duration) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&got);
        std::thread::spawn(move || {
            let listener = if down.is_zero() {
                listener
            } else {
                drop(listener);
                std::thread::sleep(down);
                TcpListener::bind(address).expect("bind the receiver's port again")
            };
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut text = String::new();
                if stream.read_to_string(&mut text).is_err() {
                    continue;
                }
                let Ok(alert) = serde_json::from_str::<serde_json::Value>(text.trim()) else {
                    continue;
                };
                let n = alert["message"].as_str().and_then(|m| m.parse().ok());
                seen.lock().unwrap().push(n.expect("a numbered message"));
                std::thread::sleep(Duration::from_micros(500));
            }
        });
        Receiver { got }
    }

    fn distinct(&self) -> usize {
        self.got
            .lock()
            .unwrap()
            .iter()
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// A deterministic pseudo-random sequence (xorshift), so that a failure replays.
struct Draws(u64);

impl Draws {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Writes events `from..to` (message = the number), a body of 100 at a time, retrying a body
/// the server refuses with 503 (queue-full = "block").
fn write_events(server: &Klaxond, from: u64, to: u64) {
    let mut n = from;
    while n < to {
        let end = (n + 100).min(to);
        let body: String = (n..end)
            .map(|i| format!("m n={i}i {}\n", 1_000_000_000 + i))
            .collect();
        let start = Instant::now();
        loop {
            let response = server.send("POST", "/write?db=db&rp=rp", &body);
            match response.status().as_u16() {
                204 => break,
                503 => {
                    assert!(response.headers().contains_key("retry-after"));
                    assert!(
                        start.elapsed() < Duration::from_secs(600),
                        "refused for 10 min"
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
                other => panic!("write answered {other}: {}", response.text().unwrap()),
            }
        }
        n = end;
    }
}

fn recovered(server: &Klaxond) -> u64 {
    server
        .metrics()
        .value("klaxon_outbox_recovered_entries", &[]) as u64
}

/// Runs `rounds` rounds of `per_round` events, each ended by a SIGKILL at a random moment and
/// a restart, while the receiver is down for `down` at first. Checks that every event arrived,
/// in order of first arrival, and that duplicates are no more than the entries the restarts
/// announced as redeliveries.
fn kill_loop(config: &str, rounds: u64, per_round: u64, down: Duration) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let receiver = Receiver::start(address, listener, down);
    let mut server = Klaxond::builder().config(config).start();
    let script = format!(
        "stream|from().measurement('m')|alert().message('{{{{ index .Fields \"n\" }}}}')\
         .crit(lambda: TRUE).tcp('{address}')"
    );
    let (status, answer) = server.define_task("kill", &script, &[("db", "rp")]);
    assert_eq!(status, 200, "{answer}");
    let mut draws = Draws(0x9e37_79b9_7f4a_7c15);
    let mut announced = 0;
    for round in 0..rounds {
        write_events(&server, round * per_round, (round + 1) * per_round);
        // A random moment while deliveries go on.
        std::thread::sleep(Duration::from_millis(draws.below(400)));
        server.kill();
        server.restart();
        announced += recovered(&server);
    }
    let total = rounds * per_round;
    let start = Instant::now();
    while receiver.distinct() < total as usize {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "only {} of {total} events arrived; log:\n{}",
            receiver.distinct(),
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for("the outbox to empty", || {
        server.metrics().value("klaxon_outbox_entries", &[]) == 0.0
    });
    let got = receiver.got.lock().unwrap().clone();
    let mut seen = BTreeSet::new();
    let mut firsts = Vec::new();
    for n in &got {
        if seen.insert(*n) {
            firsts.push(*n);
        }
    }
    assert_eq!(seen.len() as u64, total);
    assert_eq!(seen.last(), Some(&(total - 1)), "an event nobody wrote");
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "events arrived out of order"
    );
    let duplicates = got.len() as u64 - total;
    assert!(
        duplicates <= announced,
        "{duplicates} duplicates but only {announced} redeliveries announced"
    );
    let metrics = server.metrics();
    assert_eq!(
        metrics.value_or_zero("klaxon_events_dropped_total", &[("handler", "tcp0")]),
        0.0
    );
    eprintln!(
        "{total} events, {rounds} SIGKILLs: {duplicates} duplicates, {announced} redeliveries \
         announced"
    );
}

#[test]
fn ten_thousand_events_survive_ten_sigkills_of_a_slow_delivery() {
    kill_loop("", 10, 1000, Duration::ZERO);
}

#[test]
fn a_down_receiver_and_a_full_outbox_under_block_lose_nothing_through_sigkills() {
    // A 1 MiB outbox holds about two thousand of these events: writes are refused with 503
    // while the receiver is down, and go on once it is back.
    kill_loop(
        "[alert]\nqueue-full = \"block\"\nqueue-full-wait = \"100ms\"\noutbox-max-bytes = 1048576\n\
         retry-attempts = 100000\nretry-initial-delay = \"50ms\"\nretry-max-delay = \"200ms\"\n\
         retry-max-elapsed = \"1h\"\n",
        4,
        1000,
        Duration::from_secs(5),
    );
}

#[test]
fn the_post_handler_sends_the_same_idempotency_key_on_retries_and_after_a_sigkill() {
    use klaxon_http::testing::{Answer, Receiver as HttpReceiver};

    let receiver = HttpReceiver::http(vec![
        Answer::status(503),
        Answer::status(503),
        Answer::status(503),
    ]);
    let mut server = Klaxond::builder()
        .config(crate::topic_handlers::TEST_EVENTS)
        .start();
    server.define_handler(
        "cpu",
        &serde_json::json!({"id": "hook", "kind": "post", "options": {"url": receiver.url()},
                            "retry": {"attempts": 100, "initial-delay": "1s", "max-delay": "1s"}}),
    );
    crate::topic_handlers::post_event(
        &server,
        "cpu",
        serde_json::json!({"id": "cpu:nil", "level": "CRITICAL", "message": "hot"}),
    );
    let first = receiver.next();
    let key = first
        .header("idempotency-key")
        .expect("an Idempotency-Key header")
        .to_owned();
    assert_eq!(key.len(), 32, "{key}");
    assert_eq!(first.header("klaxon-redelivery"), None);
    let retried = receiver.next();
    assert_eq!(retried.header("idempotency-key"), Some(key.as_str()));
    assert_eq!(retried.header("klaxon-redelivery"), None);

    // A crash between attempts: the restarted server delivers the event again, with its key,
    // marked, and its attempts counted: the first attempt failed a second before the crash, so
    // the restarted server's first try is attempt 2 at least (3 when the second attempt's
    // failure reached the disk before the kill).
    let before_restart = server.log_text().len();
    server.kill();
    server.restart();
    let again = receiver.next();
    assert_eq!(again.header("idempotency-key"), Some(key.as_str()));
    assert_eq!(again.header("klaxon-redelivery"), Some("true"));
    assert_eq!(again.text(), first.text());
    let line = server.wait_for_log_after(before_restart, "delivery failed; retrying");
    let attempt: u32 = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("attempt="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no attempt in {line}"));
    assert!(
        attempt >= 2,
        "attempts before the crash not counted: {line}"
    );
    // The fourth request is answered 200: delivered, and the outbox is empty.
    let delivered = receiver.next();
    assert_eq!(delivered.header("idempotency-key"), Some(key.as_str()));
    wait_for("the redelivery to be counted and the outbox empty", || {
        let metrics = server.metrics();
        metrics.value_or_zero("klaxon_events_redelivered_total", &[("handler", "hook")]) == 1.0
            && metrics.value("klaxon_outbox_entries", &[]) == 0.0
    });
    // A service test is no delivery: no key.
    let test = server.send(
        "POST",
        "/kapacitor/v1/service-tests/httppost",
        &serde_json::json!({"endpoint": "", "url": receiver.url()}).to_string(),
    );
    assert_eq!(test.status(), 200, "{}", test.text().unwrap());
    assert_eq!(receiver.next().header("idempotency-key"), None);
}
