//! A task as stored ([`TaskRecord`]), as the API shows it ([`TaskInfo`]), and what may change
//! in it ([`TaskChange`]).

use klaxon_core::Timestamp;
use serde::{Deserialize, Serialize};

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

/// A task and its run-time state, for the API. Made without compiling the script: what it
/// shows of the script was read when the task was defined, changed or loaded.
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
    /// The pipeline's edges as (parent, child) node IDs, such as `("from1", "alert2")`, in the
    /// order the children appear in the script: the DOT graph's lines.
    pub edges: Vec<(String, String)>,
    /// While it runs: each node's counters and its throughput.
    pub stats: Option<super::ExecutionStats>,
}

impl TaskInfo {
    /// `stream` or `batch`: the script's source, node 0 of its edges (`batch0`), as Kapacitor
    /// takes a task's type from its script.
    pub fn task_type(&self) -> &'static str {
        task_type(&self.edges)
    }
}

/// `batch` for a task whose graph starts at `batch0`, else `stream`.
pub(super) fn task_type(edges: &[(String, String)]) -> &'static str {
    match edges.first() {
        Some((source, _)) if source == "batch0" => "batch",
        _ => "stream",
    }
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
