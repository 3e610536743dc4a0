//! The collect path: an event's state (and its level change, in the topic's history) recorded
//! under the lock, stored without it, then queued for every handler of its topic unless a
//! silence holds it back. With durable delivery the event is stored too, in the outbox, in the
//! same transaction as its state.

use std::collections::BTreeSet;

use klaxon_core::{Event, EventState, Level, Timestamp};

use super::kept::Kept;
use super::{AlertService, QueueFull};
use crate::delivery::{Outbox, Outlet, SharedEvent, Worker};
use crate::store::{BatchWrite, Delivery, OutboxOp, OutboxPut};
use crate::{HistoryEntry, StoreError};

/// Events recorded by [`AlertService::collect_into`] and not yet stored and queued; see
/// [`AlertService::flush`].
#[derive(Debug, Default)]
pub struct Batch {
    /// (topic, event ID) whose state must be written.
    touched: BTreeSet<(String, String)>,
    /// Each event with the queues it goes to, in collection order.
    queued: Vec<Pending>,
    /// New history entries, by topic, to store with the states.
    history: Vec<(String, HistoryEntry)>,
}

/// An event for the handlers of its topic, with its idempotency key.
#[derive(Debug)]
struct Pending {
    outlets: Vec<Outlet>,
    shared: SharedEvent,
}

impl Batch {
    /// Every (queue, event) pair, in collection order.
    fn deliveries(&self) -> impl Iterator<Item = (&Outlet, &SharedEvent)> {
        self.queued
            .iter()
            .flat_map(|p| p.outlets.iter().map(move |o| (o, &p.shared)))
    }
}

/// What [`AlertService::collect`] did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Collected {
    /// The level the topic held for this event ID before (`OK` if none); also set on the event
    /// the handlers receive.
    pub previous_level: Level,
    /// Handlers whose queue was full, so they did not get the event.
    pub dropped: usize,
}

/// What [`AlertService::record`] leaves for storing and queueing.
struct Recorded {
    previous_level: Level,
    /// The event as the handlers receive it (its previous level set).
    event: Event,
    outlets: Vec<Outlet>,
    /// Whether the stored state changes: an OK state over none (or over OK) is not on disk.
    needs_write: bool,
    /// The history entry of a level change.
    history: Option<HistoryEntry>,
}

impl AlertService {
    /// Collects one event into `event.topic` (created if absent): records its state, sets its
    /// previous level from the topic's last state for that ID, stores the state (non-OK
    /// states are on disk before any handler sees the event), and queues it for every handler
    /// of the topic. With [`QueueFull::Drop`] it never waits: a full queue drops the event for
    /// that handler, counted and logged. With [`QueueFull::Block`] it blocks the thread until
    /// there is room, so it must not run on an async worker thread (use
    /// [`AlertService::collect_async`] there).
    pub fn collect(&self, event: Event) -> Collected {
        let mut batch = Batch::default();
        let previous_level = self.collect_into(&mut batch, event);
        Collected {
            previous_level,
            dropped: self.flush(batch),
        }
    }

    /// [`AlertService::collect`] for async callers: with [`QueueFull::Block`] it waits for room
    /// without blocking the thread.
    pub async fn collect_async(&self, event: Event) -> Collected {
        if self.inner.config.queue_full == QueueFull::Drop || self.inner.outbox.is_some() {
            // Never waits in these modes.
            return self.collect(event);
        }
        let mut batch = Batch::default();
        let previous_level = self.collect_into(&mut batch, event);
        self.store_batch(&batch);
        let mut dropped = 0;
        for (outlet, shared) in batch.deliveries() {
            dropped += usize::from(!outlet.offer_waiting(shared).await);
        }
        Collected {
            previous_level,
            dropped,
        }
    }

    /// Records one event as [`AlertService::collect`] does, but leaves storing and queueing to
    /// [`AlertService::flush`]: a write body's events then cost one disk sync instead of one
    /// each. Returns the event's previous level.
    pub fn collect_into(&self, batch: &mut Batch, event: Event) -> Level {
        self.record_into(batch, event, true)
    }

