//! Delivery workers: one tokio task and one bounded queue per (topic, handler).
//!
//! The queue keeps order per pair. The match expression runs in the worker before the handler;
//! every call runs under a timeout; a failure the [`RetryPolicy`] accepts is tried again after
//! a jittered, doubling delay, while other pairs go on. Each event ends in exactly one counter:
//! delivered, filtered, failed (after its last attempt) or dropped (queue or outbox full, or
//! still queued when the shutdown deadline passed). Dropping a [`Worker`] aborts its task at
//! once, so a hung handler never holds up the caller; [`Worker::close`] lets it finish its queue
//! instead.
//!
//! With durable delivery ([`outbox`]) the queue is only the fast path: every event is in the
//! outbox on disk before it is queued, a full queue makes the worker read the next events from
//! disk instead of dropping them ("spilling"), and a new worker starts by reading what its pair
//! left there (after a crash or a restart).

pub(crate) mod outbox;
mod run;

use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use klaxon_core::{Event, Handler};
use klaxon_tick::MatchExpr;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::RetryPolicy;
use crate::stats::Counters;
pub(crate) use outbox::Outbox;

/// What a worker needs to know about its handler.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub topic: String,
    /// The handler ID, or a task handler's label: how logs and counters name the handler.
    pub label: String,
    pub kind: String,
    pub handler: Arc<dyn Handler>,
    pub matcher: Option<MatchExpr>,
    pub timeout: std::time::Duration,
    pub retry: RetryPolicy,
}

/// What every worker of one alert service shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    /// Turns true when the shutdown deadline has passed: workers stop and count what is left.
    pub abandon: watch::Receiver<bool>,
    /// Woken whenever a worker takes an event off its queue, for writers waiting for room.
    pub room_freed: Arc<Notify>,
    /// The outbox, when delivery is durable. Weak, and upgraded only between awaits, so that
    /// the service's end closes it (and the database) even while a worker waits on a handler.
    pub outbox: Option<Weak<Outbox>>,
}

/// An event as the queues of its topic share it: one copy however many handlers wait for it,
/// with its idempotency key, and its alert JSON when a handler of the topic sends it (both made
/// once, where the event was collected; [`klaxon_core::Handler::sends_alert_json`]).
#[derive(Debug, Clone)]
pub(crate) struct SharedEvent {
    pub event: Arc<Event>,
    pub key: Arc<str>,
    pub alert_json: Option<Arc<[u8]>>,
}

impl SharedEvent {
    /// `event` for `outlets`: with its alert JSON rendered if one of them sends it.
    pub fn new(event: Event, outlets: &[Outlet]) -> SharedEvent {
        let alert_json = outlets.iter().any(|o| o.sends_alert_json).then(|| {
            let mut json = Vec::with_capacity(2048);
            event.render_alert_json(&mut json);
            Arc::from(json)
        });
        SharedEvent {
            key: event_key(&event),
            event: Arc::new(event),
            alert_json,
        }
    }

    /// `event` as the outbox kept it, with the key it was stored with, without a rendering: its
    /// handlers encode it themselves.
    pub fn stored(event: Event, key: Arc<str>) -> SharedEvent {
        SharedEvent {
            event: Arc::new(event),
            key,
            alert_json: None,
        }
    }
}

/// An event in a queue, with the moment it was queued (for the latency histogram).
#[derive(Debug)]
pub(crate) struct Queued {
    shared: SharedEvent,
    queued: Instant,
    /// Its outbox sequence number; 0 when it is in memory only.
    seq: u64,
    /// Attempts made before (by an earlier run).
    attempts: u32,
    /// Whether an earlier run may have delivered it.
    redelivery: bool,
}

/// An event's idempotency key: 128 bits in hex, a hash (FNV-1a) of its topic, ID, level and
/// time. The same alert state is the same key wherever it is made: on every handler of its
/// topic, after a restart, and on another klaxond that evaluated the same points again (a Kafka
/// consumer group member taking over a crashed member's partitions), so that a receiver that
/// keeps the keys it has seen drops every duplicate of it.
pub(crate) fn event_key(event: &Event) -> Arc<str> {
    const BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let time = event.state.time.as_nanos().to_be_bytes();
    let level = event.state.level.to_string();
    let parts: [&[u8]; 4] = [
        event.topic.as_bytes(),
        event.state.id.as_bytes(),
        level.as_bytes(),
        &time,
    ];
    let mut hash = BASIS;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            hash ^= u128::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    Arc::from(format!("{hash:032x}"))
}

