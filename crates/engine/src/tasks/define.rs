//! Defining, changing, loading and deleting tasks: each compiles the script and builds its
//! inline handlers once, stores the record, then starts or stops the task.

use std::sync::{Arc, Mutex};

use klaxon_core::Timestamp;
use klaxon_pipeline::Task;

use super::{
    Dbrp, NAMESPACE, Pipeline, RunningTask, TaskChange, TaskError, TaskInfo, TaskManager,
    TaskRecord, TaskShape, TaskSlot, TaskStatus, anonymous_topic, is_valid_task_id,
};
use crate::TaskHandler;

/// A task compiled and its inline handlers built, ready to start.
pub(super) struct Compiled {
    pub(super) task: Task,
    /// The inline handlers by anonymous topic (alert nodes without any are left out).
    pub(super) handlers: Vec<(String, Vec<TaskHandler>)>,
    /// The dbrps it reads: those given with it, or those of its `dbrp` statements.
    pub(super) dbrps: Vec<Dbrp>,
}

impl TaskManager {
    /// Compiles a task and makes its inline handlers, without running it.
    pub(super) fn compile(&self, record: &TaskRecord) -> Result<Compiled, TaskError> {
        #[cfg(test)]
        super::compile_count::PIPELINES.with(|n| n.set(n.get() + 1));
        let script = self.script_with_vars(record)?;
        let mut task = Task::compile_with(
            &record.id,
            &script,
            &self.inner.registry,
            &self.inner.server,
            &self.inner.alerts.limits().pipeline,
        )?;
        // `|httpPost().endpoint()`: the endpoints a linked service offers (Kapacitor's
        // `[[httppost]]`), as configured when the task starts.
        if task.needs_post_endpoints() {
            let offered = self
                .inner
                .alerts
                .services()
                .iter()
                .find_map(|s| s.http_post_endpoints());
            task.resolve_post_endpoints(offered.as_deref())?;
        }
        // `|sideload()`: its source's files as they are when the task starts.
        task.load_sideload(super::sideload::load)?;
        // A batch query's cluster must be configured, checked before the task is stored.
        for (index, query) in task.queries() {
            if let Err(source) = self.inner.influxdb.get(query.cluster()) {
                return Err(TaskError::InfluxDb {
                    node: task.node_ids()[index].clone(),
                    source: Box::new(source),
                });
            }
        }
        // Kapacitor's `global` handler kinds, as they are configured when the task starts.
        for service in self.inner.alerts.services().iter() {
            let global = service.global();
            if global != klaxon_core::Global::OFF {
                task.apply_global(service.kind(), global);
            }
        }
        let implicit: Vec<Dbrp> = task
            .dbrps()
            .iter()
            .map(|d| Dbrp {
                db: d.db.clone(),
                rp: d.rp.clone(),
            })
            .collect();
        if !implicit.is_empty() && !record.dbrps.is_empty() {
            return Err(TaskError::DbrpsTwice);
        }
        let dbrps = if implicit.is_empty() {
            record.dbrps.clone()
        } else {
            implicit
        };
        task.check_loopback(|db, rp| dbrps.iter().any(|d| d.db == db && d.rp == rp))?;
        let mut handlers = Vec::new();
        for node in task.alert_nodes() {
            let topic = anonymous_topic(&record.id, node.id());
            let mut built = Vec::new();
            for (i, h) in node.handlers().iter().enumerate() {
                let handler =
                    self.inner
                        .alerts
                        .make_handler(h.kind, &h.options)
                        .map_err(|source| TaskError::InvalidHandler {
                            span: h.span,
                            source: Box::new(source),
                        })?;
                built.push(TaskHandler::new(format!("{}{i}", h.kind), h.kind, handler));
            }
            if !built.is_empty() {
                handlers.push((topic, built));
            }
        }
        Ok(Compiled {
            task,
            handlers,
            dbrps,
        })
    }

    /// Attaches a compiled task's inline handlers to its anonymous topics: from here on it
    /// runs.
    fn start(&self, id: &str, compiled: Compiled) -> Result<Arc<RunningTask>, TaskError> {
        let Compiled {
            task,
            handlers,
            dbrps,
        } = compiled;
        let mut anonymous_topics = Vec::new();
        for (topic, built) in handlers {
            self.inner
                .alerts
                .register_anonymous(&topic, built)
                .map_err(|e| TaskError::AnonymousTopic(Box::new(e)))?;
            anonymous_topics.push(topic);
        }
        let writers = super::influxdb::TaskWriters::start(&task, &self.inner.influxdb)?;
        let (batch, scheduled) = super::batch::BatchQueries::prepare(&task, &self.inner.influxdb)?;
        tracing::info!(task = %id, "task started");
        let running = Arc::new(RunningTask {
            batch,
            writers,
            anonymous_topics,
            node_ids: task.node_ids().to_vec(),
            counters: task.counters(),
            events: Default::default(),
            throughput: Default::default(),
            pipeline: Mutex::new(Pipeline { task, dbrps }),
        });
        self.schedule_queries(id, &running, scheduled);
        Ok(running)
    }

