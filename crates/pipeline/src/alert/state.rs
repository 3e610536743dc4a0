//! The per-group alert state machine: level history, flapping, and the emission rules of
//! Kapacitor's alert node (reference sections 6.3 and 6.4), copied exactly for parity.

use klaxon_core::{GoDuration, Level, Timestamp};

mod levels;

use levels::Levels;

/// Flapping weights: the newest change weighs 1.2, the oldest 0.8 (Kapacitor's `maxWeight` and
/// `weightDiff`).
const MAX_WEIGHT: f64 = 1.2;
const WEIGHT_DIFF: f64 = 1.5;

/// How the node decides what to emit; the parts of the alert node's properties the state machine
/// needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// `.history(n)`: length of the level history (at least 2).
    pub history: usize,
    /// `.flapping(low, high)`.
    pub flapping: Option<(f64, f64)>,
    /// `.stateChangesOnly([interval])`: `Some(0)` without an interval.
    pub state_changes_only: Option<GoDuration>,
    /// `.noRecoveries()`.
    pub no_recoveries: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            history: 21,
            flapping: None,
            state_changes_only: None,
            no_recoveries: false,
        }
    }
}

/// What the state machine decided for one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Emit an event at this level with this duration.
    Emit {
        /// The new level.
        level: Level,
        /// `lastTriggered - firstTriggered`.
        duration: GoDuration,
    },
    /// Nothing to emit.
    Quiet,
}

/// The state of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertState {
    /// The level history, with its index and the flapping flag.
    history: Levels,
    first_triggered: Timestamp,
    last_triggered: Timestamp,
}

impl AlertState {
    /// A fresh state: every history slot OK.
    pub fn new(history: usize) -> AlertState {
        AlertState {
            history: Levels::new(history.max(2)),
            first_triggered: Timestamp::EPOCH,
            last_triggered: Timestamp::EPOCH,
        }
    }

    /// A state restored from a persisted event (reference 3.7): the stored level seeds the
    /// history and the stored time becomes the first trigger, so a recovery after a restart
    /// carries the incident's whole duration and `stateChangesOnly` does not re-fire.
    pub fn restored(history: usize, level: Level, time: Timestamp) -> AlertState {
        let mut state = AlertState::new(history);
        state.history.set(state.history.idx(), level);
        if level != Level::Ok {
            state.first_triggered = time;
            state.last_triggered = time;
        }
        state
    }

    /// The current level (the newest history entry).
    pub fn level(&self) -> Level {
        self.history.get(self.history.idx())
    }

    /// Records the level decided for a point at `time` and applies the emission rules.
    pub fn update(&mut self, level: Level, time: Timestamp, rules: &Rules) -> Decision {
        self.record(level, time, rules, false)
    }

    /// Records the level decided for a batch; the same rules except that a recovery (a change
    /// to OK) is emitted even while flapping or with `stateChangesOnly` (Kapacitor's
    /// `BufferedBatch`).
    pub fn update_batch(&mut self, level: Level, time: Timestamp, rules: &Rules) -> Decision {
        self.record(level, time, rules, true)
    }

    fn record(&mut self, level: Level, time: Timestamp, rules: &Rules, batch: bool) -> Decision {
        let previous = self.level();
        let changed = previous != level;
        let idx = self.history.advance();
        self.history.set(idx, level);

        if let Some((low, high)) = rules.flapping {
            let p = self.percent_change();
            let flapping = self.history.flapping();
            if flapping && p < low {
                self.history.set_flapping(false);
            } else if !flapping && p > high {
                self.history.set_flapping(true);
            }
        }
        let interval = rules.state_changes_only.map_or(0, GoDuration::as_nanos);
        let expired = !changed
            && interval != 0
            && time.as_nanos() - self.last_triggered.as_nanos() >= interval;

        let batch_recovery = batch && changed && level == Level::Ok;
        if !batch_recovery
            && (self.history.flapping()
                || (rules.state_changes_only.is_some() && !changed && !expired))
        {
            return Decision::Quiet;
        }
        if level == Level::Ok && !changed {
            return Decision::Quiet;
        }
        self.last_triggered = time;
        if previous == Level::Ok {
            self.first_triggered = time;
        }
        // Kapacitor updates the trigger times before dropping the recovery, so the next incident
        // starts fresh and a suppressed OK never reaches the topic.
        if rules.no_recoveries && level == Level::Ok {
            return Decision::Quiet;
        }
        Decision::Emit {
            level,
            duration: GoDuration::from_nanos(
                self.last_triggered.as_nanos() - self.first_triggered.as_nanos(),
            ),
        }
    }

    /// Kapacitor's weighted share of level changes over the history. It pairs the newest slot
    /// with the oldest (a quirk kept for parity).
    fn percent_change(&self) -> f64 {
        let l = self.history.len();
        let mut changes = 0.0;
        let mut weight = MAX_WEIGHT / WEIGHT_DIFF;
        let step = (MAX_WEIGHT - weight) / (l - 1) as f64;
        for i in 0..l - 1 {
            let c = (i + self.history.idx()) % l;
            let p = if c == 0 { l - 1 } else { c - 1 };
            if self.history.get(c) != self.history.get(p) {
                changes += weight;
            }
            weight += step;
        }
        changes / (l - 1) as f64
    }
}

