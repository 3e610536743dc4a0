//! `|stats(interval)` and `|deadman(threshold, interval)`: wall-clock nodes. They count what their
//! parent emits per group, and the engine calls [`crate::Task::tick`] with the current time so
//! they can emit every interval; the pipeline itself reads no clock.

use std::collections::{BTreeMap, HashMap};

use klaxon_core::{FieldValue, GoDuration, Registry, Timestamp};
use klaxon_tick::{Arg, ArgValue, BinaryOp, Expr, ExprKind, Node, Property};

use crate::alert::{AlertNode, ServerInfo};
use crate::batch::{Group, Message};
use crate::props::unknown_property;
use crate::{Context, DefineError, Point};

/// One group seen by a counting node.
#[derive(Debug)]
struct Seen {
    group: Group,
    tags: BTreeMap<String, String>,
    emitted: u64,
}

/// The measurement of the points `|stats()` emits (and a deadman's alert sees as `.Name`), as
/// Kapacitor names them.
const STATS: &str = "stats";

/// Counts messages per group and knows when the next interval ends.
#[derive(Debug)]
struct Counter {
    interval: i64,
    align: bool,
    due: Option<i64>,
    groups: Vec<Seen>,
    index: HashMap<crate::GroupId, usize>,
}

impl Counter {
    fn new(interval: i64, align: bool) -> Counter {
        Counter {
            interval,
            align,
            due: None,
            groups: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn observe(&mut self, message: &Message, group: &Group) {
        let i = match self.index.get(&group.id) {
            Some(i) => *i,
            None => {
                let tags = match message {
                    Message::Point(p) => group.tags_of(p),
                    Message::Batch(b) => b.tags.clone(),
                };
                self.index.insert(group.id.clone(), self.groups.len());
                self.groups.push(Seen {
                    group: group.clone(),
                    tags,
                    emitted: 0,
                });
                self.groups.len() - 1
            }
        };
        self.groups[i].emitted += 1;
    }

    /// The time of this interval's emission when `now` has reached it; the first call only
    /// starts the clock.
    fn due(&mut self, now: i64) -> Option<i64> {
        let Some(due) = self.due else {
            self.due = Some(self.first_due(now));
            return None;
        };
        if now < due {
            return None;
        }
        // A tick later than a whole interval emits once and starts the schedule again from now.
        let late = now - due >= self.interval;
        self.due = Some(if late {
            self.first_due(now)
        } else {
            due + self.interval
        });
        // The scheduled time, not the moment the engine got round to it: rates divide by exact
        // intervals.
        Some(if self.align {
            now.div_euclid(self.interval) * self.interval
        } else if late {
            now
        } else {
            due
        })
    }

    fn first_due(&self, now: i64) -> i64 {
        if self.align {
            now.div_euclid(self.interval) * self.interval + self.interval
        } else {
            now + self.interval
        }
    }
}

fn interval_arg(node: &Node, index: usize) -> Result<i64, DefineError> {
    let interval = node.arg(index).as_duration()?;
    if interval <= 0 {
        return Err(DefineError::new(
            node.args[index].span,
            format!("|{}() interval must be positive", node.name),
        ));
    }
    Ok(interval)
}

/// `|stats(interval)`: every interval, one point per group with the number of messages its
/// parent has emitted so far (`emitted`, an int).
#[derive(Debug)]
pub struct Stats {
    counter: Counter,
}

impl Stats {
    /// Compiles `|stats(10s)` and `.align()`.
    pub fn compile(node: &Node) -> Result<Stats, DefineError> {
        node.expect_args(1, 1)?;
        let interval = interval_arg(node, 0)?;
        let mut align = false;
        for p in &node.properties {
            match p.name.as_str() {
                "align" => {
                    p.expect_args(0, 0)?;
                    align = true;
                }
                _ => return Err(unknown_property("stats", p, &["align"])),
            }
        }
        Ok(Stats {
            counter: Counter::new(interval, align),
        })
    }

    /// Counts a message of the parent.
    pub fn observe(&mut self, message: &Message, group: &Group) {
        self.counter.observe(message, group);
    }

    /// The points due at `now`, with their groups.
    pub fn tick(&mut self, now: Timestamp) -> Vec<(Point, Group)> {
        let Some(time) = self.counter.due(now.as_nanos()) else {
            return Vec::new();
        };
        self.counter
            .groups
            .iter()
            .map(|seen| {
                let mut point = Point::new("", "", STATS, time);
                point.tags = seen.tags.clone();
                point
                    .fields
                    .insert("emitted".to_owned(), FieldValue::Int(seen.emitted as i64));
                (point, seen.group.clone())
            })
            .collect()
    }
}

/// `|deadman(threshold, interval[, lambda])`: Kapacitor's
/// `|stats(interval)|derivative('emitted').unit(interval).nonNegative()|alert().crit(lambda:
/// "emitted" <= threshold [AND lambda])`, as one node. Every interval, each group that has been
/// seen gets its rate over the last interval (`emitted`, points per interval, a float) checked by
/// the alert node, which takes the deadman's properties (`.id()`, handlers...).
#[derive(Debug)]
pub struct Deadman {
    counter: Counter,
    /// Per group: the count and time of the previous tick.
    previous: HashMap<crate::GroupId, (u64, i64)>,
    alert: Box<AlertNode>,
}

impl Deadman {
    /// Compiles the node: its arguments into the alert's CRITICAL expression, its properties
    /// into the alert node's, with the server's `[deadman]` ID and message as defaults.
    pub fn compile(
        node: &Node,
        parent: &Node,
        task: &str,
        server: &ServerInfo,
        registry: &Registry,
        limits: &crate::Limits,
    ) -> Result<Deadman, DefineError> {
        node.expect_args(2, 3)?;
        let threshold = node.arg(0).as_float()?;
        let interval = interval_arg(node, 1)?;
        let span = node.span;
        let expr = |kind: ExprKind| Expr { kind, span };
        let mut crit = expr(ExprKind::Binary {
            op: BinaryOp::Le,
            lhs: Box::new(expr(ExprKind::Ref("emitted".to_owned()))),
            rhs: Box::new(expr(ExprKind::Float(threshold))),
        });
        if node.args.len() == 3 {
            let extra = node.arg(2).as_lambda()?.clone();
            crit = expr(ExprKind::Binary {
                op: BinaryOp::And,
                lhs: Box::new(crit),
                rhs: Box::new(extra),
            });
        }
        let property = |name: &str, value: ArgValue| Property {
            name: name.to_owned(),
            args: vec![Arg { value, span }],
            span,
        };
        let has = |name: &str| node.properties.iter().any(|p| p.name == name);
        let mut properties = Vec::new();
        if !has("id") {
            properties.push(property(
                "id",
                ArgValue::Str(server.deadman.id.replacen("NODE_NAME", &parent.id(), 1)),
            ));
        }
        if !has("message") {
            let every = GoDuration::from_nanos(interval).to_string();
            properties.push(property(
                "message",
                ArgValue::Str(server.deadman.message.replacen("INTERVAL", &every, 1)),
            ));
        }
        properties.push(property("crit", ArgValue::Lambda(crit)));
        properties.extend(node.properties.iter().cloned());
        let alert_node = Node {
            args: Vec::new(),
            properties,
            ..node.clone()
        };
        let alert = AlertNode::compile(&alert_node, task, server, registry, limits)?;
        Ok(Deadman {
            counter: Counter::new(interval, false),
            previous: HashMap::new(),
            alert: Box::new(alert),
        })
    }

    /// The alert node inside, for its handlers.
    pub fn alert(&self) -> &AlertNode {
        &self.alert
    }

    /// The alert node inside, to apply handler kinds' `global` settings to.
    pub fn alert_mut(&mut self) -> &mut AlertNode {
        &mut self.alert
    }

    /// Counts a message of the parent.
    pub fn observe(&mut self, message: &Message, group: &Group) {
        self.counter.observe(message, group);
    }

    /// At the end of an interval, checks every group's rate; returns what the alert node passes
    /// on (points for which it emitted an event), with their groups.
    pub fn tick(&mut self, now: Timestamp, ctx: &mut dyn Context) -> Vec<(Point, Group)> {
        let Some(time) = self.counter.due(now.as_nanos()) else {
            return Vec::new();
        };
        let interval = self.counter.interval as f64;
        let mut out = Vec::new();
        for seen in &self.counter.groups {
            let previous = self
                .previous
                .insert(seen.group.id.clone(), (seen.emitted, time));
            // Like Kapacitor's derivative: a rate needs two samples; a negative one is skipped.
            let Some((count, at)) = previous else {
                continue;
            };
            if time <= at || seen.emitted < count {
                continue;
            }
            let rate = (seen.emitted - count) as f64 / ((time - at) as f64 / interval);
            let mut point = Point::new("", "", STATS, time);
            point.tags = seen.tags.clone();
            point
                .fields
                .insert("emitted".to_owned(), FieldValue::Float(rate));
            if let Some(p) = self.alert.process(&point, &seen.group.id, ctx) {
                out.push((p, seen.group.clone()));
            }
        }
        out
    }
}
