//! Recordings and replays, as Kapacitor's replay service: record the live stream a task reads
//! for a while (its dbrps and the measurements of its `|from()` nodes), the answers of a batch task's queries over a past range, or the answer of one
//! query; then replay a recording into a task (see [`crate::tasks::TaskManager::replay`] for
//! what a replay touches), or replay a batch task's queries or a query straight into a task.
//!
//! Recordings and replays are listed in the store (namespaces `recordings` and `replays`), the
//! recorded data in files under the directory given to [`Recordings::open`]. Each runs in the
//! background: it is `running` when created, then `finished` or `failed` with its error; one
//! that was running when klaxond stopped is `failed` at the next start, as in Kapacitor.

mod data;
mod tap;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use klaxon_core::Timestamp;
use klaxon_pipeline::{Batch, Group, Point};
use serde::{Deserialize, Serialize};

pub use data::DataError;
pub use tap::StreamTap;

use crate::Store;
use crate::tasks::{
    ExecutionStats, ReplayData, ReplayOptions, ReplayProgress, TaskError, TaskManager,
};

/// The store namespace of recordings.
const RECORDINGS: &str = "recordings";
/// The store namespace of replays.
const REPLAYS: &str = "replays";

/// What a recording holds: points for stream tasks or batches for batch tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordingType {
    /// Points (`.srpl`).
    Stream,
    /// Batches (`.brpl`).
    Batch,
}

impl RecordingType {
    fn extension(self) -> &'static str {
        match self {
            RecordingType::Stream => "srpl",
            RecordingType::Batch => "brpl",
        }
    }

    /// `stream` or `batch`.
    pub fn name(self) -> &'static str {
        match self {
            RecordingType::Stream => "stream",
            RecordingType::Batch => "batch",
        }
    }
}

/// Where a recording or replay stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Under way.
    Running,
    /// Done.
    Finished,
    /// Stopped by an error.
    Failed,
}

/// A recording, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// Its ID.
    pub id: String,
    /// Stream or batch.
    #[serde(rename = "type")]
    pub kind: RecordingType,
    /// The size of its file in bytes, once finished.
    pub size: u64,
    /// When it was created, then when it finished.
    pub date: Timestamp,
    /// Why it failed.
    pub error: String,
    /// Running, finished or failed.
    pub status: JobStatus,
    /// 0 to 1.
    pub progress: f64,
}

/// A replay, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// Its ID.
    pub id: String,
    /// The task replayed into.
    pub task: String,
    /// The recording replayed (empty for a replay of queries).
    pub recording: String,
    /// Whether the recorded times were kept.
    pub recording_time: bool,
    /// Whether it waited as long as the data's times span.
    pub real_clock: bool,
    /// Whether its alert events went to the task's handlers.
    pub deliver: bool,
    /// When it was created, then when it finished.
    pub date: Timestamp,
    /// Why it failed.
    pub error: String,
    /// Running, finished or failed.
    pub status: JobStatus,
    /// 0 to 1.
    pub progress: f64,
    /// What it did, once finished.
    pub outcome: Option<ReplayResult>,
}

/// What a finished replay did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReplayResult {
    /// The task's node statistics over the replay.
    pub stats: ExecutionStats,
    /// Its alert events in Kapacitor's alert JSON (the latest
    /// [`crate::tasks::MAX_REPLAY_ALERTS`]).
    pub alerts: Vec<serde_json::Value>,
    /// How many alert events it emitted in all.
    pub alerts_emitted: u64,
    /// The anonymous topics it delivered through, removed with it.
    #[serde(default)]
    pub topics: Vec<String>,
}

/// What a replay is asked to do.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// The replay's ID; a random one when `None`.
    pub id: Option<String>,
    /// The task to replay into.
    pub task: String,
    /// Keep the recorded times.
    pub recording_time: bool,
    /// Wait as long as the data's times span.
    pub real_clock: bool,
    /// Deliver the alert events through the task's handlers.
    pub deliver: bool,
}

/// Where a replay's data comes from.
#[derive(Debug, Clone)]
pub enum ReplaySource {
    /// A finished recording.
    Recording(String),
    /// The task's own queries over `[start, stop)` (`replay-live batch`).
    Queries {
        /// From.
        start: Timestamp,
        /// To.
        stop: Timestamp,
    },
    /// One query (`replay-live query`).
    Query {
        /// The InfluxQL.
        query: String,
        /// The `[[influxdb]]` cluster (empty: the default).
        cluster: String,
    },
}

