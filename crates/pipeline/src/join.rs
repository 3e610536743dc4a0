//! `|join(b, c...)`: the points (or windows) of several parents that share a time, within
//! `.tolerance()`, and a group, joined into one whose fields are named prefix, `.delimiter()`,
//! field, as Kapacitor's `JoinNode` (join.go). `.on(tags...)` joins a parent grouped by more
//! tags with one grouped by those only; `.fill()` emits a set a parent missed.
//!
//! The sets of one group are emitted in time order: a complete set as soon as its time is the
//! oldest buffered, an incomplete one once every parent has sent something later (then filled,
//! or dropped without `.fill()`).

use std::collections::{BTreeMap, HashMap, VecDeque};

use klaxon_core::{FieldValue, Timestamp};
use klaxon_tick::{ArgValue, Node};

use crate::batch::{Batch, Group, Message};
use crate::joining::{self, round};
use crate::props::{self, unknown_property};
use crate::{DefineError, GroupId, Point};

/// What a set missing a parent becomes (`.fill()`).
#[derive(Debug, Clone, PartialEq)]
enum Fill {
    /// No fill: the set is dropped (an inner join).
    None,
    /// `.fill('null')`: the missing parent's fields are null, which Klaxon's points carry as
    /// absent fields (`|default()` then sets them, as it sets Kapacitor's nil fields).
    Null,
    /// `.fill(0.0)`: the missing parent's fields have this value.
    Value(FieldValue),
}

/// A message and the group it belongs to, from parent `src` (0 the chained parent, then the
/// arguments of `|join()` in order).
#[derive(Debug, Clone)]
struct Sourced {
    src: usize,
    message: Message,
    group: Group,
}

impl Sourced {
    fn time(&self) -> i64 {
        match &self.message {
            Message::Point(p) => p.time.as_nanos(),
            Message::Batch(b) => b.time.as_nanos(),
        }
    }

    fn name(&self) -> &str {
        match &self.message {
            Message::Point(p) => &p.name,
            Message::Batch(b) => &b.name,
        }
    }

    /// Kapacitor's `GroupInfo().Tags`: the group's tags only.
    fn group_tags(&self) -> BTreeMap<String, String> {
        match &self.message {
            Message::Point(p) => self.group.tags_of(p),
            Message::Batch(b) => b.tags.clone(),
        }
    }
}

/// The settings of a compiled `|join()`, shared by its groups.
#[derive(Debug)]
struct Settings {
    prefixes: Vec<String>,
    delimiter: String,
    stream_name: Option<String>,
    tolerance: i64,
    fill: Fill,
}

/// A compiled `|join()` and the sets it buffers.
#[derive(Debug)]
pub struct Join {
    /// The node indexes of the parents: the chained one, then the arguments.
    parents: Vec<usize>,
    settings: Settings,
    on: Vec<String>,
    groups: HashMap<GroupId, JoinGroup>,
    /// With `.on()`: the latest time per parent per `.on()` group (Kapacitor's low marks).
    low_marks: HashMap<(usize, String), i64>,
    /// With `.on()`: the less specific messages, kept to match the specific ones of their time.
    matches: HashMap<String, VecDeque<Sourced>>,
    /// With `.on()`: the specific messages waiting for the less specific one of their time.
    specifics: HashMap<String, VecDeque<Sourced>>,
    reported: Vec<bool>,
    all_reported: bool,
    /// `.deleteAll(TRUE)`: a group deleted by one parent (`|barrier().delete(TRUE)`) resets
    /// every parent's low marks, not only that parent's.
    delete_all: bool,
}

