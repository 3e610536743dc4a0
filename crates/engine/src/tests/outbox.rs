//! Durable delivery: the outbox keeps events through a full queue and a crash (a copy of the
//! database taken while deliveries were pending is what a SIGKILL leaves), in order per handler,
//! with their idempotency key, attempts and redelivery mark; its bound drops the newest.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use klaxon_core::{DeliveryInfo, Event, Handler, HandlerError, Level};
use tokio::sync::{Notify, mpsc};

use super::{DEADLINE, event, open, recorder};
use crate::{AlertService, EngineConfig, QueueFull, TaskHandler};

/// Records each event with the delivery it belonged to.
#[derive(Debug)]
struct Keyed(mpsc::UnboundedSender<(Event, DeliveryInfo)>);

#[klaxon_core::async_trait]
impl Handler for Keyed {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let info = klaxon_core::current_delivery().expect("a delivery in progress");
        let _ = self.0.send((event.clone(), info));
        Ok(())
    }
}

/// Holds every delivery until released, then records it.
#[derive(Debug)]
struct Gate {
    open: Arc<Notify>,
    inner: Keyed,
}

#[klaxon_core::async_trait]
impl Handler for Gate {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.open.notified().await;
        self.inner.handle(event).await
    }
}

/// Fails every attempt with a retryable error, counting them.
#[derive(Debug, Default)]
struct Down(Mutex<u32>);

#[klaxon_core::async_trait]
impl Handler for Down {
    async fn handle(&self, _: &Event) -> Result<(), HandlerError> {
        *self.0.lock().unwrap() += 1;
        Err(HandlerError::transient("connection refused"))
    }
}

/// A handler that holds each delivery until the returned `Notify` lets one through, and the
/// receiver of what it then records.
fn gated() -> (Arc<Notify>, Arc<dyn Handler>, Deliveries) {
    let (tx, rx) = mpsc::unbounded_channel();
    let open = Arc::new(Notify::new());
    let gate = Gate {
        open: Arc::clone(&open),
        inner: Keyed(tx),
    };
    (open, Arc::new(gate), rx)
}

/// A handler that records each event with its delivery.
pub(super) fn keyed() -> (Arc<dyn Handler>, Deliveries) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Keyed(tx)), rx)
}

pub(super) type Deliveries = mpsc::UnboundedReceiver<(Event, DeliveryInfo)>;

/// The next delivery recorded by a `keyed` or `gated` handler.
pub(super) async fn next_delivery(rx: &mut Deliveries) -> (Event, DeliveryInfo) {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a delivery before the deadline")
        .expect("the handler is alive")
}

/// Attaches `handler` as the one handler (`label`, of `kind`) of the anonymous topic `t`.
fn attach(alerts: &AlertService, label: &str, kind: &str, handler: Arc<dyn Handler>) {
    alerts
        .register_anonymous("t", vec![TaskHandler::new(label, kind, handler)])
        .unwrap();
}

/// What SIGKILL leaves: a copy of `dir`'s database as it is now, in a directory of its own.
fn crash_copy(dir: &std::path::Path) -> tempfile::TempDir {
    let crashed = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("klaxon.db"), crashed.path().join("klaxon.db")).unwrap();
    crashed
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_spills_to_the_outbox_and_loses_nothing_out_of_order() {
    let dir = tempfile::tempdir().unwrap();
    let (alerts, gate, mut rx) = spilling(dir.path());
    let mut dropped = 0;
    for i in 0..50 {
        dropped += alerts
            .collect(event("t", &format!("e{i:02}"), Level::Critical))
            .dropped;
    }
    assert_eq!(dropped, 0);
    assert_eq!(alerts.outbox_stats().entries, 50);
    assert!(alerts.outbox_stats().bytes > 0);
    let mut keys = std::collections::BTreeSet::new();
    for i in 0..50 {
        gate.notify_one();
        let (got, info) = next_delivery(&mut rx).await;
        assert_eq!(got.state.id, format!("e{i:02}"));
        assert_eq!((info.attempt, info.redelivery), (1, false));
        assert!(keys.insert(info.key.to_string()), "a key used twice");
    }
    wait_until("the outbox is empty", || alerts.outbox_stats().entries == 0).await;
    assert_eq!(alerts.outbox_stats().bytes, 0);
    assert_eq!(alerts.outbox_stats().oldest_age, None);
    assert_eq!(alerts.stats().get("t", "slow").unwrap().delivered, 50);
}

