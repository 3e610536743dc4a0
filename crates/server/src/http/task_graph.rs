//! A task's DOT graph and statistics as Kapacitor's tasks API shows them: while the task runs,
//! the graph carries its throughput, each node's counters and each edge's `processed` count,
//! and `stats` holds `task-stats` and `node-stats`; a task that does not run has the bare graph.
//!
//! Klaxon's node counters are `errors`, `working_cardinality` (the groups the node holds) and
//! an alert node's `alerts_triggered`, `oks_triggered`... counts; Kapacitor's
//! `avg_exec_time_ns` is not measured.

use std::collections::BTreeMap;

use klaxon_engine::tasks::{ExecutionStats, NodeStats, TaskInfo};
use serde_json::{Value, json};

/// A batch task's source, which Kapacitor leaves out of the graph (its `|query()` nodes start
/// it).
const BATCH_SOURCE: &str = "batch0";

/// The DOT graph of a task, with its counters while it runs.
pub fn dot(info: &TaskInfo) -> String {
    let id = &info.record.id;
    let Some(stats) = &info.stats else {
        let mut out = format!("digraph {id} {{\n");
        for (parent, child) in info.edges.iter().filter(|(p, _)| p != BATCH_SOURCE) {
            out.push_str(&format!("{parent} -> {child};\n"));
        }
        out.push('}');
        return out;
    };
    let mut out = format!(
        "digraph {id} {{\ngraph [throughput=\"{:.2} points/s\"];\n",
        stats.throughput
    );
    for node in stats.nodes.iter().filter(|n| n.id != BATCH_SOURCE) {
        out.push_str(&format!("\n{} [", node.id));
        for (key, value) in dot_counters(node) {
            out.push_str(&format!("{key}=\"{value}\" "));
        }
        out.push_str("];\n");
        for (_, child) in info.edges.iter().filter(|(parent, _)| *parent == node.id) {
            out.push_str(&format!(
                "{} -> {child} [processed=\"{}\"];\n",
                node.id, node.processed
            ));
        }
    }
    out.push('}');
    out
}

/// The counters a node shows in the graph, sorted by name as Kapacitor prints them.
fn dot_counters(node: &NodeStats) -> BTreeMap<&'static str, u64> {
    let mut counters = BTreeMap::from([
        ("errors", node.errors),
        ("working_cardinality", node.working_cardinality),
    ]);
    if let Some([ok, info, warn, crit]) = node.alerts {
        counters.extend([
            ("alerts_inhibited", 0),
            ("alerts_triggered", ok + info + warn + crit),
            ("oks_triggered", ok),
            ("infos_triggered", info),
            ("warns_triggered", warn),
            ("crits_triggered", crit),
        ]);
    }
    if let Some([errors, batches, points]) = node.queries {
        counters.extend([
            ("query_errors", errors),
            ("batches_queried", batches),
            ("points_queried", points),
        ]);
    }
    if let Some([written, errors, dropped]) = node.writes {
        counters.extend([
            ("points_written", written),
            ("write_errors", errors),
            ("points_dropped", dropped),
        ]);
    }
    counters
}

/// The task's `stats`: `task-stats` (Klaxon's `point-errors` always, Kapacitor's `throughput`
/// while it runs) and, while it runs, `node-stats` (each node's counters with `collected` and
/// `emitted`).
pub fn stats(info: &TaskInfo) -> Value {
    let Some(stats) = &info.stats else {
        return json!({"task-stats": {"point-errors": info.point_errors}});
    };
    execution_stats(stats, info.point_errors)
}

/// `stats` of a task run (the running task's, or a replay's): `task-stats` and `node-stats`.
pub fn execution_stats(stats: &ExecutionStats, point_errors: u64) -> Value {
    let nodes: BTreeMap<&str, BTreeMap<&str, u64>> = stats
        .nodes
        .iter()
        .map(|node| {
            let mut counters = dot_counters(node);
            counters.insert("collected", node.collected);
            counters.insert("emitted", node.emitted);
            (node.id.as_str(), counters)
        })
        .collect();
    json!({
        "node-stats": nodes,
        "task-stats": {"point-errors": point_errors, "throughput": stats.throughput},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_engine::tasks::{ExecutionStats, TaskRecord, TaskStatus};

    fn info(stats: Option<ExecutionStats>) -> TaskInfo {
        let edges = [("stream0", "from1"), ("from1", "alert2")]
            .map(|(parent, child)| (parent.to_owned(), child.to_owned()));
        TaskInfo {
            record: TaskRecord {
                id: "cpu".into(),
                script: String::new(),
                dbrps: Vec::new(),
                status: TaskStatus::Enabled,
                created: klaxon_core::Timestamp::from_nanos(0),
                modified: klaxon_core::Timestamp::from_nanos(0),
                last_enabled: None,
            },
            dbrps: Vec::new(),
            executing: stats.is_some(),
            error: String::new(),
            point_errors: 0,
            edges: edges.to_vec(),
            stats,
        }
    }

    fn node(id: &str, collected: u64, processed: u64, alerts: Option<[u64; 4]>) -> NodeStats {
        NodeStats {
            writes: None,
            queries: None,
            id: id.into(),
            collected,
            emitted: processed,
            processed,
            errors: 0,
            working_cardinality: 1,
            alerts,
        }
    }

    #[test]
    fn a_stopped_task_has_the_bare_graph() {
        assert_eq!(
            dot(&info(None)),
            "digraph cpu {\nstream0 -> from1;\nfrom1 -> alert2;\n}"
        );
        assert_eq!(
            stats(&info(None)),
            json!({"task-stats": {"point-errors": 0}})
        );
    }

    #[test]
    fn a_running_task_has_kapacitors_counters() {
        let running = info(Some(ExecutionStats {
            throughput: 0.0,
            nodes: vec![
                node("stream0", 3, 3, None),
                node("from1", 3, 2, None),
                node("alert2", 2, 0, Some([0, 0, 1, 1])),
            ],
        }));
        assert_eq!(
            dot(&running),
            "digraph cpu {\ngraph [throughput=\"0.00 points/s\"];\n\n\
             stream0 [errors=\"0\" working_cardinality=\"1\" ];\n\
             stream0 -> from1 [processed=\"3\"];\n\n\
             from1 [errors=\"0\" working_cardinality=\"1\" ];\n\
             from1 -> alert2 [processed=\"2\"];\n\n\
             alert2 [alerts_inhibited=\"0\" alerts_triggered=\"2\" crits_triggered=\"1\" \
             errors=\"0\" infos_triggered=\"0\" oks_triggered=\"0\" warns_triggered=\"1\" \
             working_cardinality=\"1\" ];\n}"
        );
        let json = stats(&running);
        assert_eq!(json["node-stats"]["alert2"]["alerts_triggered"], 2);
        assert_eq!(json["node-stats"]["from1"]["emitted"], 2);
        assert_eq!(json["node-stats"]["stream0"]["collected"], 3);
        assert_eq!(json["node-stats"]["alert2"]["working_cardinality"], 1);
        assert_eq!(json["task-stats"]["throughput"], 0.0);
    }
}
