//! A compiled stream task: the node tree of a TICKscript, and pushing points through it.

use std::borrow::Cow;

use klaxon_core::{AlertResult, Level, Registry, Timestamp};
use klaxon_tick::{Dbrp, Program};

use crate::aggregate::Aggregate;
use crate::alert::{AlertEmission, AlertNode, ServerInfo};
use crate::batch::{Batch, Group, Message};
use crate::http_out::HttpOut;
use crate::nodes::{Eval, From, Where};
use crate::stats::{Deadman, Stats};
use crate::window::Window;
use crate::{DefineError, Limits, Point};

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
    Window(Window),
    Aggregate(Aggregate),
    HttpOut(HttpOut),
    Stats(Stats),
    Deadman(Box<Deadman>),
}

/// What a node sends on: points or batches (Kapacitor's stream and batch edges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Stream,
    Batch,
}

/// The node types this engine supports besides the aggregates, for error messages.
const NODES: &[&str] = &[
    "alert", "deadman", "eval", "from", "httpOut", "stats", "where", "window",
];

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
    /// Parses, resolves and compiles `script` with the default [`Limits`]; every node and
    /// property is checked, handler properties against `registry`.
    pub fn compile(
        id: &str,
        script: &str,
        registry: &Registry,
        server: &ServerInfo,
    ) -> Result<Task, DefineError> {
        Task::compile_with(id, script, registry, server, &Limits::default())
    }

    /// [`Task::compile`] with the given limits on the script, its lambdas and its templates.
    ///
    /// ```
    /// use klaxon_pipeline::{Limits, ServerInfo, Task};
    /// let registry = klaxon_core::Registry::linked().unwrap();
    /// let limits = Limits { max_template_size: 8, ..Limits::default() };
    /// let err = Task::compile_with("t", "stream|alert().message('{{ .ID }} is {{ .Level }}')",
    ///     &registry, &ServerInfo::default(), &limits).unwrap_err();
    /// assert_eq!(err.to_string(),
    ///     "line 1, column 24: .message() template is 25 bytes; [limits] max-template-size is 8");
    /// ```
    pub fn compile_with(
        id: &str,
        script: &str,
        registry: &Registry,
        server: &ServerInfo,
        limits: &Limits,
    ) -> Result<Task, DefineError> {
        let program: Program = klaxon_tick::compile_script_with(script, &limits.tick)?;
        let mut stages = Vec::with_capacity(program.nodes.len());
        let mut children = vec![Vec::new(); program.nodes.len()];
        let mut edges: Vec<Edge> = Vec::with_capacity(program.nodes.len());
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
                (_, "alert") => Stage::Alert(Box::new(AlertNode::compile(
                    node, id, server, registry, limits,
                )?)),
                (_, "window") => Stage::Window(Window::compile(node)?),
                (_, "httpOut") => Stage::HttpOut(HttpOut::compile(node)?),
                (_, "stats") => Stage::Stats(Stats::compile(node)?),
                (_, "deadman") => {
                    let parent = &program.nodes[node.parent.unwrap_or(0)];
                    Stage::Deadman(Box::new(Deadman::compile(
                        node, parent, id, server, registry, limits,
                    )?))
                }
                (_, name) if Aggregate::is_aggregate(name) => {
                    Stage::Aggregate(Aggregate::compile(node)?)
                }
                (_, other) => {
                    let mut known: Vec<&str> = NODES.to_vec();
                    known.extend(crate::aggregate::Function::NAMES);
                    known.sort_unstable();
                    return Err(DefineError::new(
                        node.span,
                        format!(
                            "unknown node |{other}(); this server supports: {}",
                            known.join(", ")
                        ),
                    ));
                }
            };
            let input = node.parent.map_or(Edge::Stream, |p| edges[p]);
            let output = match &stage {
                Stage::Window(_) if input == Edge::Batch => {
                    return Err(DefineError::new(
                        node.span,
                        "|window() takes points but gets windows here; remove one of the |window() nodes",
                    ));
                }
                Stage::Window(_) => Edge::Batch,
                Stage::Aggregate(_) if input == Edge::Stream => {
                    return Err(DefineError::new(
                        node.span,
                        format!(
                            "|{}() aggregates windows of points; put |window() before it, e.g. |window().period(1m).every(1m)|{}(...)",
                            node.name, node.name
                        ),
                    ));
                }
                Stage::Aggregate(_) if node.name == "distinct" => Edge::Batch,
                Stage::Aggregate(_) => Edge::Stream,
                Stage::Stats(_) | Stage::Deadman(_) => Edge::Stream,
                Stage::Alert(alert) if alert.uses_all() && input == Edge::Stream => {
                    return Err(DefineError::new(
                        node.span,
                        ".all() applies to windows of points; put |window() before |alert() or remove .all()",
                    ));
                }
                _ => input,
            };
            edges.push(output);
            if let Stage::HttpOut(out) = &stage {
                let taken = stages
                    .iter()
                    .any(|s| matches!(s, Stage::HttpOut(o) if o.name() == out.name()));
                if taken {
                    return Err(DefineError::new(
                        node.span,
                        format!(
                            "two |httpOut() nodes are named '{}'; give each its own name",
                            out.name()
                        ),
                    ));
                }
            }
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

    /// The alert nodes (including those inside `|deadman()`), for registering their inline
    /// handlers.
    pub fn alert_nodes(&self) -> impl Iterator<Item = &AlertNode> {
        self.stages.iter().filter_map(|s| match s {
            Stage::Alert(a) => Some(a.as_ref()),
            Stage::Deadman(d) => Some(d.alert()),
            _ => None,
        })
    }

    /// Whether the task has wall-clock nodes (`stats`, `deadman`) that need [`Task::tick`].
    pub fn ticks(&self) -> bool {
        self.stages
            .iter()
            .any(|s| matches!(s, Stage::Stats(_) | Stage::Deadman(_)))
    }

    /// Lets the wall-clock nodes emit what is due at `now` (the engine calls this often, well
    /// within the shortest interval; each node keeps its own schedule).
    pub fn tick(&mut self, now: Timestamp, ctx: &mut dyn Context) {
        for index in 0..self.stages.len() {
            let due = match &mut self.stages[index] {
                Stage::Stats(stats) => stats.tick(now),
                Stage::Deadman(deadman) => deadman.tick(now, ctx),
                _ => continue,
            };
            for (point, group) in due {
                let message = Message::Point(point);
                for i in 0..self.children[index].len() {
                    let child = self.children[index][i];
                    self.push(child, Cow::Borrowed(&message), &group, ctx);
                }
            }
        }
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

    /// The latest output of the `|httpOut(name)` node, one row per group; `None` when the task
    /// has no such node.
    pub fn http_output(&self, name: &str) -> Option<AlertResult> {
        self.stages.iter().find_map(|s| match s {
            Stage::HttpOut(out) if out.name() == name => Some(out.result()),
            _ => None,
        })
    }

    /// Pushes one point through the pipeline.
    pub fn process(&mut self, point: &Point, ctx: &mut dyn Context) {
        let message = Message::Point(point.clone());
        let group = Group::nil();
        // The usual single `from()` owns the copy, so a window down the line can keep it.
        if let [child] = self.children[0][..] {
            return self.push(child, Cow::Owned(message), &group, ctx);
        }
        for i in 0..self.children[0].len() {
            let child = self.children[0][i];
            self.push(child, Cow::Borrowed(&message), &group, ctx);
        }
    }

    fn push(
        &mut self,
        index: usize,
        message: Cow<'_, Message>,
        group: &Group,
        ctx: &mut dyn Context,
    ) {
        let node = &self.ids[index];
        let (output, group) = match (&mut self.stages[index], message.as_ref()) {
            (Stage::Stream, _) => (Some(message), Cow::Borrowed(group)),
            (Stage::From(from), Message::Point(point)) => match from.accept(point) {
                Ok(Some(group)) => (Some(message), Cow::Owned(group)),
                Ok(None) => return,
                Err(e) => return ctx.point_error(node, e),
            },
            (Stage::Where(filter), Message::Point(point)) => match filter.accept(point) {
                Ok(true) => (Some(message), Cow::Borrowed(group)),
                Ok(false) => return,
                Err(e) => return ctx.point_error(node, e),
            },
            (Stage::Where(filter), Message::Batch(batch)) => {
                let out = map_points(batch, node, ctx, |p| {
                    Ok(filter.accept(p)?.then(|| p.clone()))
                });
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::Eval(eval), Message::Point(point)) => match eval.apply(point) {
                Ok(out) => (Some(Cow::Owned(Message::Point(out))), Cow::Borrowed(group)),
                Err(e) => return ctx.point_error(node, e),
            },
            (Stage::Eval(eval), Message::Batch(batch)) => {
                let out = map_points(batch, node, ctx, |p| eval.apply(p).map(Some));
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::Alert(alert), Message::Point(point)) => (
                alert
                    .process(point, &group.id, ctx)
                    .map(|p| Cow::Owned(Message::Point(p))),
                Cow::Borrowed(group),
            ),
            (Stage::Alert(alert), Message::Batch(batch)) => (
                alert
                    .process_batch(batch, &group.id, ctx)
                    .map(|b| Cow::Owned(Message::Batch(b))),
                Cow::Borrowed(group),
            ),
            (Stage::Window(window), Message::Point(_)) => {
                // The window keeps the point: take it when this node is its only reader.
                let point = match message {
                    Cow::Owned(Message::Point(p)) => p,
                    Cow::Borrowed(Message::Point(p)) => p.clone(),
                    Cow::Owned(Message::Batch(_)) | Cow::Borrowed(Message::Batch(_)) => return,
                };
                (
                    window
                        .process(point, group)
                        .map(|b| Cow::Owned(Message::Batch(b))),
                    Cow::Borrowed(group),
                )
            }
            (Stage::Aggregate(aggregate), Message::Batch(batch)) => {
                let mut errors = Vec::new();
                let out = aggregate.apply(batch, &mut errors);
                for e in errors {
                    ctx.point_error(node, e);
                }
                (out.map(Cow::Owned), Cow::Borrowed(group))
            }
            (Stage::Stats(stats), m) => return stats.observe(m, group),
            (Stage::Deadman(deadman), m) => return deadman.observe(m, group),
            (Stage::HttpOut(out), m) => {
                out.record(m, &group.id);
                (Some(message), Cow::Borrowed(group))
            }
            // Edges are checked when the task is compiled: a from() never sees a batch, a
            // window never sees a batch, an aggregate never sees a point.
            (Stage::From(_) | Stage::Window(_), Message::Batch(_))
            | (Stage::Aggregate(_), Message::Point(_)) => return,
        };
        let Some(output) = output else { return };
        // Pass-through nodes hand the message on: an only child gets it as it is (owned when
        // this node owned it), several children borrow it.
        let children = self.children[index].len();
        if children == 1 {
            let child = self.children[index][0];
            return self.push(child, output, &group, ctx);
        }
        for i in 0..children {
            let child = self.children[index][i];
            self.push(child, Cow::Borrowed(output.as_ref()), &group, ctx);
        }
    }
}

/// Applies `f` to every point of a batch; a point `f` fails on is reported and left out.
fn map_points(
    batch: &Batch,
    node: &str,
    ctx: &mut dyn Context,
    mut f: impl FnMut(&Point) -> Result<Option<Point>, String>,
) -> Batch {
    let mut points = Vec::with_capacity(batch.points.len());
    for p in &batch.points {
        match f(p) {
            Ok(Some(p)) => points.push(p),
            Ok(None) => {}
            Err(e) => ctx.point_error(node, e),
        }
    }
    Batch {
        name: batch.name.clone(),
        tags: batch.tags.clone(),
        time: batch.time,
        points,
    }
}

/// Every node but `from` needs a `from()` above it in a stream task.
fn index_needs_from(stage: &Stage, parent: Option<usize>, program: &Program) -> bool {
    let needs = !matches!(stage, Stage::Stream | Stage::From(_));
    needs && parent == Some(0) && program.nodes[0].name == "stream"
}
