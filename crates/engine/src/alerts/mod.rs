//! [`AlertService`]: topics, handler specs, delivery and persistence behind one cheap handle.
//!
//! One state, several concerns, one file each: [`config`] (how the service behaves),
//! [`collect`] (events into topics, stored and queued), [`specs`] (handler-spec CRUD),
//! [`topics`] (topic queries and the anonymous topics of tasks), [`workers`] (the delivery
//! workers, room in their queues, drain and shutdown), [`history`] (each topic's recent level
//! changes) and [`silencing`] (silences and the alerts they hold back). Each adds an
//! `impl AlertService` block.

mod collect;
mod config;
mod handover;
mod history;
mod kept;
mod silencing;
mod specs;
mod topics;
mod workers;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use klaxon_core::Event;
use tokio::sync::{Notify, watch};

pub use collect::{Batch, Collected};
pub use config::{EngineConfig, QueueFull};
pub use handover::{Adopted, StateJournal};
pub use history::{HistoryEntry, HistoryPage, HistoryQuery};
pub use topics::{LastState, TaskHandler, TopicInfo};
pub use workers::{DrainReport, QueueDepth};

use crate::delivery::Outbox;
use crate::delivery::outbox::OutboxStats;
use crate::{EngineError, Limits, Services, Stats, Store};
use history::History;
use silencing::SilenceRegistry;
use specs::BuiltSpec;
use topics::Topic;

/// The alert service: topics, topic handlers, delivery workers and their storage.
///
/// Cheap to clone (an `Arc` inside). [`AlertService::open`] must run inside a tokio runtime,
/// where it spawns the delivery workers. No method waits on a handler: [`AlertService::collect`]
/// queues, and deleting or replacing a handler or topic aborts its workers at once.
///
/// A stream task's alert node uses it like this:
///
/// ```
/// # use std::sync::Arc;
/// use klaxon_core::{Event, Level};
/// use klaxon_engine::{AlertService, EngineConfig, Services, Store, TaskHandler};
///
/// # #[derive(Debug)] struct Nop;
/// # #[klaxon_core::async_trait] impl klaxon_core::Handler for Nop {
/// #     async fn handle(&self, _: &klaxon_core::Event) -> Result<(), klaxon_core::HandlerError> { Ok(()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(&dir.path().join("klaxon.db")).unwrap();
/// let alerts = AlertService::open(Arc::new(Services::default()), store, EngineConfig::default()).unwrap();
///
/// // Task start: attach the inline handlers (made with `make_handler`) to the anonymous topic.
/// let topic = "main:cpu_alert:alert2";
/// alerts.register_anonymous(topic, vec![TaskHandler::new("exec0", "exec", Arc::new(Nop))]).unwrap();
/// // Restore the alert node's state for a group after a restart.
/// assert_eq!(alerts.stored_state(topic, "cpu:nil"), None);
///
/// // Each alert event goes to the anonymous topic, and to `.topic('cpu')` if set.
/// let mut event = Event::default();
/// event.topic = topic.into();
/// event.state.id = "cpu:nil".into();
/// event.state.level = Level::Critical;
/// let collected = alerts.collect(event.clone());
/// assert_eq!(collected.previous_level, Level::Ok);
/// assert_eq!(alerts.stored_state(topic, "cpu:nil").unwrap().level, Level::Critical);
///
/// // Task disabled: the topic leaves memory, its stored state stays. Task deleted: both go.
/// alerts.close_topic(topic);
/// assert!(alerts.events(topic, Level::Ok).is_err());
/// alerts.delete_topic(topic).unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AlertService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    services: Arc<Services>,
    store: Store,
    config: EngineConfig,
    runtime: tokio::runtime::Handle,
    stats: Stats,
    state: Mutex<State>,
    /// Set to true when the shutdown deadline passes; see [`crate::delivery::Shared::abandon`].
    abandon: watch::Sender<bool>,
    /// Held while a batch's states are read from memory and committed, so that the last commit
    /// always carries the latest state of every event it touches.
    state_commit: Mutex<()>,
    /// Woken whenever a worker takes an event off its queue, for writers waiting for room.
    room_freed: Arc<Notify>,
    /// The silences, and the alerts they hold back.
    silences: SilenceRegistry,
    /// Events waiting for delivery, on disk, when delivery is durable.
    outbox: Option<Arc<Outbox>>,
    /// The journals of state changes that cluster members share (see `handover.rs`).
    journals: handover::Journals,
}

