//! The alert node: levels from lambdas, per-group state, templates, and the events it emits.

mod gotime;
mod inhibit;
mod methods;
mod state;
mod template;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use klaxon_core::{
    AlertResult, Event, EventData, EventState, FieldValue, Global, GoDuration, Level, Registry, Row,
};
use klaxon_tick::{Lambda, Node, Property, Span};
use serde_json::Value;

pub use inhibit::{Inhibitor, Inhibitors};
pub use state::{AlertState, Decision, LevelPredicates, Rules, determine_level};
pub use template::{
    DeadmanDefaults, ServerInfo, TemplateError, TemplateInput, Templates, html_escape,
};
pub(crate) use template::{render_text, text_template};

use crate::batch::Batch;
use crate::group_map::GroupMap;
use crate::props::{self, once};
use crate::{Context, DefineError, GroupId, Limits, Point};

/// The alert node's own properties that Klaxon implements (handlers come from the registry). A
/// subset of `klaxon_core::naming::ALERT_NODE_PROPERTIES`, which no handler crate may claim.
const PROPERTIES: &[&str] = &[
    "id",
    "message",
    "details",
    "info",
    "warn",
    "crit",
    "infoReset",
    "warnReset",
    "critReset",
    "history",
    "flapping",
    "stateChangesOnly",
    "noRecoveries",
    "topic",
    "levelTag",
    "levelField",
    "idTag",
    "idField",
    "messageField",
    "durationField",
    "category",
    "all",
    "inhibit",
    "quiet",
];

/// A handler written inline in the alert node (`.exec(...)`, `.tcp(...)`, `.foo().room(...)`),
/// as the kind and the JSON options its handler crate decodes.
#[derive(Debug, Clone, PartialEq)]
pub struct InlineHandler {
    /// The handler kind.
    pub kind: &'static str,
    /// The options built from the call and its chained properties.
    pub options: Value,
    /// Where the handler property is written.
    pub span: Span,
}

/// What an alert node emits for one point.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEmission {
    /// The node ID, such as `alert2`.
    pub node: String,
    /// The event; its `topic` and `previous_level` are set by the topic that collects it.
    pub event: Event,
    /// Whether the node has inline handlers, so the event goes to its anonymous topic
    /// `main:<task>:<node>`.
    pub anonymous: bool,
    /// The `.topic()` to publish to.
    pub topic: Option<String>,
}

/// A compiled alert node.
#[derive(Debug)]
pub struct AlertNode {
    id: String,
    /// Where `|alert()` is written: what a global handler that cannot be built points at.
    span: Span,
    task: String,
    server: ServerInfo,
    levels: [Option<Lambda>; 4],
    resets: [Option<Lambda>; 4],
    rules: Rules,
    templates: Templates,
    topic: Option<String>,
    handlers: Vec<InlineHandler>,
    category: String,
    level_tag: Option<String>,
    level_field: Option<String>,
    id_tag: Option<String>,
    id_field: Option<String>,
    message_field: Option<String>,
    duration_field: Option<String>,
    all: bool,
    /// `.quiet()`: errors are counted, not logged.
    quiet: bool,
    /// `.inhibit(category, tags...)` calls.
    inhibits: Vec<(String, Vec<String>)>,
    /// Each group's inhibitors, one per `.inhibit()`, active while the group is not OK.
    group_inhibitors: HashMap<GroupId, Vec<Arc<Inhibitor>>>,
    states: GroupMap<AlertState>,
}

impl crate::cardinality::GroupTable for AlertNode {
    fn holds(&self, group: &crate::GroupId) -> bool {
        self.states.contains_key(group)
    }
}

impl Drop for AlertNode {
    /// A stopped task inhibits nothing any more, as Kapacitor removes a group's inhibitors.
    fn drop(&mut self) {
        for inhibitor in self.group_inhibitors.values().flatten() {
            self.server.inhibitors.remove(inhibitor);
        }
    }
}

