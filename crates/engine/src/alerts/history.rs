//! Alert history: each topic keeps its recent level changes ([`HistoryEntry`]), bounded by
//! count and age (`[alert] history-max-events`, `history-max-age`), in memory for reading and
//! in `klaxon.db` with the topic's states (written in the same transaction), so that it
//! survives restarts.
//!
//! Only level changes are kept: a CRITICAL event repeated every ten seconds is one entry, so
//! recording costs the collect path nothing but a comparison for the events that change
//! nothing.

use std::collections::VecDeque;
use std::time::Duration;

use klaxon_core::{Event, GoDuration, Level, Timestamp};
use serde::{Deserialize, Serialize};

use super::AlertService;
use crate::EngineError;

/// One level change of one alert of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HistoryEntry {
    /// Increases by one per entry within the topic, from 1; the paging cursor.
    #[serde(skip)]
    pub seq: u64,
    /// When the event was collected (wall clock); the age bound is measured from it.
    pub recorded: Timestamp,
    /// The alert (event) ID.
    pub id: String,
    /// The time of the data point that produced the event.
    pub time: Timestamp,
    /// The new level.
    pub level: Level,
    /// The level before.
    pub previous_level: Level,
    /// The rendered message.
    pub message: String,
    /// How long the alert had been non-OK.
    pub duration: GoDuration,
    /// Whether a silence kept the event from the topic's handlers.
    #[serde(default)]
    pub silenced: bool,
}

/// Which entries [`AlertService::history`] returns: newest first, at most `limit`, older than
/// the `before` cursor, with a data time in `[start, end)`, of one alert ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// At most this many entries (at least 1).
    pub limit: usize,
    /// Only entries with a sequence number below this (the previous page's last `seq`).
    pub before: Option<u64>,
    /// Only entries whose data time is at or after this.
    pub start: Option<Timestamp>,
    /// Only entries whose data time is before this.
    pub end: Option<Timestamp>,
    /// Only entries of this alert ID.
    pub id: Option<String>,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery {
            limit: 100,
            before: None,
            start: None,
            end: None,
            id: None,
        }
    }
}

impl HistoryQuery {
    fn accepts(&self, entry: &HistoryEntry) -> bool {
        self.before.is_none_or(|before| entry.seq < before)
            && self.start.is_none_or(|start| entry.time >= start)
            && self.end.is_none_or(|end| entry.time < end)
            && self.id.as_ref().is_none_or(|id| entry.id == *id)
    }
}

/// A page of history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The entries.
    pub entries: Vec<HistoryEntry>,
    /// Whether older entries match too (ask again with `before` the last entry's `seq`).
    pub more: bool,
}

/// The bounds of every topic's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HistoryBounds {
    pub max_events: usize,
    pub max_age: Duration,
}

/// A topic's history in memory.
#[derive(Debug, Default)]
pub(super) struct History {
    entries: VecDeque<HistoryEntry>,
    next_seq: u64,
}

impl History {
    /// The history restored from the store (oldest first), pruned to `bounds`.
    pub(super) fn restored(entries: Vec<HistoryEntry>, bounds: HistoryBounds) -> History {
        let next_seq = entries.last().map_or(1, |e| e.seq + 1);
        let mut history = History {
            entries: entries.into(),
            next_seq,
        };
        history.prune(bounds, Timestamp::now());
        history
    }

    /// Records `event`'s level change and prunes; returns the new entry. `event.previous_level`
    /// must be set.
    pub(super) fn record(
        &mut self,
        event: &Event,
        silenced: bool,
        bounds: HistoryBounds,
    ) -> HistoryEntry {
        let recorded = Timestamp::now();
        let seq = self.next_seq.max(1);
        self.next_seq = seq + 1;
        let entry = HistoryEntry {
            seq,
            recorded,
            id: event.state.id.clone(),
            time: event.state.time,
            level: event.state.level,
            previous_level: event.previous_level,
            message: event.state.message.clone(),
            duration: event.state.duration,
            silenced,
        };
        self.entries.push_back(entry.clone());
        self.prune(bounds, recorded);
        entry
    }