/// What can go wrong with a recording or replay request.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// A bad request: the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// No such recording, replay or task.
    #[error("{0}")]
    NotFound(String),
    /// The ID is taken.
    #[error("{0}")]
    Conflict(String),
    /// The task cannot be used.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
    /// The recordings directory cannot be used.
    #[error("recordings directory {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The recordings and replays. Cheap to clone.
#[derive(Clone)]
pub struct Recordings {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Recordings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recordings")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    dir: PathBuf,
    tasks: TaskManager,
    recordings: Mutex<BTreeMap<String, Recording>>,
    replays: Mutex<BTreeMap<String, Replay>>,
    /// What stops each job under way when its recording or replay is deleted.
    cancels: Mutex<BTreeMap<String, Cancel>>,
}

/// How to stop a job under way.
#[derive(Clone)]
enum Cancel {
    Stream(Arc<StreamTap>, Arc<AtomicBool>),
    Flag(Arc<AtomicBool>),
    Replay(Arc<ReplayProgress>),
}

/// Recording and replay IDs: letters, digits, `-`, `_` and `.`, as Kapacitor allows.
fn check_id(id: &str, what: &str) -> Result<(), RecordingError> {
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(())
    } else {
        Err(RecordingError::Invalid(format!(
            "{what} ID must contain only letters, numbers, '-', '.' and '_'. {id:?}"
        )))
    }
}

/// A random ID in the form of a UUID, as Kapacitor gives.
fn random_id() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect()
    };
    format!("{}-{}-4{}-{}-{}", hex(8), hex(4), hex(3), hex(4), hex(12))
}