fn level_slot(name: &str) -> Option<(Level, bool)> {
    Some(match name {
        "info" => (Level::Info, false),
        "warn" => (Level::Warning, false),
        "crit" => (Level::Critical, false),
        "infoReset" => (Level::Info, true),
        "warnReset" => (Level::Warning, true),
        "critReset" => (Level::Critical, true),
        _ => return None,
    })
}

impl AlertNode {
    /// How many groups the node keeps a state for: its `working_cardinality`.
    pub fn group_count(&self) -> usize {
        self.states.len()
    }

    /// Forgets `group`'s state, as Kapacitor's grouped nodes do on a delete-group message
    /// (`|barrier().delete(TRUE)` above): its next point starts the group afresh.
    pub fn forget(&mut self, group: &crate::GroupId) {
        self.states.remove(group);
    }

    /// Compiles `|alert()` and its properties; handler properties are looked up in `registry`.
    pub fn compile(
        node: &Node,
        task: &str,
        server: &ServerInfo,
        registry: &Registry,
        limits: &Limits,
    ) -> Result<AlertNode, DefineError> {
        node.expect_args(0, 0)?;
        let mut levels: [Option<Lambda>; 4] = Default::default();
        let mut resets: [Option<Lambda>; 4] = Default::default();
        let mut rules = Rules::default();
        let (mut id, mut message, mut details) = (None, None, None);
        let mut template_spans = [node.span; 3];
        let mut out = AlertNode {
            id: node.id(),
            span: node.span,
            task: task.to_owned(),
            server: server.clone(),
            levels: Default::default(),
            resets: Default::default(),
            rules,
            templates: Templates::new(None, None, None)
                .map_err(|e| DefineError::new(node.span, e.to_string()))?,
            topic: None,
            handlers: Vec::new(),
            category: String::new(),
            level_tag: None,
            level_field: None,
            id_tag: None,
            id_field: None,
            message_field: None,
            duration_field: None,
            all: false,
            quiet: false,
            inhibits: Vec::new(),
            group_inhibitors: HashMap::new(),
            states: GroupMap::new(),
        };
        let mut properties = node.properties.iter().peekable();
        while let Some(property) = properties.next() {
            let name = property.name.as_str();
            if let Some((level, reset)) = level_slot(name) {
                let slot = if reset { &mut resets } else { &mut levels };
                once(&slot[level as usize], property)?;
                slot[level as usize] = Some(props::predicate(property)?);
                continue;
            }
            let text = |p: &Property| -> Result<String, DefineError> {
                p.expect_args(1, 1)?;
                Ok(p.arg(0).as_str()?.to_owned())
            };
            let template = |p: &Property| -> Result<String, DefineError> {
                let source = text(p)?;
                if source.len() > limits.max_template_size {
                    return Err(DefineError::new(
                        props::first_arg_span(p),
                        format!(
                            ".{}() template is {} bytes; {} is {}",
                            p.name,
                            source.len(),
                            Limits::TEMPLATE_SETTING,
                            limits.max_template_size
                        ),
                    ));
                }
                Ok(source)
            };
            match name {
                "id" => {
                    once(&id, property)?;
                    id = Some(template(property)?);
                    template_spans[0] = props::first_arg_span(property);
                }
                "message" => {
                    once(&message, property)?;
                    message = Some(template(property)?);
                    template_spans[1] = props::first_arg_span(property);
                }
                "details" => {
                    once(&details, property)?;
                    details = Some(template(property)?);
                    template_spans[2] = props::first_arg_span(property);
                }
                "history" => {
                    property.expect_args(1, 1)?;
                    let n = property.arg(0).as_int()?;
                    // Kapacitor forces at least 2.
                    rules.history = usize::try_from(n).unwrap_or(0).max(2);
                }
                "flapping" => {
                    property.expect_args(2, 2)?;
                    let (low, high) = (property.arg(0).as_float()?, property.arg(1).as_float()?);
                    if low > 1.0 || high > 1.0 || low > high {
                        return Err(DefineError::new(
                            property.span,
                            format!(
                                ".flapping({low}, {high}): both thresholds must be at most 1 and low <= high"
                            ),
                        ));
                    }
                    rules.flapping = Some((low, high));
                }
                "stateChangesOnly" => {
                    property.expect_args(0, 1)?;
                    let interval = if property.args.is_empty() {
                        0
                    } else {
                        property.arg(0).as_duration()?
                    };
                    rules.state_changes_only = Some(GoDuration::from_nanos(interval));
                }
                "noRecoveries" => {
                    property.expect_args(0, 0)?;
                    rules.no_recoveries = true;
                }
                "all" => {
                    property.expect_args(0, 0)?;
                    out.all = true;
                }
                "quiet" => {
                    property.expect_args(0, 0)?;
                    out.quiet = true;
                }
                "inhibit" => {
                    property.expect_args(1, usize::MAX)?;
                    let category = property.arg(0).as_str()?.to_owned();
                    let tags = (1..property.args.len())
                        .map(|i| property.arg(i).as_str().map(str::to_owned))
                        .collect::<Result<Vec<_>, _>>()?;
                    out.inhibits.push((category, tags));
                }
                "topic" => out.topic = Some(text(property)?),
                "category" => out.category = text(property)?,
                "levelTag" => out.level_tag = Some(text(property)?),
                "levelField" => out.level_field = Some(text(property)?),
                "idTag" => out.id_tag = Some(text(property)?),
                "idField" => out.id_field = Some(text(property)?),
                "messageField" => out.message_field = Some(text(property)?),
                "durationField" => out.duration_field = Some(text(property)?),
                _ => {
                    let handler = inline_handler(property, &mut properties, registry)?;
                    out.handlers.push(handler);
                }
            }
        }
        let templates = Templates::new(id.as_deref(), message.as_deref(), details.as_deref())
            .map_err(|e| {
                let span = match e.property {
                    "id" => template_spans[0],
                    "message" => template_spans[1],
                    _ => template_spans[2],
                };
                DefineError::new(span, e.to_string())
            })?;
        out.templates = templates;
        out.levels = levels;
        out.resets = resets;
        out.rules = rules;
        Ok(out)
    }