/// A service whose queues hold two events, so that more spill to the outbox, and the gated
/// handler `slow` on topic `t`.
fn spilling(dir: &std::path::Path) -> (AlertService, Arc<Notify>, Deliveries) {
    let alerts = open(
        dir,
        EngineConfig {
            topic_buffer_length: 2,
            ..EngineConfig::default()
        },
    );
    let (gate, handler, rx) = gated();
    attach(&alerts, "slow", "gate", handler);
    (alerts, gate, rx)
}

/// A drain (SIGTERM) delivers the events that wait on disk only, not just those in the queue:
/// the worker reads the outbox until it is empty before it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_delivers_what_waits_in_the_outbox_past_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let (alerts, gate, mut rx) = spilling(dir.path());
    // More than the worker reads from the outbox at a time (64), all but a few on disk only.
    for i in 0..150 {
        alerts.collect(event("t", &format!("e{i:03}"), Level::Critical));
    }
    gate.notify_one();
    assert_eq!(next_delivery(&mut rx).await.0.state.id, "e000");
    let draining = {
        let alerts = alerts.clone();
        tokio::spawn(async move { alerts.drain(DEADLINE).await })
    };
    for i in 1..150 {
        gate.notify_one();
        assert_eq!(next_delivery(&mut rx).await.0.state.id, format!("e{i:03}"));
    }
    let report = draining.await.unwrap();
    assert_eq!((report.finished, report.abandoned), (1, 0));
    assert_eq!(alerts.stats().get("t", "slow").unwrap().delivered, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_crash_leaves_is_delivered_at_start_in_order_with_its_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        retry: crate::RetryPolicy {
            attempts: 100_000,
            initial_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(2),
            ..crate::RetryPolicy::default()
        },
        ..EngineConfig::default()
    };
    let alerts = open(dir.path(), config.clone());
    let down = Arc::new(Down::default());
    attach(&alerts, "h", "down", down.clone());
    let mut sent = Vec::new();
    for i in 0..5 {
        let e = event("t", &format!("e{i}"), Level::Critical);
        alerts.collect(e);
        sent.push(format!("e{i}"));
    }
    // The first event fails three times; the outbox records each retry.
    wait_until("3 failed attempts", || *down.0.lock().unwrap() >= 3).await;
    wait_until("the attempts reach the disk", || {
        alerts
            .store()
            .outbox_after("t", "h", 0, 1)
            .unwrap()
            .first()
            .is_some_and(|(_, d)| d.as_ref().is_ok_and(|d| d.attempts >= 3))
    })
    .await;
    let stored = alerts.store().outbox_after("t", "h", 0, 100).unwrap();
    let attempts_at_crash = stored[0].1.as_ref().unwrap().attempts;
    let keys: Vec<String> = stored
        .iter()
        .map(|(_, d)| d.as_ref().unwrap().key.clone())
        .collect();
    assert_eq!(keys.len(), 5);
    // What SIGKILL leaves: the file as it is, the process gone.
    let crashed = crash_copy(dir.path());
    alerts.shutdown();

    let restarted = open(crashed.path(), config);
    assert_eq!(restarted.outbox_stats().recovered, 5);
    assert!(restarted.outbox_stats().oldest_age.is_some());
    let (handler, mut rx) = keyed();
    attach(&restarted, "h", "keyed", handler);
    for (i, id) in sent.iter().enumerate() {
        let (got, info) = next_delivery(&mut rx).await;
        assert_eq!(&got.state.id, id);
        assert_eq!(got.state.level, Level::Critical);
        assert!(info.redelivery);
        assert_eq!(&*info.key, keys[i], "the key survives the restart");
        // The copy may hold a later count than the read before it.
        if i == 0 {
            assert!(
                info.attempt > attempts_at_crash,
                "attempts before the crash count"
            );
        } else {
            assert_eq!(info.attempt, 1);
        }
    }
    wait_until("the outbox is empty", || {
        restarted.outbox_stats().entries == 0
    })
    .await;
    assert_eq!(restarted.stats().get("t", "h").unwrap().redelivered, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_outbox_entries_at_start_are_reported_and_removed_and_the_rest_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    attach(&alerts, "h", "down", Arc::new(Down::default()));
    for i in 0..5 {
        alerts.collect(event("t", &format!("e{i}"), Level::Critical));
    }
    let stored = alerts.store().outbox_after("t", "h", 0, 100).unwrap();
    assert_eq!(stored.len(), 5);
    let crashed = crash_copy(dir.path());
    let path = crashed.path().join("klaxon.db");
    alerts.shutdown();
    // Damage two entries as a bad disk or a bug would: one cut in half, one not JSON at all.
    {
        let store = crate::Store::open(&path).unwrap();
        let whole = stored[1].1.as_ref().unwrap().encode();
        store
            .outbox_put_raw("t", "h", stored[1].0, &whole[..whole.len() / 2])
            .unwrap();
        store
            .outbox_put_raw("t", "h", stored[3].0, b"\xff\x00 not an event")
            .unwrap();
    }

    let restarted = open(crashed.path(), EngineConfig::default());
    let stats = restarted.outbox_stats();
    assert_eq!((stats.recovered, stats.unreadable), (3, 2));
    // Removed from the disk at start, so the next start does not report them again.
    let left: Vec<u64> = restarted
        .store()
        .outbox_after("t", "h", 0, 100)
        .unwrap()
        .into_iter()
        .map(|(seq, d)| {
            assert!(d.is_ok(), "an unreadable entry was kept");
            seq
        })
        .collect();
    assert_eq!(left, [stored[0].0, stored[2].0, stored[4].0]);
    let (handler, mut rx) = keyed();
    attach(&restarted, "h", "keyed", handler);
    for id in ["e0", "e2", "e4"] {
        let (got, info) = next_delivery(&mut rx).await;
        assert_eq!(got.state.id, id, "the readable part, in order");
        assert!(info.redelivery);
    }
    wait_until("the outbox is empty", || {
        restarted.outbox_stats().entries == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outbox_drops_the_newest_events_under_queue_full_drop() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(
        dir.path(),
        EngineConfig {
            outbox_max_bytes: 1,
            queue_full: QueueFull::Drop,
            ..EngineConfig::default()
        },
    );
    let (gate, handler, mut rx) = gated();
    attach(&alerts, "slow", "gate", handler);
    // The first event fills the 1-byte outbox; the next ones are dropped and counted.
    assert_eq!(alerts.collect(event("t", "a", Level::Critical)).dropped, 0);
    assert_eq!(alerts.collect(event("t", "b", Level::Critical)).dropped, 1);
    assert_eq!(alerts.collect(event("t", "c", Level::Critical)).dropped, 1);
    assert!(!alerts.has_room());
    assert_eq!(alerts.stats().get("t", "slow").unwrap().dropped, 2);
    // Their states are stored all the same.
    assert_eq!(
        alerts.stored_state("t", "c").unwrap().level,
        Level::Critical
    );
    gate.notify_one();
    let (got, _) = next_delivery(&mut rx).await;
    assert_eq!(got.state.id, "a");
    wait_until("room again", || alerts.has_room()).await;
    assert_eq!(alerts.collect(event("t", "d", Level::Critical)).dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_topic_empties_its_outbox_and_without_durability_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    attach(&alerts, "h", "down", Arc::new(Down::default()));
    alerts.collect(event("t", "a", Level::Critical));
    assert_eq!(alerts.outbox_stats().entries, 1);
    alerts.delete_topic("t").unwrap();
    assert_eq!(alerts.outbox_stats().entries, 0);
    assert!(
        alerts
            .store()
            .outbox_after("t", "h", 0, 10)
            .unwrap()
            .is_empty()
    );

    let dir = tempfile::tempdir().unwrap();
    let memory = open(
        dir.path(),
        EngineConfig {
            durable_delivery: false,
            ..EngineConfig::default()
        },
    );
    let (handler, mut rx) = recorder();
    attach(&memory, "h", "rec", handler);
    memory.collect(event("t", "a", Level::Critical));
    assert_eq!(super::next(&mut rx).await.state.id, "a");
    assert!(!memory.outbox_stats().enabled);
    assert!(
        memory
            .store()
            .outbox_after("t", "h", 0, 10)
            .unwrap()
            .is_empty()
    );
}
