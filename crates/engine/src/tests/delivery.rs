//! Delivery: hung handlers, retries, drain at shutdown and the block mode of full queues. The
//! queue-full, drain and block cases are those of in-memory delivery (`durable_delivery =
//! false`); `outbox.rs` has the durable ones.

use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::{Event, Handler, HandlerError, Level};
use tokio::sync::mpsc;

use super::{DEADLINE, Recorder, event, next, open, recorder};
use crate::{Collected, DrainReport, EngineConfig, QueueFull, TaskHandler};

/// Never finishes a delivery.
#[derive(Debug)]
struct Hung;

#[klaxon_core::async_trait]
impl Handler for Hung {
    async fn handle(&self, _: &Event) -> Result<(), HandlerError> {
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_handler_delays_only_its_queue_and_deletes_return_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        topic_buffer_length: 2,
        durable_delivery: false,
        ..EngineConfig::default()
    };
    let alerts = open(dir.path(), config);
    let (handler, mut rx) = recorder();
    alerts
        .register_anonymous(
            "t",
            vec![
                TaskHandler::new("hung", "hung", Arc::new(Hung)),
                TaskHandler::new("rec", "recorder", handler),
            ],
        )
        .unwrap();
    let mut dropped = 0;
    for i in 0..6 {
        dropped += alerts
            .collect(event("t", &format!("e{i}"), Level::Critical))
            .dropped;
        // The recorder keeps up: wait for each event so only the hung queue overflows.
        assert_eq!(next(&mut rx).await.state.id, format!("e{i}"));
    }
    // One event is in the hung call, two wait in its queue; the rest are dropped.
    assert!((3..=4).contains(&dropped), "dropped {dropped}");
    let stats = alerts.stats().get("t", "hung").unwrap();
    assert_eq!(stats.dropped, dropped as u64);
    // The recorder counts a delivery just after it hands the event over.
    let start = Instant::now();
    while alerts.stats().get("t", "rec").unwrap().delivered < 6 {
        assert!(
            start.elapsed() < DEADLINE,
            "recorder deliveries not counted"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let start = Instant::now();
    alerts.delete_topic("t").unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
}

/// Fails with a retryable error `failures` times, then records.
#[derive(Debug)]
struct Flaky {
    failures: std::sync::atomic::AtomicU32,
    inner: Recorder,
}

#[klaxon_core::async_trait]
impl Handler for Flaky {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let left = self.failures.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.failures
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err(HandlerError::transient("connection refused"));
        }
        self.inner.handle(event).await
    }
}

