//! A compiled stream task: the node tree of a TICKscript, and pushing points through it.

use std::borrow::Cow;
use std::sync::Arc;

use klaxon_core::{AlertResult, Level, Registry, Timestamp};
use klaxon_tick::{Dbrp, Program};

use crate::aggregate::Aggregate;
use crate::alert::{AlertEmission, AlertNode, ServerInfo};
use crate::barrier::Barrier;
use crate::batch::{Batch, Group, Message};
use crate::cardinality::{Cardinality, Counting, Held};
use crate::change_detect::ChangeDetect;
use crate::combine::Combine;
use crate::counters::NodeCounters;
use crate::default::Default as DefaultNode;
use crate::delete::Delete;
use crate::derivative::Derivative;
use crate::flatten::Flatten;
use crate::group_by::GroupBy;
use crate::http_out::HttpOut;
use crate::http_post::{HttpPost, PostRequest};
use crate::influxdb_out::{InfluxDbOut, InfluxDbOutSettings, InfluxDbWrite};
use crate::join::Join;
use crate::kapacitor_loopback::KapacitorLoopback;
use crate::log::{Log, LogRecord};
use crate::nodes::{Eval, From, Where};
use crate::query::Query;
use crate::sample::Sample;
use crate::shift::Shift;
use crate::sideload::{Sideload, SideloadFiles};
use crate::state_count::StateCount;
use crate::state_duration::StateDuration;
use crate::stats::{Deadman, Stats};
use crate::top::Top;
use crate::transform::Transform;
use crate::union::Union;
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
    /// `|httpPost()` node `node` posts `request`: send it and return the response's status
    /// code, or 0 when no response came (after reporting why), as Kapacitor's node does. The
    /// node waits for it, as Kapacitor's, to pass the code on in `.codeField()`.
    fn post(&mut self, node: &str, request: PostRequest) -> u16;
    /// An `|influxDBOut()` node has points to write. A context without InfluxDB (tests of the
    /// pipeline alone) reports them as dropped.
    fn influxdb_write(&mut self, write: InfluxDbWrite) {
        let message = format!(
            "{} points not written: no InfluxDB writer here",
            write.points.len()
        );
        self.point_error(&write.node, message);
    }
    /// `|kapacitorLoopback()` node `node` writes `point` back into this server's ingest. A
    /// context without ingest (tests of the pipeline alone) reports it as dropped.
    fn loopback(&mut self, node: &str, point: Point) {
        let message = format!("point of {} not written back: no ingest here", point.name);
        self.point_error(node, message);
    }
    /// Node `node` dropped a message of `group`, a series new to it, because it holds `max`
    /// series already (`[limits] max-series`). By default a point error.
    fn series_dropped(&mut self, node: &str, group: &crate::GroupId, max: usize) {
        let message = format!(
            "new series {:?} dropped: the node holds {max} series; {} is {max}",
            group.0,
            Limits::SERIES_SETTING
        );
        self.point_error(node, message);
    }
    /// `|log()` node `node` logs `record`. A context without a log (tests of the pipeline
    /// alone) drops it.
    fn log(&mut self, node: &str, record: LogRecord) {
        let _ = (node, record);
    }
}

/// The nodes this engine runs.
#[derive(Debug)]
enum Stage {
    Stream,
    /// A batch task's source: only `|query()` nodes follow it.
    Batch,
    Query(Box<Query>),
    From(From),
    Where(Where),
    Eval(Eval),
    Alert(Box<AlertNode>),
    Window(Window),
    Aggregate(Aggregate),
    HttpOut(HttpOut),
    HttpPost(HttpPost),
    Stats(Stats),
    Deadman(Box<Deadman>),
    Default(DefaultNode),
    Delete(Delete),
    Derivative(Derivative),
    Transform(Transform),
    ChangeDetect(ChangeDetect),
    StateDuration(StateDuration),
    StateCount(StateCount),
    Sample(Sample),
    Top(Top),
    Shift(Shift),
    GroupBy(GroupBy),
    Union(Union),
    Barrier(Barrier),
    Log(Log),
    KapacitorLoopback(KapacitorLoopback),
    Sideload(Box<Sideload>),
    Join(Box<Join>),
    Combine(Box<Combine>),
    Flatten(Box<Flatten>),
    InfluxDbOut(InfluxDbOut),
}

/// What a node sends on: points or batches (Kapacitor's stream and batch edges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Stream,
    Batch,
}

