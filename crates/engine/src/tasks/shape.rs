//! What reads need of a task's script, read once when the task is defined, changed or loaded,
//! so that no read (the tasks API, `/metrics`, a delete) compiles TICKscript.

use super::{Dbrp, TaskRecord};

/// Limits for reading a stored script: it passed the limits in force when it was defined, and
/// a narrower limit since must not hide its topics from cleanup.
const STORED: klaxon_tick::Limits = klaxon_tick::Limits {
    max_depth: klaxon_tick::Limits::MAX_DEPTH,
    regex_size_limit: usize::MAX,
    max_script_size: usize::MAX,
};

/// A task's dbrps, alert nodes and edges. Read without the handler registry, so that a task
/// whose handler kind is gone can still be shown and cleaned up.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct TaskShape {
    /// The dbrps the task reads: those given with it, or those of its `dbrp` statements (empty:
    /// every database).
    pub(super) dbrps: Vec<Dbrp>,
    /// The IDs of its alert and deadman nodes (`alert2`...), whose anonymous topics it owns.
    pub(super) alert_nodes: Vec<String>,
    /// (parent, child) node IDs in node order, for the DOT graph.
    pub(super) edges: Vec<(String, String)>,
    /// The measurement of each `|from()`, empty for one that takes every measurement (what a
    /// stream recording of the task keeps, as Kapacitor's `Task.Measurements`).
    pub(super) measurements: Vec<String>,
}

impl TaskShape {
    /// Reads the shape of `script`, the script `record` runs (with its vars and the `[deadman]
    /// global` deadman, whose alert node has counters too). A script that does not parse has
    /// no nodes (it cannot have been stored, short of editing the database).
    pub(super) fn of(record: &TaskRecord, script: &str) -> TaskShape {
        #[cfg(test)]
        super::compile_count::SCRIPTS.with(|n| n.set(n.get() + 1));
        // A template's typed vars (`var x duration`) take placeholders: the nodes and dbrps do
        // not depend on their values.
        let program = klaxon_tick::parse_with(script, &STORED)
            .ok()
            .and_then(|script| klaxon_tick::resolve_template(&script, &STORED).ok());
        let nodes = program.as_ref().map_or(&[][..], |p| &p.nodes[..]);
        let dbrps = if record.dbrps.is_empty() {
            program
                .iter()
                .flat_map(|p| &p.dbrps)
                .map(|d| Dbrp {
                    db: d.db.clone(),
                    rp: d.rp.clone(),
                })
                .collect()
        } else {
            record.dbrps.clone()
        };
        let alert_nodes = nodes
            .iter()
            // A deadman node is an alert node under its own ID (`deadman2`).
            .filter(|n| n.name == "alert" || n.name == "deadman")
            .map(klaxon_tick::Node::id)
            .collect();
        let edges = nodes
            .iter()
            // Every parent, the arguments of a join or union too.
            .flat_map(|n| {
                let parents = n.parent.into_iter().chain(n.others.iter().copied());
                parents.map(move |p| (nodes[p].id(), n.id()))
            })
            .collect();
        let measurements = nodes
            .iter()
            .filter(|n| n.name == "from")
            .map(|n| {
                n.properties
                    .iter()
                    .rev()
                    .find(|p| p.name == "measurement")
                    .and_then(|p| p.arg(0).as_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        TaskShape {
            dbrps,
            alert_nodes,
            edges,
            measurements,
        }
    }
}
