//! [`AlertService`]: topics, handler specs, delivery and persistence behind one cheap handle.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use klaxon_core::{Event, EventState, Handler, Level};
use klaxon_tick::MatchExpr;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::RetryPolicy;
use crate::delivery::{Outlet, Shared, Target, Worker};
use crate::internal::{self, INTERNAL_KINDS};
use crate::{EngineError, HandlerSpec, Limits, Services, Stats, Store, is_valid_topic};

/// How the alert service behaves; the server fills it from `[alert]`.
///
/// ```
/// let config = klaxon_engine::EngineConfig::default();
/// assert_eq!(config.topic_buffer_length, 5000);
/// assert_eq!(config.queue_full, klaxon_engine::QueueFull::Drop);
/// assert_eq!(config.retry.attempts, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Capacity of each (topic, handler) queue. At least 1.
    pub topic_buffer_length: usize,
    /// What collecting into a full queue does.
    pub queue_full: QueueFull,
    /// Whether non-OK event states are written to the database and restored at start.
    pub persist_topics: bool,
    /// The longest one handler call may take before the engine gives up on it. Handler crates
    /// enforce their own, shorter, timeouts; this is the backstop for every kind.
    pub handler_timeout: Duration,
    /// The retry policy of handlers whose spec has no `retry` object (and the base that one
    /// overrides).
    pub retry: RetryPolicy,
    /// How many tasks and topic handlers may be defined, and how large their definitions may be.
    pub limits: Limits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            topic_buffer_length: 5000,
            queue_full: QueueFull::Drop,
            persist_topics: true,
            handler_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            limits: Limits::default(),
        }
    }
}

/// What happens to an event whose handler's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueFull {
    /// The event is dropped for that handler, counted and logged (Kapacitor's behaviour).
    #[default]
    Drop,
    /// The collector waits for room. Writers check [`AlertService::wait_for_room`] first, so a
    /// write that would wait too long is refused before any of it is processed.
    Block,
}

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

/// A topic as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// The topic ID.
    pub id: String,
    /// The highest level among the topic's current event states (`OK` when it has none).
    pub level: Level,
    /// Events collected since the process started.
    pub collected: u64,
}

/// Events recorded by [`AlertService::collect_into`] and not yet stored and queued; see
/// [`AlertService::flush`].
#[derive(Debug, Default)]
pub struct Batch {
    /// (topic, event ID) whose state must be written.
    touched: std::collections::BTreeSet<(String, String)>,
    /// Each event with the queues it goes to, in collection order.
    queued: Vec<(Vec<Outlet>, Event)>,
}