fn retry_policy(attempts: u32, initial_delay: Duration) -> crate::RetryPolicy {
    crate::RetryPolicy {
        attempts,
        initial_delay,
        ..crate::RetryPolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(
        dir.path(),
        EngineConfig {
            retry: retry_policy(3, Duration::from_millis(5)),
            ..EngineConfig::default()
        },
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let flaky = |failures| {
        Arc::new(Flaky {
            failures: std::sync::atomic::AtomicU32::new(failures),
            inner: Recorder(tx.clone()),
        })
    };
    alerts
        .register_anonymous(
            "t",
            vec![
                TaskHandler::new("twice", "flaky", flaky(2)),
                TaskHandler::new("thrice", "flaky", flaky(3)),
            ],
        )
        .unwrap();
    alerts.collect(event("t", "a", Level::Critical));
    alerts.collect(event("t", "b", Level::Critical));
    // "twice" delivers both after two retries on the first; "thrice" gives up on "a", then
    // delivers "b" (its fourth call).
    let mut got: Vec<String> = Vec::new();
    for _ in 0..3 {
        got.push(next(&mut rx).await.state.id);
    }
    got.sort();
    assert_eq!(got, ["a", "b", "b"]);
    let start = Instant::now();
    loop {
        let twice = alerts.stats().get("t", "twice").unwrap();
        let thrice = alerts.stats().get("t", "thrice").unwrap();
        let seen = (
            twice.delivered,
            twice.retried,
            thrice.delivered,
            thrice.failed,
            thrice.retried,
        );
        if seen == (2, 2, 1, 1, 2) {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Takes `gate` permits: each delivery waits for one, so a test decides when deliveries finish.
#[derive(Debug)]
struct Gated {
    gate: Arc<tokio::sync::Semaphore>,
    inner: Recorder,
}

#[klaxon_core::async_trait]
impl Handler for Gated {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.gate.acquire().await.expect("gate open").forget();
        self.inner.handle(event).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_delivers_what_is_queued_and_counts_what_the_deadline_cuts() {
    let dir = tempfile::tempdir().unwrap();
    let memory = EngineConfig {
        durable_delivery: false,
        ..EngineConfig::default()
    };
    let alerts = open(dir.path(), memory);
    let (quick, mut delivered) = recorder();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (tx, _slow_rx) = mpsc::unbounded_channel();
    let slow = Arc::new(Gated {
        gate: Arc::clone(&gate),
        inner: Recorder(tx),
    });
    alerts
        .register_anonymous(
            "t",
            vec![
                TaskHandler::new("quick", "recorder", quick),
                TaskHandler::new("stuck", "gated", slow),
            ],
        )
        .unwrap();
    for id in ["a", "b", "c"] {
        alerts.collect(event("t", id, Level::Critical));
    }
    // "stuck" may finish one event; its other two are cut by the deadline.
    gate.add_permits(1);
    let report = alerts.drain(Duration::from_millis(300)).await;
    assert_eq!(
        report,
        DrainReport {
            finished: 1,
            abandoned: 1
        }
    );
    for id in ["a", "b", "c"] {
        assert_eq!(next(&mut delivered).await.state.id, id);
    }
    let stuck = alerts.stats().get("t", "stuck").unwrap();
    assert_eq!((stuck.delivered, stuck.dropped), (1, 2));
    // Nothing is accepted after a drain.
    assert_eq!(
        alerts.collect(event("t", "late", Level::Critical)),
        Collected::default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_mode_waits_for_room_instead_of_dropping() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(
        dir.path(),
        EngineConfig {
            topic_buffer_length: 1,
            queue_full: QueueFull::Block,
            durable_delivery: false,
            ..EngineConfig::default()
        },
    );
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (tx, mut delivered) = mpsc::unbounded_channel();
    let gated = Arc::new(Gated {
        gate: Arc::clone(&gate),
        inner: Recorder(tx),
    });
    alerts
        .register_anonymous("t", vec![TaskHandler::new("gated", "gated", gated)])
        .unwrap();
    // "a" is taken into delivery (where it waits at the gate), "b" fills the queue.
    alerts.collect_async(event("t", "a", Level::Critical)).await;
    let start = Instant::now();
    while alerts.queue_depths()[0].depth > 0 {
        assert!(
            start.elapsed() < DEADLINE,
            "the worker never took the first event"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    alerts.collect_async(event("t", "b", Level::Critical)).await;
    assert!(!alerts.has_room());
    assert!(!alerts.wait_for_room(Duration::from_millis(50)).await);

    // A blocking collect ("c") waits on its thread until the gate lets "a" through.
    let blocked = {
        let alerts = alerts.clone();
        tokio::task::spawn_blocking(move || alerts.collect(event("t", "c", Level::Critical)))
    };
    gate.add_permits(3);
    assert_eq!(blocked.await.unwrap().dropped, 0);
    for id in ["a", "b", "c"] {
        assert_eq!(next(&mut delivered).await.state.id, id);
    }
    assert!(alerts.wait_for_room(DEADLINE).await);
    assert_eq!(alerts.stats().get("t", "gated").unwrap().dropped, 0);
}

/// What a handler that sends the alert JSON saw: the JSON it wrote, the JSON the event encodes
/// to now, and whether the delivery carried a rendering of it.
#[derive(Debug)]
struct JsonSender {
    sends: bool,
    seen: mpsc::UnboundedSender<(Vec<u8>, Vec<u8>, bool)>,
}

#[klaxon_core::async_trait]
impl Handler for JsonSender {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let (mut written, mut fresh) = (Vec::new(), Vec::new());
        event.write_alert_json(&mut written);
        event.render_alert_json(&mut fresh);
        let carried = klaxon_core::current_delivery()
            .expect("a delivery in progress")
            .alert_json_of(event)
            .is_some();
        let _ = self.seen.send((written, fresh, carried));
        Ok(())
    }

    fn sends_alert_json(&self) -> bool {
        self.sends
    }
}

async fn seen(
    rx: &mut mpsc::UnboundedReceiver<(Vec<u8>, Vec<u8>, bool)>,
) -> (Vec<u8>, Vec<u8>, bool) {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a delivery within the deadline")
        .expect("channel open")
}

/// The engine renders the alert JSON once per event, before queueing, when a handler of the
/// topic sends it (with the previous level the topic set), durable or not, and every handler of
/// that topic may use it; a topic whose handlers do not send it gets no rendering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_json_is_rendered_before_queueing_for_handlers_that_send_it() {
    for durable_delivery in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let config = EngineConfig {
            durable_delivery,
            ..EngineConfig::default()
        };
        let alerts = open(dir.path(), config);
        let handler = |sends| {
            let (seen, rx) = mpsc::unbounded_channel();
            (Arc::new(JsonSender { sends, seen }) as Arc<dyn Handler>, rx)
        };
        let (sender, mut sends) = handler(true);
        let (beside, mut beside_rx) = handler(false);
        let (alone, mut alone_rx) = handler(false);
        alerts
            .register_anonymous(
                "t",
                vec![
                    TaskHandler::new("sends", "json", sender),
                    TaskHandler::new("beside", "json", beside),
                ],
            )
            .unwrap();
        alerts
            .register_anonymous("u", vec![TaskHandler::new("alone", "json", alone)])
            .unwrap();
        for topic in ["t", "u"] {
            alerts.collect(event(topic, "e", Level::Critical));
            alerts.collect(event(topic, "e", Level::Ok));
        }
        for previous in ["\"previousLevel\":\"OK\"", "\"previousLevel\":\"CRITICAL\""] {
            for (rx, rendered) in [
                (&mut sends, true),
                (&mut beside_rx, true),
                (&mut alone_rx, false),
            ] {
                let (written, fresh, carried) = seen(rx).await;
                assert_eq!(carried, rendered, "durable {durable_delivery}");
                assert_eq!(written, fresh, "durable {durable_delivery}");
                let text = String::from_utf8(written).unwrap();
                assert!(text.contains(previous), "{text}");
            }
        }
    }
}
