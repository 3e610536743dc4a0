//! Stream tasks: defined from TICKscript, stored, enabled and disabled, fed with points.
//!
//! A task compiles into a [`klaxon_pipeline::Task`]; its alert nodes' inline handlers are made by
//! their handler kinds at definition time (so a bad `.exec(...)` is refused then) and attached to
//! the anonymous topic `main:<task>:<node>`. Points reach every enabled task whose dbrps match
//! (a task without dbrps sees every database).
//!
//! A script is compiled when its task is defined, changed or loaded, never when it is read:
//! each task keeps the [`shape::TaskShape`] that reads show (dbrps, alert nodes, edges).
//! [`define`] holds define, update, load and delete; [`feed`] the points and wall-clock ticks;
//! [`stats`] the counters; [`record`] the types of the API.

pub(crate) mod batch;
mod define;
mod error;
mod feed;
mod influxdb;
mod post;
mod record;
mod replay;
mod shape;
mod sideload;
mod stats;
mod templates;
mod vars;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use klaxon_core::{AlertResult, Registry};
use klaxon_pipeline::{ServerInfo, Task};

pub use error::TaskError;
pub use post::Poster;
pub use record::{Dbrp, TaskChange, TaskInfo, TaskRecord, TaskStatus};
pub use replay::{
    MAX_REPLAY_ALERTS, ReplayData, ReplayOptions, ReplayOutcome, ReplayProgress, replay_topic,
};
pub use stats::{ExecutionStats, NodeStats, TaskStats};
pub use templates::{TemplateError, TemplateRecord};
pub use vars::{TaskTemplate, VarsError, declared_vars_json, decode_vars, var_json, vars_json};

use crate::{AlertService, Store};
use shape::TaskShape;
use stats::{NodeEvents, TaskCounters, Throughput};

/// A defined task: its record, what reads show of its script, and whether it runs.
struct TaskSlot {
    record: TaskRecord,
    shape: TaskShape,
    running: Option<Arc<RunningTask>>,
    /// Why it is not running although enabled, if it failed to start.
    start_error: String,
    counters: Arc<TaskCounters>,
}

/// A task that runs. Its anonymous topics sit outside the lock, so stopping the task never waits
/// for a write that is feeding it (which may be waiting for queue room).
struct RunningTask {
    /// The anonymous topics its inline handlers were attached to.
    anonymous_topics: Vec<String>,
    pipeline: Mutex<Pipeline>,
    /// The pipeline's node IDs and message counters, read without its lock.
    node_ids: Vec<String>,
    counters: Arc<klaxon_pipeline::NodeCounters>,
    /// Point errors and alert events by node, since the task started.
    events: NodeEvents,
    throughput: Throughput,
    /// The write buffers of its `|influxDBOut()` nodes.
    writers: influxdb::TaskWriters,
    /// A batch task's queries: their statistics, last error and schedules.
    batch: batch::BatchQueries,
}

impl RunningTask {
    fn pipeline(&self) -> MutexGuard<'_, Pipeline> {
        self.pipeline.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What feeding a running task needs: its compiled nodes and the dbrps it reads.
struct Pipeline {
    task: Task,
    dbrps: Vec<Dbrp>,
}

/// The task manager: defines, stores, runs and feeds tasks. Cheap to clone.
#[derive(Clone)]
pub struct TaskManager {
    inner: Arc<Inner>,
}

struct Inner {
    alerts: AlertService,
    store: Store,
    registry: Registry,
    server: ServerInfo,
    /// The `[[influxdb]]` clusters tasks read from and write to.
    influxdb: klaxon_influxdb::Clusters,
    /// Sends the requests of `|httpPost()` nodes, once the server has given it one.
    poster: std::sync::OnceLock<Arc<dyn Poster>>,
    slots: RwLock<BTreeMap<String, TaskSlot>>,
    /// Held by define, update and delete for their whole check-store-start sequence: two
    /// concurrent defines of one ID (or one past `[limits] max-tasks`) must not both pass the
    /// checks. Writes and ticks never take it.
    changes: Mutex<()>,
    /// The stream recordings under way, which see every write; `tapping` says whether there
    /// are any without taking the lock on each write.
    taps: RwLock<Vec<Arc<crate::recordings::StreamTap>>>,
    tapping: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for TaskManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskManager").finish_non_exhaustive()
    }
}