impl Batch {
    /// Every (queue, event) pair, in collection order.
    fn deliveries(&self) -> impl Iterator<Item = (&Outlet, &Event)> {
        self.queued
            .iter()
            .flat_map(|(outlets, event)| outlets.iter().map(move |o| (o, event)))
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

/// A handler attached by a task to its anonymous topic (`main:<task>:<node>`), not visible in
/// the handlers API.
///
/// ```
/// # use std::sync::Arc;
/// # #[derive(Debug)] struct Nop;
/// # #[klaxon_core::async_trait] impl klaxon_core::Handler for Nop {
/// #     async fn handle(&self, _: &klaxon_core::Event) -> Result<(), klaxon_core::HandlerError> { Ok(()) }
/// # }
/// let inline = klaxon_engine::InlineHandler::new("exec0", "exec", Arc::new(Nop));
/// assert_eq!(inline.label, "exec0");
/// ```
#[derive(Debug, Clone)]
pub struct InlineHandler {
    /// A name unique within the topic, such as `exec0`, used in logs and counters.
    pub label: String,
    /// The handler kind, for logs and counters.
    pub kind: String,
    /// The handler, as [`AlertService::make_handler`] made it.
    pub handler: Arc<dyn Handler>,
}

impl InlineHandler {
    /// An inline handler.
    pub fn new(
        label: impl Into<String>,
        kind: impl Into<String>,
        handler: Arc<dyn Handler>,
    ) -> Self {
        InlineHandler {
            label: label.into(),
            kind: kind.into(),
            handler,
        }
    }
}

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
/// use klaxon_engine::{AlertService, EngineConfig, InlineHandler, Services, Store};
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
/// alerts.register_anonymous(topic, vec![InlineHandler::new("exec0", "exec", Arc::new(Nop))]).unwrap();
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
    /// Set to true when the shutdown deadline passes; see [`Shared::abandon`].
    abandon: watch::Sender<bool>,
    /// Held while a batch's states are read from memory and committed, so that the last commit
    /// always carries the latest state of every event it touches.
    flush: Mutex<()>,
    room: Arc<Notify>,
}

#[derive(Debug, Default)]
struct State {
    topics: BTreeMap<String, Topic>,
    /// Handler specs by topic, then ID, with the handler each one made.
    specs: BTreeMap<String, BTreeMap<String, Defined>>,
    shut_down: bool,
}

#[derive(Debug)]
struct Defined {
    spec: HandlerSpec,
    handler: Arc<dyn Handler>,
    matcher: Option<MatchExpr>,
    retry: RetryPolicy,
}

#[derive(Debug, Default)]
struct Topic {
    collected: u64,
    events: BTreeMap<String, EventState>,
    /// Workers of the topic's handler specs, by handler ID.
    workers: BTreeMap<String, Worker>,
    /// Workers of a task's inline handlers.
    inline: Vec<Worker>,
}

impl Topic {
    fn level(&self) -> Level {
        self.events
            .values()
            .map(|s| s.level)
            .max()
            .unwrap_or(Level::Ok)
    }

