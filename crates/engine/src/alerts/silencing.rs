//! Silences in the alert service: defining, listing and expiring them, the check on the
//! collect path, and the watcher that delivers, once, the alerts still firing when a silence
//! ends.
//!
//! The check costs the collect path one atomic load while no silence is pending or active and
//! no alert waits for one to end; otherwise one short lock and the matchers of the silences.
//! The watcher sleeps until the next start, end or removal of a silence, or until one is added
//! or expired.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use klaxon_core::{Event, Level, Timestamp};
use tokio::sync::Notify;

use super::{AlertService, Inner};
use crate::delivery::Outlet;
use crate::silences::Compiled;
use crate::{Silence, SilenceError, SilenceSpec, SilenceState};

/// The longest the watcher sleeps without looking: it also notices a dropped service.
const WATCH_AT_MOST: Duration = Duration::from_secs(60);

/// The silences of one alert service and the alerts they hold back.
#[derive(Debug, Default)]
pub(super) struct SilenceRegistry {
    /// Whether any silence is pending or active, or any alert waits for a silence to end; the
    /// collect path looks no further while it is false.
    armed: AtomicBool,
    state: Mutex<Registry>,
    /// Wakes the watcher: a silence was added or expired.
    changed: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Every silence, expired ones too until their retention passes, by ID.
    silences: BTreeMap<String, Compiled>,
    /// The last silenced event of each (topic, alert ID), with the level the handlers last
    /// saw, to deliver when no silence holds it back any more.
    held: BTreeMap<String, HashMap<String, Held>>,
    /// Events kept from the handlers, per topic, since the process started.
    silenced: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct Held {
    event: Event,
    handlers_saw: Level,
}

impl Registry {
    fn silenced_now(&self, event: &Event, now: Timestamp) -> bool {
        self.silences
            .values()
            .any(|c| c.silence.state(now) == SilenceState::Active && c.matches(event))
    }

    fn should_arm(&self, now: Timestamp) -> bool {
        !self.held.is_empty()
            || self
                .silences
                .values()
                .any(|c| c.silence.state(now) != SilenceState::Expired)
    }
}

impl SilenceRegistry {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rearm(&self, registry: &Registry, now: Timestamp) {
        self.armed
            .store(registry.should_arm(now), Ordering::Release);
    }

    /// Whether `event` (its previous level set) is silenced now; remembers it for delivery at
    /// the silence's end when it is. Called on the collect path, under the service's lock.
    pub(super) fn check(&self, event: &Event) -> bool {
        if !self.armed.load(Ordering::Acquire) {
            return false;
        }
        let now = Timestamp::now();
        let mut registry = self.lock();
        let silenced = registry.silenced_now(event, now);
        if silenced {
            *registry.silenced.entry(event.topic.clone()).or_default() += 1;
            let held = registry.held.entry(event.topic.clone()).or_default();
            match held.get_mut(&event.state.id) {
                Some(h) => h.event = event.clone(),
                None => {
                    held.insert(
                        event.state.id.clone(),
                        Held {
                            event: event.clone(),
                            handlers_saw: event.previous_level,
                        },
                    );
                }
            }
        } else if let Some(held) = registry.held.get_mut(&event.topic) {
            // The handlers get this one: what was held for the alert is out of date.
            if held.remove(&event.state.id).is_some() && held.is_empty() {
                registry.held.remove(&event.topic);
                self.rearm(&registry, now);
            }
        }
        silenced
    }