impl Join {
    /// Compiles `|join(...)` and its properties; `parents` counts the chained parent and the
    /// arguments.
    pub fn compile(node: &Node) -> Result<Join, DefineError> {
        if node.others.is_empty() {
            return Err(DefineError::new(
                node.span,
                "|join() needs the nodes to join: a|join(b).as('a', 'b'), with b a variable holding a node",
            ));
        }
        node.expect_args(0, 0)?;
        let parents = node.others.len() + 1;
        let mut prefixes: Option<Vec<String>> = None;
        let mut on = Vec::new();
        let mut delimiter = ".".to_owned();
        let mut stream_name = None;
        let mut tolerance = 0;
        let mut fill = Fill::None;
        let mut delete_all = false;
        for p in &node.properties {
            match p.name.as_str() {
                "as" => {
                    props::once(&prefixes, p)?;
                    prefixes = Some(props::strings(p)?);
                }
                "on" => on = props::strings(p)?,
                "delimiter" => delimiter = joining::delimiter(p)?,
                "streamName" => {
                    p.expect_args(1, 1)?;
                    stream_name = Some(p.arg(0).as_str()?.to_owned());
                }
                "tolerance" => tolerance = joining::tolerance(p)?,
                "deleteAll" => {
                    p.expect_args(1, 1)?;
                    delete_all = p.arg(0).as_bool()?;
                }
                "fill" => {
                    p.expect_args(1, 1)?;
                    fill = match &p.args[0].value {
                        ArgValue::Str(s) if s == "null" => Fill::Null,
                        ArgValue::Str(s) if s == "none" => Fill::None,
                        ArgValue::Int(i) => Fill::Value(FieldValue::Int(*i)),
                        ArgValue::Float(f) => Fill::Value(FieldValue::Float(*f)),
                        _ => {
                            return Err(DefineError::new(
                                props::first_arg_span(p),
                                ".fill() takes 'null', 'none' or a number, e.g. .fill(0.0)",
                            ));
                        }
                    };
                }
                _ => {
                    return Err(unknown_property(
                        "join",
                        p,
                        &[
                            "as",
                            "on",
                            "delimiter",
                            "deleteAll",
                            "streamName",
                            "tolerance",
                            "fill",
                        ],
                    ));
                }
            }
        }
        let prefixes = joining::prefixes(node, prefixes, parents, "node", &delimiter)?;
        Ok(Join {
            parents: node
                .parent
                .into_iter()
                .chain(node.others.iter().copied())
                .collect(),
            settings: Settings {
                prefixes,
                delimiter,
                stream_name,
                tolerance,
                fill,
            },
            on,
            groups: HashMap::new(),
            low_marks: HashMap::new(),
            matches: HashMap::new(),
            specifics: HashMap::new(),
            reported: vec![false; parents],
            all_reported: false,
            delete_all,
        })
    }

    /// Takes `message` of `group` from the parent at node index `parent`; returns the joined
    /// messages now complete (or given up on), with their groups.
    pub fn collect(
        &mut self,
        parent: usize,
        message: Message,
        group: &Group,
    ) -> Vec<(Message, Group)> {
        // A node joined with itself (`a|join(a)`) feeds every slot it holds.
        let sources: Vec<usize> = (0..self.parents.len())
            .filter(|i| self.parents[*i] == parent)
            .collect();
        let mut out = Vec::new();
        for src in sources {
            out.extend(self.collect_from(src, message.clone(), group));
        }
        out
    }

    /// A barrier of `group` at `time` from the parent at node index `parent`: that parent sends
    /// nothing older, so sets it missed may go (Kapacitor's `joinGroup.Barrier`).
    pub fn barrier(
        &mut self,
        parent: usize,
        group: &Group,
        time: Timestamp,
    ) -> Vec<(Message, Group)> {
        let parents = self.reported.len();
        let t = self.round(time.as_nanos());
        let mut out = Vec::new();
        for src in (0..parents).filter(|i| self.parents[*i] == parent) {
            let join_group = self
                .groups
                .entry(group.id.clone())
                .or_insert_with(|| JoinGroup::new(parents));
            join_group.heads[src] = Some(t);
            let only_ready = join_group.only_ready();
            join_group.emit(only_ready, &self.settings, &mut out);
        }
        out
    }

    /// Forgets `group`, deleted by the parent at node index `parent` (Kapacitor's
    /// `JoinNode.Delete`): its sets, the messages kept to match, and that parent's low mark,
    /// or every low mark with `.deleteAll(TRUE)`.
    pub fn forget(&mut self, parent: usize, group: &GroupId) {
        self.groups.remove(group);
        self.matches.remove(group.as_str());
        self.specifics.remove(group.as_str());
        if self.delete_all {
            self.low_marks.clear();
        } else {
            for src in (0..self.parents.len()).filter(|i| self.parents[*i] == parent) {
                self.low_marks.remove(&(src, group.as_str().to_owned()));
            }
        }
    }