    fn info(&self, id: &str) -> TopicInfo {
        TopicInfo {
            id: id.to_owned(),
            level: self.level(),
            collected: self.collected,
        }
    }
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
        let service = AlertService {
            inner: Arc::new(Inner {
                services,
                store,
                config,
                runtime,
                stats: Stats::default(),
                state: Mutex::new(State::default()),
                abandon: watch::Sender::new(false),
                flush: Mutex::new(()),
                room: Arc::new(Notify::new()),
            }),
        };
        let (specs, bad) = service.inner.store.handlers()?;
        for problem in bad {
            tracing::error!(error = %problem, "skipping a stored handler spec that does not decode");
        }
        let states = if service.inner.config.persist_topics {
            service.inner.store.states()?
        } else {
            BTreeMap::new()
        };
        let mut state = service.lock();
        for (topic, events) in states {
            let entry = state.topics.entry(topic).or_default();
            entry.events = events.into_iter().map(|e| (e.id.clone(), e)).collect();
        }
        for spec in specs {
            match service.build(&spec) {
                Ok(defined) => {
                    let (topic, id) = (spec.topic.clone(), spec.id.clone());
                    state
                        .specs
                        .entry(topic.clone())
                        .or_default()
                        .insert(id, defined);
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

    /// Every kind a handler spec may name: the services' kinds and the internal `aggregate`
    /// and `publish`, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.inner.services.kinds().collect();
        kinds.extend(INTERNAL_KINDS);
        kinds.sort_unstable();
        kinds
    }

    fn unknown_kind(&self, kind: &str) -> EngineError {
        if let Some(disabled) = self.inner.services.disabled(kind) {
            return EngineError::DisabledKind(disabled.clone());
        }
        EngineError::UnknownKind {
            kind: kind.to_owned(),
            known: self.kinds().join(", "),
        }
    }

    /// Makes a handler of a service kind from its options (JSON, decoded by the kind's own
    /// type), as a task's inline `.exec(...)` needs. Errors name the kind and option.
    pub fn make_handler(
        &self,
        kind: &str,
        options: &Value,
    ) -> Result<Arc<dyn Handler>, EngineError> {
        let service = self
            .inner
            .services
            .get(kind)
            .ok_or_else(|| self.unknown_kind(kind))?;
        service
            .handler(options)
            .map_err(|e| EngineError::InvalidOptions(e.to_string()))
    }

    fn build(&self, spec: &HandlerSpec) -> Result<Defined, EngineError> {
        spec.check_names()?;
        let limits = &self.inner.config.limits;
        // Also after a PATCH, whose body may be small while the spec it makes is not.
        limits.check_spec_size(serde_json::to_vec(spec).map_or(0, |json| json.len()))?;
        let matcher = if spec.match_.trim().is_empty() {
            None
        } else {
            let options = klaxon_tick::CompileOptions {
                limits: limits.pipeline.tick,
                ..klaxon_tick::CompileOptions::default()
            };
            Some(
                MatchExpr::parse_with(&spec.match_, &options)
                    .map_err(|e| EngineError::InvalidMatch(e.to_string()))?,
            )
        };
        let collector = Collector(Arc::downgrade(&self.inner));
        let handler = match internal::make(
            &spec.kind,
            &spec.options,
            &spec.topic,
            &collector,
            &self.inner.runtime,
        ) {
            Some(made) => made?,
            None => self.make_handler(&spec.kind, &spec.options)?,
        };
        let retry = match &spec.retry {
            Some(overrides) => self.inner.config.retry.with(overrides)?,
            None => self.inner.config.retry,
        };
        Ok(Defined {
            spec: spec.clone(),
            handler,
            matcher,
            retry,
        })
    }

    /// Checks a spec as [`AlertService::define`] would, without storing it.
    pub fn check(&self, spec: &HandlerSpec) -> Result<(), EngineError> {
        self.build(spec).map(|_| ())
    }

    fn worker(
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
            handler: label.to_owned(),
            kind: kind.to_owned(),
            handle: handler,
            matcher,
            timeout: self.inner.config.handler_timeout,
            retry,
        };
        let counters = self.inner.stats.counters(topic, label, kind);
        let shared = Shared {
            abandon: self.inner.abandon.subscribe(),
            room: Arc::clone(&self.inner.room),
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
    fn start_spec_workers(&self, state: &mut State, topic: &str) {
        let Some(specs) = state.specs.get(topic) else {
            return;
        };
        let mut new = Vec::new();
        if let Some(t) = state.topics.get(topic) {
            for (id, defined) in specs {
                if !t.workers.contains_key(id) {
                    new.push((
                        id.clone(),
                        self.worker(
                            topic,
                            id,
                            &defined.spec.kind,
                            Arc::clone(&defined.handler),
                            defined.matcher.clone(),
                            defined.retry,
                        ),
                    ));
                }
            }
        }
        if let Some(t) = state.topics.get_mut(topic) {
            t.workers.extend(new);
        }
    }

    /// The topic `id`, created if absent (with its stored states and its specs' workers).
    fn ensure_topic<'s>(&self, state: &'s mut State, id: &str) -> &'s mut Topic {
        if !state.topics.contains_key(id) {
            let mut topic = Topic::default();
            if self.inner.config.persist_topics {
                match self.inner.store.topic_states(id) {
                    Ok(events) => {
                        topic.events = events.into_iter().map(|e| (e.id.clone(), e)).collect();
                    }
                    Err(e) => {
                        tracing::error!(topic = id, error = %e, "cannot restore the topic's states")
                    }
                }
            }
            state.topics.insert(id.to_owned(), topic);
            self.start_spec_workers(state, id);
        }
        state.topics.get_mut(id).expect("inserted above")
    }

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
        if self.inner.config.queue_full == QueueFull::Drop {
            // Never waits in this mode.
            return self.collect(event);
        }
        let mut batch = Batch::default();
        let previous_level = self.collect_into(&mut batch, event);
        self.store_batch(&batch);
        let mut dropped = 0;
        for (outlet, event) in batch.deliveries() {
            dropped += usize::from(!outlet.offer_waiting(event).await);
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
        let Some((previous_level, event, outlets, needs_write)) = self.record(event) else {
            return Level::Ok;
        };
        if needs_write && self.inner.config.persist_topics {
            batch
                .touched
                .insert((event.topic.clone(), event.state.id.clone()));
        }
        if !outlets.is_empty() {
            batch.queued.push((outlets, event));
        }
        previous_level
    }

    /// Stores the states a batch touched, in one transaction, then queues its events in the
    /// order they were collected. Returns how many (event, handler) pairs were dropped.
    pub fn flush(&self, batch: Batch) -> usize {
        self.store_batch(&batch);
        let block = self.inner.config.queue_full == QueueFull::Block;
        batch
            .deliveries()
            .map(|(outlet, event)| {
                if block {
                    outlet.offer_blocking(event)
                } else {
                    outlet.offer(event)
                }
            })
            .filter(|queued| !queued)
            .count()
    }

    /// Commits the current state of every event the batch touched. The states are read from
    /// memory under the flush lock, so a batch that commits later never writes an older state
    /// over a newer one; topics closed or deleted meanwhile are skipped.
    fn store_batch(&self, batch: &Batch) {
        if batch.touched.is_empty() {
            return;
        }
        let _flushing = self.inner.flush.lock().unwrap_or_else(|e| e.into_inner());
        let states: Vec<(String, EventState)> = {
            let state = self.lock();
            batch
                .touched
                .iter()
                .filter_map(|(topic, id)| {
                    let current = state.topics.get(topic)?.events.get(id)?;
                    Some((topic.clone(), current.clone()))
                })
                .collect()
        };
        if let Err(e) = self
            .inner
            .store
            .put_states(states.iter().map(|(t, s)| (t.as_str(), s)))
        {
            tracing::error!(
                events = states.len(), error = %e,
                "cannot store event states; they stay in memory and are delivered"
            );
        }
    }

    /// The state-keeping half of a collect, under the lock: `None` once the service is shut
    /// down. Storing and queueing happen without the lock, so neither a disk sync nor a writer
    /// waiting for room holds up the API.
    fn record(&self, mut event: Event) -> Option<(Level, Event, Vec<Outlet>, bool)> {
        let mut state = self.lock();
        if state.shut_down {
            tracing::warn!(
                topic = %event.topic, event = %event.state.id,
                "event collected after shutdown began; not delivered"
            );
            return None;
        }
        let topic_id = event.topic.clone();
        let topic = self.ensure_topic(&mut state, &topic_id);
        let previous = topic
            .events
            .insert(event.state.id.clone(), event.state.clone())
            .map(|s| s.level);
        let previous_level = previous.unwrap_or(Level::Ok);
        event.previous_level = previous_level;
        topic.collected += 1;
        // An OK state is removed from disk; when memory had none (or OK) there is nothing there.
        let needs_write = event.state.level != Level::Ok || previous_level != Level::Ok;
        let outlets = topic
            .workers
            .values()
            .chain(topic.inline.iter())
            .map(Worker::outlet)
            .collect();
        Some((previous_level, event, outlets, needs_write))
    }

    /// Whether every handler queue has room for at least one more event.
    pub fn has_room(&self) -> bool {
        let state = self.lock();
        !state
            .topics
            .values()
            .flat_map(|t| t.workers.values().chain(t.inline.iter()))
            .any(Worker::is_full)
    }

    /// Waits until every handler queue has room, up to `patience`: `false` if one is still full
    /// then. Writers call it before processing a body under [`QueueFull::Block`], so that a body
    /// is either refused whole or processed whole.
    pub async fn wait_for_room(&self, patience: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let notified = self.inner.room.notified();
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
                t.workers
                    .values()
                    .chain(t.inline.iter())
                    .map(move |w| QueueDepth {
                        topic: topic.clone(),
                        handler: w.handler().to_owned(),
                        kind: w.kind().to_owned(),
                        depth: w.depth(),
                    })
            })
            .collect()
    }