    fn insert(&self, compiled: Compiled) {
        let now = Timestamp::now();
        let mut registry = self.lock();
        registry
            .silences
            .insert(compiled.silence.id.clone(), compiled);
        self.rearm(&registry, now);
        drop(registry);
        self.changed.notify_one();
    }
}

impl AlertService {
    /// Defines a silence from `spec` (checked, with an ID made here) and stores it. From its
    /// start to its end, events that match it update their topic's state and history (marked
    /// silenced) but reach no handler. When it ends (or is expired), each alert it held back
    /// is delivered once to its topic's handlers if it is still firing, or if it recovered
    /// meanwhile from a level the handlers saw, with the level the handlers last saw as its
    /// previous level (so `changed()` matches select it).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use klaxon_core::GoDuration;
    /// use klaxon_engine::{AlertService, EngineConfig, Services, SilenceSpec, SilenceState, Store};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(&dir.path().join("klaxon.db")).unwrap();
    /// let alerts = AlertService::open(Arc::new(Services::default()), store, EngineConfig::default()).unwrap();
    /// let spec = SilenceSpec {
    ///     topic: "cpu".into(),
    ///     duration: Some(GoDuration::from_secs(7200)),
    ///     comment: "maintenance".into(),
    ///     ..SilenceSpec::default()
    /// };
    /// let silence = alerts.add_silence(spec).unwrap();
    /// assert_eq!(alerts.silence(&silence.id).unwrap().comment, "maintenance");
    /// let expired = alerts.expire_silence(&silence.id).unwrap();
    /// assert_eq!(expired.state(klaxon_core::Timestamp::now()), SilenceState::Expired);
    /// # }
    /// ```
    pub fn add_silence(&self, spec: SilenceSpec) -> Result<Silence, SilenceError> {
        let limit = self.inner.config.limits.pipeline.tick.regex_size_limit;
        let silence = spec.build(new_id(), Timestamp::now(), limit)?;
        let compiled = Compiled::new(silence.clone(), limit)?;
        self.inner.store.put_silence(&silence)?;
        self.inner.silences.insert(compiled);
        tracing::info!(
            silence = %silence.id, topic = %silence.topic, alert_id = %silence.alert_id,
            start = %silence.start, end = %silence.end, created_by = %silence.created_by,
            "silence added"
        );
        Ok(silence)
    }

    /// Every silence, expired ones too until `[alert] silence-retention` has passed, sorted by
    /// ID.
    pub fn silences(&self) -> Vec<Silence> {
        let registry = self.inner.silences.lock();
        registry
            .silences
            .values()
            .map(|c| c.silence.clone())
            .collect()
    }

    /// The silence `id`.
    pub fn silence(&self, id: &str) -> Result<Silence, SilenceError> {
        let registry = self.inner.silences.lock();
        registry
            .silences
            .get(id)
            .map(|c| c.silence.clone())
            .ok_or_else(|| SilenceError::NotFound(id.to_owned()))
    }

    /// Ends the silence `id` now (a pending one never starts); the alerts it held back are
    /// delivered as when it ends by itself. Expiring an expired silence changes nothing.
    pub fn expire_silence(&self, id: &str) -> Result<Silence, SilenceError> {
        let now = Timestamp::now();
        let mut silence = self.silence(id)?;
        if silence.state(now) == SilenceState::Expired {
            return Ok(silence);
        }
        silence.end = now;
        silence.start = silence.start.min(now);
        let limit = self.inner.config.limits.pipeline.tick.regex_size_limit;
        let compiled = Compiled::new(silence.clone(), limit)?;
        self.inner.store.put_silence(&silence)?;
        self.inner.silences.insert(compiled);
        tracing::info!(silence = %silence.id, "silence expired");
        Ok(silence)
    }

    /// How many silences are in each state now, in [`SilenceState::ALL`]'s order.
    pub fn silence_counts(&self) -> [(SilenceState, usize); 3] {
        let now = Timestamp::now();
        let registry = self.inner.silences.lock();
        SilenceState::ALL.map(|state| {
            let n = registry
                .silences
                .values()
                .filter(|c| c.silence.state(now) == state)
                .count();
            (state, n)
        })
    }

    /// Events that silences kept from the handlers, per topic, since the process started.
    pub fn silenced_events(&self) -> Vec<(String, u64)> {
        let registry = self.inner.silences.lock();
        registry
            .silenced
            .iter()
            .map(|(t, n)| (t.clone(), *n))
            .collect()
    }

    /// Loads the stored silences (at open).
    pub(super) fn restore_silences(&self) -> Result<(), crate::StoreError> {
        let limit = self.inner.config.limits.pipeline.tick.regex_size_limit;
        for silence in self.inner.store.silences()? {
            match Compiled::new(silence, limit) {
                Ok(compiled) => self.inner.silences.insert(compiled),
                Err(e) => {
                    tracing::error!(error = %e, "skipping a stored silence that no longer compiles")
                }
            }
        }
        Ok(())
    }

