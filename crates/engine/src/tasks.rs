//! Stream tasks: defined from TICKscript, stored, enabled and disabled, fed with points.
//!
//! A task compiles into a [`klaxon_pipeline::Task`]; its alert nodes' inline handlers are made by
//! their handler kinds at definition time (so a bad `.exec(...)` is refused then) and attached to
//! the anonymous topic `main:<task>:<node>`. Points reach every enabled task whose dbrps match
//! (a task without dbrps sees every database).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use klaxon_core::{AlertResult, Level, Registry, Timestamp};
use klaxon_pipeline::{AlertEmission, Context, DefineError, Point, ServerInfo, Task};
use serde::{Deserialize, Serialize};

use crate::{AlertService, Batch, InlineHandler, Store};

/// A database and retention policy a task reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dbrp {
    /// The database.
    pub db: String,
    /// The retention policy.
    pub rp: String,
}

/// Whether a task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Defined but not running.
    #[default]
    Disabled,
    /// Running.
    Enabled,
}

/// A task as stored: what the tasks API shows, less the run-time state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// The task ID.
    pub id: String,
    /// The TICKscript.
    pub script: String,
    /// The dbrps given with the task (empty: from `dbrp` statements, or every database).
    pub dbrps: Vec<Dbrp>,
    /// Enabled or disabled.
    pub status: TaskStatus,
    /// When it was defined.
    pub created: Timestamp,
    /// When it last changed.
    pub modified: Timestamp,
    /// When it was last enabled.
    pub last_enabled: Option<Timestamp>,
}

/// A task and its run-time state, for the API.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    /// The stored task.
    pub record: TaskRecord,
    /// The dbrps the task reads: those given with it, or those of its `dbrp` statements (empty:
    /// every database).
    pub dbrps: Vec<Dbrp>,
    /// Whether it is running now.
    pub executing: bool,
    /// Why it is not running although enabled, if it failed to start.
    pub error: String,
    /// Points dropped by a node with an error (a missing field...).
    pub point_errors: u64,
    /// Node IDs and their parents, for the DOT graph.
    pub edges: Vec<(String, String)>,
}

/// A task that cannot be defined or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// The TICKscript (or a handler in it) is invalid; the message has line and column.
    #[error("invalid TICKscript: {0}")]
    Invalid(String),
    /// The request itself is wrong (dbrps twice, bad ID...).
    #[error("{0}")]
    BadRequest(String),
    /// No task with that ID.
    #[error("no task exists with ID {0:?}")]
    NotFound(String),
    /// The store failed.
    #[error("{0}")]
    Store(String),
    /// A limit on definitions was reached.
    #[error(transparent)]
    Limit(#[from] crate::LimitError),
}

/// What changes in a task (PATCH or a redefinition).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskChange {
    /// A new script.
    pub script: Option<String>,
    /// New dbrps.
    pub dbrps: Option<Vec<Dbrp>>,
    /// A new status.
    pub status: Option<TaskStatus>,
}

/// How often the wall-clock nodes are given the time: well within any sensible deadman or
/// stats interval, cheap for tasks without such nodes (one lock each).
const TICK: std::time::Duration = std::time::Duration::from_millis(50);

struct Slot {
    record: TaskRecord,
    running: Option<Arc<Live>>,
    error: String,
    counters: Arc<TaskCounters>,
}

/// A compiled task with its inline handlers (by anonymous topic) and effective dbrps.
struct Compiled {
    task: Task,
    handlers: Vec<(String, Vec<InlineHandler>)>,
    dbrps: Vec<Dbrp>,
}

