//! Delivery workers: one tokio task and one bounded queue per (topic, handler).
//!
//! The queue keeps order per pair. The match expression runs in the worker before the handler;
//! every call runs under a timeout; a failure the [`RetryPolicy`] accepts is tried again after
//! a jittered, doubling delay, while other pairs go on. Each event ends in exactly one counter:
//! delivered, filtered, failed (after its last attempt) or dropped (queue full, or still queued
//! when the shutdown deadline passed). Dropping a [`Worker`] aborts its task at once, so a hung
//! handler never holds up the caller; [`Worker::close`] lets it finish its queue instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::{Event, GoDuration, Handler, HandlerError};
use klaxon_tick::{MatchContext, MatchExpr};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::RetryPolicy;
use crate::stats::Counters;

/// What a worker needs to know about its handler.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub topic: String,
    pub handler: String,
    pub kind: String,
    pub handle: Arc<dyn Handler>,
    pub matcher: Option<MatchExpr>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// What every worker of one alert service shares.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    /// Turns true when the shutdown deadline has passed: workers stop and count what is left.
    pub abandon: watch::Receiver<bool>,
    /// Woken whenever a worker takes an event off its queue, for writers waiting for room.
    pub room: Arc<Notify>,
}

/// An event in a queue, with the moment it was queued (for the latency histogram).
#[derive(Debug)]
struct Queued {
    event: Event,
    queued: Instant,
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
        let outlet = Outlet {
            queue,
            topic: Arc::from(target.topic.as_str()),
            handler: Arc::from(target.handler.as_str()),
            kind: Arc::from(target.kind.as_str()),
            counters: Arc::clone(&counters),
        };
        let task = runtime.spawn(run(target, rx, counters, shared));
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

    pub fn handler(&self) -> &str {
        &self.outlet.handler
    }

    pub fn kind(&self) -> &str {
        &self.outlet.kind
    }

    /// Events waiting in the queue (not counting the one being delivered).
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
    topic: Arc<str>,
    handler: Arc<str>,
    kind: Arc<str>,
    counters: Arc<Counters>,
}

impl Outlet {
    /// Queues `event` without waiting; a full queue drops it, counted and logged.
    pub fn offer(&self, event: &Event) -> bool {
        match self.queue.try_send(queued(event)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped(event, "the handler's queue is full (raise [alert] topic-buffer-length, set [alert] queue-full = \"block\", or fix the slow handler)");
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues `event`, blocking the thread while the queue is full. Must not run on an async
    /// worker thread (the task manager writes from `spawn_blocking`). `false` when the worker
    /// is gone (its handler or topic was deleted meanwhile).
    pub fn offer_blocking(&self, event: &Event) -> bool {
        self.queue.blocking_send(queued(event)).is_ok()
    }

    /// Queues `event`, waiting while the queue is full.
    pub async fn offer_waiting(&self, event: &Event) -> bool {
        self.queue.send(queued(event)).await.is_ok()
    }

    fn dropped(&self, event: &Event, why: &str) {
        self.counters.dropped();
        if let Some(suppressed) = self.counters.log.allow() {
            tracing::warn!(
                topic = %self.topic, handler = %self.handler, kind = %self.kind,
                event = %event.state.id, suppressed, "dropped event: {why}"
            );
        }
    }
}

fn queued(event: &Event) -> Queued {
    Queued {
        event: event.clone(),
        queued: Instant::now(),
    }
}

/// Resolves once the service abandons delivery; never if it cannot (its sender is gone).
async fn abandoned(abandon: &mut watch::Receiver<bool>) {
    if abandon.wait_for(|a| *a).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn run(
    mut target: Target,
    mut rx: mpsc::Receiver<Queued>,
    counters: Arc<Counters>,
    mut shared: Shared,
) {
    loop {
        let next = tokio::select! {
            biased;
            () = abandoned(&mut shared.abandon) => break,
            next = rx.recv() => next,
        };
        let Some(queued) = next else { return };
        shared.room.notify_waiters();
        let done = tokio::select! {
            biased;
            () = abandoned(&mut shared.abandon) => false,
            () = deliver(&mut target, &queued, &counters) => true,
        };
        if !done {
            abandon(&target, &counters, &queued.event, "was being delivered");
            break;
        }
    }
    rx.close();
    while let Ok(queued) = rx.try_recv() {
        abandon(&target, &counters, &queued.event, "was still queued");
    }
}

/// Counts and logs an event the shutdown deadline left undelivered. Every one is logged, with
/// its ID: this is the list an operator replays from.
fn abandon(target: &Target, counters: &Counters, event: &Event, state: &str) {
    counters.dropped();
    tracing::error!(
        topic = %target.topic, handler = %target.handler, kind = %target.kind,
        event = %event.state.id, level = %event.state.level,
        "not delivered: the event {state} when [alert] shutdown-timeout passed"
    );
}

async fn deliver(target: &mut Target, queued: &Queued, counters: &Counters) {
    let event = &queued.event;
    let id = event.state.id.as_str();
    if let Some(matcher) = target.matcher.as_mut() {
        match matcher.matches(&EventContext(event)) {
            Ok(true) => {}
            Ok(false) => {
                counters.filtered();
                return;
            }
            Err(e) => {
                counters.filtered();
                tracing::warn!(
                    topic = %target.topic, handler = %target.handler, kind = %target.kind,
                    event = id, error = %e, "failed to evaluate match expression"
                );
                return;
            }
        }
    }
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let error = match tokio::time::timeout(target.timeout, target.handle.handle(event)).await {
            Ok(Ok(())) => {
                counters.delivered_after(queued.queued.elapsed());
                tracing::debug!(
                    topic = %target.topic, handler = %target.handler, kind = %target.kind,
                    event = id, attempt, "delivered"
                );
                return;
            }
            Ok(Err(e)) => e,
            Err(_) => HandlerError::timed_out("delivery", target.timeout),
        };
        let delay = target.retry.delay(attempt, fastrand::f64());
        let retry = target
            .retry
            .should_retry(&error, attempt, started.elapsed() + delay);
        if retry {
            counters.retried();
        } else {
            counters.failed();
        }
        if let Some(suppressed) = counters.log.allow() {
            if retry {
                tracing::warn!(
                    topic = %target.topic, handler = %target.handler, kind = %target.kind,
                    event = id, attempt, error = %error, retry_in = %GoDuration::from_std(delay),
                    suppressed, "delivery failed; retrying"
                );
            } else {
                tracing::error!(
                    topic = %target.topic, handler = %target.handler, kind = %target.kind,
                    event = id, attempt, error = %error, retryable = error.is_retryable(),
                    suppressed, "delivery failed; giving up"
                );
            }
        }
        if !retry {
            return;
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// What a `match` expression sees of an event.
struct EventContext<'a>(&'a Event);

impl MatchContext for EventContext<'_> {
    fn tag(&self, name: &str) -> Option<&str> {
        self.0.data.tags.get(name).map(String::as_str)
    }
    fn level(&self) -> i64 {
        self.0.state.level.as_i64()
    }
    fn changed(&self) -> bool {
        self.0.state.level != self.0.previous_level
    }
    fn name(&self) -> &str {
        &self.0.data.name
    }
    fn task_name(&self) -> &str {
        &self.0.data.task_name
    }
    fn alert_duration(&self) -> i64 {
        self.0.state.duration.as_nanos()
    }
}