/// The store namespace of task records.
const NAMESPACE: &str = "tasks";

/// Task IDs: letters, digits, `-`, `_` and `.`, as Kapacitor allows.
pub fn is_valid_task_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The anonymous topic of an alert node: `main:<task>:<node>`.
pub fn anonymous_topic(task: &str, node: &str) -> String {
    format!("main:{task}:{node}")
}

impl TaskManager {
    /// Loads the stored tasks and starts the enabled ones. A task that no longer compiles (a
    /// handler kind removed from the server...) stays listed, not running, with its error.
    pub fn open(
        alerts: AlertService,
        store: Store,
        registry: Registry,
        server: ServerInfo,
    ) -> Result<TaskManager, TaskError> {
        Self::open_with(
            alerts,
            store,
            registry,
            server,
            klaxon_influxdb::Clusters::default(),
        )
    }

    /// [`TaskManager::open`] with the `[[influxdb]]` clusters that `|influxDBOut()` nodes and
    /// batch queries use.
    pub fn open_with(
        alerts: AlertService,
        store: Store,
        registry: Registry,
        server: ServerInfo,
        influxdb: klaxon_influxdb::Clusters,
    ) -> Result<TaskManager, TaskError> {
        let manager = TaskManager {
            inner: Arc::new(Inner {
                alerts,
                store,
                registry,
                server,
                influxdb,
                poster: std::sync::OnceLock::new(),
                slots: RwLock::new(BTreeMap::new()),
                changes: Mutex::new(()),
                taps: RwLock::default(),
                tapping: Default::default(),
            }),
        };
        let records = manager.inner.store.records(NAMESPACE)?;
        for (key, value) in records {
            let record: TaskRecord = match serde_json::from_value(value) {
                Ok(record) => record,
                Err(e) => {
                    tracing::error!(task = %key, error = %e, "stored task cannot be read; skipped");
                    continue;
                }
            };
            let slot = manager.load(record);
            manager.write_slots().insert(slot.record.id.clone(), slot);
        }
        manager.spawn_ticker();
        Ok(manager)
    }

    /// Gives the task manager the [`Poster`] that sends the requests of `|httpPost()` nodes (the
    /// server's HTTP client); until then, and if never given, each post fails with status 0,
    /// logged. Given once: a second poster is refused and returned.
    pub fn set_poster(&self, poster: Arc<dyn Poster>) -> Result<(), Arc<dyn Poster>> {
        self.inner.poster.set(poster)
    }

    /// The [`Poster`] given, or one that cannot post.
    fn poster(&self) -> &dyn Poster {
        match self.inner.poster.get() {
            Some(poster) => &**poster,
            None => &post::Unconnected,
        }
    }

    fn changing(&self) -> MutexGuard<'_, ()> {
        self.inner.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_slots(&self) -> RwLockWriteGuard<'_, BTreeMap<String, TaskSlot>> {
        self.inner.slots.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_slots(&self) -> RwLockReadGuard<'_, BTreeMap<String, TaskSlot>> {
        self.inner.slots.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The `[[influxdb]]` clusters.
    pub(crate) fn influxdb(&self) -> &klaxon_influxdb::Clusters {
        &self.inner.influxdb
    }

    /// Starts recording the live writes that task `task` reads into `tap`'s file.
    pub(crate) fn add_tap(&self, tap: Arc<crate::recordings::StreamTap>) {
        let mut taps = self.inner.taps.write().unwrap_or_else(|e| e.into_inner());
        taps.push(tap);
        self.inner.tapping.store(true, Ordering::Relaxed);
    }

    /// Stops feeding `tap`.
    pub(crate) fn remove_tap(&self, tap: &Arc<crate::recordings::StreamTap>) {
        let mut taps = self.inner.taps.write().unwrap_or_else(|e| e.into_inner());
        taps.retain(|t| !Arc::ptr_eq(t, tap));
        self.inner
            .tapping
            .store(!taps.is_empty(), Ordering::Relaxed);
    }