    /// Records `event` into `batch`: its state (to store), its history entry, and, when
    /// `deliver`, its journal entry and its queueing to the topic's handlers. Without
    /// `deliver` it is a state adopted from another member (`handover.rs`): stored here,
    /// neither delivered nor journaled again.
    pub(super) fn record_into(&self, batch: &mut Batch, event: Event, deliver: bool) -> Level {
        let Some(recorded) = self.record(event) else {
            return Level::Ok;
        };
        let Recorded {
            previous_level,
            event,
            outlets,
            needs_write,
            history,
        } = recorded;
        if needs_write && deliver {
            self.inner.journals.record(&event);
        }
        if needs_write && self.inner.config.persist_topics {
            batch
                .touched
                .insert((event.topic.clone(), event.state.id.clone()));
            if let Some(entry) = history {
                batch.history.push((event.topic.clone(), entry));
            }
        }
        if deliver && !outlets.is_empty() {
            batch.queued.push(Pending {
                shared: SharedEvent::new(event, &outlets),
                outlets,
            });
        }
        previous_level
    }

    /// Stores the states a batch touched, in one transaction, then queues its events in the
    /// order they were collected. Returns how many (event, handler) pairs were dropped.
    pub fn flush(&self, batch: Batch) -> usize {
        if let Some(outbox) = &self.inner.outbox {
            return self.flush_durable(outbox, batch);
        }
        self.store_batch(&batch);
        let block = self.inner.config.queue_full == QueueFull::Block;
        batch
            .deliveries()
            .map(|(outlet, shared)| {
                if block {
                    outlet.offer_blocking(shared)
                } else {
                    outlet.offer(shared)
                }
            })
            .filter(|queued| !queued)
            .count()
    }

    /// Stores the batch's states and history (without its events: delivery is in memory).
    pub(super) fn store_batch(&self, batch: &Batch) {
        if batch.touched.is_empty() {
            return;
        }
        let _committing = self
            .inner
            .state_commit
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Err(e) = self.write_batch(batch, Vec::new(), &[]) {
            tracing::error!(
                events = batch.touched.len(), error = %e,
                "cannot store event states; they stay in memory and are delivered"
            );
        }
    }

    /// Durable delivery: the batch's states, history and events (one outbox entry per event and
    /// handler) in one transaction, then each event handed to its workers in sequence order,
    /// all under the commit lock, so that sequence numbers follow commits and offers. Never
    /// waits for a queue: a full one leaves its events on disk for the worker. Returns how many
    /// (event, handler) pairs were dropped (outbox full under `queue-full = "drop"`).
    fn flush_durable(&self, outbox: &Outbox, mut batch: Batch) -> usize {
        if batch.touched.is_empty() && batch.queued.is_empty() {
            return 0;
        }
        let _committing = self
            .inner
            .state_commit
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut dropped = 0;
        // Under "block", writers waited for room before this body; its events go in whole.
        if !batch.queued.is_empty()
            && self.inner.config.queue_full == QueueFull::Drop
            && !outbox.has_room()
        {
            let why = "the outbox is full ([alert] outbox-max-bytes): a handler is slower than \
                       the alerts arriving (raise the bound, set [alert] queue-full = \"block\", \
                       or fix the slow handler)";
            for (outlet, shared) in batch.deliveries() {
                outlet.dropped(&shared.event, why);
                dropped += 1;
            }
            batch.queued.clear();
        }
        let now = Timestamp::now().as_nanos();
        let staged: Vec<(u64, Vec<u8>)> = batch
            .queued
            .iter()
            .map(|p| {
                let bytes = Delivery::encode_parts(&p.shared.event, &p.shared.key, 0, now);
                (outbox.next_seq(), bytes)
            })
            .collect();
        let puts = batch
            .queued
            .iter()
            .zip(&staged)
            .flat_map(|(p, (seq, value))| {
                p.outlets.iter().map(move |o| OutboxPut {
                    topic: &p.shared.event.topic,
                    label: o.label(),
                    seq: *seq,
                    value,
                })
            })
            .collect();
        // The removals workers reported since the last commit ride on this one.
        let carried = outbox.take_for_commit();
        let written = self.write_batch(&batch, puts, &carried.ops);
        outbox.carried(carried, written.is_ok());
        match written {
            Ok(()) => {
                for (p, (seq, value)) in batch.queued.iter().zip(&staged) {
                    let refs = u32::try_from(p.outlets.len()).unwrap_or(u32::MAX);
                    outbox.added(*seq, value.len() as u64, refs, now);
                    for outlet in &p.outlets {
                        outlet.offer_stored(&p.shared, *seq);
                    }
                }
            }
            Err(e) => {
                tracing::error!(
                    events = batch.queued.len(), error = %e,
                    "cannot store event states and the outbox; the events are delivered from \
                     memory only"
                );
                for (outlet, shared) in batch.deliveries() {
                    dropped += usize::from(!outlet.offer(shared));
                }
            }
        }
        dropped
    }

