//! Topics: what the topics API reads (level, collected count, event states), deleting and
//! closing them, and the anonymous topics `main:<task>:<node>` that carry a task's inline
//! handlers.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::{EventState, Handler, Level, Timestamp};

use super::history::History;
use super::kept::Kept;
use super::{AlertService, State};
use crate::delivery::Worker;
use crate::{EngineError, SpecError, is_valid_topic};

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

/// What an alert node restores a group from: the last level of its event and when it was
/// recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastState {
    /// The level.
    pub level: Level,
    /// The time of the point that produced it.
    pub time: Timestamp,
}

/// A handler a task built from an alert node's inline property (`.exec(...)`), to attach to
/// the node's anonymous topic (`main:<task>:<node>`); not visible in the handlers API.
/// `klaxon_pipeline::InlineHandler` is the property as written (kind and options); this is the
/// handler it made.
///
/// ```
/// # use std::sync::Arc;
/// # #[derive(Debug)] struct Nop;
/// # #[klaxon_core::async_trait] impl klaxon_core::Handler for Nop {
/// #     async fn handle(&self, _: &klaxon_core::Event) -> Result<(), klaxon_core::HandlerError> { Ok(()) }
/// # }
/// let handler = klaxon_engine::TaskHandler::new("exec0", "exec", Arc::new(Nop));
/// assert_eq!(handler.label, "exec0");
/// ```
#[derive(Debug, Clone)]
pub struct TaskHandler {
    /// A name unique within the topic, such as `exec0`, used in logs and counters.
    pub label: String,
    /// The handler kind, for logs and counters.
    pub kind: String,
    /// The handler, as [`AlertService::make_handler`] made it.
    pub handler: Arc<dyn Handler>,
}

impl TaskHandler {
    /// A task's handler.
    pub fn new(
        label: impl Into<String>,
        kind: impl Into<String>,
        handler: Arc<dyn Handler>,
    ) -> Self {
        TaskHandler {
            label: label.into(),
            kind: kind.into(),
            handler,
        }
    }
}

/// A topic in memory: its event states and the workers of its handlers.
#[derive(Debug, Default)]
pub(super) struct Topic {
    pub(super) collected: u64,
    /// The last state of each event ID (a boxed str: a topic may hold a million).
    pub(super) events: BTreeMap<Box<str>, Kept>,
    /// Workers of the topic's handler specs, by handler ID.
    pub(super) spec_workers: BTreeMap<String, Worker>,
    /// Workers of a task's inline handlers (an anonymous topic's).
    pub(super) task_workers: Vec<Worker>,
    /// The recent level changes of its alerts.
    pub(super) history: History,
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

    /// Every worker of the topic: its specs' in ID order, then its task's.
    pub(super) fn workers(&self) -> impl Iterator<Item = &Worker> {
        self.spec_workers.values().chain(self.task_workers.iter())
    }
}