    /// The node ID (`alert2`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The inline handlers.
    pub fn handlers(&self) -> &[InlineHandler] {
        &self.handlers
    }

    /// Forgets every group's state ([`crate::Task::forget_alert_states`]).
    pub fn forget_states(&mut self) {
        self.states = GroupMap::new();
    }

    /// Applies a handler kind's `global` setting, as Kapacitor does when a task starts: with
    /// `global.handler`, a handler of `kind` with its default options unless the node already
    /// names one; with `global.state_changes_only`, the whole node emits state changes only
    /// (keeping a `.stateChangesOnly(interval)` of its own).
    ///
    /// ```
    /// use klaxon_core::Global;
    /// use klaxon_pipeline::{ServerInfo, Task};
    /// let registry = klaxon_core::Registry::linked().unwrap();
    /// let script = "stream|from()|alert()";
    /// let mut task = Task::compile("t", script, &registry, &ServerInfo::default()).unwrap();
    /// let global = Global { handler: true, state_changes_only: true };
    /// task.apply_global("pager", global);
    /// let node = task.alert_nodes().next().unwrap();
    /// assert_eq!(node.handlers()[0].kind, "pager");
    /// ```
    pub fn apply_global(&mut self, kind: &'static str, global: Global) {
        if global.handler && !self.handlers.iter().any(|h| h.kind == kind) {
            self.handlers.push(InlineHandler {
                kind,
                options: Value::Object(serde_json::Map::new()),
                span: self.span,
            });
        }
        if global.state_changes_only && self.rules.state_changes_only.is_none() {
            self.rules.state_changes_only = Some(GoDuration::ZERO);
        }
    }

