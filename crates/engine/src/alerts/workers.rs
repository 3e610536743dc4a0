//! The delivery workers of the service's topics: starting them, how full their queues are,
//! waiting for room, and stopping them (drain or shutdown).

use std::sync::Arc;
use std::time::{Duration, Instant};

use klaxon_core::Handler;
use klaxon_tick::MatchExpr;

use super::{AlertService, State};
use crate::RetryPolicy;
use crate::delivery::{Shared, Target, Worker};

/// What [`AlertService::drain`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainReport {
    /// Workers that finished their queue in time.
    pub finished: usize,
    /// Workers that still had events when the deadline passed (those events are counted as
    /// dropped and logged with their IDs).
    pub abandoned: usize,
}

/// One queue's fill, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    /// The topic.
    pub topic: String,
    /// The handler ID (or inline label).
    pub handler: String,
    /// The handler kind.
    pub kind: String,
    /// Events waiting (not counting the one in delivery).
    pub depth: usize,
}

impl AlertService {
    /// Starts the worker of one (topic, handler) pair; `label` is the handler ID, or a task
    /// handler's label.
    pub(super) fn spawn_worker(
        &self,
        topic: &str,
        label: &str,
        kind: &str,
        handler: Arc<dyn Handler>,
        matcher: Option<MatchExpr>,
        retry: RetryPolicy,
    ) -> Worker {
        let target = Target {
            topic: topic.to_owned(),
            label: label.to_owned(),
            kind: kind.to_owned(),
            handler,
            matcher,
            timeout: self.inner.config.handler_timeout,
            retry,
        };
        let counters = self.inner.stats.counters(topic, label, kind);
        let shared = Shared {
            abandon: self.inner.abandon.subscribe(),
            room_freed: Arc::clone(&self.inner.room_freed),
            outbox: self.inner.outbox.as_ref().map(Arc::downgrade),
        };
        Worker::spawn(
            &self.inner.runtime,
            target,
            self.inner.config.topic_buffer_length,
            counters,
            shared,
        )
    }

    /// Starts a worker for every spec of `topic` that has none (the topic must exist).
    pub(super) fn start_spec_workers(&self, state: &mut State, topic: &str) {
        let Some(specs) = state.specs.get(topic) else {
            return;
        };
        let mut new = Vec::new();
        if let Some(t) = state.topics.get(topic) {
            for (id, built) in specs {
                if !t.spec_workers.contains_key(id) {
                    new.push((
                        id.clone(),
                        self.spawn_worker(
                            topic,
                            id,
                            &built.spec.kind,
                            Arc::clone(&built.handler),
                            built.matcher.clone(),
                            built.retry,
                        ),
                    ));
                }
            }
        }
        if let Some(t) = state.topics.get_mut(topic) {
            t.spec_workers.extend(new);
        }
    }

    /// Whether every handler queue has room for at least one more event; with durable
    /// delivery, whether the outbox is under `[alert] outbox-max-bytes` (a full queue then
    /// leaves its events in the outbox, and does not stop writers).
    pub fn has_room(&self) -> bool {
        if let Some(outbox) = &self.inner.outbox {
            return outbox.has_room();
        }
        let state = self.lock();
        !state
            .topics
            .values()
            .flat_map(|t| t.workers())
            .any(Worker::is_full)
    }

    /// Waits until every handler queue has room, up to `patience`: `false` if one is still full
    /// then. Writers call it before processing a body under [`super::QueueFull::Block`], so
    /// that a body is either refused whole or processed whole.
    pub async fn wait_for_room(&self, patience: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.inner.room_freed.notified();
            tokio::pin!(notified);
            // Registered before the check, so a worker taking an event in between still wakes us.
            notified.as_mut().enable();
            if self.has_room() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.has_room();
            }
        }
    }

    /// How full each handler queue is, sorted by topic and handler.
    pub fn queue_depths(&self) -> Vec<QueueDepth> {
        let state = self.lock();
        state
            .topics
            .iter()
            .flat_map(|(topic, t)| {
                t.workers().map(move |w| QueueDepth {
                    topic: topic.clone(),
                    handler: w.label().to_owned(),
                    kind: w.kind().to_owned(),
                    depth: w.depth(),
                })
            })
            .collect()
    }

    /// Graceful shutdown: later collects do nothing, every queue is closed, and the workers
    /// deliver what they hold for up to `timeout`. Whatever is left then (in flight or queued)
    /// is counted as dropped and logged with its event ID.
    pub async fn drain(&self, timeout: Duration) -> DrainReport {
        let topics = {
            let mut state = self.lock();
            state.shut_down = true;
            std::mem::take(&mut state.topics)
        };
        let started = Instant::now();
        let tasks: Vec<_> = topics
            .into_values()
            .flat_map(|t| t.spec_workers.into_values().chain(t.task_workers))
            .filter_map(Worker::close)
            .collect();
        let total = tasks.len();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut unfinished = Vec::new();
        for mut task in tasks {
            // A task that has finished is seen as such even after the deadline: the timeout
            // polls it before looking at the clock.
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                unfinished.push(task);
            }
        }
        let finished = total - unfinished.len();
        let abandoned = unfinished.len();
        if abandoned > 0 {
            // The workers count and log what they still hold, then end.
            self.inner.abandon.send_replace(true);
            for task in unfinished {
                let _ = task.await;
            }
        }
        if let Some(outbox) = self.inner.outbox.clone() {
            // The outcomes of the last deliveries reach the disk, so that the next start does
            // not deliver them again.
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let flushed =
                tokio::task::spawn_blocking(move || outbox.flush(left.max(Duration::from_secs(1))))
                    .await
                    .unwrap_or(false);
            if !flushed {
                tracing::warn!(
                    "outbox: the last delivered events could not be removed in time; the next \
                     start delivers them again"
                );
            }
        }
        tracing::info!(
            workers = total, finished, abandoned,
            took = %klaxon_core::GoDuration::from_std(started.elapsed()),
            "delivery queues drained"
        );
        DrainReport {
            finished,
            abandoned,
        }
    }

    /// Stops every worker (aborting handlers in flight); later collects do nothing.
    pub fn shutdown(&self) {
        let mut state = self.lock();
        state.shut_down = true;
        let topics = std::mem::take(&mut state.topics);
        drop(state);
        drop(topics);
    }
}
