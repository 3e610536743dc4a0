//! A compiled stream task: the node tree of a TICKscript, and pushing points through it.

use klaxon_core::{Level, Registry, Timestamp};
use klaxon_tick::{Dbrp, Program};

use crate::alert::{AlertEmission, AlertNode, ServerInfo};
use crate::nodes::{Eval, From, Where};
use crate::{DefineError, GroupId, Point};

/// What a task needs from its surroundings while it processes points.
pub trait Context {
    /// An alert node emitted an event.
    fn emit(&mut self, emission: AlertEmission);
    /// The stored state of `event_id` for alert node `node` (its anonymous topic first, then
    /// `topic`), so a group first seen after a restart continues its incident.
    fn restore(
        &mut self,
        node: &str,
        topic: Option<&str>,
        event_id: &str,
    ) -> Option<(Level, Timestamp)>;
    /// A point could not be processed by `node` (a missing field in a lambda...); it was dropped.
    fn point_error(&mut self, node: &str, message: String);
}

/// The nodes this engine runs.
#[derive(Debug)]
enum Stage {
    Stream,
    From(From),
    Where(Where),
    Eval(Eval),
    Alert(Box<AlertNode>),
}

/// The node types this engine supports, for error messages.
const NODES: &[&str] = &["alert", "eval", "from", "where"];

/// A stream task ready to take points.
///
/// ```
/// use klaxon_pipeline::{Task, Point, ServerInfo};
///
/// let registry = klaxon_core::Registry::linked().unwrap();
/// let task = Task::compile(
///     "cpu_alert",
///     "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"usage_idle\" < 10)\n",
///     &registry,
///     &ServerInfo::default(),
/// )
/// .unwrap();
/// assert!(task.dbrps().is_empty());
/// ```
#[derive(Debug)]
pub struct Task {
    id: String,
    dbrps: Vec<Dbrp>,
    stages: Vec<Stage>,
    children: Vec<Vec<usize>>,
    ids: Vec<String>,
}

impl Task {
    /// Parses, resolves and compiles `script`; every node and property is checked, handler
    /// properties against `registry`.
    pub fn compile(
        id: &str,
        script: &str,
        registry: &Registry,
        server: &ServerInfo,
    ) -> Result<Task, DefineError> {
        let program: Program = klaxon_tick::compile_script(script)?;
        let mut stages = Vec::with_capacity(program.nodes.len());
        let mut children = vec![Vec::new(); program.nodes.len()];
        for node in &program.nodes {
            if node.is_udf {
                return Err(DefineError::new(
                    node.span,
                    format!(
                        "@{}() is a user-defined function; UDFs are not supported",
                        node.name
                    ),
                ));
            }
            let stage = match (node.index, node.name.as_str()) {
                (0, "stream") => Stage::Stream,
                (0, "batch") => {
                    return Err(DefineError::new(
                        node.span,
                        "batch tasks are not supported yet; use stream",
                    ));
                }
                (0, other) => {
                    return Err(DefineError::new(
                        node.span,
                        format!("a pipeline starts with stream, found {other}"),
                    ));
                }
                (_, "from") => Stage::From(From::compile(node)?),
                (_, "where") => Stage::Where(Where::compile(node)?),
                (_, "eval") => Stage::Eval(Eval::compile(node)?),
                (_, "alert") => {
                    Stage::Alert(Box::new(AlertNode::compile(node, id, server, registry)?))
                }
                (_, other) => {
                    return Err(DefineError::new(
                        node.span,
                        format!(
                            "unknown node |{other}(); this server supports: {}",
                            NODES.join(", ")
                        ),
                    ));
                }
            };
            if let Some(parent) = node.parent {
                children[parent].push(node.index);
            }
            if index_needs_from(&stage, node.parent, &program) {
                return Err(DefineError::new(
                    node.span,
                    format!(
                        "|{}() must follow |from(); write stream|from()|{}()",
                        node.name, node.name
                    ),
                ));
            }
            stages.push(stage);
        }
        Ok(Task {
            id: id.to_owned(),
            dbrps: program.dbrps,
            ids: program.nodes.iter().map(klaxon_tick::Node::id).collect(),
            stages,
            children,
        })
    }

    /// The task ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The `dbrp` statements of the script.
    pub fn dbrps(&self) -> &[Dbrp] {
        &self.dbrps
    }

    /// The alert nodes, for registering their inline handlers.
    pub fn alert_nodes(&self) -> impl Iterator<Item = &AlertNode> {
        self.stages.iter().filter_map(|s| match s {
            Stage::Alert(a) => Some(a.as_ref()),
            _ => None,
        })
    }

    /// The measurements the task's `from()` nodes select; `None` when one of them selects every
    /// measurement (used to route points to tasks cheaply).
    pub fn measurements(&self) -> Option<Vec<&str>> {
        let mut out = Vec::new();
        for stage in &self.stages {
            if let Stage::From(from) = stage {
                out.push(from.measurement()?);
            }
        }
        Some(out)
    }

    /// Pushes one point through the pipeline.
    pub fn process(&mut self, point: &Point, ctx: &mut dyn Context) {
        let children = self.children[0].clone();
        for child in children {
            self.push(child, point, &GroupId::nil(), ctx);
        }
    }

    fn push(&mut self, index: usize, point: &Point, group: &GroupId, ctx: &mut dyn Context) {
        let (output, group) = match &mut self.stages[index] {
            Stage::Stream => (Some(point.clone()), group.clone()),
            Stage::From(from) => match from.accept(point) {
                Ok(Some(group)) => (Some(point.clone()), group),
                Ok(None) => return,
                Err(e) => return ctx.point_error(&self.ids[index], e),
            },
            Stage::Where(filter) => match filter.accept(point) {
                Ok(true) => (Some(point.clone()), group.clone()),
                Ok(false) => return,
                Err(e) => return ctx.point_error(&self.ids[index], e),
            },
            Stage::Eval(eval) => match eval.apply(point) {
                Ok(out) => (Some(out), group.clone()),
                Err(e) => return ctx.point_error(&self.ids[index], e),
            },
            Stage::Alert(alert) => (alert.process(point, group, ctx), group.clone()),
        };
        let Some(output) = output else { return };
        let children = self.children[index].clone();
        for child in children {
            self.push(child, &output, &group, ctx);
        }
    }
}

/// `where`, `eval` and `alert` need a `from()` above them in a stream task.
fn index_needs_from(stage: &Stage, parent: Option<usize>, program: &Program) -> bool {
    let needs = matches!(stage, Stage::Where(_) | Stage::Eval(_) | Stage::Alert(_));
    needs && parent == Some(0) && program.nodes[0].name == "stream"
}
