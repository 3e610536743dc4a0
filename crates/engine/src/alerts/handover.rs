//! Alert states shared by klaxonds that split the series between them (the Kafka source's
//! consumer groups, docs/scale-out.md). A [`StateJournal`] keeps every state change this server
//! records, encoded as a keyed record, for its owner to publish to a changelog; another member
//! that takes over the series reads the changelog and [`AlertService::adopt`]s the states, so
//! that its first point does not fire again an alert that was already sent, and a recovery
//! carries the right previous level.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use klaxon_core::Event;

use super::AlertService;
use super::collect::Batch;
use crate::store::Delivery;

/// The journals registered with one alert service.
#[derive(Debug, Default)]
pub(crate) struct Journals {
    /// Whether any journal was ever asked for: the write path pays one load otherwise.
    active: AtomicBool,
    list: Mutex<Vec<Weak<StateJournal>>>,
}

impl Journals {
    /// Adds `event`'s state to every live journal.
    pub(crate) fn record(&self, event: &Event) {
        if !self.active.load(Ordering::Relaxed) {
            return;
        }
        let list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        let mut record = None;
        for journal in list.iter().filter_map(Weak::upgrade) {
            let (key, value) = record.get_or_insert_with(|| (state_key(event), encode(event)));
            journal
                .entries
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((key.clone(), value.clone()));
        }
    }

    fn add(&self, journal: &Arc<StateJournal>) {
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|j| j.strong_count() > 0);
        list.push(Arc::downgrade(journal));
        self.active.store(true, Ordering::Relaxed);
    }
}

/// The state changes recorded since the last [`StateJournal::drain`], as (key, value) records:
/// the key names the topic and event ID (the latest record of a key is its state), the value
/// is the event as JSON (the outbox's encoding).
#[derive(Debug, Default)]
pub struct StateJournal {
    entries: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
}

impl StateJournal {
    /// Takes the records kept so far, oldest first.
    pub fn drain(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        std::mem::take(&mut *self.entries.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many records wait.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What [`AlertService::adopt`] did with the records it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Adopted {
    /// States newer than this server's, now its own.
    pub adopted: usize,
    /// States this server already had, as new or newer.
    pub current: usize,
    /// Records that do not decode (logged).
    pub unreadable: usize,
}

/// A record's key: the topic and the event ID, apart by a NUL (neither holds one in practice;
/// a key only has to be the same for the same state).
fn state_key(event: &Event) -> Vec<u8> {
    let mut key = Vec::with_capacity(event.topic.len() + 1 + event.state.id.len());
    key.extend_from_slice(event.topic.as_bytes());
    key.push(0);
    key.extend_from_slice(event.state.id.as_bytes());
    key
}

fn encode(event: &Event) -> Vec<u8> {
    Delivery::encode_parts(event, "", 0, 0)
}

impl AlertService {
    /// A journal of every state change recorded from now on (see the module's documentation).
    /// It lives as long as the returned handle.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use klaxon_core::{Event, Level};
    /// # use klaxon_engine::{AlertService, EngineConfig, Services, Store};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let open = |dir: &std::path::Path| {
    /// #     let store = Store::open(&dir.join("klaxon.db")).unwrap();
    /// #     AlertService::open(Arc::new(Services::default()), store, EngineConfig::default()).unwrap()
    /// # };
    /// # let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    /// let (a, b) = (open(dir_a.path()), open(dir_b.path()));
    /// let journal = a.journal();
    /// let mut event = Event::sample("disk full");
    /// event.state.level = Level::Critical;
    /// a.collect(event.clone());
    ///
    /// // b takes over the series: it adopts a's states, and the next event there is a change
    /// // from CRITICAL, not a new alert.
    /// let records = journal.drain();
    /// assert_eq!(records.len(), 1);
    /// let adopted = b.adopt(records.into_iter().map(|(_key, value)| value));
    /// assert_eq!(adopted.adopted, 1);
    /// event.state.level = Level::Ok;
    /// event.state.time = klaxon_core::Timestamp::from_nanos(event.state.time.as_nanos() + 10);
    /// assert_eq!(b.collect(event).previous_level, Level::Critical);
    /// # }
    /// ```
    pub fn journal(&self) -> Arc<StateJournal> {
        let journal = Arc::new(StateJournal::default());
        self.inner.journals.add(&journal);
        journal
    }

    /// Takes the states of `records` (values of a [`StateJournal`], the latest of each key)
    /// that are newer than this server's own: recorded and stored as if collected here, but
    /// neither delivered nor journaled. The alert nodes learn them when they next restore a
    /// group (see `TaskManager::forget_alert_states`).
    pub fn adopt(&self, records: impl IntoIterator<Item = Vec<u8>>) -> Adopted {
        let mut report = Adopted::default();
        let mut batch = Batch::default();
        for value in records {
            let event = match Delivery::decode(&value) {
                Ok(delivery) => delivery.event,
                Err(e) => {
                    report.unreadable += 1;
                    tracing::warn!(error = %e, "a shared alert state does not decode; skipped");
                    continue;
                }
            };
            let local = self.stored_state(&event.topic, &event.state.id);
            if local.is_some_and(|l| l.time >= event.state.time) {
                report.current += 1;
                continue;
            }
            self.record_into(&mut batch, event, false);
            report.adopted += 1;
        }
        self.store_batch(&batch);
        report
    }
}
