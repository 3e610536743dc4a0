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
    /// Points not yet out of every future window, in time order.
    points: VecDeque<Point>,
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
                if value <= 0 {
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
            self.groups.insert(group.id.clone(), GroupWindow::default());
        }
        let state = self.groups.get_mut(&group.id)?;
        match self.mode {
            Mode::Time {
                period,
                every,
                align,
                fill_period,
            } => time_window(state, point, group, period, every, align, fill_period),
            Mode::Count {
                period,
                every,
                fill_period,
            } => count_window(state, point, group, period, every, fill_period),
        }
    }

    /// Points buffered over all groups (memory is bounded by one period per group).
    #[cfg(test)]
    fn buffered(&self) -> usize {
        self.groups.values().map(|g| g.points.len()).sum()
    }
}

fn time_window(
    state: &mut GroupWindow,
    point: Point,
    group: &Group,
    period: i64,
    every: i64,
    align: bool,
    fill_period: bool,
) -> Option<Batch> {
    let t = point.time.as_nanos();
    let next = *state.next_emit.get_or_insert_with(|| {
        let mut first = if align {
            // The end of the aligned bucket that holds the first point.
            t.div_euclid(every) * every + every
        } else {
            t + every
        };
        if fill_period && period > every {
            // Wait until a whole period of data can be in the first window.
            first += period - every;
        }
        first
    });
    let mut out = None;
    if t >= next {
        let start = next - period;
        // One window per arriving point: windows that a gap in the data left empty are skipped.
        let steps = (t - next) / every + 1;
        let following = next + steps * every;
        state.next_emit = Some(following);
        let keep_from = following - period;
        let mut points = Vec::new();
        // Points no later window needs are moved into the batch, the rest copied.
        while state
            .points
            .front()
            .is_some_and(|p| p.time.as_nanos() < keep_from)
        {
            if let Some(p) = state.points.pop_front()
                && p.time.as_nanos() >= start
                && p.time.as_nanos() < next
            {
                points.push(p);
            }
        }
        points.extend(
            state
                .points
                .iter()
                .take_while(|p| p.time.as_nanos() < next)
                .filter(|p| p.time.as_nanos() >= start)
                .cloned(),
        );
        out = Some(Batch {
            name: point.name.clone(),
            tags: group.tags_of(&point),
            time: Timestamp::from_nanos(next),
            points,
        });
    }
    let next = state.next_emit.unwrap_or(next);
    if t < next - period {
        // Too late for every window still to come.
        return out;
    }
    let at = state
        .points
        .iter()
        .rposition(|p| p.time <= point.time)
        .map_or(0, |i| i + 1);
    state.points.insert(at, point);
    out
}

fn count_window(
    state: &mut GroupWindow,
    point: Point,
    group: &Group,
    period: usize,
    every: usize,
    fill_period: bool,
) -> Option<Batch> {
    let next = *state.next_emit.get_or_insert(if fill_period {
        period.max(every) as i64
    } else {
        every as i64
    });
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
    fn a_gap_skips_empty_windows_and_late_points_are_dropped() {
        let mut w = window("stream|window().period(2s).every(2s)");
        let out = run(&mut w, &[0, 1, 9, 3, 10, 11]);
        // 9 closes [0,2) and the empty windows up to [8,10), which holds 9; the late 3 is in no
        // window still to come.
        assert_eq!(out, [(2, vec![0, 1]), (10, vec![9])]);
        assert_eq!(w.buffered(), 2);
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
            id: GroupId(format!("host={host}")),
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
