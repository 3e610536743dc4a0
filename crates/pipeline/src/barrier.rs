//! `|barrier()` (`.idle()`, `.period()`, `.delete()`): tells the nodes after it that a group's
//! time has moved on when its data stops, as Kapacitor's `BarrierNode`. A barrier makes a
//! `|window()` emit the window it holds, and `|groupBy()` the windows it buffers; with
//! `.delete(TRUE)` the group is then forgotten by every node below.
//!
//! Kapacitor runs a wall-clock timer per group. Here the engine's ticks ([`crate::Task::tick`])
//! are the clock: a group's timer starts or restarts at the first tick after its creation or
//! its latest point, so it fires up to one tick (50 ms) later than Kapacitor's.

use std::collections::BTreeMap;

use klaxon_core::Timestamp;
use klaxon_tick::Node;

use crate::batch::Group;
use crate::props::{positive_duration, unknown_property};
use crate::{DefineError, GroupId};

/// When a group's barrier is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `.idle(d)`: after `d` of wall-clock time without a point of the group; the barrier's
    /// time is the group's last point time plus `d`.
    Idle(i64),
    /// `.period(d)`: every `d` of wall-clock time; the barrier's time is the wall clock.
    Period(i64),
}

/// One group's timer and the times it filters by.
#[derive(Debug)]
struct GroupBarrier {
    group: Group,
    /// Kapacitor's `lastPointT`: the latest point's time, then each idle barrier's.
    last_point: i64,
    /// The latest barrier's time: older points are dropped (`lastBarrierT`, `lastT`).
    last_barrier: Option<i64>,
    /// When the timer fires (wall clock); `None` until the next tick starts it.
    due: Option<i64>,
}

/// A compiled `|barrier()`.
#[derive(Debug)]
pub struct Barrier {
    mode: Mode,
    delete: bool,
    groups: BTreeMap<GroupId, GroupBarrier>,
}

/// A barrier a group's timer emitted: the group and the barrier's time.
pub type Due = (Group, Timestamp);