    /// Commits the current state of every event the batch touched, its history entries,
    /// `outbox` and the reported `outbox_ops`, in one transaction; the caller holds the commit
    /// lock. The states are read from
    /// memory under it, so a batch that commits later never writes an older state over a newer
    /// one; topics closed or deleted meanwhile are skipped, and so are history entries their
    /// topic no longer keeps.
    fn write_batch(
        &self,
        batch: &Batch,
        outbox: Vec<OutboxPut<'_>>,
        outbox_ops: &[OutboxOp],
    ) -> Result<(), StoreError> {
        let (states, kept_from) = {
            let state = self.lock();
            // A state without its text in memory is on disk already, newer than this batch's.
            let states: Vec<(String, EventState, u32)> = batch
                .touched
                .iter()
                .filter_map(|(topic, id)| {
                    let current = state.topics.get(topic)?.events.get(id.as_str())?;
                    Some((topic.clone(), current.whole(id)?, current.version))
                })
                .collect();
            let mut kept_from: Vec<(&str, u64)> = Vec::new();
            for (topic, _) in &batch.history {
                if kept_from.iter().any(|(t, _)| *t == topic.as_str()) {
                    continue;
                }
                if let Some(t) = state.topics.get(topic) {
                    kept_from.push((topic.as_str(), t.history.kept_from()));
                }
            }
            (states, kept_from)
        };
        let write = BatchWrite {
            states: states.iter().map(|(t, s, _)| (t.as_str(), s)).collect(),
            history: batch
                .history
                .iter()
                .filter(|(topic, entry)| {
                    kept_from
                        .iter()
                        .any(|(t, first)| *t == topic.as_str() && entry.seq >= *first)
                })
                .map(|(t, e)| (t.as_str(), e))
                .collect(),
            kept_from,
            outbox,
            outbox_ops,
        };
        self.inner.store.put_batch(&write)?;
        // On disk now: memory drops the text of each state no newer record replaced.
        let mut state = self.lock();
        for (topic, written, version) in &states {
            if let Some(kept) = state
                .topics
                .get_mut(topic)
                .and_then(|t| t.events.get_mut(written.id.as_str()))
            {
                kept.committed(*version);
            }
        }
        Ok(())
    }

    /// The state-keeping half of a collect, under the lock: `None` once the service is shut
    /// down. Storing and queueing happen without the lock, so neither a disk sync nor a writer
    /// waiting for room holds up the API.
    fn record(&self, mut event: Event) -> Option<Recorded> {
        let mut state = self.lock();
        if state.shut_down {
            tracing::warn!(
                topic = %event.topic, event = %event.state.id,
                "event collected after shutdown began; not delivered"
            );
            return None;
        }
        let topic_id = event.topic.clone();
        let bounds = self.history_bounds();
        state.last_version = state.last_version.wrapping_add(1);
        let version = state.last_version;
        let topic = self.ensure_topic(&mut state, &topic_id);
        let previous = topic
            .events
            .insert(
                Box::from(event.state.id.as_str()),
                Kept::new(event.state.clone(), version),
            )
            .map(|s| s.level);
        let previous_level = previous.unwrap_or(Level::Ok);
        event.previous_level = previous_level;
        topic.collected += 1;
        let needs_write = event.state.level != Level::Ok || previous_level != Level::Ok;
        let silenced = self.inner.silences.check(&event);
        let history = (event.state.level != previous_level)
            .then(|| topic.history.record(&event, silenced, bounds));
        let outlets = if silenced {
            Vec::new()
        } else {
            topic.workers().map(Worker::outlet).collect()
        };
        Some(Recorded {
            previous_level,
            event,
            outlets,
            needs_write,
            history,
        })
    }
}