/// A running task. Its anonymous topics sit outside the lock, so stopping the task never waits
/// for a write that is feeding it (which may be waiting for queue room).
struct Live {
    anonymous: Vec<String>,
    running: Mutex<Running>,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Running {
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
    slots: RwLock<BTreeMap<String, Slot>>,
    /// Held by define, update and delete for their whole check-store-start sequence: two
    /// concurrent defines of one ID (or one past `[limits] max-tasks`) must not both pass the
    /// checks. Writes and ticks never take it.
    changes: Mutex<()>,
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

impl TaskManager {
    /// Loads the stored tasks and starts the enabled ones. A task that no longer compiles (a
    /// handler kind removed from the server...) stays listed, not running, with its error.
    pub fn open(
        alerts: AlertService,
        store: Store,
        registry: Registry,
        server: ServerInfo,
    ) -> Result<TaskManager, TaskError> {
        let manager = TaskManager {
            inner: Arc::new(Inner {
                alerts,
                store,
                registry,
                server,
                slots: RwLock::new(BTreeMap::new()),
                changes: Mutex::new(()),
            }),
        };
        let records = manager
            .inner
            .store
            .records(NAMESPACE)
            .map_err(|e| TaskError::Store(e.to_string()))?;
        for (key, value) in records {
            let record: TaskRecord = match serde_json::from_value(value) {
                Ok(record) => record,
                Err(e) => {
                    tracing::error!(task = %key, error = %e, "stored task cannot be read; skipped");
                    continue;
                }
            };
            let mut slot = Slot {
                record,
                running: None,
                error: String::new(),
                counters: Arc::default(),
            };
            if slot.record.status == TaskStatus::Disabled {
                // The alert service restored every stored topic; a disabled task's anonymous
                // topics stay closed until it is enabled (their states stay on disk).
                for node in alert_node_ids(&slot.record.script) {
                    manager
                        .inner
                        .alerts
                        .close_topic(&anonymous_topic(&slot.record.id, &node));
                }
            }
            if slot.record.status == TaskStatus::Enabled {
                match manager.start(&slot.record) {
                    Ok(running) => slot.running = Some(running),
                    Err(e) => {
                        tracing::error!(task = %slot.record.id, error = %e, "stored task cannot start");
                        slot.error = e.to_string();
                    }
                }
            }
            manager.write_slots().insert(slot.record.id.clone(), slot);
        }
        manager.spawn_ticker();
        Ok(manager)
    }

    /// Drives the wall-clock nodes (`stats`, `deadman`) of running tasks: a tokio task that
    /// calls [`TaskManager::tick`] every [`TICK`] until the manager is dropped. Without a tokio
    /// runtime (unit tests of the engine) nothing ticks unless the caller does.
    fn spawn_ticker(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                interval.tick().await;
                let Some(inner) = inner.upgrade() else { break };
                // Off the async workers: collecting may block under `[alert] queue-full = block`.
                let ticked = tokio::task::spawn_blocking(move || {
                    TaskManager { inner }.tick(Timestamp::now());
                });
                if ticked.await.is_err() {
                    tracing::error!("a task's wall-clock tick panicked");
                }
            }
        });
    }

    /// Lets every running task with wall-clock nodes emit what is due at `now`.
    pub fn tick(&self, now: Timestamp) {
        let mut batch = Batch::default();
        for (id, running, counters) in self.running() {
            let mut running = running.lock();
            if !running.task.ticks() {
                continue;
            }
            let mut ctx = TaskContext {
                alerts: &self.inner.alerts,
                task: &id,
                counters: &counters,
                batch: &mut batch,
            };
            running.task.tick(now, &mut ctx);
        }
        self.inner.alerts.flush(batch);
    }

    /// The running tasks with their counters, so they can be fed without the slots' lock.
    fn running(&self) -> Vec<(String, Arc<Live>, Arc<TaskCounters>)> {
        self.read_slots()
            .values()
            .filter_map(|s| {
                s.running
                    .clone()
                    .map(|r| (s.record.id.clone(), r, Arc::clone(&s.counters)))
            })
            .collect()
    }

    /// Every task's counters, sorted by task ID.
    pub fn stats(&self) -> Vec<TaskStats> {
        self.read_slots()
            .values()
            .map(|s| TaskStats {
                id: s.record.id.clone(),
                executing: s.running.is_some(),
                points: s.counters.points.load(Ordering::Relaxed),
                errors: s.counters.errors.load(Ordering::Relaxed),
                alerts: Level::ALL
                    .map(|l| s.counters.alerts[level_index(l)].load(Ordering::Relaxed)),
            })
            .collect()
    }

    fn changing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.inner.changes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_slots(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Slot>> {
        self.inner.slots.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_slots(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Slot>> {
        self.inner.slots.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Compiles a task and makes its inline handlers, without running it.
    fn compile(&self, record: &TaskRecord) -> Result<Compiled, TaskError> {
        let invalid = |e: DefineError| TaskError::Invalid(e.to_string());
        let task = Task::compile_with(
            &record.id,
            &record.script,
            &self.inner.registry,
            &self.inner.server,
            &self.inner.alerts.limits().pipeline,
        )
        .map_err(invalid)?;
        let implicit: Vec<Dbrp> = task
            .dbrps()
            .iter()
            .map(|d| Dbrp {
                db: d.db.clone(),
                rp: d.rp.clone(),
            })
            .collect();
        if !implicit.is_empty() && !record.dbrps.is_empty() {
            return Err(TaskError::BadRequest(
                "cannot specify dbrp in both implicitly and explicitly; use the dbrp statement or the dbrps field, not both"
                    .to_owned(),
            ));
        }
        let dbrps = if implicit.is_empty() {
            record.dbrps.clone()
        } else {
            implicit
        };
        let mut handlers = Vec::new();
        for node in task.alert_nodes() {
            let topic = anonymous_topic(&record.id, node.id());
            let mut inline = Vec::new();
            for (i, h) in node.handlers().iter().enumerate() {
                let handler = self
                    .inner
                    .alerts
                    .make_handler(h.kind, &h.options)
                    .map_err(|e| TaskError::Invalid(format!("{}: {e}", h.span)))?;
                inline.push(InlineHandler::new(
                    format!("{}{i}", h.kind),
                    h.kind,
                    handler,
                ));
            }
            if !inline.is_empty() {
                handlers.push((topic, inline));
            }
        }
        Ok(Compiled {
            task,
            handlers,
            dbrps,
        })
    }

    fn start(&self, record: &TaskRecord) -> Result<Arc<Live>, TaskError> {
        let Compiled {
            task,
            handlers,
            dbrps,
        } = self.compile(record)?;
        let mut anonymous = Vec::new();
        for (topic, inline) in handlers {
            self.inner
                .alerts
                .register_anonymous(&topic, inline)
                .map_err(|e| TaskError::Invalid(e.to_string()))?;
            anonymous.push(topic);
        }
        tracing::info!(task = %record.id, "task started");
        Ok(Arc::new(Live {
            anonymous,
            running: Mutex::new(Running { task, dbrps }),
        }))
    }

    fn stop(&self, running: &Live) {
        for topic in &running.anonymous {
            self.inner.alerts.close_topic(topic);
        }
    }

    /// The limits on definitions, the alert service's.
    pub fn limits(&self) -> &crate::Limits {
        self.inner.alerts.limits()
    }

    /// Defines a new task (`POST /kapacitor/v1/tasks`).
    pub fn define(
        &self,
        id: &str,
        script: &str,
        dbrps: Vec<Dbrp>,
        status: TaskStatus,
    ) -> Result<TaskInfo, TaskError> {
        let _changing = self.changing();
        if !is_valid_task_id(id) {
            return Err(TaskError::BadRequest(format!(
                "task ID {id:?} must contain only letters, numbers, '-', '_' and '.'"
            )));
        }
        if self.read_slots().contains_key(id) {
            return Err(TaskError::BadRequest(format!(
                "task {id:?} already exists; change it with PATCH"
            )));
        }
        let existing = self.read_slots().len();
        self.inner.alerts.limits().check_tasks(existing)?;
        let now = Timestamp::now();
        let record = TaskRecord {
            id: id.to_owned(),
            script: script.to_owned(),
            dbrps,
            status,
            created: now,
            modified: now,
            last_enabled: (status == TaskStatus::Enabled).then_some(now),
        };
        // Compile first so nothing invalid is stored.
        self.compile(&record)?;
        self.save(&record)?;
        let running = match status {
            TaskStatus::Enabled => Some(self.start(&record)?),
            TaskStatus::Disabled => None,
        };
        self.write_slots().insert(
            id.to_owned(),
            Slot {
                record,
                running,
                error: String::new(),
                counters: Arc::default(),
            },
        );
        self.get(id)
            .ok_or_else(|| TaskError::NotFound(id.to_owned()))
    }

    /// Changes a task (`PATCH`): script, dbrps, status. A running task whose script or dbrps
    /// change is restarted.
    pub fn update(&self, id: &str, change: TaskChange) -> Result<TaskInfo, TaskError> {
        let _changing = self.changing();
        let mut record = self
            .read_slots()
            .get(id)
            .map(|s| s.record.clone())
            .ok_or_else(|| TaskError::NotFound(id.to_owned()))?;
        let now = Timestamp::now();
        if let Some(script) = change.script {
            record.script = script;
        }
        if let Some(dbrps) = change.dbrps {
            record.dbrps = dbrps;
        }
        if let Some(status) = change.status {
            if status == TaskStatus::Enabled && record.status != TaskStatus::Enabled {
                record.last_enabled = Some(now);
            }
            record.status = status;
        }
        record.modified = now;
        self.compile(&record)?;
        self.save(&record)?;
        let old = self
            .write_slots()
            .get_mut(id)
            .and_then(|s| s.running.take());
        if let Some(old) = &old {
            self.stop(old);
        }
        let running = match record.status {
            TaskStatus::Enabled => Some(self.start(&record)?),
            TaskStatus::Disabled => None,
        };
        if let Some(slot) = self.write_slots().get_mut(id) {
            slot.record = record;
            slot.running = running;
            slot.error.clear();
        }
        self.get(id)
            .ok_or_else(|| TaskError::NotFound(id.to_owned()))
    }

    /// Deletes a task, its anonymous topics and their stored states. Unknown IDs are fine.
    pub fn delete(&self, id: &str) -> Result<(), TaskError> {
        let _changing = self.changing();
        let slot = self.write_slots().remove(id);
        if let Some(slot) = slot {
            if let Some(running) = &slot.running {
                self.stop(running);
            }
            for node in alert_node_ids(&slot.record.script) {
                let _ = self.inner.alerts.delete_topic(&anonymous_topic(id, &node));
            }
        }
        self.inner
            .store
            .delete_record(NAMESPACE, id)
            .map_err(|e| TaskError::Store(e.to_string()))
    }

    fn save(&self, record: &TaskRecord) -> Result<(), TaskError> {
        let value = serde_json::to_value(record).map_err(|e| TaskError::Store(e.to_string()))?;
        self.inner
            .store
            .put_record(NAMESPACE, &record.id, &value)
            .map_err(|e| TaskError::Store(e.to_string()))
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
        Ok(running.and_then(|running| {
            let running = running.lock();
            running.task.http_output(name)
        }))
    }

    /// Feeds points to every running task whose dbrps match. Returns how many task-points were
    /// processed.
    ///
    /// The alert events of the whole body are stored in one transaction (one disk sync) and
    /// then queued, after every task has seen the points and released its lock.
    pub fn write(&self, points: &[Point]) -> u64 {
        let mut processed = 0;
        let mut batch = Batch::default();
        for (id, running, counters) in self.running() {
            let mut running = running.lock();
            let Running { task, dbrps } = &mut *running;
            let mut ctx = TaskContext {
                alerts: &self.inner.alerts,
                task: &id,
                counters: &counters,
                batch: &mut batch,
            };
            let before = processed;
            for point in points {
                let wanted = dbrps.is_empty()
                    || dbrps
                        .iter()
                        .any(|d| d.db == point.database && d.rp == point.retention_policy);
                if wanted {
                    task.process(point, &mut ctx);
                    processed += 1;
                }
            }
            counters
                .points
                .fetch_add(processed - before, Ordering::Relaxed);
        }
        self.inner.alerts.flush(batch);
        processed
    }
}

/// What one task has done since the process started (or since it was defined).
#[derive(Debug, Default)]
struct TaskCounters {
    points: AtomicU64,
    errors: AtomicU64,
    /// Alert events emitted, by level (see [`level_index`]).
    alerts: [AtomicU64; 4],
}

/// A task's counters, for `/metrics` and `/debug/vars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStats {
    /// The task ID.
    pub id: String,
    /// Whether it runs.
    pub executing: bool,
    /// Points that reached the task (after dbrp routing).
    pub points: u64,
    /// Points a node dropped with an error (a missing field...).
    pub errors: u64,
    /// Alert events its alert nodes emitted, by level in [`Level::ALL`]'s order (OK, INFO,
    /// WARNING, CRITICAL).
    pub alerts: [u64; 4],
}

fn level_index(level: Level) -> usize {
    Level::ALL.iter().position(|l| *l == level).unwrap_or(0)
}

/// Limits for reading back a stored script's node IDs and dbrps: it passed the limits in force
/// when it was defined, and a narrower limit since must not hide its topics from cleanup.
const STORED: klaxon_tick::Limits = klaxon_tick::Limits {
    max_depth: klaxon_tick::Limits::MAX_DEPTH,
    regex_size_limit: usize::MAX,
    max_script_size: usize::MAX,
};

/// The anonymous topic of an alert node: `main:<task>:<node>`.
pub fn anonymous_topic(task: &str, node: &str) -> String {
    format!("main:{task}:{node}")
}

/// The IDs of a script's alert and deadman nodes (`alert2`...), read without the handler registry so that
/// a task whose handler kind is gone can still be cleaned up.
fn alert_node_ids(script: &str) -> Vec<String> {
    klaxon_tick::compile_script_with(script, &STORED)
        .map(|p| {
            p.nodes
                .iter()
                // A deadman node is an alert node under its own ID (`deadman2`).
                .filter(|n| n.name == "alert" || n.name == "deadman")
                .map(klaxon_tick::Node::id)
                .collect()
        })
        .unwrap_or_default()
}

fn info(slot: &Slot) -> TaskInfo {
    let dbrps = if slot.record.dbrps.is_empty() {
        klaxon_tick::compile_script_with(&slot.record.script, &STORED)
            .map(|p| {
                p.dbrps
                    .into_iter()
                    .map(|d| Dbrp { db: d.db, rp: d.rp })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        slot.record.dbrps.clone()
    };
    TaskInfo {
        dbrps,
        record: slot.record.clone(),
        executing: slot.running.is_some(),
        error: slot.error.clone(),
        point_errors: slot.counters.errors.load(Ordering::Relaxed),
        edges: Vec::new(),
    }
}

struct TaskContext<'a> {
    alerts: &'a AlertService,
    task: &'a str,
    counters: &'a TaskCounters,
    batch: &'a mut Batch,
}

impl Context for TaskContext<'_> {
    fn emit(&mut self, emission: AlertEmission) {
        // Kapacitor collects into the anonymous topic first, then into `.topic()`.
        let AlertEmission {
            node,
            mut event,
            anonymous,
            topic,
        } = emission;
        self.counters.alerts[level_index(event.state.level)].fetch_add(1, Ordering::Relaxed);
        if anonymous {
            let mut inline = event.clone();
            inline.topic = anonymous_topic(self.task, &node);
            self.alerts.collect_into(self.batch, inline);
        }
        if let Some(topic) = topic {
            event.topic = topic;
            self.alerts.collect_into(self.batch, event);
        }
    }

    fn restore(
        &mut self,
        node: &str,
        topic: Option<&str>,
        event_id: &str,
    ) -> Option<(Level, Timestamp)> {
        let state = self
            .alerts
            .stored_state(&anonymous_topic(self.task, node), event_id)
            .or_else(|| topic.and_then(|t| self.alerts.stored_state(t, event_id)))?;
        Some((state.level, state.time))
    }

    fn point_error(&mut self, node: &str, message: String) {
        let n = self.counters.errors.fetch_add(1, Ordering::Relaxed) + 1;
        // Logged for the first errors and then every thousandth, so a broken task cannot flood
        // the log; the count is exact.
        if n <= 10 || n.is_multiple_of(1000) {
            tracing::warn!(task = self.task, node, errors = n, error = %message, "point dropped");
        }
    }
}
