//! What each task has done: points, point errors and alerts by level, counted as they happen
//! and read by `/metrics` and `/debug/vars`; and what each node of a running task has done
//! (Kapacitor's node statistics: the tasks API's `stats` and the DOT graph's counters).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use klaxon_core::Level;

use super::TaskManager;

/// What one task has done since the process started (or since it was defined).
#[derive(Debug, Default)]
pub(super) struct TaskCounters {
    pub(super) points: AtomicU64,
    pub(super) errors: AtomicU64,
    /// Points dropped because a node held `[limits] max-series` series.
    pub(super) series_dropped: AtomicU64,
    /// Alert events emitted, by level (see [`level_index`]).
    pub(super) alerts: [AtomicU64; 4],
}

/// A task's counters, for `/metrics` and `/debug/vars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStats {
    /// The task ID.
    pub id: String,
    /// `stream` or `batch`.
    pub kind: &'static str,
    /// Whether it runs.
    pub executing: bool,
    /// Points that reached the task (after dbrp routing).
    pub points: u64,
    /// Points a node dropped with an error (a missing field...).
    pub errors: u64,
    /// Points of new series dropped at a node holding `[limits] max-series` series (not in
    /// `errors`).
    pub series_dropped: u64,
    /// Alert events its alert nodes emitted, by level in [`Level::ALL`]'s order (OK, INFO,
    /// WARNING, CRITICAL).
    pub alerts: [u64; 4],
}

/// The position of `level` in [`TaskCounters::alerts`].
pub(super) fn level_index(level: Level) -> usize {
    Level::ALL.iter().position(|l| *l == level).unwrap_or(0)
}

impl TaskManager {
    /// Every task's counters, sorted by task ID.
    pub fn stats(&self) -> Vec<TaskStats> {
        self.read_slots()
            .values()
            .map(|s| TaskStats {
                id: s.record.id.clone(),
                kind: super::record::task_type(&s.shape.edges),
                executing: s.running.is_some(),
                points: s.counters.points.load(Ordering::Relaxed),
                errors: s.counters.errors.load(Ordering::Relaxed),
                series_dropped: s.counters.series_dropped.load(Ordering::Relaxed),
                alerts: Level::ALL
                    .map(|l| s.counters.alerts[level_index(l)].load(Ordering::Relaxed)),
            })
            .collect()
    }
}

/// Per-node events of a running task that the engine sees (point errors and alert events, by
/// node ID); they start from zero when the task starts, as Kapacitor's node statistics do.
#[derive(Debug, Default)]
pub(super) struct NodeEvents {
    by_node: Mutex<BTreeMap<String, NodeEventCounts>>,
}

/// One node's [`NodeEvents`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct NodeEventCounts {
    errors: u64,
    alerts: [u64; 4],
}

impl NodeEvents {
    fn update(&self, node: &str, f: impl FnOnce(&mut NodeEventCounts)) {
        let mut map = self.by_node.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(node) {
            Some(counts) => f(counts),
            None => {
                let mut counts = NodeEventCounts::default();
                f(&mut counts);
                map.insert(node.to_owned(), counts);
            }
        }
    }

    /// Node `node` dropped a point with an error.
    pub(super) fn error(&self, node: &str) {
        self.update(node, |c| c.errors += 1);
    }

    /// Node `node` emitted an alert event at `level`.
    pub(super) fn alert(&self, node: &str, level: Level) {
        self.update(node, |c| c.alerts[level_index(level)] += 1);
    }

    fn get(&self, node: &str) -> NodeEventCounts {
        let map = self.by_node.lock().unwrap_or_else(|e| e.into_inner());
        map.get(node).copied().unwrap_or_default()
    }
}

/// One node of a running task, as the tasks API shows it (`stats.node-stats` and the DOT
/// graph's counters).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStats {
    /// The node ID, such as `alert2`.
    pub id: String,
    /// Messages it received.
    pub collected: u64,
    /// Messages its children received from it (what it sent, once per child).
    pub emitted: u64,
    /// Messages it sent on: the `processed` count of each of its edges.
    pub processed: u64,
    /// Points it dropped with an error.
    pub errors: u64,
    /// The groups it holds now (Kapacitor's `working_cardinality`).
    pub working_cardinality: u64,
    /// For an alert node (a deadman's too): the events it emitted by level, in [`Level::ALL`]'s
    /// order.
    pub alerts: Option<[u64; 4]>,
    /// For an `|influxDBOut()`: points written, write errors and points dropped.
    pub writes: Option<[u64; 3]>,
    /// For a batch task's `|query()`: failed runs, batches and points queried (Kapacitor's
    /// `query_errors`, `batches_queried`, `points_queried`).
    pub queries: Option<[u64; 3]>,
}

/// What a running task reports: each node's counters and the task's throughput.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ExecutionStats {
    /// Points per second that reached the task, over the time since the previous read (at
    /// least a second) or since it started.
    pub throughput: f64,
    /// Every node, in node order.
    pub nodes: Vec<NodeStats>,
}

/// The throughput's last sample: when, and the points counted then.
#[derive(Debug)]
pub(super) struct Throughput {
    sample: Mutex<(std::time::Instant, u64, f64)>,
}

impl Default for Throughput {
    fn default() -> Self {
        Throughput {
            sample: Mutex::new((std::time::Instant::now(), 0, 0.0)),
        }
    }
}

impl Throughput {
    /// The rate since the previous sample, taken anew when a second or more has passed.
    fn rate(&self, points: u64) -> f64 {
        let mut sample = self.sample.lock().unwrap_or_else(|e| e.into_inner());
        let (at, counted, rate) = *sample;
        let elapsed = at.elapsed().as_secs_f64();
        if elapsed < 1.0 {
            return rate;
        }
        let rate = points.saturating_sub(counted) as f64 / elapsed;
        *sample = (std::time::Instant::now(), points, rate);
        rate
    }
}

impl super::RunningTask {
    /// The task's statistics now; `edges` (parent, child) give each node's number of children.
    pub(super) fn execution_stats(
        &self,
        alert_nodes: &[String],
        edges: &[(String, String)],
    ) -> ExecutionStats {
        let counters = &self.counters;
        let nodes: Vec<NodeStats> = self
            .node_ids
            .iter()
            .enumerate()
            .map(|(index, id)| {
                let count = counters.get(index);
                let children = edges.iter().filter(|(parent, _)| parent == id).count() as u64;
                let events = self.events.get(id);
                NodeStats {
                    id: id.clone(),
                    collected: count.collected,
                    emitted: count.sent * children,
                    processed: count.sent,
                    errors: events.errors,
                    working_cardinality: count.cardinality,
                    alerts: alert_nodes.contains(id).then_some(events.alerts),
                    queries: self.batch.stats(id).map(|s| {
                        use std::sync::atomic::Ordering::Relaxed;
                        [
                            s.query_errors.load(Relaxed),
                            s.batches_queried.load(Relaxed),
                            s.points_queried.load(Relaxed),
                        ]
                    }),
                    writes: self.writers.stats(id).map(|s| {
                        use std::sync::atomic::Ordering::Relaxed;
                        [
                            s.points_written.load(Relaxed),
                            s.write_errors.load(Relaxed),
                            s.points_dropped.load(Relaxed),
                        ]
                    }),
                }
            })
            .collect();
        let points = nodes.first().map_or(0, |stream| stream.collected);
        ExecutionStats {
            throughput: self.throughput.rate(points),
            nodes,
        }
    }
}