impl Recordings {
    /// Opens the recordings and replays kept in `store`, with their files under `dir`
    /// (created if missing). Those that were running when the server stopped are marked
    /// failed.
    pub fn open(
        store: Store,
        dir: &Path,
        tasks: TaskManager,
    ) -> Result<Recordings, RecordingError> {
        std::fs::create_dir_all(dir).map_err(|source| RecordingError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        let recordings = load(&store, RECORDINGS, |r: &mut Recording| {
            (&mut r.status, &mut r.error)
        })?;
        let replays = load(&store, REPLAYS, |r: &mut Replay| {
            (&mut r.status, &mut r.error)
        })?;
        Ok(Recordings {
            inner: Arc::new(Inner {
                store,
                dir: dir.to_owned(),
                tasks,
                recordings: Mutex::new(recordings),
                replays: Mutex::new(replays),
                cancels: Mutex::default(),
            }),
        })
    }

    /// Every recording whose ID passes `filter`, by ID.
    pub fn recordings(&self, filter: impl Fn(&str) -> bool) -> Vec<Recording> {
        lock(&self.inner.recordings)
            .values()
            .filter(|r| filter(&r.id))
            .cloned()
            .collect()
    }

    /// One recording.
    pub fn recording(&self, id: &str) -> Option<Recording> {
        lock(&self.inner.recordings).get(id).cloned()
    }

    /// Every replay whose ID passes `filter`, by ID.
    pub fn replays(&self, filter: impl Fn(&str) -> bool) -> Vec<Replay> {
        lock(&self.inner.replays)
            .values()
            .filter(|r| filter(&r.id))
            .cloned()
            .collect()
    }

    /// One replay.
    pub fn replay(&self, id: &str) -> Option<Replay> {
        lock(&self.inner.replays).get(id).cloned()
    }

    fn path(&self, id: &str, kind: RecordingType) -> PathBuf {
        self.inner.dir.join(format!("{id}.{}", kind.extension()))
    }

    /// Lists a new recording as running; refused if its ID is taken.
    fn create_recording(
        &self,
        id: Option<String>,
        kind: RecordingType,
    ) -> Result<Recording, RecordingError> {
        let id = id.filter(|i| !i.is_empty()).unwrap_or_else(random_id);
        check_id(&id, "recording")?;
        let recording = Recording {
            id: id.clone(),
            kind,
            size: 0,
            date: Timestamp::now(),
            error: String::new(),
            status: JobStatus::Running,
            progress: 0.0,
        };
        let mut recordings = lock(&self.inner.recordings);
        if recordings.contains_key(&id) {
            return Err(RecordingError::Conflict(format!(
                "a recording with ID {id:?} already exists; delete it first or choose another ID"
            )));
        }
        self.inner
            .store
            .put_record(RECORDINGS, &id, &to_value(&recording))?;
        recordings.insert(id, recording.clone());
        Ok(recording)
    }

    /// Records the outcome of recording `id` (unless it was deleted meanwhile).
    fn finish_recording(&self, id: &str, outcome: Result<(), String>) {
        lock(&self.inner.cancels).remove(id);
        let mut recordings = lock(&self.inner.recordings);
        let Some(recording) = recordings.get_mut(id) else {
            // Deleted while it ran: a file its job wrote after the delete goes too.
            for kind in [RecordingType::Stream, RecordingType::Batch] {
                let _ = std::fs::remove_file(self.path(id, kind));
            }
            return;
        };
        recording.size = std::fs::metadata(self.path(id, recording.kind))
            .map(|m| m.len())
            .unwrap_or(0);
        recording.date = Timestamp::now();
        recording.progress = 1.0;
        match outcome {
            Ok(()) => {
                recording.status = JobStatus::Finished;
                tracing::info!(recording = %id, size = recording.size, "recording finished");
            }
            Err(error) => {
                tracing::warn!(recording = %id, error = %error, "recording failed");
                recording.status = JobStatus::Failed;
                recording.error = error;
            }
        }
        if let Err(e) = self
            .inner
            .store
            .put_record(RECORDINGS, id, &to_value(recording))
        {
            tracing::error!(recording = %id, error = %e, "cannot store the recording's outcome");
        }
    }

    fn set_recording_progress(&self, id: &str, progress: f64) {
        if let Some(r) = lock(&self.inner.recordings).get_mut(id) {
            r.progress = progress;
        }
    }

    /// `POST /recordings/stream`: records the points written to task `task`'s databases until
    /// `stop`. Must be called within a tokio runtime.
    pub fn record_stream(
        &self,
        id: Option<String>,
        task: &str,
        stop: Timestamp,
    ) -> Result<Recording, RecordingError> {
        let (dbrps, measurements) = self.inner.tasks.stream_source(task).map_err(not_found)?;
        if self
            .inner
            .tasks
            .get(task)
            .is_some_and(|t| t.task_type() == "batch")
        {
            return Err(RecordingError::Invalid(format!(
                "task {task:?} is a batch task; record it with record batch"
            )));
        }
        let recording = self.create_recording(id, RecordingType::Stream)?;
        let id = recording.id.clone();
        let path = self.path(&id, RecordingType::Stream);
        let writer = match data::create(&path) {
            Ok(writer) => writer,
            Err(e) => {
                self.finish_recording(&id, Err(format!("cannot create {}: {e}", path.display())));
                return Ok(self.recording(&id).unwrap_or(recording));
            }
        };
        let tap = Arc::new(StreamTap::new(dbrps, measurements, writer));
        let stopped = Arc::new(AtomicBool::new(false));
        lock(&self.inner.cancels).insert(
            id.clone(),
            Cancel::Stream(Arc::clone(&tap), Arc::clone(&stopped)),
        );
        self.inner.tasks.add_tap(Arc::clone(&tap));
        tracing::info!(recording = %id, task, stop = %stop, "stream recording started");
        let this = self.clone();
        let started = Timestamp::now();
        tokio::spawn(async move {
            // Progress is the time passed; the recording stops at `stop` or when deleted.
            let span = (stop.as_nanos() - started.as_nanos()).max(1) as f64;
            loop {
                let now = Timestamp::now();
                if now >= stop || stopped.load(Ordering::Relaxed) {
                    break;
                }
                this.set_recording_progress(
                    &id,
                    ((now.as_nanos() - started.as_nanos()) as f64 / span).min(1.0),
                );
                let left = std::time::Duration::from_nanos(
                    (stop.as_nanos() - now.as_nanos()).unsigned_abs(),
                );
                tokio::time::sleep(left.min(std::time::Duration::from_millis(200))).await;
            }
            this.inner.tasks.remove_tap(&tap);
            let outcome = tokio::task::spawn_blocking(move || tap.finish())
                .await
                .unwrap_or_else(|e| Err(format!("the recording stopped: {e}")));
            this.finish_recording(&id, outcome.map(drop));
        });
        Ok(recording)
    }

    /// `POST /recordings/batch`: records the answers of batch task `task`'s queries over
    /// `[start, stop)`, each query run at the times its schedule gives in that range. Must be
    /// called within a tokio runtime.
    pub fn record_batch(
        &self,
        id: Option<String>,
        task: &str,
        start: Timestamp,
        stop: Timestamp,
    ) -> Result<Recording, RecordingError> {
        let queries = self.inner.tasks.batch_queries(task).map_err(not_found)?;
        if queries.is_empty() {
            return Err(RecordingError::Invalid(format!(
                "task {task:?} is a stream task; record it with record stream"
            )));
        }
        check_range(start, stop)?;
        let recording = self.create_recording(id, RecordingType::Batch)?;
        let id = recording.id.clone();
        self.spawn_batch_job(id, move |this, id, sink| {
            Box::pin(async move { this.query_task(&id, queries, start, stop, sink).await })
        });
        Ok(recording)
    }

    /// `POST /recordings/query`: records the answer of one InfluxQL query, as points or as
    /// batches. Must be called within a tokio runtime.
    pub fn record_query(
        &self,
        id: Option<String>,
        query: &str,
        kind: RecordingType,
        cluster: &str,
    ) -> Result<Recording, RecordingError> {
        let dbrp = query_dbrp(query)?;
        let client = self.client(cluster)?;
        let recording = self.create_recording(id, kind)?;
        let id = recording.id.clone();
        let query = query.to_owned();
        self.spawn_batch_job(id, move |_, _, sink| {
            Box::pin(async move { run_query(&client, &query, kind, &dbrp, sink).await })
        });
        Ok(recording)
    }

    fn client(&self, cluster: &str) -> Result<klaxon_influxdb::Client, RecordingError> {
        self.inner
            .tasks
            .influxdb()
            .get(cluster)
            .cloned()
            .map_err(|e| RecordingError::Invalid(e.to_string()))
    }

    /// Runs a recording job that writes what `fetch` gives into the recording's file.
    fn spawn_batch_job<F>(&self, id: String, fetch: F)
    where
        F: FnOnce(Recordings, String, Sink) -> FetchFuture + Send + 'static,
    {
        let this = self.clone();
        let stopped = Arc::new(AtomicBool::new(false));
        lock(&self.inner.cancels).insert(id.clone(), Cancel::Flag(Arc::clone(&stopped)));
        tokio::spawn(async move {
            let Some(kind) = this.recording(&id).map(|r| r.kind) else {
                // Deleted before the job began: nothing to write.
                return this.finish_recording(&id, Err("deleted".to_owned()));
            };
            let path = this.path(&id, kind);
            let outcome = match data::create(&path) {
                Ok(writer) => {
                    let sink = Sink::File {
                        writer: Some(writer),
                        stopped,
                    };
                    match fetch(this.clone(), id.clone(), sink).await {
                        Ok(sink) => sink.close(),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(format!("cannot create {}: {e}", path.display())),
            };
            this.finish_recording(&id, outcome);
        });
    }

    /// Runs the task's queries over `[start, stop)` into `sink`, with progress by runs.
    async fn query_task(
        &self,
        id: &str,
        queries: Vec<(usize, klaxon_pipeline::Query, klaxon_influxdb::Client)>,
        start: Timestamp,
        stop: Timestamp,
        mut sink: Sink,
    ) -> Result<Sink, String> {
        let now = Timestamp::now();
        let mut runs = Vec::new();
        for (index, query, client) in &queries {
            // Kapacitor's QueryNode.Queries: each schedule time in the range, not in the future.
            let mut current = start;
            while let Some(next) = query.next_run(current) {
                if next > stop {
                    break;
                }
                let run = query.run(next);
                if run.stop > now {
                    break;
                }
                runs.push((*index, query, client, run));
                current = next;
            }
        }
        let total = runs.len().max(1) as f64;
        for (n, (index, query, client, run)) in runs.into_iter().enumerate() {
            if sink.stopped() {
                return Err("deleted while it was running".to_owned());
            }
            let results = client
                .select(&run.statement)
                .await
                .map_err(|e| format!("query {:?}: {e}", run.statement))?;
            let batches = crate::tasks::batch::to_batches(query, &run, results)?;
            for (batch, group) in batches {
                sink.batch(index, batch, group)?;
            }
            self.set_recording_progress(id, (n + 1) as f64 / total);
        }
        Ok(sink)
    }

    /// Deletes recording `id` and its file (a running one is stopped first). Unknown IDs are
    /// fine, as in Kapacitor.
    pub fn delete_recording(&self, id: &str) -> Result<(), RecordingError> {
        let cancel = lock(&self.inner.cancels).remove(id);
        if let Some(cancel) = cancel {
            self.cancel(cancel);
        }
        let removed = lock(&self.inner.recordings).remove(id);
        if let Some(recording) = removed {
            self.inner.store.delete_record(RECORDINGS, id)?;
            let path = self.path(id, recording.kind);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(recording = %id, file = %path.display(), error = %e, "cannot remove a deleted recording's file");
            }
            tracing::info!(recording = %id, "recording deleted");
        }
        Ok(())
    }

    /// `POST /replays`, `/replays/batch`, `/replays/query`: runs task `request.task` on the
    /// data of `source` in the background. Must be called within a tokio runtime.
    pub fn start_replay(
        &self,
        request: ReplayRequest,
        source: ReplaySource,
    ) -> Result<Replay, RecordingError> {
        let id = request
            .id
            .clone()
            .filter(|i| !i.is_empty())
            .unwrap_or_else(random_id);
        check_id(&id, "replay")?;
        let task = request.task.clone();
        let task_kind = self.inner.tasks.batch_queries(&task).map_err(not_found)?;
        let is_batch = !task_kind.is_empty();
        let recording = match &source {
            ReplaySource::Recording(rid) => {
                let recording = self.recording(rid).ok_or_else(|| {
                    RecordingError::NotFound(format!("no recording exists with ID {rid:?}"))
                })?;
                if recording.status != JobStatus::Finished {
                    return Err(RecordingError::Invalid(format!(
                        "recording {rid:?} is {}; only a finished recording can be replayed",
                        status_name(recording.status)
                    )));
                }
                if (recording.kind == RecordingType::Batch) != is_batch {
                    return Err(RecordingError::Invalid(format!(
                        "recording {rid:?} is a {} recording and task {task:?} a {} task; \
                         replay a recording of the task's type",
                        recording.kind.name(),
                        if is_batch { "batch" } else { "stream" }
                    )));
                }
                rid.clone()
            }
            ReplaySource::Queries { start, stop } => {
                if !is_batch {
                    return Err(RecordingError::Invalid(format!(
                        "task {task:?} is a stream task; replay-live batch needs a batch task"
                    )));
                }
                check_range(*start, *stop)?;
                String::new()
            }
            ReplaySource::Query { query, cluster } => {
                query_dbrp(query)?;
                self.client(cluster)?;
                String::new()
            }
        };
        let replay = Replay {
            id: id.clone(),
            task: task.clone(),
            recording,
            recording_time: request.recording_time,
            real_clock: request.real_clock,
            deliver: request.deliver,
            date: Timestamp::now(),
            error: String::new(),
            status: JobStatus::Running,
            progress: 0.0,
            outcome: None,
        };
        {
            let mut replays = lock(&self.inner.replays);
            if replays.contains_key(&id) {
                return Err(RecordingError::Conflict(format!(
                    "a replay with ID {id:?} already exists; delete it first or choose another ID"
                )));
            }
            self.inner
                .store
                .put_record(REPLAYS, &id, &to_value(&replay))?;
            replays.insert(id.clone(), replay.clone());
        }
        let progress = Arc::new(ReplayProgress::default());
        lock(&self.inner.cancels).insert(id.clone(), Cancel::Replay(Arc::clone(&progress)));
        let this = self.clone();
        let options = ReplayOptions {
            id: id.clone(),
            real_clock: request.real_clock,
            recording_time: request.recording_time,
            deliver: request.deliver,
        };
        tracing::info!(replay = %id, task = %task, "replay started");
        tokio::spawn(async move {
            let outcome = this
                .run_replay(&task, is_batch, source, &options, progress)
                .await;
            this.finish_replay(&id, outcome);
        });
        Ok(replay)
    }

    async fn run_replay(
        &self,
        task: &str,
        is_batch: bool,
        source: ReplaySource,
        options: &ReplayOptions,
        progress: Arc<ReplayProgress>,
    ) -> Result<ReplayResult, String> {
        let data = match source {
            ReplaySource::Recording(rid) => {
                let kind = if is_batch {
                    RecordingType::Batch
                } else {
                    RecordingType::Stream
                };
                let path = self.path(&rid, kind);
                tokio::task::spawn_blocking(move || match kind {
                    RecordingType::Stream => data::read_points(&path).map(ReplayData::Points),
                    RecordingType::Batch => data::read_batches(&path).map(ReplayData::Batches),
                })
                .await
                .map_err(|e| format!("reading the recording stopped: {e}"))?
                .map_err(|e| e.to_string())?
            }
            ReplaySource::Queries { start, stop } => {
                let queries = self
                    .inner
                    .tasks
                    .batch_queries(task)
                    .map_err(|e| e.to_string())?;
                let sink = self
                    .query_task("", queries, start, stop, Sink::memory())
                    .await?;
                sink.into_data(true)
            }
            ReplaySource::Query { query, cluster } => {
                let client = self.client(&cluster).map_err(|e| e.to_string())?;
                let dbrp = query_dbrp(&query).map_err(|e| e.to_string())?;
                let kind = if is_batch {
                    RecordingType::Batch
                } else {
                    RecordingType::Stream
                };
                let sink = run_query(&client, &query, kind, &dbrp, Sink::memory()).await?;
                sink.into_data(is_batch)
            }
        };
        let (tasks, task, options) = (self.inner.tasks.clone(), task.to_owned(), options.clone());
        let outcome =
            tokio::task::spawn_blocking(move || tasks.replay(&task, data, &options, &progress))
                .await
                .map_err(|e| format!("the replay stopped: {e}"))?
                .map_err(|e| e.to_string())?;
        Ok(ReplayResult {
            stats: outcome.stats,
            alerts: outcome.alerts,
            alerts_emitted: outcome.alerts_emitted,
            topics: outcome.topics,
        })
    }

    fn finish_replay(&self, id: &str, outcome: Result<ReplayResult, String>) {
        lock(&self.inner.cancels).remove(id);
        let mut replays = lock(&self.inner.replays);
        let Some(replay) = replays.get_mut(id) else {
            return;
        };
        replay.date = Timestamp::now();
        replay.progress = 1.0;
        match outcome {
            Ok(result) => {
                tracing::info!(replay = %id, task = %replay.task, alerts = result.alerts_emitted, "replay finished");
                replay.status = JobStatus::Finished;
                replay.outcome = Some(result);
            }
            Err(error) => {
                tracing::warn!(replay = %id, task = %replay.task, error = %error, "replay failed");
                replay.status = JobStatus::Failed;
                replay.error = error;
            }
        }
        if let Err(e) = self.inner.store.put_record(REPLAYS, id, &to_value(replay)) {
            tracing::error!(replay = %id, error = %e, "cannot store the replay's outcome");
        }
    }

    /// Stops every recording and replay under way, for a server that shuts down: a replay
    /// stops at its next point (a real-clock replay does not hold the shutdown for the time its
    /// data spans), a stream recording stops taking points. They stay listed as running until
    /// the next start marks them failed, as after a crash.
    pub fn stop_all(&self) {
        let cancels = std::mem::take(&mut *lock(&self.inner.cancels));
        for (id, cancel) in cancels {
            self.cancel(cancel);
            tracing::info!(id = %id, "recording or replay stopped by the shutdown");
        }
    }

    fn cancel(&self, cancel: Cancel) {
        match cancel {
            Cancel::Stream(tap, stopped) => {
                self.inner.tasks.remove_tap(&tap);
                stopped.store(true, Ordering::Relaxed);
            }
            Cancel::Flag(stopped) => stopped.store(true, Ordering::Relaxed),
            Cancel::Replay(progress) => progress.cancel(),
        }
    }

    /// The progress of a replay under way.
    pub fn replay_progress(&self, id: &str) -> Option<f64> {
        match lock(&self.inner.cancels).get(id) {
            Some(Cancel::Replay(progress)) => Some(progress.fraction()),
            _ => None,
        }
    }

    /// Deletes replay `id` (one under way is stopped). Unknown IDs are fine.
    pub fn delete_replay(&self, id: &str) -> Result<(), RecordingError> {
        let cancel = lock(&self.inner.cancels).remove(id);
        if let Some(cancel) = cancel {
            self.cancel(cancel);
        }
        let removed = lock(&self.inner.replays).remove(id);
        if let Some(replay) = removed {
            if let Some(outcome) = &replay.outcome {
                self.inner.tasks.delete_replay_topics(&outcome.topics);
            }
            self.inner.store.delete_record(REPLAYS, id)?;
            tracing::info!(replay = %id, "replay deleted");
        }
        Ok(())
    }
}

/// Where fetched points or batches go: a recording's file, or memory for a live replay.
enum Sink {
    File {
        writer: Option<data::DataWriter>,
        stopped: Arc<AtomicBool>,
    },
    Memory(Vec<Point>, Vec<(usize, Batch, Group)>),
}

type FetchFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Sink, String>> + Send>>;

impl Sink {
    fn memory() -> Sink {
        Sink::Memory(Vec::new(), Vec::new())
    }

    fn stopped(&self) -> bool {
        match self {
            Sink::File { stopped, .. } => stopped.load(Ordering::Relaxed),
            Sink::Memory(..) => false,
        }
    }

    fn write(
        &mut self,
        f: impl FnOnce(&mut data::DataWriter) -> std::io::Result<()>,
    ) -> Result<(), String> {
        if let Sink::File {
            writer: Some(writer),
            ..
        } = self
        {
            f(writer).map_err(|e| format!("cannot write the recording: {e}"))?;
        }
        Ok(())
    }

    fn point(&mut self, point: Point) -> Result<(), String> {
        if let Sink::Memory(points, _) = self {
            points.push(point);
            return Ok(());
        }
        self.write(|w| data::write_point(w, &point))
    }

    fn batch(&mut self, index: usize, batch: Batch, group: Group) -> Result<(), String> {
        if let Sink::Memory(_, batches) = self {
            batches.push((index, batch, group));
            return Ok(());
        }
        self.write(|w| data::write_batch(w, index, &batch, &group))
    }

    /// Closes a file sink.
    fn close(self) -> Result<(), String> {
        match self {
            Sink::File {
                writer: Some(writer),
                ..
            } => data::finish(writer).map_err(|e| format!("cannot write the recording: {e}")),
            _ => Ok(()),
        }
    }

    /// What a memory sink holds, as replay data.
    fn into_data(self, batches: bool) -> ReplayData {
        match self {
            Sink::Memory(points, collected) if batches => {
                let _ = points;
                ReplayData::Batches(collected)
            }
            Sink::Memory(mut points, _) => {
                points.sort_by_key(|p| p.time);
                ReplayData::Points(points)
            }
            Sink::File { .. } => ReplayData::Points(Vec::new()),
        }
    }
}

/// Runs one query into `sink`: as points (in the query's database and retention policy) or as
/// batches for the first `|query()` of the task replayed into.
async fn run_query(
    client: &klaxon_influxdb::Client,
    query: &str,
    kind: RecordingType,
    dbrp: &(String, String),
    mut sink: Sink,
) -> Result<Sink, String> {
    let results = client
        .select(query)
        .await
        .map_err(|e| format!("query {query:?}: {e}"))?;
    let mut points_out = Vec::new();
    for result in results {
        for series in result.series {
            let points = klaxon_pipeline::series_points(
                &series.name,
                &series.tags,
                &series.columns,
                &series.values,
            )?;
            match kind {
                RecordingType::Stream => points_out.extend(points),
                RecordingType::Batch => {
                    let time = points
                        .iter()
                        .map(|p| p.time)
                        .max()
                        .unwrap_or_else(Timestamp::now);
                    let group = Group::of_series(&series.name, &series.tags, false);
                    let batch = Batch {
                        name: series.name,
                        tags: series.tags,
                        time,
                        points,
                    };
                    sink.batch(0, batch, group)?;
                }
            }
        }
    }
    // A stream is in time order across series, as the points were written.
    points_out.sort_by_key(|p| p.time);
    let (db, rp): (Arc<str>, Arc<str>) = (Arc::from(dbrp.0.as_str()), Arc::from(dbrp.1.as_str()));
    for mut point in points_out {
        point.database = Arc::clone(&db);
        point.retention_policy = Arc::clone(&rp);
        sink.point(point)?;
    }
    Ok(sink)
}

/// The database and retention policy of a query's `FROM` (`"db"."rp"."m"`; `autogen` when the
/// retention policy is left out, as in `db..m`), which its points are recorded under. Only the
/// `FROM` is read: InfluxDB judges the rest.
fn query_dbrp(query: &str) -> Result<(String, String), RecordingError> {
    let from = from_clause(query).ok_or_else(|| {
        RecordingError::Invalid(format!(
            "query {query:?} has no FROM; write it as SELECT ... FROM \"db\".\"rp\".\"measurement\""
        ))
    })?;
    let parts = split_identifiers(&from);
    match parts.as_slice() {
        [db, rp, _] if !db.is_empty() => Ok((
            db.clone(),
            if rp.is_empty() {
                "autogen".into()
            } else {
                rp.clone()
            },
        )),
        _ => Err(RecordingError::Invalid(format!(
            "query {query:?} must name its database in FROM, as \"db\".\"rp\".\"measurement\""
        ))),
    }
}

/// The first source after `FROM` (outside quotes), as written.
fn from_clause(query: &str) -> Option<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quote, mut escaped) = (None, false);
    for c in query.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && quote.is_some() {
            escaped = true;
        } else if Some(c) == quote {
            quote = None;
        } else if quote.is_none() && (c == '"' || c == '\'') {
            quote = Some(c);
        } else if quote.is_none() && (c.is_whitespace() || c == ',') {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    let at = words.iter().position(|w| w.eq_ignore_ascii_case("from"))?;
    words.get(at + 1).cloned()
}

/// The dot-separated identifiers of a `FROM` source, unquoted.
fn split_identifiers(from: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut chars = from.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let (Some(next), Some(part)) = (chars.next(), parts.last_mut()) {
                    part.push(next);
                }
            }
            '.' if !quoted => parts.push(String::new()),
            c => {
                if let Some(part) = parts.last_mut() {
                    part.push(c);
                }
            }
        }
    }
    parts
}

