//! Handler specs: building one (kind, options, match, retry) into a handler, and defining,
//! replacing, deleting and reading them.

use std::collections::BTreeMap;
use std::sync::Arc;

use klaxon_core::Handler;
use klaxon_tick::MatchExpr;
use serde_json::Value;

use super::{AlertService, Collector, State};
use crate::internal::{self, INTERNAL_KINDS};
use crate::{EngineError, HandlerSpec, RetryPolicy, SpecError};

/// A handler spec with what it built: the handler, its compiled match and its retry policy.
#[derive(Debug)]
pub(super) struct BuiltSpec {
    pub(super) spec: HandlerSpec,
    pub(super) handler: Arc<dyn Handler>,
    pub(super) matcher: Option<MatchExpr>,
    pub(super) retry: RetryPolicy,
}

impl AlertService {
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
        if let Some(why) = klaxon_core::naming::retired(kind) {
            return EngineError::RetiredKind {
                kind: kind.to_owned(),
                why,
            };
        }
        EngineError::UnknownKind {
            kind: kind.to_owned(),
            known: self.kinds(),
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
            .map_err(EngineError::InvalidOptions)
    }

    /// Checks a spec and builds what its worker needs.
    pub(super) fn build_spec(&self, spec: &HandlerSpec) -> Result<BuiltSpec, EngineError> {
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
            Some(MatchExpr::parse_with(&spec.match_, &options).map_err(EngineError::InvalidMatch)?)
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
            Some(overrides) => self
                .inner
                .config
                .retry
                .with(overrides)
                .map_err(SpecError::Retry)?,
            None => self.inner.config.retry,
        };
        Ok(BuiltSpec {
            spec: spec.clone(),
            handler,
            matcher,
            retry,
        })
    }

    /// Checks a spec as [`AlertService::define`] would, without storing it.
    pub fn check(&self, spec: &HandlerSpec) -> Result<(), EngineError> {
        self.build_spec(spec).map(|_| ())
    }

    /// Defines a new handler spec: validated (names, kind, options, match), stored, and
    /// attached to its topic (created if absent). Returns the spec as stored.
    pub fn define(&self, spec: HandlerSpec) -> Result<HandlerSpec, EngineError> {
        let built = self.build_spec(&spec)?;
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
        self.insert_spec(&mut state, built);
        tracing::info!(topic = %spec.topic, handler = %spec.id, kind = %spec.kind, "handler defined");
        Ok(spec)
    }

    fn insert_spec(&self, state: &mut State, built: BuiltSpec) {
        let topic = built.spec.topic.clone();
        state
            .specs
            .entry(topic.clone())
            .or_default()
            .insert(built.spec.id.clone(), built);
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
        // Built without the lock, so that a kind slow to make its handler never holds up a
        // collect; hence the second look below.
        drop(state);
        let built = self.build_spec(&spec)?;
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
            t.spec_workers.remove(id);
        }
        self.insert_spec(&mut state, built);
        tracing::info!(topic, handler = %spec.id, replaced = id, kind = %spec.kind, "handler replaced");
        Ok(spec)
    }

    /// Deletes handler `id` of `topic`, aborting its worker and removing its events from the
    /// outbox; deleting an unknown handler is not an error.
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
            .and_then(|t| t.spec_workers.remove(id));
        drop(state);
        drop(worker);
        if let Some(outbox) = &self.inner.outbox {
            // Its undelivered events have nowhere to go.
            outbox.delete(topic, Some(id))?;
        }
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
            .map(|built| built.spec.clone())
    }

    /// The handler specs of `topic` whose ID `id_filter` accepts, sorted by ID.
    pub fn list(&self, topic: &str, id_filter: impl Fn(&str) -> bool) -> Vec<HandlerSpec> {
        let state = self.lock();
        state
            .specs
            .get(topic)
            .map(|s| {
                s.values()
                    .filter(|built| id_filter(&built.spec.id))
                    .map(|built| built.spec.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}
