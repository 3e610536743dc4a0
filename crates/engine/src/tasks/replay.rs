//! Replays: a task run on recorded data, apart from its live run.
//!
//! The replay compiles the task's script afresh, so its nodes start empty and its alert nodes
//! restore no stored state; the live task (running or not) is not touched. What the replay's
//! alert nodes emit is kept with the replay ([`ReplayOutcome::alerts`]) and counted in its
//! statistics. Only when the replay is asked to deliver do the events reach handlers: the task's
//! inline handlers on the replay's own anonymous topics (`<replay>:<task>:<node>`, as Kapacitor
//! names a replay's topics, kept until the replay is deleted) and the `.topic()` topics, as
//! Kapacitor's replays do. A replay never
//! writes to InfluxDB (`|influxDBOut()`) or back to the server (`|kapacitorLoopback()`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use klaxon_core::Timestamp;
use klaxon_pipeline::{Batch, Group, Point};

use super::feed::TaskContext;
use super::{ExecutionStats, Pipeline, RunningTask, TaskError, TaskManager};

/// At most this many of a replay's alert events are kept with it (the latest); the statistics
/// count them all.
pub const MAX_REPLAY_ALERTS: usize = 1000;

/// Points fed between two flushes of the alert events a delivering replay collects.
const FLUSH_EVERY: usize = 1000;

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The replay's ID, which names its anonymous topics.
    pub id: String,
    /// Wait between points as long as their times are apart (Kapacitor's `clock: real`),
    /// instead of going as fast as possible.
    pub real_clock: bool,
    /// Keep the recorded times; otherwise they are moved so that the first is the replay's
    /// start, and the rest keep their distance from it (Kapacitor's `recording-time`).
    pub recording_time: bool,
    /// Deliver the alert events through the task's handlers, as Kapacitor does.
    pub deliver: bool,
}

/// The data a replay feeds its task.
#[derive(Debug, Clone)]
pub enum ReplayData {
    /// Points, in time order, for a stream task.
    Points(Vec<Point>),
    /// Batches for a batch task: the index of the `|query()` node each goes to, in order.
    Batches(Vec<(usize, Batch, Group)>),
}

impl ReplayData {
    fn len(&self) -> usize {
        match self {
            ReplayData::Points(points) => points.len(),
            ReplayData::Batches(batches) => batches.len(),
        }
    }

    /// The time of the first point or batch.
    fn first_time(&self) -> Option<Timestamp> {
        match self {
            ReplayData::Points(points) => points.first().map(|p| p.time),
            ReplayData::Batches(batches) => batches
                .iter()
                .flat_map(|(_, b, _)| b.points.first().map(|p| p.time).into_iter())
                .chain(batches.first().map(|(_, b, _)| b.time))
                .min(),
        }
    }

    /// Moves every time by `shift` nanoseconds.
    fn shift(&mut self, shift: i64) {
        let moved = |t: Timestamp| Timestamp::from_nanos(t.as_nanos().saturating_add(shift));
        match self {
            ReplayData::Points(points) => points.iter_mut().for_each(|p| p.time = moved(p.time)),
            ReplayData::Batches(batches) => {
                for (_, batch, _) in batches {
                    batch.time = moved(batch.time);
                    batch.points.iter_mut().for_each(|p| p.time = moved(p.time));
                }
            }
        }
    }
}

/// Where a replay stands, read while it runs.
#[derive(Debug, Default)]
pub struct ReplayProgress {
    done: AtomicU64,
    total: AtomicU64,
    /// Set to stop the replay early (a deleted replay, a server shutting down).
    cancel: AtomicBool,
}

impl ReplayProgress {
    /// The fraction fed so far, 0 to 1.
    pub fn fraction(&self) -> f64 {
        let total = self.total.load(Ordering::Relaxed);
        if total == 0 {
            return 0.0;
        }
        self.done.load(Ordering::Relaxed) as f64 / total as f64
    }