    /// Defines a new handler spec: validated (names, kind, options, match), stored, and
    /// attached to its topic (created if absent). Returns the spec as stored.
    pub fn define(&self, spec: HandlerSpec) -> Result<HandlerSpec, EngineError> {
        let defined = self.build(&spec)?;
        let mut state = self.lock();
        if state
            .specs
            .get(&spec.topic)
            .is_some_and(|s| s.contains_key(&spec.id))
        {
            return Err(EngineError::DuplicateHandler(spec.id));
        }
        let existing = state.specs.values().map(BTreeMap::len).sum();
        self.inner.config.limits.check_topic_handlers(existing)?;
        self.inner.store.put_handler(&spec, None)?;
        self.insert_spec(&mut state, defined);
        tracing::info!(topic = %spec.topic, handler = %spec.id, kind = %spec.kind, "handler defined");
        Ok(spec)
    }

    fn insert_spec(&self, state: &mut State, defined: Defined) {
        let topic = defined.spec.topic.clone();
        state
            .specs
            .entry(topic.clone())
            .or_default()
            .insert(defined.spec.id.clone(), defined);
        if state.topics.contains_key(&topic) {
            self.start_spec_workers(state, &topic);
        } else {
            self.ensure_topic(state, &topic);
        }
    }

    /// Replaces handler `id` of `topic` with `spec` (whose ID may differ: a rename; its topic
    /// may not). The old worker is aborted at once, with whatever it had queued.
    pub fn replace(
        &self,
        topic: &str,
        id: &str,
        spec: HandlerSpec,
    ) -> Result<HandlerSpec, EngineError> {
        if spec.topic != topic {
            return Err(EngineError::TopicChange);
        }
        let mut state = self.lock();
        if !state.specs.get(topic).is_some_and(|s| s.contains_key(id)) {
            return Err(EngineError::UnknownHandler(id.to_owned()));
        }
        drop(state);
        let defined = self.build(&spec)?;
        state = self.lock();
        let specs = state.specs.entry(topic.to_owned()).or_default();
        if !specs.contains_key(id) {
            return Err(EngineError::UnknownHandler(id.to_owned()));
        }
        if spec.id != id && specs.contains_key(&spec.id) {
            return Err(EngineError::DuplicateHandler(spec.id));
        }
        self.inner.store.put_handler(&spec, Some((topic, id)))?;
        specs.remove(id);
        if let Some(t) = state.topics.get_mut(topic) {
            t.workers.remove(id);
        }
        self.insert_spec(&mut state, defined);
        tracing::info!(topic, handler = %spec.id, replaced = id, kind = %spec.kind, "handler replaced");
        Ok(spec)
    }