    fn collect_from(
        &mut self,
        src: usize,
        message: Message,
        group: &Group,
    ) -> Vec<(Message, Group)> {
        let sourced = Sourced {
            src,
            message,
            group: group.clone(),
        };
        let mut out = Vec::new();
        if self.on.is_empty() {
            self.collect_into_group(sourced, &mut out);
        } else {
            self.match_points(sourced, &mut out);
        }
        out
    }

    fn round(&self, time: i64) -> i64 {
        round(time, self.settings.tolerance)
    }

    fn collect_into_group(&mut self, sourced: Sourced, out: &mut Vec<(Message, Group)>) {
        let parents = self.reported.len();
        let t = self.round(sourced.time());
        self.groups
            .entry(sourced.group.id.clone())
            .or_insert_with(|| JoinGroup::new(parents))
            .collect(t, sourced, &self.settings, out);
    }

    /// Kapacitor's `matchPoints`: pairs each specific message (grouped by more tags than
    /// `.on()`) with the less specific one of its time, and sends specific messages alone once
    /// no match can come any more.
    fn match_points(&mut self, p: Sourced, out: &mut Vec<(Message, Group)>) {
        if !self.all_reported {
            self.reported[p.src] = true;
            self.all_reported = self.reported.iter().all(|r| *r);
        }
        let t = self.round(p.time());
        let id = self.on_group(&p);
        self.low_marks.insert((p.src, id.clone()), t);
        // The oldest of the parents' latest times; `None` is Kapacitor's zero time, before all.
        let mut low_mark: Option<i64> = None;
        if self.all_reported {
            for s in 0..self.reported.len() {
                let lm = self.low_marks.get(&(s, id.clone())).copied();
                if low_mark.is_none() || lm < low_mark {
                    low_mark = lm;
                }
            }
            let tolerance = self.settings.tolerance;
            let waiting = self.specifics.get_mut(&id).map(|buf| {
                let n = buf
                    .iter()
                    .take_while(|s| Some(round(s.time(), tolerance)) < low_mark)
                    .count();
                buf.drain(..n).collect::<Vec<_>>()
            });
            for specific in waiting.unwrap_or_default() {
                self.collect_into_group(specific, out);
            }
        }
        if p.group.keys.len() > self.on.len() {
            let mut pairs = Vec::new();
            if let Some(matches) = self.matches.get_mut(&id) {
                let mut i = 0;
                while i < matches.len() {
                    let pt = round(matches[i].time(), self.settings.tolerance);
                    if pt == t {
                        pairs.push(matches[i].clone());
                    }
                    if Some(pt) >= low_mark {
                        break;
                    }
                    i += 1;
                }
                if self.all_reported {
                    matches.drain(..i);
                }
            }
            let matched = !pairs.is_empty();
            for matched_point in pairs {
                self.send_match(p.clone(), matched_point, out);
            }
            if !matched {
                if self.all_reported && Some(t) < low_mark {
                    self.collect_into_group(p, out);
                } else {
                    self.specifics.entry(id).or_default().push_back(p);
                }
            }
        } else {
            self.matches
                .entry(id.clone())
                .or_default()
                .push_back(p.clone());
            let tolerance = self.settings.tolerance;
            let waiting = self.specifics.get_mut(&id).map(|buf| {
                let n = buf
                    .iter()
                    .take_while(|s| round(s.time(), tolerance) == t)
                    .count();
                buf.drain(..n).collect::<Vec<_>>()
            });
            for specific in waiting.unwrap_or_default() {
                self.send_match(specific, p.clone(), out);
            }
        }
    }

    /// The `.on()` group of a message: its measurement when grouped by it, and the `.on()` tags
    /// of its group.
    fn on_group(&self, p: &Sourced) -> String {
        let tags = p.group_tags();
        let pairs: Vec<String> = self
            .on
            .iter()
            .map(|k| format!("{k}={}", tags.get(k).map_or("", String::as_str)))
            .collect();
        if by_measurement(&p.group) {
            format!("{}\n{}", p.name(), pairs.join(","))
        } else {
            pairs.join(",")
        }
    }

    /// Collects a specific message and its less specific match, the match taking the specific
    /// one's group and tags, into the specific one's group.
    fn send_match(&mut self, specific: Sourced, matched: Sourced, out: &mut Vec<(Message, Group)>) {
        let tags = specific.group_tags();
        let message = match matched.message {
            Message::Point(mut p) => {
                p.tags = tags;
                Message::Point(p)
            }
            Message::Batch(mut b) => {
                b.tags = tags;
                Message::Batch(b)
            }
        };
        let matched = Sourced {
            src: matched.src,
            message,
            group: specific.group.clone(),
        };
        self.collect_into_group(specific, out);
        self.collect_into_group(matched, out);
    }
}

