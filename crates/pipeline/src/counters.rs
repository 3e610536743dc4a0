//! Per-node message counters of a running task: what each node received and sent on, the
//! `collected` and `emitted` of Kapacitor's node statistics and the `processed` of its DOT
//! edges, and the groups each node holds now (Kapacitor's `working_cardinality`). Atomics
//! behind an `Arc`, so that the engine reads them without the task's lock while points go
//! through.

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of every node of a task, by node index (`stream0`, `from1`...).
#[derive(Debug)]
pub struct NodeCounters {
    nodes: Vec<[AtomicU64; 3]>,
}

/// What one node has done since its task started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCount {
    /// Messages (points, or a window's batches) the node received.
    pub collected: u64,
    /// Messages the node sent on: each goes to every child, so an edge's `processed` is this.
    pub sent: u64,
    /// The groups the node holds now (Kapacitor's `working_cardinality`): 0 for the nodes
    /// Kapacitor runs without a grouped consumer (`stream`, `from`, `default`...).
    pub cardinality: u64,
}

impl NodeCounters {
    pub(crate) fn new(nodes: usize) -> Self {
        NodeCounters {
            nodes: (0..nodes).map(|_| Default::default()).collect(),
        }
    }

    pub(crate) fn collected(&self, node: usize) {
        if let Some([collected, _, _]) = self.nodes.get(node) {
            collected.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn sent(&self, node: usize) {
        if let Some([_, sent, _]) = self.nodes.get(node) {
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_cardinality(&self, node: usize, groups: usize) {
        if let Some([_, _, cardinality]) = self.nodes.get(node) {
            cardinality.store(groups as u64, Ordering::Relaxed);
        }
    }

    /// Node `node`'s counts.
    ///
    /// ```
    /// use klaxon_pipeline::{Point, ServerInfo, Task};
    /// let registry = klaxon_core::Registry::linked().unwrap();
    /// let mut task = Task::compile("t", "stream|from().measurement('cpu')|where(lambda: \"v\" > 1)",
    ///     &registry, &ServerInfo::default()).unwrap();
    /// # struct Nothing;
    /// # impl klaxon_pipeline::Context for Nothing {
    /// #     fn emit(&mut self, _: klaxon_pipeline::AlertEmission) {}
    /// #     fn restore(&mut self, _: &str, _: Option<&str>, _: &str) -> Option<(klaxon_core::Level, klaxon_core::Timestamp)> { None }
    /// #     fn point_error(&mut self, _: &str, _: String) {}
    /// #     fn post(&mut self, _: &str, _: klaxon_pipeline::PostRequest) -> u16 { 0 }
    /// # }
    /// let point = |v: f64| {
    ///     Point::new("db", "rp", "cpu", 0).field("v", klaxon_core::FieldValue::Float(v))
    /// };
    /// task.process(&point(0.5), &mut Nothing);
    /// task.process(&point(2.0), &mut Nothing);
    /// let counters = task.counters();
    /// assert_eq!(counters.get(1).collected, 2); // from1
    /// assert_eq!(counters.get(2).collected, 2); // where2
    /// assert_eq!(counters.get(2).sent, 1);
    /// assert_eq!(counters.get(2).cardinality, 1); // the one group of a task without groupBy
    /// assert_eq!(counters.get(1).cardinality, 0); // from() holds no groups
    /// ```
    pub fn get(&self, node: usize) -> NodeCount {
        self.nodes
            .get(node)
            .map(|[collected, sent, cardinality]| NodeCount {
                collected: collected.load(Ordering::Relaxed),
                sent: sent.load(Ordering::Relaxed),
                cardinality: cardinality.load(Ordering::Relaxed),
            })
            .unwrap_or_default()
    }

    /// How many nodes are counted.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the task has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