    fn stop(&self, id: &str, running: &RunningTask) {
        running.batch.stop();
        for topic in &running.anonymous_topics {
            self.inner.alerts.close_topic(topic);
        }
        tracing::info!(task = %id, "task stopped");
    }

    /// The shape of the script `record` runs; a script whose vars no longer apply is read
    /// as stored.
    fn shape(&self, record: &TaskRecord) -> TaskShape {
        match self.script_with_vars(record) {
            Ok(script) => TaskShape::of(record, &script),
            Err(_) => TaskShape::of(record, &record.script),
        }
    }

    /// A stored task's slot: started if enabled, its anonymous topics closed if not.
    pub(super) fn load(&self, record: TaskRecord) -> TaskSlot {
        let mut slot = TaskSlot {
            shape: self.shape(&record),
            record,
            running: None,
            start_error: String::new(),
            counters: Arc::default(),
        };
        match slot.record.status {
            TaskStatus::Disabled => {
                // The alert service restored every stored topic; a disabled task's anonymous
                // topics stay closed until it is enabled (their states stay on disk).
                for node in &slot.shape.alert_nodes {
                    let topic = anonymous_topic(&slot.record.id, node);
                    self.inner.alerts.close_topic(&topic);
                }
            }
            TaskStatus::Enabled => {
                let started = self
                    .compile(&slot.record)
                    .and_then(|compiled| self.start(&slot.record.id, compiled));
                match started {
                    Ok(running) => slot.running = Some(running),
                    Err(e) => {
                        tracing::error!(task = %slot.record.id, error = %e, "stored task cannot start");
                        slot.start_error = e.to_string();
                    }
                }
            }
        }
        slot
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
            return Err(TaskError::InvalidId(id.to_owned()));
        }
        if self.read_slots().contains_key(id) {
            return Err(TaskError::AlreadyExists(id.to_owned()));
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
        // Compiled before it is stored, so nothing invalid is.
        let compiled = self.compile(&record)?;
        self.save(&record)?;
        let running = match status {
            TaskStatus::Enabled => Some(self.start(id, compiled)?),
            TaskStatus::Disabled => None,
        };
        tracing::info!(task = %id, status = status_name(status), "task defined");
        self.write_slots().insert(
            id.to_owned(),
            TaskSlot {
                shape: self.shape(&record),
                record,
                running,
                start_error: String::new(),
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
        let mut changed = Vec::new();
        if let Some(script) = change.script {
            if script != record.script {
                changed.push("script");
            }
            record.script = script;
        }
        if let Some(dbrps) = change.dbrps {
            if dbrps != record.dbrps {
                changed.push("dbrps");
            }
            record.dbrps = dbrps;
        }
        if change.status.is_some_and(|s| s != record.status) {
            changed.push("status");
        }
        if let Some(status) = change.status {
            if status == TaskStatus::Enabled && record.status != TaskStatus::Enabled {
                record.last_enabled = Some(now);
            }
            record.status = status;
        }
        record.modified = now;
        let compiled = self.compile(&record)?;
        self.save(&record)?;
        let old = self
            .write_slots()
            .get_mut(id)
            .and_then(|s| s.running.take());
        if let Some(old) = &old {
            self.stop(id, old);
        }
        tracing::info!(
            task = %id,
            status = status_name(record.status),
            changed = %changed.join(","),
            "task updated"
        );
        let running = match record.status {
            TaskStatus::Enabled => Some(self.start(id, compiled)?),
            TaskStatus::Disabled => None,
        };
        let shape = self.shape(&record);
        if let Some(slot) = self.write_slots().get_mut(id) {
            slot.record = record;
            slot.shape = shape;
            slot.running = running;
            slot.start_error.clear();
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
                self.stop(id, running);
            }
            tracing::info!(task = %id, "task deleted");
            for node in &slot.shape.alert_nodes {
                let _ = self.inner.alerts.delete_topic(&anonymous_topic(id, node));
            }
        }
        self.forget_vars(id)?;
        Ok(self.inner.store.delete_record(NAMESPACE, id)?)
    }

    fn save(&self, record: &TaskRecord) -> Result<(), TaskError> {
        let value = serde_json::to_value(record)?;
        Ok(self.inner.store.put_record(NAMESPACE, &record.id, &value)?)
    }
}

/// A status as the API writes it, for logs.
fn status_name(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Enabled => "enabled",
        TaskStatus::Disabled => "disabled",
    }
}