/// Whether the group is by measurement too (its ID is `<measurement>\n<tags>`).
fn by_measurement(group: &Group) -> bool {
    group.id.0.contains('\n')
}

/// The sets of one group, by time: Kapacitor's `joinGroup`.
#[derive(Debug)]
struct JoinGroup {
    sets: BTreeMap<i64, VecDeque<JoinSet>>,
    /// Each parent's latest time; `None` before its first message.
    heads: Vec<Option<i64>>,
}

impl JoinGroup {
    fn new(parents: usize) -> JoinGroup {
        JoinGroup {
            sets: BTreeMap::new(),
            heads: vec![None; parents],
        }
    }

    fn collect(
        &mut self,
        t: i64,
        sourced: Sourced,
        settings: &Settings,
        out: &mut Vec<(Message, Group)>,
    ) {
        let parents = self.heads.len();
        let src = sourced.src;
        let queue = self.sets.entry(t).or_default();
        let set = match queue.iter().position(|s| s.values[src].is_none()) {
            Some(i) => &mut queue[i],
            None => {
                queue.push_back(JoinSet::new(t, parents));
                queue.back_mut().expect("just pushed")
            }
        };
        set.values[src] = Some(sourced);
        self.heads[src] = Some(t);
        let only_ready = self.only_ready();
        self.emit(only_ready, settings, out);
    }

    /// Whether a parent has not yet passed the oldest time, so only complete sets may go.
    fn only_ready(&self) -> bool {
        let oldest = self.sets.keys().next().copied();
        self.heads.iter().any(|h| *h <= oldest)
    }

    /// Emits the oldest time's sets (only the complete ones at its head when `only_ready`); when
    /// it may emit incomplete ones, goes on with the next times while every parent is past them.
    fn emit(&mut self, mut only_ready: bool, settings: &Settings, out: &mut Vec<(Message, Group)>) {
        loop {
            let Some(mut entry) = self.sets.first_entry() else {
                return;
            };
            let queue = entry.get_mut();
            while queue.front().is_some_and(|s| s.ready() || !only_ready) {
                let set = queue.pop_front().expect("checked");
                if let Some(joined) = set.join(settings) {
                    out.push(joined);
                }
            }
            if queue.is_empty() {
                entry.remove();
            }
            if only_ready {
                return;
            }
            only_ready = self.only_ready();
        }
    }
}

/// The messages of one time, one per parent: Kapacitor's `joinset`.
#[derive(Debug)]
struct JoinSet {
    time: i64,
    values: Vec<Option<Sourced>>,
}

impl JoinSet {
    fn new(time: i64, parents: usize) -> JoinSet {
        JoinSet {
            time,
            values: vec![None; parents],
        }
    }

    fn ready(&self) -> bool {
        self.values.iter().all(Option::is_some)
    }

    /// The joined message and its group (the first parent's present in the set); `None` when
    /// a parent is missing and there is no fill.
    fn join(self, settings: &Settings) -> Option<(Message, Group)> {
        let first = self.values.iter().flatten().next()?;
        let name = settings
            .stream_name
            .clone()
            .unwrap_or_else(|| first.name().to_owned());
        let mut group = first.group.clone();
        if by_measurement(&group) && name != first.name() {
            let tags = group.id.0.split_once('\n').map_or("", |(_, t)| t);
            group.id = GroupId::from(format!("{name}\n{tags}"));
        }
        let time = Timestamp::from_nanos(self.time);
        let message = match &first.message {
            Message::Point(p) => Message::Point(self.join_points(p, name, time, settings)?),
            Message::Batch(b) => Message::Batch(self.join_batches(b, name, time, settings)),
        };
        Some((message, group))
    }

