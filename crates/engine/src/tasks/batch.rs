//! Batch tasks: every `|query()` of a running batch task runs on its schedule, as Kapacitor's
//! `QueryNode`: at each time of `.every()` or `.cron()` its statement, with the time range of
//! that run, goes to the query's `[[influxdb]]` cluster, and each series of the answer becomes a
//! batch pushed through the task's nodes. A query that fails (InfluxDB down, a statement
//! InfluxDB refuses) is counted, logged with the statement and shown as the task's error until
//! a run succeeds; the schedule goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use klaxon_core::Timestamp;
use klaxon_influxdb::{Client, Clusters, InfluxError};
use klaxon_pipeline::{Batch, Group, Query, QueryRun, Task};

use super::{Inner, RunningTask, TaskError, TaskManager};

/// What the queries of one running batch task have done, and the schedules to stop with it.
#[derive(Debug, Default)]
pub(super) struct BatchQueries {
    /// One per `|query()` node, by node ID.
    nodes: Vec<(String, QueryStats)>,
    /// The last failed run's error, empty once a run succeeds.
    error: Mutex<String>,
    /// The scheduling tokio tasks, aborted when the task stops.
    schedules: Mutex<Vec<tokio::task::AbortHandle>>,
}

/// Kapacitor's query node statistics.
#[derive(Debug, Default)]
pub(super) struct QueryStats {
    /// Runs that failed.
    pub(super) query_errors: AtomicU64,
    /// Batches (series) the runs returned.
    pub(super) batches_queried: AtomicU64,
    /// Points in those batches.
    pub(super) points_queried: AtomicU64,
}

impl Drop for BatchQueries {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One query node to schedule, with its cluster's client.
pub(super) struct Scheduled {
    index: usize,
    node: String,
    query: Query,
    client: Client,
}

impl BatchQueries {
    /// The query nodes of `task` with their clusters' clients; an unknown cluster, or no
    /// runtime to run the schedules on, refuses the start.
    pub(super) fn prepare(
        task: &Task,
        clusters: &Clusters,
    ) -> Result<(BatchQueries, Vec<Scheduled>), TaskError> {
        let mut scheduled = Vec::new();
        for (index, query) in task.queries() {
            let node = task.node_ids()[index].clone();
            let failed = |source: InfluxError| TaskError::InfluxDb {
                node: node.clone(),
                source: Box::new(source),
            };
            let client = clusters.get(query.cluster()).map_err(failed)?.clone();
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(failed(InfluxError::Unavailable {
                    cluster: client.name().to_owned(),
                    message: "no runtime to run batch queries on".to_owned(),
                }));
            }
            scheduled.push(Scheduled {
                index,
                node,
                query: query.clone(),
                client,
            });
        }
        let queries = BatchQueries {
            nodes: scheduled
                .iter()
                .map(|s| (s.node.clone(), QueryStats::default()))
                .collect(),
            error: Mutex::default(),
            schedules: Mutex::default(),
        };
        Ok((queries, scheduled))
    }

    /// The statistics of query node `node`.
    pub(super) fn stats(&self, node: &str) -> Option<&QueryStats> {
        self.nodes.iter().find(|(id, _)| id == node).map(|(_, s)| s)
    }