    /// The `.topic()`, if any.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// Whether `.all()` is set (batches only: the level is the lowest over the points).
    pub fn uses_all(&self) -> bool {
        self.all
    }

    /// Processes one batch of `group` (reference 6.4, batch rules): every point's level is
    /// determined from the group's current level; the batch takes the highest (the lowest with
    /// `.all()`); the event time is the highest-level point's time, or the batch time for OK and
    /// `.all()`. Returns the batch to pass on, augmented, when an event was emitted. An empty
    /// batch has no level and emits nothing.
    pub fn process_batch(
        &mut self,
        batch: &Batch,
        group: &GroupId,
        ctx: &mut dyn Context,
    ) -> Option<Batch> {
        let first = batch.points.first()?;
        let id_input = TemplateInput {
            name: &batch.name,
            task_name: &self.task,
            group: &group.0,
            tags: &batch.tags,
            fields: &first.fields,
            server: &self.server,
        };
        let id = match self.templates.id(&id_input) {
            Ok(id) => id,
            Err(e) => {
                self.error(ctx, e);
                return None;
            }
        };
        let history = self.rules.history;
        let state = self.states.get_or_insert_with(group, || {
            match ctx.restore(&self.id, self.topic.as_deref(), &id) {
                Some((level, time)) => AlertState::restored(history, level, time),
                None => AlertState::new(history),
            }
        });
        let current = state.level();
        let (mut lowest, mut highest) = (Level::Critical, Level::Ok);
        let mut highest_point = first;
        let mut errors = Vec::new();
        for (i, point) in batch.points.iter().enumerate() {
            let mut predicates = Predicates {
                levels: &mut self.levels,
                resets: &mut self.resets,
                point,
                errors: Vec::new(),
            };
            let level = determine_level(&mut predicates, current);
            errors.append(&mut predicates.errors);
            lowest = lowest.min(level);
            if level > highest || i == 0 {
                highest = level;
                highest_point = point;
            }
        }
        for error in errors {
            report(ctx, &self.id, self.quiet, error);
        }
        let level = if self.all { lowest } else { highest };
        let time = if self.all || level == Level::Ok {
            batch.time
        } else {
            highest_point.time
        };
        let Decision::Emit { level, duration } = state.update_batch(level, time, &self.rules)
        else {
            return None;
        };
        let input = TemplateInput {
            fields: &highest_point.fields,
            ..id_input
        };
        let (message, details) = self.render(&input, &id, level, time, duration, ctx)?;
        let mut out = batch.clone();
        self.annotate_tags(&mut out.tags, &id, level);
        for point in &mut out.points {
            self.annotate_tags(&mut point.tags, &id, level);
            self.annotate_fields(&mut point.fields, &id, level, &message, duration);
        }
        let event = Event {
            topic: String::new(),
            state: EventState {
                id,
                message,
                details,
                time,
                duration,
                level,
            },
            data: EventData {
                name: batch.name.clone(),
                task_name: self.task.clone(),
                category: self.category.clone(),
                group: group.as_str().to_owned(),
                tags: batch.tags.clone(),
                fields: highest_point.fields.clone(),
                recoverable: !self.rules.no_recoveries,
                result: AlertResult {
                    series: vec![batch.to_row()],
                },
            },
            previous_level: Level::Ok,
        };
        self.emit(ctx, group, event);
        Some(out)
    }

    /// Reports a point this node could not process (see [`report`]).
    fn error(&self, ctx: &mut dyn Context, message: String) {
        report(ctx, &self.id, self.quiet, message);
    }