    /// Asks the replay to stop at its next point.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// What a finished replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplayOutcome {
    /// The task's node statistics over the replay (Kapacitor's replay `stats`).
    pub stats: ExecutionStats,
    /// The alert events the task emitted, in Kapacitor's alert JSON (the latest
    /// [`MAX_REPLAY_ALERTS`]).
    pub alerts: Vec<serde_json::Value>,
    /// How many alert events it emitted in all.
    pub alerts_emitted: u64,
    /// Points or batches fed to it.
    pub fed: u64,
    /// The anonymous topics a delivering replay opened. They stay, with their handlers, so
    /// that the deliveries queued are made; [`TaskManager::delete_replay_topics`] removes
    /// them with the replay.
    pub topics: Vec<String>,
}

/// What the feeding context keeps of a replay's alert events.
#[derive(Debug)]
pub(super) struct ReplaySink {
    pub(super) id: String,
    pub(super) deliver: bool,
    alerts: Mutex<std::collections::VecDeque<serde_json::Value>>,
    emitted: AtomicU64,
}

impl ReplaySink {
    /// Keeps `event` (its alert JSON), dropping the oldest past [`MAX_REPLAY_ALERTS`].
    pub(super) fn keep(&self, event: &klaxon_core::Event) {
        self.emitted.fetch_add(1, Ordering::Relaxed);
        let json = serde_json::to_value(event.alert_data()).unwrap_or_default();
        let mut alerts = self.alerts.lock().unwrap_or_else(|e| e.into_inner());
        if alerts.len() == MAX_REPLAY_ALERTS {
            alerts.pop_front();
        }
        alerts.push_back(json);
    }
}

/// A replay's anonymous topic: `<replay>:<task>:<node>`.
pub fn replay_topic(replay: &str, task: &str, node: &str) -> String {
    format!("{replay}:{task}:{node}")
}

impl TaskManager {
    /// Runs task `task` on `data`, apart from its live run, and returns what it did. Blocks
    /// until the data is fed (with `real_clock`, as long as the data's times span): call it
    /// off the async workers. A data set of the wrong kind for the task (points for a batch
    /// task) is refused.
    pub fn replay(
        &self,
        task: &str,
        mut data: ReplayData,
        options: &ReplayOptions,
        progress: &ReplayProgress,
    ) -> Result<ReplayOutcome, TaskError> {
        let (record, shape) = self
            .read_slots()
            .get(task)
            .map(|s| (s.record.clone(), s.shape.clone()))
            .ok_or_else(|| TaskError::NotFound(task.to_owned()))?;
        let compiled = self.compile(&record)?;
        let is_batch = compiled.task.is_batch();
        match (&data, is_batch) {
            (ReplayData::Points(_), true) => {
                return Err(TaskError::WrongData(format!(
                    "task {task:?} is a batch task and the recording holds a stream; replay a \
                     batch recording into it"
                )));
            }
            (ReplayData::Batches(_), false) => {
                return Err(TaskError::WrongData(format!(
                    "task {task:?} is a stream task and the recording holds batches; replay a \
                     stream recording into it"
                )));
            }
            _ => {}
        }
        if !options.recording_time
            && let Some(first) = data.first_time()
        {
            data.shift(Timestamp::now().as_nanos().saturating_sub(first.as_nanos()));
        }
        progress.total.store(data.len() as u64, Ordering::Relaxed);

        // Delivering: the inline handlers on the replay's own anonymous topics.
        let mut topics = Vec::new();
        if options.deliver {
            for (topic, handlers) in compiled.handlers {
                let node = topic.rsplit(':').next().unwrap_or_default().to_owned();
                let topic = replay_topic(&options.id, task, &node);
                self.inner
                    .alerts
                    .register_anonymous(&topic, handlers)
                    .map_err(|e| TaskError::AnonymousTopic(Box::new(e)))?;
                topics.push(topic);
            }
        }
        let running = RunningTask {
            batch: Default::default(),
            writers: Default::default(),
            anonymous_topics: Vec::new(),
            node_ids: compiled.task.node_ids().to_vec(),
            counters: compiled.task.counters(),
            events: Default::default(),
            throughput: Default::default(),
            pipeline: Mutex::new(Pipeline {
                task: compiled.task,
                dbrps: compiled.dbrps,
            }),
        };
        let sink = ReplaySink {
            id: options.id.clone(),
            deliver: options.deliver,
            alerts: Mutex::default(),
            emitted: AtomicU64::new(0),
        };
        let counters = Arc::default();
        tracing::info!(task, replay = %options.id, items = data.len(), "replay started");
        let fed = self.feed_replay(task, &running, &counters, &sink, data, options, progress);
        if progress.cancelled() {
            tracing::info!(task, replay = %options.id, fed, "replay stopped before its end");
        } else {
            tracing::info!(task, replay = %options.id, fed, "replay finished");
        }
        let alerts = sink
            .alerts
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into();
        Ok(ReplayOutcome {
            stats: running.execution_stats(&shape.alert_nodes, &shape.edges),
            alerts,
            alerts_emitted: sink.emitted.load(Ordering::Relaxed),
            fed,
            topics,
        })
    }