    /// Why the last run failed; empty when it did not.
    pub(super) fn error(&self) -> String {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_error(&self, error: String) {
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Stops the schedules (a run under way is abandoned).
    pub(super) fn stop(&self) {
        let handles =
            std::mem::take(&mut *self.schedules.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            handle.abort();
        }
    }
}

impl TaskManager {
    /// The `|query()` nodes of task `id`, by node index, with their clusters' clients; a
    /// stream task has none.
    pub(crate) fn batch_queries(&self, id: &str) -> Result<Vec<(usize, Query, Client)>, TaskError> {
        let record = self
            .read_slots()
            .get(id)
            .map(|s| s.record.clone())
            .ok_or_else(|| TaskError::NotFound(id.to_owned()))?;
        let compiled = self.compile(&record)?;
        let mut queries = Vec::new();
        for (index, query) in compiled.task.queries() {
            let client =
                self.inner
                    .influxdb
                    .get(query.cluster())
                    .map_err(|source| TaskError::InfluxDb {
                        node: compiled.task.node_ids()[index].clone(),
                        source: Box::new(source),
                    })?;
            queries.push((index, query.clone(), client.clone()));
        }
        Ok(queries)
    }

    /// Starts the schedule of each query of the running task `running`.
    pub(super) fn schedule_queries(
        &self,
        id: &str,
        running: &Arc<RunningTask>,
        scheduled: Vec<Scheduled>,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut handles = Vec::with_capacity(scheduled.len());
        for query in scheduled {
            let schedule = Schedule {
                inner: Arc::downgrade(&self.inner),
                running: Arc::downgrade(running),
                task: id.to_owned(),
                query,
            };
            handles.push(runtime.spawn(schedule.run()).abort_handle());
        }
        running
            .batch
            .schedules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(handles);
    }
}

/// One query's schedule: it holds its task weakly, and ends when the task is gone.
struct Schedule {
    inner: Weak<Inner>,
    running: Weak<RunningTask>,
    task: String,
    query: Scheduled,
}

impl Schedule {
    async fn run(self) {
        let Scheduled {
            index,
            node,
            query,
            client,
        } = &self.query;
        let task = self.task.as_str();
        let mut last = Timestamp::now();
        loop {
            let Some(next) = query.next_run(last) else {
                tracing::warn!(task, node = %node, "the cron expression has no time left; the query stops");
                return;
            };
            sleep_until(next).await;
            // A run that took longer than the interval skips the times it missed, as Go's
            // ticker drops ticks.
            last = next;
            let now = Timestamp::now();
            while let Some(after) = query.next_run(last).filter(|t| *t <= now) {
                last = after;
            }
            let Some(running) = self.running.upgrade() else {
                return;
            };
            let Some(stats) = running.batch.stats(node) else {
                return;
            };
            let run = query.run(next);
            tracing::debug!(task, node = %node, query = %run.statement, "starting batch query");
            let batches = match client.select(&run.statement).await {
                Ok(results) => to_batches(query, &run, results),
                Err(e) => Err(e.to_string()),
            };
            let batches = match batches {
                Ok(batches) => batches,
                Err(error) => {
                    let n = stats.query_errors.fetch_add(1, Ordering::Relaxed) + 1;
                    tracing::warn!(task, node = %node, query = %run.statement, errors = n, error = %error, "batch query failed");
                    running.batch.set_error(format!("{node}: {error}"));
                    continue;
                }
            };
            running.batch.set_error(String::new());
            stats
                .batches_queried
                .fetch_add(batches.len() as u64, Ordering::Relaxed);
            let points: usize = batches.iter().map(|(b, _)| b.points.len()).sum();
            stats
                .points_queried
                .fetch_add(points as u64, Ordering::Relaxed);
            let Some(inner) = self.inner.upgrade() else {
                return;
            };
            let manager = TaskManager { inner };
            let (task, index) = (task.to_owned(), *index);
            // Off the async workers: collecting may block under `[alert] queue-full = block`.
            let fed = tokio::task::spawn_blocking(move || {
                manager.feed_batches(&task, &running, index, batches);
            })
            .await;
            if fed.is_err() {
                tracing::error!(task = self.task, node = %node, "a batch task's nodes panicked");
            }
        }
    }
}

/// Sleeps until wall-clock time `at`.
pub(crate) async fn sleep_until(at: Timestamp) {
    loop {
        let left = at.as_nanos().saturating_sub(Timestamp::now().as_nanos());
        if left <= 0 {
            return;
        }
        tokio::time::sleep(Duration::from_nanos(left.unsigned_abs())).await;
    }
}

/// The series of a run's answer as batches with their groups.
pub(crate) fn to_batches(
    query: &Query,
    run: &QueryRun,
    results: Vec<klaxon_influxdb::QueryResult>,
) -> Result<Vec<(Batch, Group)>, String> {
    let mut batches = Vec::new();
    for result in results {
        for series in result.series {
            batches.push(query.batch(
                run,
                &series.name,
                &series.tags,
                &series.columns,
                &series.values,
            )?);
        }
    }
    Ok(batches)
}