    /// Emits an event: its group's inhibitors follow its level, and an event another alert
    /// node inhibits (same category, equal tags) is dropped, as Kapacitor's alert node drops it.
    fn emit(&mut self, ctx: &mut dyn Context, group: &GroupId, event: Event) {
        if !self.inhibits.is_empty() {
            let inhibitors = self
                .group_inhibitors
                .entry(group.clone())
                .or_insert_with(|| {
                    self.inhibits
                        .iter()
                        .map(|(category, names)| {
                            let tags = names
                                .iter()
                                .map(|name| {
                                    let value =
                                        event.data.tags.get(name).cloned().unwrap_or_default();
                                    (name.clone(), value)
                                })
                                .collect();
                            self.server.inhibitors.add(category, tags)
                        })
                        .collect()
                });
            for inhibitor in inhibitors.iter() {
                inhibitor.set(event.state.level != Level::Ok);
            }
        }
        if self
            .server
            .inhibitors
            .is_inhibited(&event.data.category, &event.data.tags)
        {
            return;
        }
        ctx.emit(AlertEmission {
            node: self.id.clone(),
            event,
            anonymous: !self.handlers.is_empty(),
            topic: self.topic.clone(),
        });
    }

    /// Renders the message and details; a template error is reported and drops the event.
    fn render(
        &self,
        input: &TemplateInput<'_>,
        id: &str,
        level: Level,
        time: klaxon_core::Timestamp,
        duration: GoDuration,
        ctx: &mut dyn Context,
    ) -> Option<(String, String)> {
        let message = match self.templates.message(input, id, level, time, duration) {
            Ok(m) => m,
            Err(e) => {
                self.error(ctx, e);
                return None;
            }
        };
        match self
            .templates
            .details(input, id, level, time, duration, &message)
        {
            Ok(d) => Some((message, d)),
            Err(e) => {
                self.error(ctx, e);
                None
            }
        }
    }

    /// Processes one point of `group`; returns the point to pass on (augmented as the node's
    /// tag and field options say) when an event was emitted.
    pub fn process(
        &mut self,
        point: &Point,
        group: &GroupId,
        ctx: &mut dyn Context,
    ) -> Option<Point> {
        let input = TemplateInput {
            name: &point.name,
            task_name: &self.task,
            group: &group.0,
            tags: &point.tags,
            fields: &point.fields,
            server: &self.server,
        };
        // The ID is rendered only when it is needed (a new group's restore, or an event):
        // rendering it for every point was a fifth of the server's ingest CPU (perf, see
        // docs/benchmarks.md), and most points neither start a group nor emit.
        let mut id = None;
        if !self.states.contains_key(group) {
            let rendered = match self.templates.id(&input) {
                Ok(rendered) => rendered,
                Err(e) => {
                    self.error(ctx, e);
                    return None;
                }
            };
            let history = self.rules.history;
            let state = match ctx.restore(&self.id, self.topic.as_deref(), &rendered) {
                Some((level, time)) => AlertState::restored(history, level, time),
                None => AlertState::new(history),
            };
            self.states.insert(group.clone(), state);
            id = Some(rendered);
        }
        let state = self.states.get_mut(group)?;
        let mut predicates = Predicates {
            levels: &mut self.levels,
            resets: &mut self.resets,
            point,
            errors: Vec::new(),
        };
        let level = determine_level(&mut predicates, state.level());
        let errors = predicates.errors;
        for error in errors {
            report(ctx, &self.id, self.quiet, error);
        }
        let Decision::Emit { level, duration } = state.update(level, point.time, &self.rules)
        else {
            return None;
        };
        let id = match id {
            Some(id) => id,
            None => match self.templates.id(&input) {
                Ok(id) => id,
                Err(e) => {
                    self.error(ctx, e);
                    return None;
                }
            },
        };
        let (message, details) = self.render(&input, &id, level, point.time, duration, ctx)?;
        let out = self.augment(point, &id, level, &message, duration);
        let event = Event {
            topic: String::new(),
            state: EventState {
                id,
                message,
                details,
                time: point.time,
                duration,
                level,
            },
            data: EventData {
                name: point.name.clone(),
                task_name: self.task.clone(),
                category: self.category.clone(),
                group: group.as_str().to_owned(),
                tags: point.tags.clone(),
                fields: point.fields.clone(),
                recoverable: !self.rules.no_recoveries,
                result: AlertResult {
                    series: vec![Row::from_point(
                        &point.name,
                        &point.tags,
                        &point.fields,
                        point.time,
                    )],
                },
            },
            previous_level: Level::Ok,
        };
        self.emit(ctx, group, event);
        Some(out)
    }