    /// Gives the points of a live write to the stream recordings under way.
    fn record_taps(&self, points: &[klaxon_pipeline::Point]) {
        if !self.inner.tapping.load(Ordering::Relaxed) {
            return;
        }
        let taps = self.inner.taps.read().unwrap_or_else(|e| e.into_inner());
        for tap in taps.iter() {
            tap.record(points);
        }
    }

    /// The dbrps task `id` reads (empty: every database) and the measurements of its
    /// `|from()` nodes (an empty one: every measurement).
    pub(crate) fn stream_source(&self, id: &str) -> Result<(Vec<Dbrp>, Vec<String>), TaskError> {
        self.read_slots()
            .get(id)
            .map(|s| (s.shape.dbrps.clone(), s.shape.measurements.clone()))
            .ok_or_else(|| TaskError::NotFound(id.to_owned()))
    }

    /// The limits on definitions, the alert service's.
    pub fn limits(&self) -> &crate::Limits {
        self.inner.alerts.limits()
    }

    /// One task.
    pub fn get(&self, id: &str) -> Option<TaskInfo> {
        self.read_slots().get(id).map(info)
    }

    /// Every task whose ID passes `filter`, sorted by ID.
    pub fn list(&self, filter: impl Fn(&str) -> bool) -> Vec<TaskInfo> {
        self.read_slots()
            .values()
            .filter(|s| filter(&s.record.id))
            .map(info)
            .collect()
    }

    /// A page of [`TaskManager::list`]: after skipping `skip` tasks whose ID passes `filter`
    /// and comes after `after`, the next (at most) `n` of them. Only the tasks of the page are
    /// copied, so that a page of a long list costs its own size.
    pub fn list_page(
        &self,
        filter: impl Fn(&str) -> bool,
        after: Option<&str>,
        skip: usize,
        n: usize,
    ) -> Vec<TaskInfo> {
        use std::ops::Bound;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.read_slots()
            .range::<str, _>((start, Bound::Unbounded))
            .filter(|(id, _)| filter(id))
            .skip(skip)
            .take(n)
            .map(|(_, slot)| info(slot))
            .collect()
    }

    /// The number of tasks, and of those running.
    pub fn counts(&self) -> (usize, usize) {
        let slots = self.read_slots();
        (
            slots.len(),
            slots.values().filter(|s| s.running.is_some()).count(),
        )
    }

    /// The latest output of the task's `|httpOut(name)` node (Kapacitor's
    /// `GET /kapacitor/v1/tasks/<id>/<name>`): `Ok(None)` when the task has no such node or is
    /// not running, as Kapacitor serves the endpoint only while the task runs.
    pub fn http_output(&self, id: &str, name: &str) -> Result<Option<AlertResult>, TaskError> {
        let running = self
            .read_slots()
            .get(id)
            .ok_or_else(|| TaskError::NotFound(id.to_owned()))?
            .running
            .clone();
        Ok(running.and_then(|running| running.pipeline().task.http_output(name)))
    }
}

fn info(slot: &TaskSlot) -> TaskInfo {
    TaskInfo {
        record: slot.record.clone(),
        dbrps: slot.shape.dbrps.clone(),
        executing: slot.running.is_some(),
        error: match &slot.running {
            Some(running) if slot.start_error.is_empty() => running.batch.error(),
            _ => slot.start_error.clone(),
        },
        point_errors: slot.counters.errors.load(Ordering::Relaxed),
        edges: slot.shape.edges.clone(),
        stats: slot
            .running
            .as_ref()
            .map(|r| r.execution_stats(&slot.shape.alert_nodes, &slot.shape.edges)),
    }
}

/// Counts TICKscript compiles on this thread, so that tests can prove that reads compile
/// nothing and that a define builds its pipeline (and inline handlers) once.
#[cfg(test)]
pub(crate) mod compile_count {
    use std::cell::Cell;

    thread_local! {
        /// [`super::TaskShape::of`] calls: scripts read for their shape.
        pub(crate) static SCRIPTS: Cell<usize> = const { Cell::new(0) };
        /// Pipelines compiled with their inline handlers built.
        pub(crate) static PIPELINES: Cell<usize> = const { Cell::new(0) };
    }

    /// (scripts, pipelines) compiled on this thread so far.
    pub(crate) fn get() -> (usize, usize) {
        (SCRIPTS.with(Cell::get), PIPELINES.with(Cell::get))
    }
}