/// Everything behind the service's one lock.
#[derive(Debug, Default)]
struct State {
    topics: BTreeMap<String, Topic>,
    /// Handler specs by topic, then ID, each with the handler it built.
    specs: BTreeMap<String, BTreeMap<String, BuiltSpec>>,
    shut_down: bool,
    /// The version of the last event state recorded (see [`kept::Kept::version`]).
    last_version: u32,
}

/// A weak handle the internal kinds use to collect into other topics without keeping the
/// service alive.
#[derive(Debug, Clone)]
pub(crate) struct Collector(Weak<Inner>);

impl Collector {
    /// Collects `event` from a delivery worker; `false` once the service is gone.
    pub(crate) async fn collect(&self, event: Event) -> bool {
        let Some(inner) = self.0.upgrade() else {
            return false;
        };
        AlertService { inner }.collect_async(event).await;
        true
    }
}

impl AlertService {
    /// Starts the service on the current tokio runtime: loads the handler specs and the stored
    /// topic states and starts a worker per (topic, handler). A stored spec that no longer
    /// builds (its kind was removed from the binary...) is logged and skipped.
    pub fn open(
        services: Arc<Services>,
        store: Store,
        config: EngineConfig,
    ) -> Result<AlertService, EngineError> {
        let runtime = tokio::runtime::Handle::current();
        let outbox = if config.durable_delivery {
            Some(Arc::new(Outbox::open(&store, config.outbox_max_bytes)?))
        } else {
            None
        };
        let service = AlertService {
            inner: Arc::new(Inner {
                services,
                store,
                config,
                runtime,
                stats: Stats::default(),
                state: Mutex::new(State::default()),
                abandon: watch::Sender::new(false),
                state_commit: Mutex::new(()),
                room_freed: Arc::new(Notify::new()),
                silences: SilenceRegistry::default(),
                outbox,
                journals: handover::Journals::default(),
            }),
        };
        service.restore_silences()?;
        let (specs, bad) = service.inner.store.handlers()?;
        for problem in bad {
            tracing::error!(error = %problem, "skipping a stored handler spec that does not decode");
        }
        let (states, histories) = if service.inner.config.persist_topics {
            (
                service.inner.store.state_marks()?,
                service.inner.store.all_history()?,
            )
        } else {
            (BTreeMap::new(), BTreeMap::new())
        };
        let bounds = service.history_bounds();
        let mut state = service.lock();
        for (topic, events) in states {
            let entry = state.topics.entry(topic).or_default();
            entry.events = events
                .into_iter()
                .map(|e| (kept::Kept::stored(&e), e.id.into_boxed_str()))
                .map(|(kept, id)| (id, kept))
                .collect();
        }
        for (topic, entries) in histories {
            let entry = state.topics.entry(topic).or_default();
            entry.history = History::restored(entries, bounds);
        }
        for spec in specs {
            match service.build_spec(&spec) {
                Ok(built) => {
                    let (topic, id) = (spec.topic.clone(), spec.id.clone());
                    state
                        .specs
                        .entry(topic.clone())
                        .or_default()
                        .insert(id, built);
                    state.topics.entry(topic).or_default();
                }
                Err(e) => tracing::error!(
                    topic = %spec.topic, handler = %spec.id, kind = %spec.kind, error = %e,
                    "stored handler cannot be started; fix or delete it"
                ),
            }
        }
        let topics: Vec<String> = state.topics.keys().cloned().collect();
        for topic in topics {
            service.start_spec_workers(&mut state, &topic);
        }
        drop(state);
        service.start_silence_watcher();
        Ok(service)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The per-kind handler services.
    pub fn services(&self) -> &Arc<Services> {
        &self.inner.services
    }

    /// The database (the server keeps config overrides in it).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The limits on definitions, which the task manager and the API apply too.
    pub fn limits(&self) -> &Limits {
        &self.inner.config.limits
    }

    /// Delivery counters per (topic, handler, kind).
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// What the outbox holds (all zero when delivery is not durable).
    pub fn outbox_stats(&self) -> OutboxStats {
        self.inner
            .outbox
            .as_ref()
            .map(|o| o.stats())
            .unwrap_or_default()
    }
}