    /// The point passed to child nodes: the tag and field options added.
    fn augment(
        &self,
        point: &Point,
        id: &str,
        level: Level,
        message: &str,
        duration: GoDuration,
    ) -> Point {
        let mut out = point.clone();
        self.annotate_tags(&mut out.tags, id, level);
        self.annotate_fields(&mut out.fields, id, level, message, duration);
        out
    }

    /// Adds `.levelTag()` and `.idTag()`.
    fn annotate_tags(&self, tags: &mut BTreeMap<String, String>, id: &str, level: Level) {
        if let Some(name) = &self.level_tag {
            tags.insert(name.clone(), level.as_str().to_owned());
        }
        if let Some(name) = &self.id_tag {
            tags.insert(name.clone(), id.to_owned());
        }
    }

    /// Adds `.levelField()`, `.idField()`, `.messageField()` and `.durationField()`.
    fn annotate_fields(
        &self,
        fields: &mut BTreeMap<String, FieldValue>,
        id: &str,
        level: Level,
        message: &str,
        duration: GoDuration,
    ) {
        let mut field = |name: &Option<String>, value: FieldValue| {
            if let Some(name) = name {
                fields.insert(name.clone(), value);
            }
        };
        field(
            &self.level_field,
            FieldValue::String(level.as_str().to_owned()),
        );
        field(&self.id_field, FieldValue::String(id.to_owned()));
        field(&self.message_field, FieldValue::String(message.to_owned()));
        field(&self.duration_field, FieldValue::Int(duration.as_nanos()));
    }
}

/// Reports a point node `id` could not process: counted, and logged unless the node is
/// `.quiet()` (an empty message asks the engine not to log it), as Kapacitor's `.quiet()`.
fn report(ctx: &mut dyn Context, id: &str, quiet: bool, message: String) {
    let message = if quiet { String::new() } else { message };
    ctx.point_error(id, message);
}

/// Reads a handler property and the chained properties that follow it.
fn inline_handler<'p>(
    property: &Property,
    rest: &mut std::iter::Peekable<impl Iterator<Item = &'p Property>>,
    registry: &Registry,
) -> Result<InlineHandler, DefineError> {
    let registration = registry
        .by_property(&property.name)
        .filter(|r| registry.disabled(r.kind()).is_none());
    let Some(registration) = registration else {
        return Err(unknown_handler_or_property(property, registry));
    };
    let positional = property
        .args
        .iter()
        .map(props::literal_json)
        .collect::<Result<Vec<_>, _>>()?;
    let shape = registration.tick();
    let mut chained = Vec::new();
    while let Some(next) = rest.peek() {
        if shape.chained_property(&next.name).is_none() {
            break;
        }
        let args = next
            .args
            .iter()
            .map(props::literal_json)
            .collect::<Result<Vec<_>, _>>()?;
        chained.push((next.name.as_str(), args));
        rest.next();
    }
    let options = shape
        .build_options(&positional, &chained)
        .map_err(|e| DefineError::new(property.span, format!("{}: {e}", registration.kind())))?;
    Ok(InlineHandler {
        kind: registration.kind(),
        options,
        span: property.span,
    })
}