/// The recordings or replays stored under `namespace`, by ID; those that were running when
/// klaxond stopped are failed (and stored so), as Kapacitor marks them. `job` gives an item's
/// status and error.
fn load<T>(
    store: &Store,
    namespace: &str,
    job: impl Fn(&mut T) -> (&mut JobStatus, &mut String),
) -> Result<BTreeMap<String, T>, RecordingError>
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    let mut items = BTreeMap::new();
    for (id, value) in store.records(namespace)? {
        let mut item: T = match serde_json::from_value(value) {
            Ok(item) => item,
            Err(e) => {
                tracing::error!(id = %id, namespace, error = %e, "stored recording or replay cannot be read; skipped");
                continue;
            }
        };
        let (status, error) = job(&mut item);
        if *status == JobStatus::Running {
            *status = JobStatus::Failed;
            *error = "klaxond stopped while it was running".to_owned();
            store.put_record(namespace, &id, &to_value(&item))?;
        }
        items.insert(id, item);
    }
    Ok(items)
}

fn check_range(start: Timestamp, stop: Timestamp) -> Result<(), RecordingError> {
    if start >= stop {
        return Err(RecordingError::Invalid(format!(
            "start {start} must be before stop {stop}"
        )));
    }
    Ok(())
}

fn not_found(e: TaskError) -> RecordingError {
    match e {
        TaskError::NotFound(_) => RecordingError::NotFound(e.to_string()),
        other => RecordingError::Task(other),
    }
}

