//! Delivery workers: one tokio task and one bounded queue per (topic, handler).
//!
//! The queue keeps order per pair; a full queue drops the event (counted and logged); the match
//! expression runs in the worker before the handler; every call runs under a timeout, and a
//! retryable failure is tried again after a doubling backoff, up to the configured retries (none
//! by default, as Kapacitor). Dropping a
//! [`Worker`] aborts its task at once, so a hung handler never holds up the caller.

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::{Event, Handler, HandlerError};
use klaxon_tick::{MatchContext, MatchExpr};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    pub retry: Retry,
}

/// How often and how patiently a retryable failure is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts after the first; 0 never retries.
    pub retries: u32,
    /// The wait before the first retry; it doubles for each further one, up to 1 minute.
    pub backoff: Duration,
}

/// A running worker; dropping it aborts the task.
#[derive(Debug)]
pub(crate) struct Worker {
    pub handler: String,
    pub kind: String,
    queue: mpsc::Sender<Event>,
    task: JoinHandle<()>,
    counters: Arc<Counters>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Worker {
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        target: Target,
        capacity: usize,
        counters: Arc<Counters>,
    ) -> Worker {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let handler = target.handler.clone();
        let kind = target.kind.clone();
        let task = runtime.spawn(run(target, rx, Arc::clone(&counters)));
        Worker {
            handler,
            kind,
            queue,
            task,
            counters,
        }
    }

    /// Queues `event` without waiting; a full queue drops it, counted and logged.
    pub fn offer(&self, topic: &str, event: &Event) -> bool {
        match self.queue.try_send(event.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.counters.dropped();
                tracing::warn!(
                    topic,
                    handler = %self.handler,
                    kind = %self.kind,
                    event = %event.state.id,
                    "dropped event: the handler's queue is full (raise [alert] topic-buffer-length \
                     or fix the slow handler)"
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

async fn run(mut target: Target, mut rx: mpsc::Receiver<Event>, counters: Arc<Counters>) {
    while let Some(event) = rx.recv().await {
        deliver(&mut target, &event, &counters).await;
    }
}

async fn deliver(target: &mut Target, event: &Event, counters: &Counters) {
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
    let mut backoff = target.retry.backoff;
    let mut attempt = 0;
    loop {
        let error = match tokio::time::timeout(target.timeout, target.handle.handle(event)).await {
            Ok(Ok(())) => {
                counters.delivered();
                tracing::debug!(
                    topic = %target.topic, handler = %target.handler, kind = %target.kind,
                    event = id, "delivered"
                );
                return;
            }
            Ok(Err(e)) => e,
            Err(_) => HandlerError::timed_out("delivery", target.timeout),
        };
        if error.is_retryable() && attempt < target.retry.retries {
            attempt += 1;
            counters.retried();
            tracing::warn!(
                topic = %target.topic, handler = %target.handler, kind = %target.kind,
                event = id, error = %error, attempt, retries = target.retry.retries,
                backoff = %klaxon_core::GoDuration::from_std(backoff),
                "handler failed; retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(60));
            continue;
        }
        counters.failed();
        tracing::error!(
            topic = %target.topic, handler = %target.handler, kind = %target.kind,
            event = id, error = %error, attempts = attempt + 1, "handler failed"
        );
        return;
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