fn unknown_handler_or_property(property: &Property, registry: &Registry) -> DefineError {
    let name = property.name.as_str();
    if klaxon_core::naming::ALERT_NODE_PROPERTIES.contains(&name) {
        return DefineError::new(
            property.span,
            format!("|alert() property .{name}() is not supported by Klaxon yet"),
        );
    }
    if let Some(why) = klaxon_core::naming::retired(name) {
        return DefineError::new(
            property.span,
            format!("|alert() property .{name}() is a retired Kapacitor handler: {why}"),
        );
    }
    if let Some(disabled) = registry
        .by_property(name)
        .and_then(|r| registry.disabled(r.kind()))
    {
        return DefineError::new(property.span, disabled.to_string());
    }
    let handlers: Vec<&str> = registry.iter().map(|r| r.tick().property).collect();
    let close = PROPERTIES
        .iter()
        .chain(&handlers)
        .filter(|candidate| is_close(candidate, name))
        .min_by_key(|candidate| edit_distance(&candidate.to_lowercase(), &name.to_lowercase()));
    if let Some(close) = close {
        return DefineError::new(
            property.span,
            format!("|alert() has no property .{name}(); did you mean .{close}()?"),
        );
    }
    let mut own: Vec<String> = PROPERTIES.iter().map(|p| format!(".{p}()")).collect();
    own.sort();
    let mut handlers: Vec<String> = handlers.iter().map(|p| format!(".{p}()")).collect();
    handlers.sort();
    DefineError::new(
        property.span,
        format!(
            "|alert() has no property .{name}(); it has: {}; and the handlers of this server: {}",
            own.join(", "),
            if handlers.is_empty() {
                "none".to_owned()
            } else {
                handlers.join(", ")
            }
        ),
    )
}

/// Whether `candidate` is close enough to `name` to be what was meant: the same but for case,
/// or one edit away (two for names of six letters or more, transpositions counting one), so
/// that a short name is not matched to an unrelated one (`.log()` is not `.all()`).
fn is_close(candidate: &str, name: &str) -> bool {
    let (a, b) = (candidate.to_lowercase(), name.to_lowercase());
    let allowed = if b.chars().count() >= 6 { 2 } else { 1 };
    a == b || edit_distance(&a, &b) <= allowed
}

/// Optimal string alignment distance (Levenshtein with adjacent transpositions), for "did you
/// mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

struct Predicates<'a> {
    levels: &'a mut [Option<Lambda>; 4],
    resets: &'a mut [Option<Lambda>; 4],
    point: &'a Point,
    errors: Vec<String>,
}

impl Predicates<'_> {
    fn eval(slot: &mut Option<Lambda>, point: &Point, errors: &mut Vec<String>) -> Option<bool> {
        let lambda = slot.as_mut()?;
        match lambda.eval_bool(point) {
            Ok(b) => Some(b),
            Err(e) => {
                // Reference 6.3: an expression error is logged and counts as false.
                errors.push(e.to_string());
                Some(false)
            }
        }
    }
}

impl LevelPredicates for Predicates<'_> {
    fn level_true(&mut self, level: Level) -> bool {
        Self::eval(
            &mut self.levels[level as usize],
            self.point,
            &mut self.errors,
        )
        .unwrap_or(false)
    }

    fn reset_true(&mut self, level: Level) -> Option<bool> {
        Self::eval(
            &mut self.resets[level as usize],
            self.point,
            &mut self.errors,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{PROPERTIES, edit_distance, is_close};

    #[test]
    fn every_implemented_property_is_reserved_from_handler_crates() {
        for property in PROPERTIES {
            assert!(
                klaxon_core::naming::ALERT_NODE_PROPERTIES.contains(property),
                ".{property}() is missing from klaxon_core::naming::ALERT_NODE_PROPERTIES"
            );
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("crit", "critt"), 1);
        assert_eq!(edit_distance("crit", "crit"), 0);
        assert_eq!(edit_distance("exec", "crit"), 4);
        assert_eq!(edit_distance("email", "emial"), 1);
    }

    #[test]
    fn hints_name_only_close_properties() {
        assert!(is_close("crit", "crt"));
        assert!(is_close("stateChangesOnly", "statechangesonly"));
        assert!(is_close("messageField", "mesageFeild"));
        assert!(!is_close("all", "log"));
        assert!(!is_close("id", "ok"));
    }
}
