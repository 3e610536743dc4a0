//! `|window()`: turns each group's stream of points into batches, by time (`.period()`,
//! `.every()`) or by count (`.periodCount()`, `.everyCount()`), driven by point time.

use std::collections::{HashMap, VecDeque};

use klaxon_core::Timestamp;
use klaxon_tick::Node;

use crate::batch::{Batch, Group};
use crate::props::unknown_property;
use crate::{DefineError, GroupId, Point};

/// How windows are cut.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Windows `[end - period, end)` emitted every `every` nanoseconds of point time.
    Time {
        period: i64,
        every: i64,
        align: bool,
        fill_period: bool,
    },
    /// The last `period` points, emitted every `every` points.
    Count {
        period: usize,
        every: usize,
        fill_period: bool,
    },
}

/// The buffered state of one group.
#[derive(Debug, Default)]
struct GroupWindow {
    /// Time mode: the end of the next window to emit; count mode: the point count that emits.
    next_emit: Option<i64>,
    /// Count mode: points seen.
    seen: i64,
    /// Points not yet out of every future window, in arrival order.
    points: VecDeque<Point>,
    /// The measurement and group tags of the group's first point, which every window of the
    /// group carries (an empty one too), as Kapacitor's window does.
    name: String,
    tags: std::collections::BTreeMap<String, String>,
}

/// A compiled `|window()`.
#[derive(Debug)]
pub struct Window {
    mode: Mode,
    groups: HashMap<GroupId, GroupWindow>,
}