fn status_name(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Running => "running",
        JobStatus::Finished => "finished",
        JobStatus::Failed => "failed",
    }
}

fn to_value<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_clauses_name_their_dbrp() {
        let dbrp = |q: &str| query_dbrp(q).map_err(|e| e.to_string());
        assert_eq!(
            dbrp("SELECT usage FROM \"tele.graf\".\"autogen\".cpu").unwrap(),
            ("tele.graf".to_owned(), "autogen".to_owned())
        );
        assert_eq!(
            dbrp("select usage, host from \"my db\"..\"cpu\" where host = 'a from b' group by *")
                .unwrap(),
            ("my db".to_owned(), "autogen".to_owned())
        );
        assert_eq!(
            dbrp("SELECT usage FROM telegraf..cpu").unwrap(),
            ("telegraf".to_owned(), "autogen".to_owned())
        );
        // Two names are a retention policy and a measurement, as InfluxQL reads them.
        for query in ["SELECT usage FROM cpu", "SELECT usage FROM autogen.cpu"] {
            let err = dbrp(query).unwrap_err();
            assert!(err.contains("must name its database"), "{err}");
        }
    }

    #[test]
    fn ids_are_checked_and_random_ones_pass() {
        assert!(check_id("a-b_c.1", "recording").is_ok());
        let err = check_id("a b", "recording").unwrap_err().to_string();
        assert_eq!(
            err,
            "recording ID must contain only letters, numbers, '-', '.' and '_'. \"a b\""
        );
        let id = random_id();
        assert_eq!(id.len(), 36);
        assert!(check_id(&id, "replay").is_ok());
    }
}