impl AlertService {
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
        let kept: Vec<(String, Kept)> = {
            let state = self.lock();
            let t = state
                .topics
                .get(topic)
                .ok_or_else(|| EngineError::UnknownTopic(topic.to_owned()))?;
            t.events
                .iter()
                .filter(|(_, s)| s.level >= min_level)
                .map(|(id, s)| (id.to_string(), s.clone()))
                .collect()
        };
        Ok(self.whole_states(topic, kept))
    }

    /// A page of [`AlertService::events`]: the states at `min_level` or above among the (at most)
    /// `scan` events whose IDs come after `after`, and the ID to start the next page after
    /// (`None` at the end). A reader of a large topic holds neither the lock nor a copy of all
    /// its events for long; a page reflects the topic as it was when the page was read.
    pub fn events_page(
        &self,
        topic: &str,
        min_level: Level,
        after: Option<&str>,
        scan: usize,
    ) -> Result<(Vec<EventState>, Option<String>), EngineError> {
        use std::ops::Bound;
        let (page, next) = {
            let state = self.lock();
            let t = state
                .topics
                .get(topic)
                .ok_or_else(|| EngineError::UnknownTopic(topic.to_owned()))?;
            let start = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut page = Vec::new();
            let mut last = None;
            for (id, s) in t
                .events
                .range::<str, _>((start, Bound::Unbounded))
                .take(scan)
            {
                if s.level >= min_level {
                    page.push((id.to_string(), s.clone()));
                }
                last = Some(id);
            }
            let more = last.is_some_and(|last| {
                t.events
                    .range::<str, _>((Bound::Excluded(&**last), Bound::Unbounded))
                    .next()
                    .is_some()
            });
            (page, last.filter(|_| more).map(|id| id.to_string()))
        };
        Ok((self.whole_states(topic, page), next))
    }

    /// The state of event `id` in `topic`.
    pub fn event(&self, topic: &str, id: &str) -> Result<EventState, EngineError> {
        let kept = self
            .lock()
            .topics
            .get(topic)
            .and_then(|t| t.events.get(id))
            .cloned()
            .ok_or_else(|| EngineError::UnknownEvent {
                topic: topic.to_owned(),
                event: id.to_owned(),
            })?;
        let mut whole = self.whole_states(topic, vec![(id.to_owned(), kept)]);
        Ok(whole.pop().expect("one state in, one out"))
    }

    /// The whole state of each `(id, kept)` of `topic`: memory's when it holds the text, else
    /// `klaxon.db`'s (read in one transaction, without the lock). A state removed from disk
    /// meanwhile (it recovered) is read from memory again.
    pub(super) fn whole_states(&self, topic: &str, kept: Vec<(String, Kept)>) -> Vec<EventState> {
        let missing: Vec<&str> = kept
            .iter()
            .filter(|(_, k)| !k.has_text())
            .map(|(id, _)| id.as_str())
            .collect();
        let mut stored = if missing.is_empty() {
            Vec::new()
        } else {
            self.inner
                .store
                .states_of(topic, &missing)
                .unwrap_or_else(|e| {
                    tracing::error!(topic, error = %e, "cannot read stored event states");
                    vec![None; missing.len()]
                })
        }
        .into_iter();
        kept.into_iter()
            .map(|(id, k)| {
                if let Some(whole) = k.whole(&id) {
                    return whole;
                }
                match stored.next().flatten() {
                    Some(whole) => whole,
                    None => self.current_or_bare(topic, &id, &k),
                }
            })
            .collect()
    }

    /// Memory's state of `id` when it holds the text now, else `kept` without its text.
    fn current_or_bare(&self, topic: &str, id: &str, kept: &Kept) -> EventState {
        self.lock()
            .topics
            .get(topic)
            .and_then(|t| t.events.get(id))
            .and_then(|k| k.whole(id))
            .unwrap_or_else(|| kept.bare(id))
    }

    /// How many event states of `topic` hold their message and details in memory.
    #[cfg(test)]
    pub(crate) fn texts_in_memory(&self, topic: &str) -> usize {
        self.lock()
            .topics
            .get(topic)
            .map_or(0, |t| t.events.values().filter(|k| k.has_text()).count())
    }

    /// The last level of event `id` in `topic` and the time it was recorded: from memory when
    /// the topic is open, else from the database (non-OK states only). An alert node restores
    /// its groups from it.
    pub fn stored_state(&self, topic: &str, id: &str) -> Option<LastState> {
        if let Some(t) = self.lock().topics.get(topic) {
            return t.events.get(id).map(|k| LastState {
                level: k.level,
                time: k.time,
            });
        }
        if !self.inner.config.persist_topics {
            return None;
        }
        let stored = self.inner.store.state(topic, id).unwrap_or_else(|e| {
            tracing::error!(topic, event = id, error = %e, "cannot read the stored event state");
            None
        })?;
        Some(LastState {
            level: stored.level,
            time: stored.time,
        })
    }

    /// Deletes a topic: its states, history and outbox entries in memory and on disk, and its
    /// workers (aborted at once, queued events lost). Its handler specs stay: a topic that has some is opened again at
    /// once, empty, with new workers, so that it stays listed with its handlers (Kapacitor
    /// orphaned them, issue 1939). Deleting an unknown topic is not an error.
    pub fn delete_topic(&self, id: &str) -> Result<(), EngineError> {
        let mut state = self.lock();
        let removed = state.topics.remove(id);
        self.inner.store.delete_states(id)?;
        self.inner.store.delete_history(id)?;
        if let Some(outbox) = &self.inner.outbox {
            outbox.delete(id, None)?;
        }
        if state.specs.get(id).is_some_and(|specs| !specs.is_empty()) {
            self.ensure_topic(&mut state, id);
        }
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
        handlers: Vec<TaskHandler>,
    ) -> Result<(), EngineError> {
        if !is_valid_topic(topic) {
            return Err(SpecError::AnonymousTopic(topic.to_owned()).into());
        }
        let workers: Vec<Worker> = handlers
            .into_iter()
            .map(|h| {
                self.spawn_worker(
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
        let old = std::mem::replace(&mut t.task_workers, workers);
        drop(state);
        drop(old);
        Ok(())
    }

    /// The topic `id`, created if absent (with its stored states and its specs' workers).
    pub(super) fn ensure_topic<'s>(&self, state: &'s mut State, id: &str) -> &'s mut Topic {
        if !state.topics.contains_key(id) {
            let mut topic = Topic::default();
            if self.inner.config.persist_topics {
                match self.inner.store.topic_state_marks(id) {
                    Ok(events) => {
                        topic.events = events
                            .into_iter()
                            .map(|e| (Kept::stored(&e), e.id.into_boxed_str()))
                            .map(|(kept, id)| (id, kept))
                            .collect();
                    }
                    Err(e) => {
                        tracing::error!(topic = id, error = %e, "cannot restore the topic's states")
                    }
                }
                match self.inner.store.history(id) {
                    Ok(entries) => {
                        topic.history = History::restored(entries, self.history_bounds())
                    }
                    Err(e) => {
                        tracing::error!(topic = id, error = %e, "cannot restore the topic's history")
                    }
                }
            }
            state.topics.insert(id.to_owned(), topic);
            self.start_spec_workers(state, id);
        }
        state.topics.get_mut(id).expect("inserted above")
    }
}
