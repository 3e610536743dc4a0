//! The write buffer of one `|influxDBOut()` node, as Kapacitor's `writeBuffer`: points queue
//! up and are written in one request per destination when `buffer` of them wait or every
//! `flush-interval`. Unlike Kapacitor, a write that fails because InfluxDB is unavailable keeps
//! its points and is retried, up to a bound of waiting points past which the oldest are dropped
//! and counted; a write InfluxDB refuses (bad points) is logged, counted and dropped.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::{Client, InfluxError, LinePoint, Precision};

/// Where points go: a database, a retention policy (InfluxDB's default when empty) and the
/// precision their times are written in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Destination {
    /// The database.
    pub database: String,
    /// The retention policy; empty for the database's default.
    pub retention_policy: String,
    /// The write precision.
    pub precision: Precision,
}

/// How a [`Writer`] batches and bounds.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Write as soon as this many points wait (Kapacitor's `.buffer()`, 1000).
    pub buffer: usize,
    /// Write what waits at least this often (Kapacitor's `.flushInterval()`, 10s).
    pub flush_interval: Duration,
    /// At most this many points wait while InfluxDB is unavailable; older ones are dropped.
    pub max_pending: usize,
    /// An InfluxQL statement run before the first write (`.create()`'s `CREATE DATABASE`),
    /// retried until it succeeds.
    pub create: Option<String>,
    /// For logs: the task and node the writer serves.
    pub label: String,
}

/// A writer's counters, Kapacitor's `points_written` and `write_errors` plus Klaxon's
/// `points_dropped`.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Points InfluxDB accepted.
    pub points_written: AtomicU64,
    /// Writes that failed (each retry of a write counts).
    pub write_errors: AtomicU64,
    /// Points given up: over the bound while InfluxDB was unavailable, or refused by it.
    pub points_dropped: AtomicU64,
}

struct Shared {
    pending: Mutex<VecDeque<(Destination, LinePoint)>>,
    wake: Notify,
    closed: AtomicBool,
    stats: Arc<WriterStats>,
}

/// A running write buffer; [`Writer::close`] (or dropping it) writes what waits once more and
/// stops it.
#[derive(Debug)]
pub struct Writer {
    shared: Arc<Shared>,
    options: WriterOptions,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts a writer to `client` on `runtime`.
    pub fn spawn(
        client: Client,
        options: WriterOptions,
        runtime: &tokio::runtime::Handle,
    ) -> Writer {
        let shared = Arc::new(Shared {
            pending: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            stats: Arc::new(WriterStats::default()),
        });
        runtime.spawn(run(client, options.clone(), Arc::clone(&shared)));
        Writer { shared, options }
    }

    /// Queues points without waiting; over the bound the oldest waiting points are dropped.
    pub fn enqueue(&self, destination: &Destination, points: impl IntoIterator<Item = LinePoint>) {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for point in points {
            pending.push_back((destination.clone(), point));
        }
        let over = pending
            .len()
            .saturating_sub(self.options.max_pending.max(1));
        if over > 0 {
            pending.drain(..over);
            let total = self
                .shared
                .stats
                .points_dropped
                .fetch_add(over as u64, Ordering::Relaxed);
            tracing::warn!(
                node = %self.options.label,
                dropped = over,
                total_dropped = total + over as u64,
                "influxDBOut buffer full; oldest points dropped"
            );
        }
        if pending.len() >= self.options.buffer {
            self.shared.wake.notify_one();
        }
    }

    /// The writer's counters.
    pub fn stats(&self) -> Arc<WriterStats> {
        Arc::clone(&self.shared.stats)
    }

    /// How many points wait.
    pub fn pending(&self) -> usize {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Writes what waits once more, then stops.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

async fn run(client: Client, options: WriterOptions, shared: Arc<Shared>) {
    let mut created = options.create.is_none();
    // Backoff while InfluxDB is unavailable: from 100ms doubling to the flush interval.
    let mut backoff: Option<Duration> = None;
    loop {
        // Before waiting: Kapacitor creates the database when the task starts, not at the first
        // flush. Retried before each flush until InfluxDB answers.
        if !created {
            let statement = options.create.as_deref().unwrap_or_default();
            match client.query(None, statement).await {
                Ok(_) => created = true,
                Err(e) => {
                    tracing::error!(node = %options.label, cluster = client.name(), error = %e,
                        statement, "failed to create database");
                    // Refused outright (bad name...): write anyway, as Kapacitor does.
                    created = !e.is_retryable();
                }
            }
        }
        let wait = backoff.unwrap_or(options.flush_interval);
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
        let closing = shared.closed.load(Ordering::Acquire);
        let retry = flush(&client, &options, &shared).await;
        if closing {
            break;
        }
        backoff = if retry {
            let next = backoff.map_or(Duration::from_millis(100), |b| b * 2);
            Some(next.min(options.flush_interval))
        } else {
            None
        };
    }
}

/// Writes everything that waits, one request per destination, at most `buffer` points each.
/// Returns whether InfluxDB was unavailable (the points were put back to retry).
async fn flush(client: &Client, options: &WriterOptions, shared: &Shared) -> bool {
    let taken: Vec<(Destination, LinePoint)> = shared
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect();
    if taken.is_empty() {
        return false;
    }
    let mut by_destination: BTreeMap<Destination, Vec<LinePoint>> = BTreeMap::new();
    for (destination, point) in taken {
        by_destination.entry(destination).or_default().push(point);
    }
    let mut unavailable = false;
    let mut retained = Vec::new();
    for (destination, points) in by_destination {
        for chunk in points.chunks(options.buffer.max(1)) {
            if unavailable {
                retained.extend(chunk.iter().map(|p| (destination.clone(), p.clone())));
                continue;
            }
            let mut body = String::new();
            for point in chunk {
                point.write_to(&mut body, destination.precision);
            }
            match client.write(&destination, body).await {
                Ok(()) => {
                    shared
                        .stats
                        .points_written
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    shared.stats.write_errors.fetch_add(1, Ordering::Relaxed);
                    log_failure(options, client, &destination, &e, chunk.len());
                    if e.is_retryable() {
                        unavailable = true;
                        retained.extend(chunk.iter().map(|p| (destination.clone(), p.clone())));
                    } else {
                        shared
                            .stats
                            .points_dropped
                            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    }
                }
            }
        }
    }
    if !retained.is_empty() {
        let mut pending = shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The retained points are older than what arrived meanwhile: they go first.
        for item in retained.into_iter().rev() {
            pending.push_front(item);
        }
        let over = pending.len().saturating_sub(options.max_pending.max(1));
        if over > 0 {
            pending.drain(..over);
            shared
                .stats
                .points_dropped
                .fetch_add(over as u64, Ordering::Relaxed);
        }
    }
    unavailable
}

fn log_failure(
    options: &WriterOptions,
    client: &Client,
    destination: &Destination,
    error: &InfluxError,
    points: usize,
) {
    let outcome = if error.is_retryable() {
        "kept to retry"
    } else {
        "dropped"
    };
    tracing::error!(
        node = %options.label,
        cluster = client.name(),
        database = %destination.database,
        retention_policy = %destination.retention_policy,
        points,
        error = %error,
        "failed to write points to InfluxDB; {outcome}"
    );
}