impl Window {
    const PROPERTIES: &'static [&'static str] = &[
        "period",
        "every",
        "align",
        "fillPeriod",
        "periodCount",
        "everyCount",
    ];

    /// Compiles `|window()` and its properties.
    pub fn compile(node: &Node) -> Result<Window, DefineError> {
        node.expect_args(0, 0)?;
        let (mut period, mut every, mut period_count, mut every_count) = (None, None, None, None);
        let (mut align, mut fill_period) = (false, false);
        for p in &node.properties {
            let positive = |value: i64, what: &str| {
                // `.every(0s)` is Kapacitor's "emit on every point".
                if value < 0 || (value == 0 && p.name != "every") {
                    Err(DefineError::new(
                        p.span,
                        format!(".{}({what}) must be positive", p.name),
                    ))
                } else {
                    Ok(value)
                }
            };
            match p.name.as_str() {
                "period" | "every" => {
                    p.expect_args(1, 1)?;
                    let d = p.arg(0).as_duration()?;
                    let d = positive(d, &format!("{d}ns"))?;
                    if p.name == "period" {
                        period = Some(d);
                    } else {
                        every = Some(d);
                    }
                }
                "periodCount" | "everyCount" => {
                    p.expect_args(1, 1)?;
                    let n = p.arg(0).as_int()?;
                    let n = positive(n, &n.to_string())? as usize;
                    if p.name == "periodCount" {
                        period_count = Some(n);
                    } else {
                        every_count = Some(n);
                    }
                }
                "align" => {
                    p.expect_args(0, 0)?;
                    align = true;
                }
                "fillPeriod" => {
                    p.expect_args(0, 0)?;
                    fill_period = true;
                }
                _ => return Err(unknown_property("window", p, Self::PROPERTIES)),
            }
        }
        let by_time = period.is_some() || every.is_some();
        let by_count = period_count.is_some() || every_count.is_some();
        let mode = match (by_time, by_count) {
            (true, true) => {
                return Err(DefineError::new(
                    node.span,
                    "|window() mixes .period()/.every() with .periodCount()/.everyCount(); use time or counts, not both",
                ));
            }
            (false, false) => {
                return Err(DefineError::new(
                    node.span,
                    "|window() needs a size; add .period(10s).every(10s) or .periodCount(10).everyCount(10)",
                ));
            }
            (true, false) => {
                let Some(period) = period else {
                    return Err(DefineError::new(
                        node.span,
                        "|window() has .every() but no .period(); add .period(d)",
                    ));
                };
                Mode::Time {
                    period,
                    every: every.unwrap_or(period),
                    align,
                    fill_period,
                }
            }
            (false, true) => {
                let Some(period) = period_count else {
                    return Err(DefineError::new(
                        node.span,
                        "|window() has .everyCount() but no .periodCount(); add .periodCount(n)",
                    ));
                };
                if align {
                    return Err(DefineError::new(
                        node.span,
                        ".align() applies to time windows; remove it or use .period()/.every()",
                    ));
                }
                Mode::Count {
                    period,
                    every: every_count.unwrap_or(period),
                    fill_period,
                }
            }
        };
        Ok(Window {
            mode,
            groups: HashMap::new(),
        })
    }

    /// Adds `point` to its group's window; returns the batch it completes, if any.
    pub fn process(&mut self, point: Point, group: &Group) -> Option<Batch> {
        // Look up before inserting: no copy of the group ID for every point.
        if !self.groups.contains_key(&group.id) {
            let state = GroupWindow {
                name: point.name.clone(),
                tags: group.tags_of(&point),
                ..GroupWindow::default()
            };
            self.groups.insert(group.id.clone(), state);
        }
        let state = self.groups.get_mut(&group.id)?;
        match self.mode {
            Mode::Time {
                period,
                every,
                align,
                fill_period,
            } => time_window(state, point, period, every, align, fill_period),
            Mode::Count {
                period,
                every,
                fill_period,
            } => count_window(state, point, group, period, every, fill_period),
        }
    }

    /// A barrier at `time` reaches `group`'s window: a time window emits as a point at that
    /// time would, without keeping it (Kapacitor's `windowByTime.Barrier`); `None` when it is
    /// not due, the group has no window yet, or the window counts points (Kapacitor's count
    /// window passes barriers on, which [`Window::passes_barriers`] says).
    pub fn barrier(&mut self, time: Timestamp, group: &GroupId) -> Option<Batch> {
        let Mode::Time {
            period,
            every,
            align,
            ..
        } = self.mode
        else {
            return None;
        };
        let state = self.groups.get_mut(group)?;
        let t = time.as_nanos();
        let next = state.next_emit?;
        if t < next {
            return None;
        }
        if every == 0 {
            purge(&mut state.points, |p| p > t - period);
            state.next_emit = Some(t);
            return Some(batch(state, t));
        }
        purge(&mut state.points, |p| p >= next - period);
        let out = batch(state, next);
        let mut following = t + every;
        if align {
            following = following.div_euclid(every) * every;
        }
        state.next_emit = Some(following);
        purge(&mut state.points, |p| p >= following - period);
        Some(out)
    }

    /// Whether a barrier goes on past this window: a count window's does; a time window's
    /// becomes the window it emits.
    pub fn passes_barriers(&self) -> bool {
        matches!(self.mode, Mode::Count { .. })
    }

    /// Forgets `group`'s window and its points (a delete-group message passed).
    pub fn forget(&mut self, group: &GroupId) {
        self.groups.remove(group);
    }

    /// Points buffered over all groups (memory is bounded by one period per group).
    #[cfg(test)]
    fn buffered(&self) -> usize {
        self.groups.values().map(|g| g.points.len()).sum()
    }
}

/// Kapacitor's `windowByTime.Point`: a point at or after the next emit time emits every point
/// kept since the previous emit that is not older than `next - period`, as the window ending
/// at `next`; the next window then ends `every` after that point (truncated to a multiple of
/// `every` with `.align()`). With `every` 0 each point emits the points of the last period,
/// itself included.
fn time_window(
    state: &mut GroupWindow,
    point: Point,
    period: i64,
    every: i64,
    align: bool,
    fill_period: bool,
) -> Option<Batch> {
    let t = point.time.as_nanos();
    let next = *state
        .next_emit
        .get_or_insert_with(|| first_emit(t, period, every, align, fill_period));
    if every == 0 {
        state.points.push_back(point);
        if t < next {
            return None;
        }
        // Kapacitor purges exclusively here: a point exactly one period old is dropped.
        purge(&mut state.points, |p| p > t - period);
        state.next_emit = Some(t);
        return Some(batch(state, t));
    }
    let mut out = None;
    if t >= next {
        purge(&mut state.points, |p| p >= next - period);
        out = Some(batch(state, next));
        let mut following = t + every;
        if align {
            following = following.div_euclid(every) * every;
        }
        state.next_emit = Some(following);
        // What the next emit will purge can go now: memory stays within a period per group.
        purge(&mut state.points, |p| p >= following - period);
    }
    state.points.push_back(point);
    out
}