    /// Deletes handler `id` of `topic`, aborting its worker; deleting an unknown handler is
    /// not an error.
    pub fn delete(&self, topic: &str, id: &str) -> Result<(), EngineError> {
        let mut state = self.lock();
        self.inner.store.delete_handler(topic, id)?;
        let removed = state
            .specs
            .get_mut(topic)
            .and_then(|s| s.remove(id))
            .is_some();
        if state.specs.get(topic).is_some_and(BTreeMap::is_empty) {
            state.specs.remove(topic);
        }
        let worker = state
            .topics
            .get_mut(topic)
            .and_then(|t| t.workers.remove(id));
        drop(state);
        drop(worker);
        if removed {
            tracing::info!(topic, handler = id, "handler deleted");
        }
        Ok(())
    }

    /// Handler `id` of `topic`.
    pub fn get(&self, topic: &str, id: &str) -> Option<HandlerSpec> {
        let state = self.lock();
        state
            .specs
            .get(topic)
            .and_then(|s| s.get(id))
            .map(|d| d.spec.clone())
    }

    /// The handler specs of `topic` whose ID `id_filter` accepts, sorted by ID.
    pub fn list(&self, topic: &str, id_filter: impl Fn(&str) -> bool) -> Vec<HandlerSpec> {
        let state = self.lock();
        state
            .specs
            .get(topic)
            .map(|s| {
                s.values()
                    .filter(|d| id_filter(&d.spec.id))
                    .map(|d| d.spec.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The topics whose ID `filter` accepts and whose level is at least `min_level`, sorted by
    /// ID.
    pub fn topics(&self, filter: impl Fn(&str) -> bool, min_level: Level) -> Vec<TopicInfo> {
        let state = self.lock();
        state
            .topics
            .iter()
            .filter(|(id, _)| filter(id))
            .map(|(id, t)| t.info(id))
            .filter(|t| t.level >= min_level)
            .collect()
    }

    /// The topic `id`, if it is in memory.
    pub fn topic(&self, id: &str) -> Option<TopicInfo> {
        self.lock().topics.get(id).map(|t| t.info(id))
    }

    /// The event states of `topic` at `min_level` or above, sorted by event ID.
    pub fn events(&self, topic: &str, min_level: Level) -> Result<Vec<EventState>, EngineError> {
        let state = self.lock();
        let t = state
            .topics
            .get(topic)
            .ok_or_else(|| EngineError::UnknownTopic(topic.to_owned()))?;
        Ok(t.events
            .values()
            .filter(|s| s.level >= min_level)
            .cloned()
            .collect())
    }

    /// The state of event `id` in `topic`.
    pub fn event(&self, topic: &str, id: &str) -> Result<EventState, EngineError> {
        let state = self.lock();
        state
            .topics
            .get(topic)
            .and_then(|t| t.events.get(id))
            .cloned()
            .ok_or_else(|| EngineError::UnknownEvent {
                topic: topic.to_owned(),
                event: id.to_owned(),
            })
    }

    /// The last state of event `id` in `topic`: from memory when the topic is open, else from
    /// the database (non-OK states only). An alert node restores its groups from it.
    pub fn stored_state(&self, topic: &str, id: &str) -> Option<EventState> {
        if let Some(t) = self.lock().topics.get(topic) {
            return t.events.get(id).cloned();
        }
        if !self.inner.config.persist_topics {
            return None;
        }
        self.inner.store.state(topic, id).unwrap_or_else(|e| {
            tracing::error!(topic, event = id, error = %e, "cannot read the stored event state");
            None
        })
    }

    /// Deletes a topic: its states in memory and on disk, and its workers (aborted at once,
    /// queued events lost). Its handler specs stay and get new workers when the topic comes
    /// back. Deleting an unknown topic is not an error.
    pub fn delete_topic(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.lock();
        let removed = state.topics.remove(id);
        self.inner.store.delete_states(id)?;
        drop(state);
        drop(removed);
        tracing::info!(topic = id, "topic deleted");
        Ok(())
    }

    /// Closes a topic (a task was disabled): it leaves memory and its workers stop, while its
    /// stored states stay for [`AlertService::register_anonymous`] to restore.
    pub fn close_topic(&self, id: &str) {
        let removed = self.lock().topics.remove(id);
        drop(removed);
    }

    /// Attaches a task's inline handlers to its anonymous topic, replacing any it had, and
    /// creates the topic (restoring its stored states) if it is not open.
    pub fn register_anonymous(
        &self,
        topic: &str,
        handlers: Vec<InlineHandler>,
    ) -> Result<(), EngineError> {
        if !is_valid_topic(topic) {
            return Err(EngineError::InvalidSpec(format!(
                "topic {topic:?} must contain only letters, numbers, '-', '.', ':' and '_'"
            )));
        }
        let workers: Vec<Worker> = handlers
            .into_iter()
            .map(|h| {
                self.worker(
                    topic,
                    &h.label,
                    &h.kind,
                    h.handler,
                    None,
                    self.inner.config.retry,
                )
            })
            .collect();
        let mut state = self.lock();
        let t = self.ensure_topic(&mut state, topic);
        let old = std::mem::replace(&mut t.inline, workers);
        drop(state);
        drop(old);
        Ok(())
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
            .flat_map(|t| t.workers.into_values().chain(t.inline))
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