/// A running worker; dropping it aborts the task.
#[derive(Debug)]
pub(crate) struct Worker {
    outlet: Outlet,
    capacity: usize,
    task: Option<JoinHandle<()>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Worker {
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        target: Target,
        capacity: usize,
        counters: Arc<Counters>,
        shared: Shared,
    ) -> Worker {
        let capacity = capacity.max(1);
        let (queue, rx) = mpsc::channel(capacity);
        // A durable worker starts by reading what its pair left in the outbox.
        let spilling = Arc::new(Mutex::new(shared.outbox.is_some()));
        let outlet = Outlet {
            queue,
            sends_alert_json: target.handler.sends_alert_json(),
            topic: Arc::from(target.topic.as_str()),
            label: Arc::from(target.label.as_str()),
            kind: Arc::from(target.kind.as_str()),
            counters: Arc::clone(&counters),
            spilling: Arc::clone(&spilling),
        };
        let task = runtime.spawn(run::run(target, rx, counters, shared, spilling));
        Worker {
            outlet,
            capacity,
            task: Some(task),
        }
    }

    /// A handle to queue events into this worker without holding on to it.
    pub fn outlet(&self) -> Outlet {
        self.outlet.clone()
    }

    pub fn label(&self) -> &str {
        &self.outlet.label
    }

    pub fn kind(&self) -> &str {
        &self.outlet.kind
    }

    /// Events waiting in the queue (not counting the one being delivered, nor those waiting
    /// in the outbox only).
    pub fn depth(&self) -> usize {
        self.capacity - self.outlet.queue.capacity()
    }

    /// Whether the queue has no room for another event.
    pub fn is_full(&self) -> bool {
        self.outlet.queue.capacity() == 0
    }

    /// Closes the queue and lets the worker deliver what it holds; the returned task ends when
    /// it has (or when the service abandons delivery).
    pub fn close(mut self) -> Option<JoinHandle<()>> {
        self.task.take()
        // Dropping `self` drops the queue's sender, which ends the worker once it is empty.
    }
}

/// The sending side of a worker's queue.
#[derive(Debug, Clone)]
pub(crate) struct Outlet {
    queue: mpsc::Sender<Queued>,
    /// Whether the handler sends the alert JSON, so that the event's is rendered for it before
    /// it is queued ([`klaxon_core::Handler::sends_alert_json`]).
    sends_alert_json: bool,
    topic: Arc<str>,
    label: Arc<str>,
    kind: Arc<str>,
    counters: Arc<Counters>,
    /// Durable workers: true while the worker reads its events from the outbox, because the
    /// queue was full (or the worker has just started); events then stay on disk only, so
    /// that they keep their order.
    spilling: Arc<Mutex<bool>>,
}

impl Outlet {
    /// The handler's label (its ID, or a task handler's label).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Queues `event` (in memory only) without waiting; a full queue drops it, counted and
    /// logged.
    pub fn offer(&self, shared: &SharedEvent) -> bool {
        match self.queue.try_send(queued(shared, 0)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped(&shared.event, "the handler's queue is full (raise [alert] topic-buffer-length, set [alert] queue-full = \"block\", or fix the slow handler)");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Hands over `event`, already in the outbox as `seq`: queued while the queue has room, else
    /// left on disk for the worker to read (never dropped, never waiting). Callers offer in
    /// sequence order.
    pub fn offer_stored(&self, shared: &SharedEvent, seq: u64) {
        let mut spilling = self.spilling.lock().unwrap_or_else(|e| e.into_inner());
        if *spilling {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(queued(shared, seq)) {
            *spilling = true;
        }
    }

    /// Queues `event`, blocking the thread while the queue is full. Must not run on an async
    /// worker thread (the task manager writes from `spawn_blocking`). `false` when the worker
    /// is gone (its handler or topic was deleted meanwhile).
    pub fn offer_blocking(&self, shared: &SharedEvent) -> bool {
        self.queue.blocking_send(queued(shared, 0)).is_ok()
    }

    /// Queues `event`, waiting while the queue is full.
    pub async fn offer_waiting(&self, shared: &SharedEvent) -> bool {
        self.queue.send(queued(shared, 0)).await.is_ok()
    }

    /// Counts and logs (at a bounded rate) an event this handler will not get.
    pub fn dropped(&self, event: &Event, why: &str) {
        self.counters.dropped();
        if let Some(suppressed) = self.counters.log.allow() {
            tracing::warn!(
                topic = %self.topic, handler = %self.label, kind = %self.kind,
                event = %event.state.id, suppressed, "dropped event: {why}"
            );
        }
    }
}

fn queued(shared: &SharedEvent, seq: u64) -> Queued {
    Queued {
        shared: shared.clone(),
        queued: Instant::now(),
        seq,
        attempts: 0,
        redelivery: false,
    }
}