/// The end of a group's first window, as Kapacitor's `newWindowByTime` computes it.
fn first_emit(t: i64, period: i64, every: i64, align: bool, fill_period: bool) -> i64 {
    if fill_period {
        let first_period = t + period;
        if !align || every == 0 {
            return first_period;
        }
        let aligned = first_period.div_euclid(every) * every;
        if aligned > first_period {
            aligned
        } else {
            aligned + every
        }
    } else if align && every != 0 {
        (t + every).div_euclid(every) * every
    } else {
        t + every
    }
}

/// Drops the oldest points up to the first that `keep` accepts (Kapacitor's ring buffer purge:
/// the points are in arrival order).
fn purge(points: &mut VecDeque<Point>, keep: impl Fn(i64) -> bool) {
    while points.front().is_some_and(|p| !keep(p.time.as_nanos())) {
        points.pop_front();
    }
}

/// The kept points as the window ending at `time`.
fn batch(state: &GroupWindow, time: i64) -> Batch {
    Batch {
        name: state.name.clone(),
        tags: state.tags.clone(),
        time: Timestamp::from_nanos(time),
        points: state.points.iter().cloned().collect(),
    }
}

fn count_window(
    state: &mut GroupWindow,
    point: Point,
    group: &Group,
    period: usize,
    every: usize,
    fill_period: bool,
) -> Option<Batch> {
    let next = *state
        .next_emit
        .get_or_insert(if fill_period { period } else { every } as i64);
    state.points.push_back(point);
    if state.points.len() > period {
        state.points.pop_front();
    }
    state.seen += 1;
    if state.seen < next {
        return None;
    }
    state.next_emit = Some(next + every as i64);
    let last = state.points.back()?;
    Some(Batch {
        name: last.name.clone(),
        tags: group.tags_of(last),
        time: last.time,
        points: state.points.iter().cloned().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_core::FieldValue;

    fn window(script: &str) -> Window {
        let program = klaxon_tick::compile_script(script).unwrap();
        Window::compile(&program.nodes[1]).unwrap()
    }

    fn at(seconds: i64) -> Point {
        Point::new("db", "rp", "cpu", seconds * 1_000_000_000)
            .tag("host", "a")
            .field("value", FieldValue::Int(seconds))
    }

    /// (batch time in seconds, point times in seconds) for each emitted batch.
    fn run(w: &mut Window, times: &[i64]) -> Vec<(i64, Vec<i64>)> {
        let group = Group::nil();
        times
            .iter()
            .filter_map(|t| w.process(at(*t), &group))
            .map(|b| {
                (
                    b.time.as_nanos() / 1_000_000_000,
                    b.points
                        .iter()
                        .map(|p| p.time.as_nanos() / 1_000_000_000)
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn tumbling_windows_emit_when_a_point_reaches_the_end() {
        let mut w = window("stream|window().period(10s).every(10s)");
        let out = run(&mut w, &(0..=12).collect::<Vec<_>>());
        assert_eq!(out, [(10, (0..10).collect::<Vec<_>>())]);
        assert_eq!(w.buffered(), 3);
    }

    #[test]
    fn sliding_windows_overlap_and_memory_stays_within_a_period() {
        let mut w = window("stream|window().period(4s).every(2s)");
        let out = run(&mut w, &(0..=8).collect::<Vec<_>>());
        assert_eq!(
            out,
            [
                (2, vec![0, 1]),
                (4, vec![0, 1, 2, 3]),
                (6, vec![2, 3, 4, 5]),
                (8, vec![4, 5, 6, 7])
            ]
        );
        assert!(w.buffered() <= 4, "{}", w.buffered());
    }

    #[test]
    fn fill_period_waits_for_a_whole_period() {
        let mut w = window("stream|window().period(4s).every(2s).fillPeriod()");
        let out = run(&mut w, &(0..=6).collect::<Vec<_>>());
        assert_eq!(out, [(4, vec![0, 1, 2, 3]), (6, vec![2, 3, 4, 5])]);
    }

    #[test]
    fn align_cuts_at_multiples_of_every() {
        let mut w = window("stream|window().period(10s).every(10s).align()");
        let out = run(&mut w, &[3, 7, 12, 25]);
        assert_eq!(out, [(10, vec![3, 7]), (20, vec![12])]);
        let mut unaligned = window("stream|window().period(10s).every(10s)");
        assert_eq!(run(&mut unaligned, &[3, 7, 12, 25]), [(13, vec![3, 7, 12])]);
    }

    #[test]
    fn after_a_gap_the_next_window_ends_every_after_the_point() {
        let mut w = window("stream|window().period(2s).every(2s)");
        let out = run(&mut w, &[0, 1, 9, 3, 10, 11]);
        // 9 closes the window ending at 2; the next one ends at 9 + 2 = 11 (Kapacitor's
        // windowByTime). The late 3 is kept in arrival order, as Kapacitor keeps it.
        assert_eq!(out, [(2, vec![0, 1]), (11, vec![9, 3, 10])]);
        assert_eq!(w.buffered(), 1);
    }

    #[test]
    fn every_zero_emits_the_last_period_on_every_point() {
        let mut w = window("stream|window().period(2s).every(0s)");
        let out = run(&mut w, &[0, 1, 2, 3]);
        assert_eq!(
            out,
            [
                (0, vec![0]),
                (1, vec![0, 1]),
                (2, vec![1, 2]),
                (3, vec![2, 3])
            ]
        );
    }

    #[test]
    fn fill_period_with_align_ends_on_a_multiple_of_every() {
        let mut w = window("stream|window().period(14s).every(10s).fillPeriod().align()");
        // The first period ends at 6 + 14 = 20, already aligned: the first window ends at 30.
        let out = run(&mut w, &(6..=31).collect::<Vec<_>>());
        assert_eq!(out[0], (30, (16..30).collect::<Vec<_>>()));
    }

    #[test]
    fn count_windows() {
        let mut w = window("stream|window().periodCount(3).everyCount(2)");
        assert_eq!(
            run(&mut w, &[0, 1, 2, 3, 4, 5]),
            [(1, vec![0, 1]), (3, vec![1, 2, 3]), (5, vec![3, 4, 5])]
        );
        let mut filled = window("stream|window().periodCount(3).everyCount(2).fillPeriod()");
        assert_eq!(
            run(&mut filled, &[0, 1, 2, 3, 4]),
            [(2, vec![0, 1, 2]), (4, vec![2, 3, 4])]
        );
    }

    #[test]
    fn groups_have_their_own_windows_and_tags() {
        let mut w = window("stream|window().period(2s)");
        let group = |host: &str| Group {
            id: GroupId::from(format!("host={host}")),
            keys: std::sync::Arc::from(vec!["host".to_owned()]),
        };
        let p = |s: i64, host: &str| at(s).tag("host", host);
        assert!(w.process(p(0, "a"), &group("a")).is_none());
        assert!(w.process(p(1, "b"), &group("b")).is_none());
        let a = w.process(p(2, "a"), &group("a")).unwrap();
        assert_eq!(a.tags["host"], "a");
        assert_eq!(a.points.len(), 1);
        assert!(w.process(p(2, "b"), &group("b")).is_none());
    }

    #[test]
    fn size_errors_name_the_fix() {
        let err = |script: &str| {
            let program = klaxon_tick::compile_script(script).unwrap();
            Window::compile(&program.nodes[1]).unwrap_err().message
        };
        assert!(err("stream|window()").contains("add .period(10s)"));
        assert!(err("stream|window().period(1s).periodCount(2)").contains("not both"));
        assert!(err("stream|window().every(1s)").contains("no .period()"));
        assert!(err("stream|window().period(0s)").contains("must be positive"));
        assert!(err("stream|window().periodCount(2).align()").contains("time windows"));
    }
}