    /// Drops entries past the count, and those recorded longer than the age ago.
    fn prune(&mut self, bounds: HistoryBounds, now: Timestamp) {
        while self.entries.len() > bounds.max_events {
            self.entries.pop_front();
        }
        let max_age = i64::try_from(bounds.max_age.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = Timestamp::from_nanos(now.as_nanos().saturating_sub(max_age));
        while self.entries.front().is_some_and(|e| e.recorded < cutoff) {
            self.entries.pop_front();
        }
    }

    /// The first sequence number kept: older entries are removed from the store.
    pub(super) fn kept_from(&self) -> u64 {
        self.entries.front().map_or(self.next_seq, |e| e.seq)
    }

    fn page(&self, query: &HistoryQuery) -> HistoryPage {
        page(self.entries.iter().rev(), query)
    }
}

/// Up to `query.limit` of `newest_first` that the query accepts, and whether there are more.
fn page<'a>(
    newest_first: impl Iterator<Item = &'a HistoryEntry>,
    query: &HistoryQuery,
) -> HistoryPage {
    let limit = query.limit.max(1);
    let mut matching = newest_first.filter(|e| query.accepts(e));
    let entries: Vec<HistoryEntry> = matching.by_ref().take(limit).cloned().collect();
    HistoryPage {
        entries,
        more: matching.next().is_some(),
    }
}

impl AlertService {
    /// The history of `topic`, newest first: from memory when the topic is open, else from the
    /// database (a disabled task's topic); [`EngineError::UnknownTopic`] when neither has it.
    pub fn history(&self, topic: &str, query: &HistoryQuery) -> Result<HistoryPage, EngineError> {
        if let Some(t) = self.lock().topics.get(topic) {
            return Ok(t.history.page(query));
        }
        let stored = if self.inner.config.persist_topics {
            self.inner.store.history(topic)?
        } else {
            Vec::new()
        };
        if stored.is_empty() {
            return Err(EngineError::UnknownTopic(topic.to_owned()));
        }
        let history = History::restored(stored, self.history_bounds());
        Ok(history.page(query))
    }

    pub(super) fn history_bounds(&self) -> HistoryBounds {
        HistoryBounds {
            max_events: self.inner.config.history_max_events,
            max_age: self.inner.config.history_max_age,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, level: Level, previous: Level) -> Event {
        let mut event = Event::default();
        event.state.id = id.into();
        event.state.level = level;
        event.previous_level = previous;
        event
    }

    const BOUNDS: HistoryBounds = HistoryBounds {
        max_events: 3,
        max_age: Duration::from_secs(3600),
    };

    #[test]
    fn the_count_bound_keeps_the_newest_and_pages_go_back_by_cursor() {
        let mut history = History::default();
        for (i, level) in [Level::Warning, Level::Critical, Level::Ok, Level::Info]
            .into_iter()
            .enumerate()
        {
            let entry = history.record(&event(&format!("e{i}"), level, Level::Ok), false, BOUNDS);
            assert_eq!(entry.seq, i as u64 + 1);
        }
        assert_eq!(
            history.kept_from(),
            2,
            "the first entry went past the count"
        );
        let first = history.page(&HistoryQuery {
            limit: 2,
            ..HistoryQuery::default()
        });
        let ids: Vec<&str> = first.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["e3", "e2"]);
        assert!(first.more);
        let second = history.page(&HistoryQuery {
            limit: 2,
            before: Some(first.entries[1].seq),
            ..HistoryQuery::default()
        });
        assert_eq!(second.entries.len(), 1);
        assert_eq!(second.entries[0].id, "e1");
        assert!(!second.more);
    }

    #[test]
    fn the_age_bound_drops_old_entries_and_a_restored_history_goes_on_counting() {
        let mut old =
            History::default().record(&event("a", Level::Critical, Level::Ok), false, BOUNDS);
        old.recorded = Timestamp::from_nanos(0);
        let mut fresh = old.clone();
        fresh.seq = 7;
        fresh.recorded = Timestamp::now();
        let mut history = History::restored(vec![old, fresh], BOUNDS);
        assert_eq!(history.kept_from(), 7);
        let next = history.record(&event("a", Level::Ok, Level::Critical), true, BOUNDS);
        assert_eq!(next.seq, 8);
        assert!(next.silenced);
    }

    #[test]
    fn queries_filter_by_time_and_id() {
        let mut history = History::default();
        for (i, id) in ["a", "b", "a"].into_iter().enumerate() {
            let mut e = event(id, Level::Critical, Level::Ok);
            e.state.time = Timestamp::from_nanos(i as i64 * 10);
            history.record(&e, false, BOUNDS);
        }
        let only_a = history.page(&HistoryQuery {
            id: Some("a".into()),
            ..HistoryQuery::default()
        });
        assert_eq!(only_a.entries.len(), 2);
        let window = history.page(&HistoryQuery {
            start: Some(Timestamp::from_nanos(10)),
            end: Some(Timestamp::from_nanos(20)),
            ..HistoryQuery::default()
        });
        assert_eq!(window.entries.len(), 1);
        assert_eq!(window.entries[0].id, "b");
    }
}
