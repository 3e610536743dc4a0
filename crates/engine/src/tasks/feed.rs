//! Feeding running tasks: the points of a write, and the wall-clock ticks of their `stats` and
//! `deadman` nodes. Their alert events are collected into one batch per write or tick.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use klaxon_core::{Level, Timestamp};
use klaxon_pipeline::{AlertEmission, Context, Point, PostRequest};

use super::replay::ReplaySink;
use super::stats::{NodeEvents, TaskCounters, level_index};
use super::{Pipeline, RunningTask, TaskManager, anonymous_topic};
use crate::{AlertService, Batch};

/// How often the wall-clock nodes are given the time: well within any sensible deadman or
/// stats interval, cheap for tasks without such nodes (one lock each).
const TICK: std::time::Duration = std::time::Duration::from_millis(50);

/// How many rounds of points written back by `|kapacitorLoopback()` one write may cause.
const MAX_LOOPBACK_DEPTH: usize = 16;

impl TaskManager {
    /// Drives the wall-clock nodes (`stats`, `deadman`) of running tasks: a tokio task that
    /// calls [`TaskManager::tick`] every [`TICK`] until the manager is dropped. Without a tokio
    /// runtime (unit tests of the engine) nothing ticks unless the caller does.
    pub(super) fn spawn_ticker(&self) {
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
        let mut loopback = Vec::new();
        for (id, running, counters) in self.running() {
            let mut pipeline = running.pipeline();
            if !pipeline.task.ticks() {
                continue;
            }
            let mut ctx = TaskContext {
                alerts: &self.inner.alerts,
                poster: self.poster(),
                task: &id,
                counters: &counters,
                events: &running.events,
                batch: &mut batch,
                writers: &running.writers,
                loopback: &mut loopback,
                replay: None,
            };
            pipeline.task.tick(now, &mut ctx);
        }
        self.inner.alerts.flush(batch);
        self.write_back(loopback, 1);
    }

    /// Pushes the batches that query node `index` of batch task `id` got through its nodes,
    /// if `running` is still the task's run.
    pub(super) fn feed_batches(
        &self,
        id: &str,
        running: &Arc<RunningTask>,
        index: usize,
        batches: Vec<(klaxon_pipeline::Batch, klaxon_pipeline::Group)>,
    ) {
        let counters = self.read_slots().get(id).and_then(|s| {
            let current = s.running.as_ref()?;
            Arc::ptr_eq(current, running).then(|| Arc::clone(&s.counters))
        });
        let Some(counters) = counters else { return };
        let mut batch = Batch::default();
        let mut loopback = Vec::new();
        {
            let mut pipeline = running.pipeline();
            let mut ctx = TaskContext {
                alerts: &self.inner.alerts,
                poster: self.poster(),
                task: id,
                counters: &counters,
                events: &running.events,
                batch: &mut batch,
                writers: &running.writers,
                loopback: &mut loopback,
                replay: None,
            };
            for (points, group) in batches {
                counters
                    .points
                    .fetch_add(points.points.len() as u64, Ordering::Relaxed);
                pipeline.task.process_batch(index, points, &group, &mut ctx);
            }
        }
        self.inner.alerts.flush(batch);
        self.write_back(loopback, 1);
    }

    /// Makes every running task's alert nodes forget their groups' states, so that each
    /// restores its state from its topic at its next point: after the alert service adopted
    /// states of another server ([`crate::AlertService::adopt`]).
    pub fn forget_alert_states(&self) {
        for (_, running, _) in self.running() {
            running.pipeline().task.forget_alert_states();
        }
    }

    /// The running tasks with their counters, so they can be fed without the slots' lock.
    fn running(&self) -> Vec<(String, Arc<RunningTask>, Arc<TaskCounters>)> {
        self.read_slots()
            .values()
            .filter_map(|s| {
                s.running
                    .clone()
                    .map(|r| (s.record.id.clone(), r, Arc::clone(&s.counters)))
            })
            .collect()
    }

    /// Feeds points to every running task whose dbrps match. Returns how many task-points were
    /// processed.
    ///
    /// The alert events of the whole body are stored in one transaction (one disk sync) and
    /// then queued, after every task has seen the points and released its lock.
    pub fn write(&self, points: &[Point]) -> u64 {
        self.write_owned(points.to_vec())
    }

    /// [`TaskManager::write`] of points the caller has no more use for: the last task that
    /// takes them gets them without a copy (with one task, no point is copied at all).
    pub fn write_owned(&self, points: Vec<Point>) -> u64 {
        self.write_at_depth(points, 0)
    }

    /// The points `|kapacitorLoopback()` nodes wrote while a write, tick or query went
    /// through, written as a write of their own once that is done (no task's lock held).
    /// Kapacitor refuses a task that writes back where it reads, but tasks can still feed each
    /// other in a circle: past [`MAX_LOOPBACK_DEPTH`] rounds the points are dropped and logged.
    fn write_back(&self, points: Vec<Point>, depth: usize) {
        if points.is_empty() {
            return;
        }
        if depth > MAX_LOOPBACK_DEPTH {
            tracing::error!(
                points = points.len(),
                rounds = depth,
                "points written back by |kapacitorLoopback() dropped: tasks write back to each other in a circle"
            );
            return;
        }
        self.write_at_depth(points, depth);
    }