impl Barrier {
    const PROPERTIES: &'static [&'static str] = &["idle", "period", "delete"];

    /// Compiles `|barrier()` with exactly one of `.idle(d)` and `.period(d)`, as Kapacitor's
    /// `BarrierNode.validate`.
    pub fn compile(node: &Node) -> Result<Barrier, DefineError> {
        node.expect_args(0, 0)?;
        let (mut idle, mut period, mut delete) = (None, None, false);
        for p in &node.properties {
            match p.name.as_str() {
                "idle" => idle = Some((positive_duration(p)?, p.span)),
                "period" => period = Some((positive_duration(p)?, p.span)),
                "delete" => {
                    p.expect_args(1, 1)?;
                    delete = p.arg(0).as_bool()?;
                }
                _ => return Err(unknown_property("barrier", p, Self::PROPERTIES)),
            }
        }
        let mode = match (idle, period) {
            (Some((idle, _)), None) => Mode::Idle(idle),
            (None, Some((period, _))) => Mode::Period(period),
            (Some(_), Some((_, span))) => {
                return Err(DefineError::new(
                    span,
                    "|barrier() takes .idle() or .period(), not both; remove one",
                ));
            }
            (None, None) => {
                return Err(DefineError::new(
                    node.span,
                    "|barrier() needs .idle(duration) or .period(duration), e.g. |barrier().idle(1m)",
                ));
            }
        };
        Ok(Barrier {
            mode,
            delete,
            groups: BTreeMap::new(),
        })
    }

    /// Whether a barrier also deletes its group downstream (`.delete(TRUE)`).
    pub fn deletes(&self) -> bool {
        self.delete
    }

    /// A point (or a window's point) at `time` of `group` arrives: it passes unless it is older
    /// than the group's latest barrier; one that passes restarts an idle timer.
    pub fn accept(&mut self, time: Timestamp, group: &Group) -> bool {
        let time = time.as_nanos();
        let idle = matches!(self.mode, Mode::Idle(_));
        let state = self.state(group, time);
        if state.last_barrier.is_some_and(|b| time < b) {
            return false;
        }
        if idle {
            state.last_point = time;
            state.due = None;
        }
        true
    }

    /// A barrier from above at `time`: it passes, and counts as the group's latest barrier,
    /// unless it is older than the latest one.
    pub fn accept_barrier(&mut self, time: Timestamp, group: &Group) -> bool {
        let time = time.as_nanos();
        let idle = matches!(self.mode, Mode::Idle(_));
        let state = self.state(group, time);
        if state.last_barrier.is_some_and(|b| time < b) {
            return false;
        }
        state.last_barrier = Some(time);
        if idle {
            state.last_point = time;
            state.due = None;
        }
        true
    }

    fn state(&mut self, group: &Group, time: i64) -> &mut GroupBarrier {
        self.groups
            .entry(group.id.clone())
            .or_insert_with(|| GroupBarrier {
                group: group.clone(),
                last_point: time,
                last_barrier: None,
                due: None,
            })
    }

    /// The barriers due at wall-clock time `now`, in group order; with `.delete(TRUE)` their
    /// groups are forgotten here (the task forgets them below).
    pub fn tick(&mut self, now: Timestamp) -> Vec<Due> {
        let now = now.as_nanos();
        let mut due = Vec::new();
        for state in self.groups.values_mut() {
            let (interval, idle) = match self.mode {
                Mode::Idle(d) => (d, true),
                Mode::Period(d) => (d, false),
            };
            let Some(at) = state.due else {
                state.due = Some(now.saturating_add(interval));
                continue;
            };
            if now < at {
                continue;
            }
            let time = if idle {
                // Kapacitor's idle barrier moves its point time on by the idle duration.
                state.last_point = state.last_point.saturating_add(interval);
                state.due = Some(now.saturating_add(interval));
                state.last_point
            } else {
                // A ticker keeps its rate.
                state.due = Some(at.saturating_add(interval).max(now));
                now
            };
            state.last_barrier = Some(time);
            due.push((state.group.clone(), Timestamp::from_nanos(time)));
        }
        if self.delete {
            for (group, _) in &due {
                self.groups.remove(&group.id);
            }
        }
        due
    }

    /// Forgets `group` (a delete-group message passed).
    pub fn forget(&mut self, group: &GroupId) {
        self.groups.remove(group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn barrier(script: &str) -> Result<Barrier, DefineError> {
        let program = klaxon_tick::compile_script(script).expect("the script compiles");
        Barrier::compile(&program.nodes[2])
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_nanos(seconds * S)
    }

    #[test]
    fn an_idle_group_gets_a_barrier_at_its_last_point_plus_idle() {
        let mut b = barrier("stream|from()|barrier().idle(10s)").unwrap();
        let group = Group::nil();
        assert!(b.accept(at(100), &group));
        // The first tick after the point starts the timer; it fires idle later.
        assert!(b.tick(at(1000)).is_empty());
        assert!(b.tick(at(1009)).is_empty());
        let due = b.tick(at(1010));
        assert_eq!(due, [(group.clone(), at(110))]);
        // Points older than the barrier are dropped; newer ones pass and restart the timer.
        assert!(!b.accept(at(105), &group));
        assert!(b.tick(at(1015)).is_empty());
        assert_eq!(b.tick(at(1020)), [(group.clone(), at(120))]);
        assert!(b.accept(at(121), &group));
        assert!(b.tick(at(1025)).is_empty());
        assert!(b.tick(at(1030)).is_empty());
        assert_eq!(b.tick(at(1035)), [(group, at(131))]);
    }

    #[test]
    fn a_periodic_barrier_carries_the_wall_clock_and_keeps_its_rate() {
        let mut b = barrier("stream|from()|barrier().period(2s)").unwrap();
        let group = Group::nil();
        assert!(b.accept(at(5), &group));
        assert!(b.tick(at(1000)).is_empty());
        assert_eq!(b.tick(at(1002)), [(group.clone(), at(1002))]);
        assert!(!b.accept(at(1001), &group));
        assert!(b.tick(at(1003)).is_empty());
        assert_eq!(b.tick(at(1004)), [(group, at(1004))]);
    }

    #[test]
    fn delete_forgets_the_group_after_its_barrier() {
        let mut b = barrier("stream|from()|barrier().idle(1s).delete(TRUE)").unwrap();
        assert!(b.deletes());
        let group = Group::nil();
        assert!(b.accept(at(100), &group));
        b.tick(at(0));
        assert_eq!(b.tick(at(1)).len(), 1);
        // Forgotten: an old point starts the group afresh.
        assert!(b.accept(at(50), &group));
    }

    #[test]
    fn idle_or_period_is_required_but_not_both() {
        let err = barrier("stream|from()|barrier()").unwrap_err();
        assert_eq!(
            err.message,
            "|barrier() needs .idle(duration) or .period(duration), e.g. |barrier().idle(1m)"
        );
        let err = barrier("stream|from()|barrier().idle(1s).period(1s)").unwrap_err();
        assert_eq!(
            err.message,
            "|barrier() takes .idle() or .period(), not both; remove one"
        );
        let err = barrier("stream|from()|barrier().idle(0s)").unwrap_err();
        assert_eq!(err.message, ".idle() must be positive");
        let err = barrier("stream|from()|barrier().idle(1s).every(1s)").unwrap_err();
        assert_eq!(
            err.message,
            "|barrier() has no property .every(); it has: .delete(), .idle(), .period()"
        );
    }
}