    fn join_points(
        &self,
        first: &Point,
        name: String,
        time: Timestamp,
        settings: &Settings,
    ) -> Option<Point> {
        let mut fields = BTreeMap::new();
        for (i, value) in self.values.iter().enumerate() {
            let prefix = &settings.prefixes[i];
            match value.as_ref().map(|v| &v.message) {
                Some(Message::Point(p)) => {
                    for (k, v) in &p.fields {
                        fields.insert(field_name(prefix, settings, k), v.clone());
                    }
                }
                // Edges are checked when the task is compiled: every parent sends points.
                Some(Message::Batch(_)) => return None,
                None => fill(&mut fields, prefix, first.fields.keys(), settings)?,
            }
        }
        let group = &self.values.iter().flatten().next()?.group;
        Some(Point {
            database: first.database.clone(),
            retention_policy: first.retention_policy.clone(),
            name,
            tags: group.tags_of(first),
            fields,
            time,
        })
    }

    /// Kapacitor's `JoinIntoBatch`: the windows' points matched by time (within the
    /// tolerance), walking them in step; the field names to fill come from the first point
    /// matched.
    fn join_batches(
        &self,
        first: &Batch,
        name: String,
        time: Timestamp,
        settings: &Settings,
    ) -> Batch {
        let batches: Vec<Option<&Batch>> = self
            .values
            .iter()
            .map(|v| match v.as_ref().map(|v| &v.message) {
                Some(Message::Batch(b)) => Some(b),
                _ => None,
            })
            .collect();
        let expected = batches.len();
        let mut empty = vec![false; expected];
        let mut empty_count = 0;
        let mut indexes = vec![0usize; expected];
        let mut field_names: Option<Vec<String>> = None;
        let mut points = Vec::new();
        'sets: while empty_count < expected {
            let mut set: Vec<Option<&Point>> = vec![None; expected];
            let mut set_time: Option<i64> = None;
            let mut count = 0;
            for (i, batch) in batches.iter().enumerate() {
                if empty[i] {
                    continue;
                }
                let Some(b) = batch else {
                    empty_count += 1;
                    empty[i] = true;
                    continue;
                };
                let Some(bp) = b.points.get(indexes[i]) else {
                    empty_count += 1;
                    empty[i] = true;
                    continue;
                };
                let t = round(bp.time.as_nanos(), settings.tolerance);
                let st = *set_time.get_or_insert(t);
                if t < st {
                    set_time = Some(t);
                    for (j, slot) in set.iter_mut().enumerate() {
                        if slot.is_some() {
                            indexes[j] -= 1;
                        }
                        *slot = None;
                    }
                    set[i] = Some(bp);
                    indexes[i] += 1;
                    count = 1;
                } else if t == st {
                    if field_names.is_none() {
                        field_names = Some(bp.fields.keys().cloned().collect());
                    }
                    set[i] = Some(bp);
                    indexes[i] += 1;
                    count += 1;
                }
            }
            if count == 0 {
                continue;
            }
            let mut fields = BTreeMap::new();
            for (i, bp) in set.iter().enumerate() {
                let prefix = &settings.prefixes[i];
                match bp {
                    Some(bp) => {
                        for (k, v) in &bp.fields {
                            fields.insert(field_name(prefix, settings, k), v.clone());
                        }
                    }
                    None => {
                        let names = field_names.iter().flatten();
                        if fill(&mut fields, prefix, names, settings).is_none() {
                            continue 'sets;
                        }
                    }
                }
            }
            points.push(Point {
                database: first
                    .points
                    .first()
                    .map(|p| p.database.clone())
                    .unwrap_or_default(),
                retention_policy: first
                    .points
                    .first()
                    .map(|p| p.retention_policy.clone())
                    .unwrap_or_default(),
                name: name.clone(),
                tags: first.tags.clone(),
                fields,
                time: Timestamp::from_nanos(set_time.unwrap_or(time.as_nanos())),
            });
        }
        Batch {
            name,
            tags: first.tags.clone(),
            time,
            points,
        }
    }
}

fn field_name(prefix: &str, settings: &Settings, field: &str) -> String {
    format!("{prefix}{}{field}", settings.delimiter)
}

/// Fills a missing parent's fields; `None` without a fill (the set is not emitted).
fn fill<'a>(
    fields: &mut BTreeMap<String, FieldValue>,
    prefix: &str,
    names: impl Iterator<Item = &'a String>,
    settings: &Settings,
) -> Option<()> {
    match &settings.fill {
        Fill::None => None,
        Fill::Null => Some(()),
        Fill::Value(v) => {
            for k in names {
                fields.insert(field_name(prefix, settings, k), v.clone());
            }
            Some(())
        }
    }
}