    fn write_at_depth(&self, points: Vec<Point>, depth: usize) -> u64 {
        if depth == 0 {
            self.record_taps(&points);
        }
        let mut processed = 0;
        let mut batch = Batch::default();
        let mut loopback = Vec::new();
        let running = self.running();
        let last = running.len().saturating_sub(1);
        let mut points = Some(points);
        for (n, (id, running, counters)) in running.into_iter().enumerate() {
            let mut pipeline = running.pipeline();
            let Pipeline { task, dbrps } = &mut *pipeline;
            if task.is_batch() {
                continue;
            }
            let mut ctx = TaskContext {
                alerts: &self.inner.alerts,
                poster: self.poster(),
                task: &id,
                counters: &counters,
                events: &running.events,
                batch: &mut batch,
                writers: &running.writers,
                loopback: &mut loopback,
                replay: None,
            };
            let wanted = |point: &Point| {
                dbrps.is_empty()
                    || dbrps
                        .iter()
                        .any(|d| d.db == *point.database && d.rp == *point.retention_policy)
            };
            let before = processed;
            if n == last {
                for point in points.take().into_iter().flatten() {
                    if wanted(&point) {
                        task.process_owned(point, &mut ctx);
                        processed += 1;
                    }
                }
            } else {
                for point in points.iter().flatten() {
                    if wanted(point) {
                        task.process(point, &mut ctx);
                        processed += 1;
                    }
                }
            }
            counters
                .points
                .fetch_add(processed - before, Ordering::Relaxed);
        }
        self.inner.alerts.flush(batch);
        self.write_back(loopback, depth + 1);
        processed
    }
}

/// What a task's nodes see of the engine while they process a point or a tick.
pub(super) struct TaskContext<'a> {
    pub(super) alerts: &'a AlertService,
    pub(super) poster: &'a dyn super::Poster,
    pub(super) task: &'a str,
    pub(super) counters: &'a TaskCounters,
    pub(super) events: &'a NodeEvents,
    pub(super) batch: &'a mut Batch,
    pub(super) writers: &'a super::influxdb::TaskWriters,
    /// What `|kapacitorLoopback()` nodes write back, written once the feeding is done.
    pub(super) loopback: &'a mut Vec<Point>,
    /// Set when the task runs in a replay: its events are kept there, reach handlers only if
    /// the replay delivers, and restore no stored state; nothing is written out.
    pub(super) replay: Option<&'a ReplaySink>,
}

impl TaskContext<'_> {
    /// Stores and queues the alert events collected so far.
    pub(super) fn flush(&mut self) {
        let batch = std::mem::take(self.batch);
        self.alerts.flush(batch);
    }
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
        self.events.alert(&node, event.state.level);
        let mut anonymous_prefix = "main";
        if let Some(replay) = self.replay {
            replay.keep(&event);
            if !replay.deliver {
                return;
            }
            anonymous_prefix = &replay.id;
        }
        // For `klaxon watch`: log sessions see the task's events at debug level, one line per
        // topic the event goes to (one without a topic when it goes to none).
        let watched = |topic: Option<&str>| {
            tracing::debug!(
                task = self.task,
                node = %node,
                topic,
                event = %event.state.id,
                level = %event.state.level,
                text = %event.state.message,
                "alert event"
            );
        };
        if !anonymous && topic.is_none() {
            watched(None);
        }
        if anonymous {
            let mut inline = event.clone();
            inline.topic = format!("{anonymous_prefix}:{}:{node}", self.task);
            watched(Some(&inline.topic));
            self.alerts.collect_into(self.batch, inline);
        }
        if let Some(topic) = topic {
            watched(Some(&topic));
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
        // A replay starts from nothing, whatever the live task holds.
        if self.replay.is_some() {
            return None;
        }
        let state = self
            .alerts
            .stored_state(&anonymous_topic(self.task, node), event_id)
            .or_else(|| topic.and_then(|t| self.alerts.stored_state(t, event_id)))?;
        Some((state.level, state.time))
    }

    fn influxdb_write(&mut self, write: klaxon_pipeline::InfluxDbWrite) {
        if self.replay.is_none() {
            self.writers.enqueue(write);
        }
    }

    fn loopback(&mut self, _node: &str, point: Point) {
        if self.replay.is_none() {
            self.loopback.push(point);
        }
    }

    fn log(&mut self, node: &str, record: klaxon_pipeline::LogRecord) {
        use klaxon_pipeline::LogLevel;
        let (task, data, message) = (self.task, record.data, record.message);
        match record.level {
            LogLevel::Debug => tracing::debug!(task, node, data = %data, "{message}"),
            LogLevel::Info => tracing::info!(task, node, data = %data, "{message}"),
            LogLevel::Warn => tracing::warn!(task, node, data = %data, "{message}"),
            LogLevel::Error => tracing::error!(task, node, data = %data, "{message}"),
        }
    }

    fn post(&mut self, node: &str, request: PostRequest) -> u16 {
        // A replay that does not deliver posts nothing; 0 is "not sent", as a failed post.
        if self.replay.is_some_and(|r| !r.deliver) {
            return 0;
        }
        self.poster.post(self.task, node, &request)
    }

    fn series_dropped(&mut self, node: &str, group: &klaxon_pipeline::GroupId, max: usize) {
        let n = self.counters.series_dropped.fetch_add(1, Ordering::Relaxed) + 1;
        // The first drops and then every thousandth are logged; the count is exact.
        if n <= 10 || n.is_multiple_of(1000) {
            tracing::warn!(
                task = self.task,
                node,
                series = %group.0,
                dropped = n,
                "point of a new series dropped: the node holds [limits] max-series = {max} series"
            );
        }
    }

    fn point_error(&mut self, node: &str, message: String) {
        self.events.error(node);
        let n = self.counters.errors.fetch_add(1, Ordering::Relaxed) + 1;
        // Logged for the first errors and then every thousandth, so a broken task cannot flood
        // the log; the count is exact. A `.quiet()` node reports an empty message: counted only.
        if !message.is_empty() && (n <= 10 || n.is_multiple_of(1000)) {
            tracing::warn!(task = self.task, node, errors = n, error = %message, "point dropped");
        }
    }
}