/// The node types this engine supports besides the aggregates, for error messages.
const NODES: &[&str] = &[
    "alert",
    "barrier",
    "changeDetect",
    "combine",
    "deadman",
    "query",
    "default",
    "delete",
    "cumulativeSum",
    "derivative",
    "difference",
    "elapsed",
    "eval",
    "flatten",
    "from",
    "groupBy",
    "httpOut",
    "influxDBOut",
    "log",
    "httpPost",
    "join",
    "kapacitorLoopback",
    "movingAverage",
    "sample",
    "shift",
    "sideload",
    "stateCount",
    "stateDuration",
    "stats",
    "union",
    "where",
    "window",
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
    /// What each node received and sent on, read by the engine for the task's statistics.
    counters: Arc<NodeCounters>,
    /// The node whose message is being pushed: a node with several parents (`|join()`) tells
    /// them apart by it.
    sender: usize,
    /// The groups each node has seen, for its `working_cardinality`.
    cardinality: Cardinality,
    /// Where each node is in the script.
    spans: Vec<klaxon_tick::Span>,
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
                (0, "batch") => Stage::Batch,
                (_, "query") => Stage::Query(Box::new(query_node(node, &program)?)),
                (_, "queryFlux") => {
                    return Err(DefineError::new(
                        node.span,
                        "|queryFlux() runs Flux on InfluxDB 2; this server queries InfluxDB 1.x with InfluxQL: use |query('SELECT ...')",
                    ));
                }
                (_, other) if node.parent == Some(0) && program.nodes[0].name == "batch" => {
                    return Err(DefineError::new(
                        node.span,
                        format!(
                            "batch is followed by |query() only, found |{other}(); write batch|query('SELECT ...')|{other}()"
                        ),
                    ));
                }
                (0, other) => {
                    return Err(DefineError::new(
                        node.span,
                        format!("a pipeline starts with stream or batch, found {other}"),
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
                (_, "influxDBOut") => Stage::InfluxDbOut(InfluxDbOut::compile(node)?),
                (_, "httpPost") => Stage::HttpPost(HttpPost::compile(node)?),
                (_, "stats") => Stage::Stats(Stats::compile(node)?),
                (_, "default") => Stage::Default(DefaultNode::compile(node)?),
                (_, "delete") => Stage::Delete(Delete::compile(node)?),
                (_, "derivative") => Stage::Derivative(Derivative::compile(node)?),
                (_, name) if Transform::is_transform(name) => {
                    Stage::Transform(Transform::compile(node)?)
                }
                (_, "changeDetect") => Stage::ChangeDetect(ChangeDetect::compile(node)?),
                (_, "stateDuration") => Stage::StateDuration(StateDuration::compile(node)?),
                (_, "stateCount") => Stage::StateCount(StateCount::compile(node)?),
                (_, "sample") => Stage::Sample(Sample::compile(node)?),
                (_, "top" | "bottom") => Stage::Top(Top::compile(node)?),
                (_, "shift") => Stage::Shift(Shift::compile(node)?),
                (_, "groupBy") => Stage::GroupBy(GroupBy::compile(node)?),
                (_, "union") => Stage::Union(Union::compile(node)?),
                (_, "barrier") => Stage::Barrier(Barrier::compile(node)?),
                (_, "log") => Stage::Log(Log::compile(node)?),
                (_, "kapacitorLoopback") => {
                    Stage::KapacitorLoopback(KapacitorLoopback::compile(node)?)
                }
                (_, "sideload") => Stage::Sideload(Box::new(Sideload::compile(node)?)),
                (_, "join") => Stage::Join(Box::new(Join::compile(node)?)),
                (_, "combine") => Stage::Combine(Box::new(Combine::compile(node)?)),
                (_, "flatten") => Stage::Flatten(Box::new(Flatten::compile(node)?)),
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
                    known.extend(Top::NAMES);
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
            if let Some(parent) = node.parent
                && matches!(stages[parent], Stage::KapacitorLoopback(_))
            {
                return Err(DefineError::new(
                    node.span,
                    format!(
                        "|kapacitorLoopback() passes nothing on; give |{}() the node before it",
                        node.name
                    ),
                ));
            }
            let input = node.parent.map_or(Edge::Stream, |p| edges[p]);
            if node.others.iter().any(|o| edges[*o] != input) {
                return Err(DefineError::new(
                    node.span,
                    format!(
                        "|{}() gets points from one parent and windows from another; give it the same kind from each",
                        node.name
                    ),
                ));
            }
            let output = match &stage {
                Stage::Batch => Edge::Batch,
                Stage::Window(_) if input == Edge::Batch => {
                    return Err(DefineError::new(
                        node.span,
                        "|window() takes points but gets windows here; remove one of the |window() nodes",
                    ));
                }
                Stage::Window(_) => Edge::Batch,
                Stage::Aggregate(_) if node.name == "distinct" => Edge::Batch,
                Stage::Aggregate(_) => Edge::Stream,
                // Kapacitor's top/bottom provide a batch edge from points or windows.
                Stage::Top(_) => Edge::Batch,
                Stage::Stats(_) | Stage::Deadman(_) | Stage::Combine(_) => Edge::Stream,
                Stage::Transform(_) if input == Edge::Batch => {
                    return Err(DefineError::new(
                        node.span,
                        format!(
                            "|{}() takes points but gets windows here; put it before |window()",
                            node.name
                        ),
                    ));
                }
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
            for other in &node.others {
                children[*other].push(node.index);
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
            counters: Arc::new(NodeCounters::new(stages.len())),
            cardinality: Cardinality::new(
                stages
                    .iter()
                    .map(|s| Counting::new(counts_groups(s), matches!(s, Stage::Alert(_)))),
                limits.max_series,
            ),
            spans: program.nodes.iter().map(|n| n.span).collect(),
            stages,
            children,
            sender: 0,
        })
    }

    /// The task ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The node IDs (`stream0`, `from1`...), by node index.
    pub fn node_ids(&self) -> &[String] {
        &self.ids
    }

    /// Each node's message counts, by node index, shared: they keep counting as points go
    /// through.
    pub fn counters(&self) -> Arc<NodeCounters> {
        Arc::clone(&self.counters)
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

    /// Applies handler kind `kind`'s `global` setting to every alert node, those inside
    /// `|deadman()` included ([`AlertNode::apply_global`]).
    pub fn apply_global(&mut self, kind: &'static str, global: klaxon_core::Global) {
        for stage in &mut self.stages {
            match stage {
                Stage::Alert(a) => a.apply_global(kind, global),
                Stage::Deadman(d) => d.alert_mut().apply_global(kind, global),
                _ => {}
            }
        }
    }

    /// Forgets the alert state of every group of every alert node: each group restores its
    /// state from its topic at its next point, as after a restart. For a server that adopted
    /// other servers' states (a rebalance of a Kafka consumer group), whose topics are then
    /// newer than what its alert nodes hold.
    pub fn forget_alert_states(&mut self) {
        for stage in &mut self.stages {
            match stage {
                Stage::Alert(a) => a.forget_states(),
                Stage::Deadman(d) => d.alert_mut().forget_states(),
                _ => {}
            }
        }
    }

    /// Whether the task has wall-clock nodes (`stats`, `deadman`, `barrier`) that need
    /// [`Task::tick`].
    pub fn ticks(&self) -> bool {
        self.stages
            .iter()
            .any(|s| matches!(s, Stage::Stats(_) | Stage::Deadman(_) | Stage::Barrier(_)))
    }

    /// Lets the wall-clock nodes emit what is due at `now` (the engine calls this often, well
    /// within the shortest interval; each node keeps its own schedule).
    pub fn tick(&mut self, now: Timestamp, ctx: &mut dyn Context) {
        for index in 0..self.stages.len() {
            if let Stage::Barrier(barrier) = &mut self.stages[index] {
                let deletes = barrier.deletes();
                for (group, time) in barrier.tick(now) {
                    self.barrier_children(index, &group, time, ctx);
                    if deletes {
                        // Kapacitor's barrier sends the delete into its own input.
                        self.delete_group(index, &group.id);
                    }
                }
                continue;
            }
            let due = match &mut self.stages[index] {
                Stage::Stats(stats) => stats.tick(now),
                Stage::Deadman(deadman) => deadman.tick(now, ctx),
                _ => continue,
            };
            for (point, group) in due {
                self.counters.sent(index);
                let message = Message::Point(point);
                for i in 0..self.children[index].len() {
                    let child = self.children[index][i];
                    self.sender = index;
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

    /// Whether an `|httpPost()` node names an `.endpoint()`, which
    /// [`Task::resolve_post_endpoints`] must find before the task runs.
    pub fn needs_post_endpoints(&self) -> bool {
        self.stages
            .iter()
            .any(|s| matches!(s, Stage::HttpPost(p) if p.needs_endpoint()))
    }

    /// Finds each `|httpPost().endpoint()` among `offered`, the endpoints the linked services
    /// offer ([`klaxon_core::Service::http_post_endpoints`]), `None` when none offers any.
    ///
    /// ```
    /// use klaxon_pipeline::{ServerInfo, Task};
    /// let registry = klaxon_core::Registry::linked().unwrap();
    /// let script = "stream|from()|httpPost().endpoint('rows')";
    /// let mut task = Task::compile("t", script, &registry, &ServerInfo::default()).unwrap();
    /// assert!(task.needs_post_endpoints());
    /// let err = task.resolve_post_endpoints(Some(&[])).unwrap_err();
    /// assert_eq!(err.message, "endpoint 'rows' does not exist; [[httppost]] has: none");
    /// ```
    pub fn resolve_post_endpoints(
        &mut self,
        offered: Option<&[klaxon_core::PostEndpoint]>,
    ) -> Result<(), DefineError> {
        for stage in &mut self.stages {
            if let Stage::HttpPost(post) = stage {
                post.resolve(offered)?;
            }
        }
        Ok(())
    }

    /// Loads the files of each `|sideload()` node's source with `load` (given the source
    /// directory), as Kapacitor's sideload service does when a task starts; an error names the
    /// node.
    pub fn load_sideload(
        &mut self,
        mut load: impl FnMut(&str) -> Result<SideloadFiles, String>,
    ) -> Result<(), DefineError> {
        for (stage, id) in self.stages.iter_mut().zip(&self.ids) {
            if let Stage::Sideload(sideload) = stage {
                let files = load(sideload.dir())
                    .map_err(|e| DefineError::new(sideload.span(), format!("{id}: {e}")))?;
                sideload.resolve(Arc::new(files));
            }
        }
        Ok(())
    }

    /// Kapacitor's loop check: a `|kapacitorLoopback()` may not write to a database and
    /// retention policy the task reads (`reads(db, rp)`).
    pub fn check_loopback(&self, reads: impl Fn(&str, &str) -> bool) -> Result<(), DefineError> {
        for (stage, span) in self.stages.iter().zip(&self.spans) {
            if let Stage::KapacitorLoopback(loopback) = stage {
                let (db, rp) = loopback.target();
                if reads(db, rp) {
                    return Err(DefineError::new(
                        *span,
                        format!(
                            "loop detected on dbrp: \"{db}\".\"{rp}\": |kapacitorLoopback() writes where the task reads; write to another database or retention policy"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The `|influxDBOut()` nodes: their IDs and settings, for the engine to set up writers.
    pub fn influxdb_outputs(&self) -> impl Iterator<Item = (&str, &InfluxDbOutSettings)> {
        self.stages
            .iter()
            .zip(&self.ids)
            .filter_map(|(s, id)| match s {
                Stage::InfluxDbOut(out) => Some((id.as_str(), out.settings())),
                _ => None,
            })
    }

    /// The latest output of the `|httpOut(name)` node, one row per group; `None` when the task
    /// has no such node.
    pub fn http_output(&self, name: &str) -> Option<AlertResult> {
        self.stages.iter().find_map(|s| match s {
            Stage::HttpOut(out) if out.name() == name => Some(out.result()),
            _ => None,
        })
    }

    /// Whether this is a batch task (`batch|query(...)`): it takes no points, only the
    /// batches of its queries ([`Task::process_batch`]).
    pub fn is_batch(&self) -> bool {
        matches!(self.stages.first(), Some(Stage::Batch))
    }

    /// The `|query()` nodes of a batch task: their node indexes and queries, for the engine to
    /// schedule.
    pub fn queries(&self) -> impl Iterator<Item = (usize, &Query)> {
        self.stages.iter().enumerate().filter_map(|(i, s)| match s {
            Stage::Query(q) => Some((i, q.as_ref())),
            _ => None,
        })
    }

    /// Pushes a batch that query node `index` ([`Task::queries`]) got from InfluxDB through
    /// the nodes after it, in `group` ([`Query::batch`]).
    pub fn process_batch(
        &mut self,
        index: usize,
        batch: Batch,
        group: &Group,
        ctx: &mut dyn Context,
    ) {
        if !matches!(self.stages.get(index), Some(Stage::Query(_))) {
            return;
        }
        self.counters.collected(0);
        self.counters.sent(0);
        self.push(index, Cow::Owned(Message::Batch(batch)), group, ctx);
    }

    /// Pushes one point through the pipeline (a batch task takes none).
    pub fn process(&mut self, point: &Point, ctx: &mut dyn Context) {
        if self.is_batch() {
            return;
        }
        self.process_owned(point.clone(), ctx);
    }

    /// [`Task::process`] of a point the caller has no more use for, which saves copying it: the
    /// engine hands its points over this way to the last task that gets them.
    pub fn process_owned(&mut self, point: Point, ctx: &mut dyn Context) {
        if self.is_batch() {
            return;
        }
        let message = Message::Point(point);
        let group = Group::nil();
        self.counters.collected(0);
        self.counters.sent(0);
        // The usual single `from()` owns the copy, so a window down the line can keep it.
        self.sender = 0;
        if let [child] = self.children[0][..] {
            return self.push(child, Cow::Owned(message), &group, ctx);
        }
        for i in 0..self.children[0].len() {
            let child = self.children[0][i];
            self.sender = 0;
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
        self.counters.collected(index);
        let held = own_groups(&self.stages[index]);
        if let Err(max) = self
            .cardinality
            .admit(index, &group.id, held, &self.counters)
        {
            return ctx.series_dropped(&self.ids[index], &group.id, max);
        }
        let node = &self.ids[index];
        let (output, group) = match (&mut self.stages[index], message.as_ref()) {
            (Stage::Stream, _) => (Some(message), Cow::Borrowed(group)),
            (Stage::From(from), Message::Point(point)) => match from.accept(point) {
                Ok(Some(group)) => (Some(message), Cow::Owned(group)),
                Ok(None) => return,
                Err(e) => return ctx.point_error(node, e),
            },
            (Stage::Where(filter), Message::Point(point)) => {
                match filter.accept(point, &group.id) {
                    Ok(true) => (Some(message), Cow::Borrowed(group)),
                    Ok(false) => return,
                    Err(e) => return ctx.point_error(node, e),
                }
            }
            (Stage::Where(filter), Message::Batch(batch)) => {
                let out = map_points(batch, node, ctx, |p| {
                    Ok(filter.accept(p, &group.id)?.then(|| p.clone()))
                });
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::Eval(eval), Message::Point(point)) => match eval.apply(point, &group.id) {
                Ok(out) => (Some(Cow::Owned(Message::Point(out))), Cow::Borrowed(group)),
                Err(e) => return ctx.point_error(node, e),
            },
            (Stage::Eval(eval), Message::Batch(batch)) => {
                let out = map_points(batch, node, ctx, |p| eval.apply(p, &group.id).map(Some));
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::Alert(alert), Message::Point(point)) => {
                let out = alert.process(point, &group.id, ctx);
                let count = alert.group_count();
                self.cardinality
                    .took(index, &group.id, count, &self.counters);
                (
                    out.map(|p| Cow::Owned(Message::Point(p))),
                    Cow::Borrowed(group),
                )
            }
            (Stage::Alert(alert), Message::Batch(batch)) => {
                let out = alert.process_batch(batch, &group.id, ctx);
                let count = alert.group_count();
                self.cardinality
                    .took(index, &group.id, count, &self.counters);
                (
                    out.map(|b| Cow::Owned(Message::Batch(b))),
                    Cow::Borrowed(group),
                )
            }
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
            (Stage::Aggregate(aggregate), m) => {
                let mut errors = Vec::new();
                let out = match m {
                    Message::Batch(batch) => aggregate.apply(batch, &mut errors),
                    Message::Point(point) => aggregate.stream_point(point, group, &mut errors),
                };
                for e in errors {
                    ctx.point_error(node, e);
                }
                (out.map(Cow::Owned), Cow::Borrowed(group))
            }
            (Stage::Top(top), m) => {
                let mut errors = Vec::new();
                let out = match m {
                    Message::Batch(batch) => top.apply(batch, &mut errors),
                    Message::Point(point) => top.point(point, group, &mut errors),
                };
                for e in errors {
                    ctx.point_error(node, e);
                }
                (
                    out.map(|b| Cow::Owned(Message::Batch(b))),
                    Cow::Borrowed(group),
                )
            }
            (Stage::Barrier(barrier), Message::Point(point)) => {
                if !barrier.accept(point.time, group) {
                    return;
                }
                (Some(message), Cow::Borrowed(group))
            }
            (Stage::Barrier(barrier), Message::Batch(batch)) => {
                let out = map_points(batch, node, ctx, |p| {
                    Ok(barrier.accept(p.time, group).then(|| p.clone()))
                });
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::Sideload(sideload), Message::Point(point)) => {
                let (out, problem) = sideload.apply(point);
                if let Some(problem) = problem {
                    ctx.point_error(node, problem);
                }
                (Some(Cow::Owned(Message::Point(out))), Cow::Borrowed(group))
            }
            (Stage::Sideload(sideload), Message::Batch(batch)) => {
                let mut out = batch.clone();
                for point in &mut out.points {
                    let (loaded, problem) = sideload.apply(point);
                    if let Some(problem) = problem {
                        ctx.point_error(node, problem);
                    }
                    *point = loaded;
                }
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::KapacitorLoopback(loopback), m) => {
                for point in loopback.points(m) {
                    ctx.loopback(node, point);
                }
                return;
            }
            (Stage::Log(log), m) => {
                for record in log.records(m, group) {
                    ctx.log(node, record);
                }
                (Some(message), Cow::Borrowed(group))
            }
            (Stage::Union(union), m) => match union.apply(m) {
                Some(renamed) => (Some(Cow::Owned(renamed)), Cow::Borrowed(group)),
                None => (Some(message), Cow::Borrowed(group)),
            },
            (Stage::Join(join), _) => {
                let parent = self.sender;
                for (message, group) in join.collect(parent, message.into_owned(), group) {
                    self.send(index, Cow::Owned(message), &group, ctx);
                }
                return;
            }
            (Stage::Combine(combine), m) => {
                let mut errors = Vec::new();
                let out = match m {
                    Message::Point(point) => combine.point(point, group, &mut errors),
                    Message::Batch(batch) => combine.batch(batch, group, &mut errors),
                };
                for e in errors {
                    ctx.point_error(node, e);
                }
                for point in out {
                    self.send(index, Cow::Owned(Message::Point(point)), group, ctx);
                }
                return;
            }
            (Stage::Flatten(flatten), m) => {
                let mut errors = Vec::new();
                let out = match m {
                    Message::Point(point) => {
                        flatten.point(point, group, &mut errors).map(Message::Point)
                    }
                    Message::Batch(batch) => {
                        Some(Message::Batch(flatten.batch(batch, &mut errors)))
                    }
                };
                for e in errors {
                    ctx.point_error(node, e);
                }
                let Some(out) = out else { return };
                (Some(Cow::Owned(out)), Cow::Borrowed(group))
            }
            (Stage::GroupBy(group_by), m) => {
                let out = group_by.apply(m);
                self.counters
                    .set_cardinality(index, group_by.pending_groups());
                for (message, group) in out {
                    self.send(index, Cow::Owned(message), &group, ctx);
                }
                return;
            }
            (Stage::Default(default), _) => {
                let mut out = message.into_owned();
                for_each_point(&mut out, |p| default.apply(p));
                (Some(Cow::Owned(out)), Cow::Borrowed(group))
            }
            (Stage::Delete(delete), _) => {
                // A deleted group tag leaves the group too, as Kapacitor's DeleteNode does.
                let regrouped = match message.as_ref() {
                    Message::Point(p) => crate::group_by::without_keys(group, delete.tags(), p),
                    Message::Batch(_) => None,
                };
                let mut out = message.into_owned();
                if let Message::Batch(b) = &mut out {
                    for tag in delete.tags() {
                        b.tags.remove(tag);
                    }
                }
                for_each_point(&mut out, |p| delete.apply(p));
                let group = regrouped.map_or(Cow::Borrowed(group), Cow::Owned);
                (Some(Cow::Owned(out)), group)
            }
            // A query node hands on the batches the engine gives it.
            (Stage::Batch | Stage::Query(_), _) => (Some(message), Cow::Borrowed(group)),
            (Stage::Shift(shift), Message::Point(point)) => (
                Some(Cow::Owned(Message::Point(shift.point(point)))),
                Cow::Borrowed(group),
            ),
            (Stage::Shift(shift), Message::Batch(batch)) => (
                Some(Cow::Owned(Message::Batch(shift.batch(batch)))),
                Cow::Borrowed(group),
            ),
            (Stage::Sample(sample), Message::Point(point)) => {
                if !sample.accept(point, &group.id) {
                    return;
                }
                (Some(message), Cow::Borrowed(group))
            }
            (Stage::Sample(sample), Message::Batch(batch)) => {
                let out = map_points(batch, node, ctx, |p| {
                    Ok(sample.accept(p, &group.id).then(|| p.clone()))
                });
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::ChangeDetect(detect), Message::Point(point)) => {
                if !detect.accept(point, &group.id) {
                    return;
                }
                (Some(message), Cow::Borrowed(group))
            }
            (Stage::Derivative(derivative), Message::Point(point)) => {
                match derivative.apply(point, &group.id) {
                    Ok(Some(out)) => (Some(Cow::Owned(Message::Point(out))), Cow::Borrowed(group)),
                    Ok(None) => return,
                    Err(e) => return ctx.point_error(node, e),
                }
            }
            // On a batch, as Kapacitor: the state starts afresh with each batch.
            (Stage::ChangeDetect(detect), Message::Batch(batch)) => {
                detect.reset(&group.id);
                let out = map_points(batch, node, ctx, |p| {
                    Ok(detect.accept(p, &group.id).then(|| p.clone()))
                });
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::StateDuration(state), Message::Batch(batch)) => {
                state.reset(&group.id);
                let out = map_points(batch, node, ctx, |p| state.apply(p, &group.id).map(Some));
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::StateCount(state), Message::Batch(batch)) => {
                state.reset(&group.id);
                let out = map_points(batch, node, ctx, |p| state.apply(p, &group.id).map(Some));
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::Derivative(derivative), Message::Batch(batch)) => {
                let mut errors = Vec::new();
                let out = derivative.batch(batch, &mut errors);
                for e in errors {
                    ctx.point_error(node, e);
                }
                (Some(Cow::Owned(Message::Batch(out))), Cow::Borrowed(group))
            }
            (Stage::Transform(transform), Message::Point(point)) => {
                match transform.apply(point, group) {
                    Ok(Some(out)) => (Some(Cow::Owned(Message::Point(out))), Cow::Borrowed(group)),
                    Ok(None) => return,
                    Err(e) => return ctx.point_error(node, e),
                }
            }
            (Stage::StateDuration(state), Message::Point(point)) => {
                match state.apply(point, &group.id) {
                    Ok(out) => (Some(Cow::Owned(Message::Point(out))), Cow::Borrowed(group)),
                    Err(e) => return ctx.point_error(node, e),
                }
            }
            (Stage::StateCount(state), Message::Point(point)) => {
                match state.apply(point, &group.id) {
                    Ok(out) => (Some(Cow::Owned(Message::Point(out))), Cow::Borrowed(group)),
                    Err(e) => return ctx.point_error(node, e),
                }
            }
            (Stage::Stats(stats), m) => return stats.observe(m, group),
            (Stage::Deadman(deadman), m) => return deadman.observe(m, group),
            (Stage::HttpPost(post), m) => (
                Some(Cow::Owned(post.apply(m, node, ctx))),
                Cow::Borrowed(group),
            ),
            (Stage::HttpOut(out), m) => {
                out.record(m, &group.id);
                (Some(message), Cow::Borrowed(group))
            }
            (Stage::InfluxDbOut(out), m) => {
                match out.write(node, m) {
                    Ok(Some(write)) => ctx.influxdb_write(write),
                    Ok(None) => {}
                    Err(e) => ctx.point_error(node, e),
                }
                (Some(message), Cow::Borrowed(group))
            }
            // Edges are checked when the task is compiled: a from() never sees a batch, a
            // window never sees a batch.
            (Stage::From(_) | Stage::Window(_) | Stage::Transform(_), Message::Batch(_)) => {
                return;
            }
        };
        let Some(output) = output else { return };
        self.send(index, output, &group, ctx);
    }

    /// Hands a barrier of `group` at `time` from node `from` to its children.
    fn barrier_children(
        &mut self,
        from: usize,
        group: &Group,
        time: Timestamp,
        ctx: &mut dyn Context,
    ) {
        for i in 0..self.children[from].len() {
            let child = self.children[from][i];
            self.sender = from;
            self.barrier(child, group, time, ctx);
        }
    }

    /// A barrier of `group` at `time` (Kapacitor's barrier message) reaches node `index`: a
    /// time window emits the window due by then instead of passing it on, `|groupBy()` sends
    /// the windows it buffers, a `|barrier()` drops one older than its latest; every other
    /// node passes it on.
    fn barrier(&mut self, index: usize, group: &Group, time: Timestamp, ctx: &mut dyn Context) {
        let held = own_groups(&self.stages[index]);
        self.cardinality
            .observe(index, &group.id, held, &self.counters);
        match &mut self.stages[index] {
            Stage::Window(window) if !window.passes_barriers() => {
                if let Some(batch) = window.barrier(time, &group.id) {
                    self.send(index, Cow::Owned(Message::Batch(batch)), group, ctx);
                }
                return;
            }
            Stage::GroupBy(group_by) => {
                let out = group_by.barrier(time);
                self.counters
                    .set_cardinality(index, group_by.pending_groups());
                for (message, regrouped) in out {
                    self.send(index, Cow::Owned(message), &regrouped, ctx);
                }
            }
            Stage::Barrier(barrier) => {
                // A barrier older than the group's latest stops here.
                let newer = barrier.accept_barrier(time, group);
                if !newer {
                    return;
                }
            }
            Stage::Flatten(flatten) => {
                let mut errors = Vec::new();
                let out = flatten.barrier(group, time, &mut errors);
                for e in errors {
                    ctx.point_error(&self.ids[index], e);
                }
                if let Some(point) = out {
                    self.send(index, Cow::Owned(Message::Point(point)), group, ctx);
                }
            }
            Stage::Join(join) => {
                let out = join.barrier(self.sender, group, time);
                for (message, joined) in out {
                    self.send(index, Cow::Owned(message), &joined, ctx);
                }
            }
            _ => {}
        }
        self.barrier_children(index, group, time, ctx);
    }

    /// Node `index` and every node below it forget `group` (Kapacitor's delete-group message,
    /// from `|barrier().delete(TRUE)`): its count in `working_cardinality`, the windows,
    /// buffered windows and `|httpOut()` row the nodes keep for it, and every node's per-group
    /// state (alert levels, previous points, counts, stateful lambdas), as Kapacitor's grouped
    /// consumer drops the group's receiver.
    fn delete_group(&mut self, index: usize, group: &crate::GroupId) {
        match &mut self.stages[index] {
            Stage::Window(window) => window.forget(group),
            Stage::GroupBy(group_by) => {
                group_by.forget(group);
                self.counters
                    .set_cardinality(index, group_by.pending_groups());
            }
            Stage::HttpOut(out) => out.forget(group),
            Stage::Barrier(barrier) => barrier.forget(group),
            Stage::Join(join) => join.forget(self.sender, group),
            Stage::Flatten(flatten) => flatten.forget(group),
            Stage::Where(node) => node.forget(group),
            Stage::Eval(node) => node.forget(group),
            Stage::Alert(node) => node.forget(group),
            Stage::Aggregate(node) => node.forget(group),
            Stage::Top(node) => node.forget(group),
            Stage::Derivative(node) => node.forget(group),
            Stage::Transform(node) => node.forget(group),
            Stage::ChangeDetect(node) => node.forget(group),
            Stage::StateCount(node) => node.forget(group),
            Stage::StateDuration(node) => node.forget(group),
            Stage::Sample(node) => node.forget(group),
            Stage::Combine(node) => node.forget(group),
            _ => {}
        }
        let held = own_groups(&self.stages[index]);
        self.cardinality.forget(index, group, held, &self.counters);
        for i in 0..self.children[index].len() {
            let child = self.children[index][i];
            self.sender = index;
            self.delete_group(child, group);
        }
    }

    /// Hands a node's output to its children: an only child gets it as it is (owned when this
    /// node owned it), several children borrow it.
    fn send(
        &mut self,
        index: usize,
        output: Cow<'_, Message>,
        group: &Group,
        ctx: &mut dyn Context,
    ) {
        self.counters.sent(index);
        // Pass-through nodes hand the message on: an only child gets it as it is (owned when
        // this node owned it), several children borrow it.
        let children = self.children[index].len();
        if children == 1 {
            let child = self.children[index][0];
            self.sender = index;
            return self.push(child, output, group, ctx);
        }
        for i in 0..children {
            let child = self.children[index][i];
            self.sender = index;
            self.push(child, Cow::Borrowed(output.as_ref()), group, ctx);
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

/// Applies `f` to the point, or to every point of the window.
fn for_each_point(message: &mut Message, mut f: impl FnMut(&mut Point)) {
    match message {
        Message::Point(p) => f(p),
        Message::Batch(b) => b.points.iter_mut().for_each(f),
    }
}

/// What a node that counts its groups by its own table holds (the alert node), for
/// [`Cardinality`].
fn own_groups(stage: &Stage) -> Option<Held<'_>> {
    match stage {
        Stage::Alert(alert) => Some(Held {
            count: alert.group_count(),
            table: &**alert,
        }),
        _ => None,
    }
}

/// Whether Kapacitor runs the node behind a grouped consumer, which counts the groups it has
/// seen as its `working_cardinality` (`edge.NewGroupedConsumer` in its node's run function).
/// The others report 0, as Kapacitor's default gauge does; `|groupBy()` counts the windows it
/// holds instead.
fn counts_groups(stage: &Stage) -> bool {
    matches!(
        stage,
        Stage::Where(_)
            | Stage::Eval(_)
            | Stage::Alert(_)
            | Stage::Window(_)
            | Stage::Aggregate(_)
            | Stage::Top(_)
            | Stage::HttpOut(_)
            | Stage::HttpPost(_)
            | Stage::Derivative(_)
            | Stage::Transform(_)
            | Stage::ChangeDetect(_)
            | Stage::StateDuration(_)
            | Stage::StateCount(_)
            | Stage::Sample(_)
            | Stage::Barrier(_)
            | Stage::Combine(_)
            | Stage::Join(_)
            | Stage::Flatten(_)
    )
}

/// Every node but `from` needs a `from()` above it in a stream task.
fn index_needs_from(stage: &Stage, parent: Option<usize>, program: &Program) -> bool {
    let needs = !matches!(stage, Stage::Stream | Stage::From(_));
    needs && parent == Some(0) && program.nodes[0].name == "stream"
}

/// A `|query()` node, which only a batch task's source may feed.
fn query_node(node: &klaxon_tick::Node, program: &Program) -> Result<Query, DefineError> {
    if node.parent != Some(0) || program.nodes[0].name != "batch" {
        return Err(DefineError::new(
            node.span,
            "|query() starts a batch task: write batch|query('SELECT ...'), and define the task with type batch",
        ));
    }
    Query::compile(node)
}