/// The level expressions of an alert node, evaluated as Kapacitor's `determineLevel` does.
pub trait LevelPredicates {
    /// Whether the level expression of `level` (INFO, WARNING or CRITICAL) is set and true.
    /// Errors count as false; the implementation reports them.
    fn level_true(&mut self, level: Level) -> bool;
    /// `Some(result)` when `level` has a reset expression.
    fn reset_true(&mut self, level: Level) -> Option<bool>;
}

/// Reference 6.3: evaluate CRITICAL down to the current level (never OK); else stay if the
/// current level's reset expression is false; else evaluate the current level down to INFO;
/// else OK.
pub fn determine_level(predicates: &mut impl LevelPredicates, current: Level) -> Level {
    let descending = |from: Level, to: Level| {
        Level::ALL
            .into_iter()
            .rev()
            .filter(move |l| *l <= from && *l >= to && *l > Level::Ok)
    };
    for level in descending(Level::Critical, current) {
        if predicates.level_true(level) {
            return level;
        }
    }
    if current > Level::Ok && predicates.reset_true(current) == Some(false) {
        return current;
    }
    for level in descending(current, Level::Info) {
        if predicates.level_true(level) {
            return level;
        }
    }
    Level::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_state_is_four_words() {
        // An alert node keeps one per series: a million series, 32 MB.
        assert_eq!(std::mem::size_of::<AlertState>(), 32);
    }

    /// Thresholds on one value: `info > 60, warn > 70, crit > 80` with resets `< 50, < 60, < 70`.
    struct Thresholds {
        value: f64,
        with_resets: bool,
    }

    impl LevelPredicates for Thresholds {
        fn level_true(&mut self, level: Level) -> bool {
            match level {
                Level::Info => self.value > 60.0,
                Level::Warning => self.value > 70.0,
                Level::Critical => self.value > 80.0,
                Level::Ok => false,
            }
        }

        fn reset_true(&mut self, level: Level) -> Option<bool> {
            if !self.with_resets {
                return None;
            }
            Some(match level {
                Level::Info => self.value < 50.0,
                Level::Warning => self.value < 60.0,
                Level::Critical => self.value < 70.0,
                Level::Ok => true,
            })
        }
    }

    /// The documented reset example of reference 6.3.
    #[test]
    fn resets_hold_a_level_until_their_expression_is_true() {
        let mut current = Level::Ok;
        let mut levels = Vec::new();
        for value in [61.0, 73.0, 64.0, 85.0, 62.0, 56.0, 47.0] {
            current = determine_level(
                &mut Thresholds {
                    value,
                    with_resets: true,
                },
                current,
            );
            levels.push(current);
        }
        use Level::*;
        assert_eq!(levels, [Info, Warning, Warning, Critical, Info, Info, Ok]);
    }

    #[test]
    fn without_resets_levels_follow_the_value() {
        let mut current = Level::Ok;
        let mut levels = Vec::new();
        for value in [61.0, 73.0, 64.0, 85.0, 62.0, 56.0, 47.0] {
            current = determine_level(
                &mut Thresholds {
                    value,
                    with_resets: false,
                },
                current,
            );
            levels.push(current);
        }
        use Level::*;
        assert_eq!(levels, [Info, Warning, Info, Critical, Info, Ok, Ok]);
    }

    fn run(levels: &[Level], rules: Rules) -> Vec<(i64, Level, i64)> {
        let mut state = AlertState::new(rules.history);
        let mut out = Vec::new();
        for (t, level) in levels.iter().enumerate() {
            let time = Timestamp::from_nanos(t as i64 * 1_000_000_000);
            if let Decision::Emit { level, duration } = state.update(*level, time, &rules) {
                out.push((t as i64, level, duration.as_nanos() / 1_000_000_000));
            }
        }
        out
    }

    #[test]
    fn ok_to_ok_is_silent_and_every_non_ok_point_re_emits() {
        use Level::*;
        let out = run(&[Ok, Critical, Critical, Ok, Ok], Rules::default());
        assert_eq!(out, [(1, Critical, 0), (2, Critical, 1), (3, Ok, 2)]);
    }

    #[test]
    fn flapping_suppresses_events_while_levels_keep_changing() {
        use Level::*;
        let rules = Rules {
            history: 4,
            flapping: Some((0.25, 0.5)),
            ..Rules::default()
        };
        let out = run(
            &[
                Critical, Ok, Critical, Ok, Critical, Critical, Critical, Critical, Critical,
            ],
            rules,
        );
        // Worked by hand with Kapacitor's weights (0.8, 0.93, 1.07 over 3 pairs): the first change
        // already scores 0.58 > 0.5, so the alert flaps from t0; the share stays at or above 0.25
        // until the history holds CRITICAL only at t7, and events resume there.
        assert_eq!(out, [(7, Critical, 7), (8, Critical, 8)]);
    }

    #[test]
    fn restored_state_continues_the_incident() {
        let rules = Rules {
            state_changes_only: Some(GoDuration::ZERO),
            ..Rules::default()
        };
        let mut state = AlertState::restored(21, Level::Critical, Timestamp::EPOCH);
        let t1 = Timestamp::from_nanos(1_000_000_000);
        assert_eq!(state.update(Level::Critical, t1, &rules), Decision::Quiet);
        let t2 = Timestamp::from_nanos(2_000_000_000);
        assert_eq!(
            state.update(Level::Ok, t2, &rules),
            Decision::Emit {
                level: Level::Ok,
                duration: GoDuration::from_secs(2)
            }
        );
    }
}