    /// Starts the watcher of silence starts, ends and removals.
    pub(super) fn start_silence_watcher(&self) {
        let weak = Arc::downgrade(&self.inner);
        let changed = Arc::clone(&self.inner.silences.changed);
        self.inner.runtime.spawn(watch(weak, changed));
    }

    /// One look at the silences: delivers what ended silences held back, removes the silences
    /// past their retention; returns when to look again.
    fn silence_tick(&self) -> Option<Timestamp> {
        let now = Timestamp::now();
        let retention =
            i64::try_from(self.inner.config.silence_retention.as_nanos()).unwrap_or(i64::MAX);
        let registry_handle = &self.inner.silences;
        let mut registry = registry_handle.lock();
        let mut released = Vec::new();
        let topics: Vec<String> = registry.held.keys().cloned().collect();
        for topic in topics {
            let Some(held) = registry.held.remove(&topic) else {
                continue;
            };
            let mut kept = HashMap::new();
            for (id, h) in held {
                if registry.silenced_now(&h.event, now) {
                    kept.insert(id, h);
                } else {
                    released.push(h);
                }
            }
            if !kept.is_empty() {
                registry.held.insert(topic, kept);
            }
        }
        let purge: Vec<String> = registry
            .silences
            .values()
            .filter(|c| c.silence.end.as_nanos().saturating_add(retention) <= now.as_nanos())
            .map(|c| c.silence.id.clone())
            .collect();
        for id in &purge {
            registry.silences.remove(id);
        }
        let next = registry
            .silences
            .values()
            .map(|c| match c.silence.state(now) {
                SilenceState::Pending => c.silence.start,
                SilenceState::Active => c.silence.end,
                SilenceState::Expired => {
                    Timestamp::from_nanos(c.silence.end.as_nanos().saturating_add(retention))
                }
            })
            .min();
        registry_handle.rearm(&registry, now);
        drop(registry);
        if !purge.is_empty() {
            match self.inner.store.delete_silences(&purge) {
                Ok(()) => tracing::info!(silences = purge.len(), "expired silences removed"),
                Err(e) => tracing::error!(error = %e, "cannot remove expired silences"),
            }
        }
        for held in released {
            self.deliver_held(held);
        }
        next
    }

    /// Delivers an alert a silence held back, once, if the handlers need it: it still fires,
    /// or it recovered from a level they saw.
    fn deliver_held(&self, held: Held) {
        let Held {
            mut event,
            handlers_saw,
        } = held;
        let (current, outlets): (_, Vec<Outlet>) = {
            let state = self.lock();
            let Some(topic) = state.topics.get(&event.topic) else {
                return;
            };
            let Some(current) = topic.events.get(event.state.id.as_str()) else {
                return;
            };
            let outlets = topic
                .workers()
                .map(crate::delivery::Worker::outlet)
                .collect();
            (current.clone(), outlets)
        };
        let id = std::mem::take(&mut event.state.id);
        event.state = self
            .whole_states(&event.topic, vec![(id, current)])
            .pop()
            .expect("one state in, one out");
        if event.state.level == Level::Ok && handlers_saw == Level::Ok {
            return;
        }
        event.previous_level = handlers_saw;
        tracing::info!(
            topic = %event.topic, event = %event.state.id, level = %event.state.level,
            handlers = outlets.len(), "silence ended; delivering the alert it held back"
        );
        let shared = crate::delivery::SharedEvent::new(event, &outlets);
        for outlet in &outlets {
            outlet.offer(&shared);
        }
    }
}

async fn watch(service: Weak<Inner>, changed: Arc<Notify>) {
    loop {
        let notified = changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let next = {
            let Some(inner) = service.upgrade() else {
                return;
            };
            if inner
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .shut_down
            {
                return;
            }
            AlertService { inner }.silence_tick()
        };
        let now = Timestamp::now().as_nanos();
        let wait = next.map_or(WATCH_AT_MOST, |t| {
            let nanos = u64::try_from(t.as_nanos().saturating_sub(now)).unwrap_or(0);
            // A little past the moment, so that the clock has passed it when we look.
            Duration::from_nanos(nanos).min(WATCH_AT_MOST) + Duration::from_millis(1)
        });
        let _ = tokio::time::timeout(wait, notified).await;
    }
}

/// A random silence ID in UUID form (version 4), as Alertmanager's.
fn new_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}