    /// Removes the anonymous topics a replay opened, with their states and what they still
    /// had to deliver.
    pub fn delete_replay_topics(&self, topics: &[String]) {
        for topic in topics {
            if let Err(e) = self.inner.alerts.delete_topic(topic) {
                tracing::warn!(topic = %topic, error = %e, "a replay's topic cannot be removed");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn feed_replay(
        &self,
        task_id: &str,
        running: &RunningTask,
        counters: &super::TaskCounters,
        sink: &ReplaySink,
        data: ReplayData,
        options: &ReplayOptions,
        progress: &ReplayProgress,
    ) -> u64 {
        let started = Instant::now();
        let mut first: Option<Timestamp> = None;
        // With the real clock, each item waits until as much time has passed since the start
        // as lies between its time and the first item's.
        let wait = |time: Timestamp, first: &mut Option<Timestamp>| {
            if !options.real_clock {
                return;
            }
            let first = *first.get_or_insert(time);
            let offset = Duration::from_nanos(
                time.as_nanos()
                    .saturating_sub(first.as_nanos())
                    .max(0)
                    .unsigned_abs(),
            );
            while started.elapsed() < offset && !progress.cancelled() {
                std::thread::sleep((offset - started.elapsed()).min(Duration::from_millis(100)));
            }
        };
        let mut fed = 0u64;
        let mut batch = crate::Batch::default();
        let mut loopback = Vec::new();
        let mut pipeline = running.pipeline();
        let Pipeline { task, dbrps } = &mut *pipeline;
        let mut ctx = TaskContext {
            alerts: &self.inner.alerts,
            poster: self.poster(),
            task: task_id,
            counters,
            events: &running.events,
            batch: &mut batch,
            writers: &running.writers,
            loopback: &mut loopback,
            replay: Some(sink),
        };
        match data {
            ReplayData::Points(points) => {
                for point in points {
                    if progress.cancelled() {
                        break;
                    }
                    let wanted = dbrps.is_empty()
                        || dbrps
                            .iter()
                            .any(|d| d.db == *point.database && d.rp == *point.retention_policy);
                    wait(point.time, &mut first);
                    if wanted {
                        counters.points.fetch_add(1, Ordering::Relaxed);
                        task.process_owned(point, &mut ctx);
                    }
                    fed += 1;
                    progress.done.store(fed, Ordering::Relaxed);
                    if fed.is_multiple_of(FLUSH_EVERY as u64) {
                        ctx.flush();
                    }
                }
            }
            ReplayData::Batches(batches) => {
                for (index, points, group) in batches {
                    if progress.cancelled() {
                        break;
                    }
                    wait(points.time, &mut first);
                    counters
                        .points
                        .fetch_add(points.points.len() as u64, Ordering::Relaxed);
                    task.process_batch(index, points, &group, &mut ctx);
                    fed += 1;
                    progress.done.store(fed, Ordering::Relaxed);
                    ctx.flush();
                }
            }
        }
        ctx.flush();
        fed
    }
}
