//! The topic states table: (topic, event ID) → the event's last non-OK state.

use std::collections::BTreeMap;

use klaxon_core::{EventState, GoDuration, Level, Timestamp};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, TOPIC_STATES};

/// An event state as Kapacitor stores it: `duration` in integer nanoseconds.
#[derive(Serialize, Deserialize)]
struct StoredState {
    message: String,
    details: String,
    time: Timestamp,
    duration: i64,
    level: Level,
}

/// A stored state without its message and details: what a topic keeps in memory of it. The
/// text stays in the database, so a restart with a million states does not read it into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateMark {
    pub(crate) id: String,
    pub(crate) time: Timestamp,
    pub(crate) duration: GoDuration,
    pub(crate) level: Level,
}

/// [`StoredState`] without the text (serde skips the fields it does not name).
#[derive(Deserialize)]
struct StoredMark {
    time: Timestamp,
    duration: i64,
    level: Level,
}

impl Store {
    /// Stores the state of event `state.id` in `topic`; an OK state removes the entry instead.
    pub fn put_state(&self, topic: &str, state: &EventState) -> Result<(), StoreError> {
        self.put_states([(topic, state)])
    }

    /// Stores many event states in one transaction (one disk sync), as [`Store::put_state`]
    /// would one by one.
    pub fn put_states<'a>(
        &self,
        states: impl IntoIterator<Item = (&'a str, &'a EventState)>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        self.write_states(&txn, states)?;
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// [`Store::put_states`] inside `txn`, which the caller commits (with the topic history).
    pub(super) fn write_states<'a>(
        &self,
        txn: &redb::WriteTransaction,
        states: impl IntoIterator<Item = (&'a str, &'a EventState)>,
    ) -> Result<(), StoreError> {
        {
            let mut table = txn
                .open_table(TOPIC_STATES)
                .map_err(|e| self.io("topic states", e))?;
            for (topic, state) in states {
                let key = (topic, state.id.as_str());
                if state.level == Level::Ok {
                    table.remove(key).map_err(|e| self.io("topic states", e))?;
                } else {
                    let json = serde_json::to_string(&StoredState {
                        message: state.message.clone(),
                        details: state.details.clone(),
                        time: state.time,
                        duration: state.duration.as_nanos(),
                        level: state.level,
                    })
                    .map_err(|e| self.io("encode state", e))?;
                    table
                        .insert(key, json.as_str())
                        .map_err(|e| self.io("topic states", e))?;
                }
            }
        }
        Ok(())
    }

    /// The stored state of one event, if any.
    pub fn state(&self, topic: &str, event: &str) -> Result<Option<EventState>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn
            .open_table(TOPIC_STATES)
            .map_err(|e| self.io("topic states", e))?;
        let value = table
            .get((topic, event))
            .map_err(|e| self.io("topic states", e))?;
        Ok(value.and_then(|v| decode_state(event, v.value())))
    }

    /// The stored states of events `ids` of `topic`, in one read transaction, in the order
    /// of `ids` (`None` for an event with no stored state).
    pub fn states_of(
        &self,
        topic: &str,
        ids: &[&str],
    ) -> Result<Vec<Option<EventState>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn
            .open_table(TOPIC_STATES)
            .map_err(|e| self.io("topic states", e))?;
        ids.iter()
            .map(|&event| {
                let value = table
                    .get((topic, event))
                    .map_err(|e| self.io("topic states", e))?;
                Ok(value.and_then(|v| decode_state(event, v.value())))
            })
            .collect()
    }

    /// Every stored event state, by topic.
    pub fn states(&self) -> Result<BTreeMap<String, Vec<EventState>>, StoreError> {
        self.scan_all(decode_state)
    }

    /// The stored states of one topic.
    pub fn topic_states(&self, topic: &str) -> Result<Vec<EventState>, StoreError> {
        self.scan_topic(topic, decode_state)
    }

    /// Every stored event state without its text, by topic.
    pub(crate) fn state_marks(&self) -> Result<BTreeMap<String, Vec<StateMark>>, StoreError> {
        self.scan_all(decode_mark)
    }

    /// The stored states of one topic without their text.
    pub(crate) fn topic_state_marks(&self, topic: &str) -> Result<Vec<StateMark>, StoreError> {
        self.scan_topic(topic, decode_mark)
    }

    /// Every stored state decoded by `decode`, by topic; one that does not decode is skipped
    /// and logged.
    fn scan_all<T>(
        &self,
        decode: fn(&str, &str) -> Option<T>,
    ) -> Result<BTreeMap<String, Vec<T>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn
            .open_table(TOPIC_STATES)
            .map_err(|e| self.io("topic states", e))?;
        let mut out: BTreeMap<String, Vec<T>> = BTreeMap::new();
        for entry in table.iter().map_err(|e| self.io("topic states", e))? {
            let (key, value) = entry.map_err(|e| self.io("topic states", e))?;
            let (topic, event) = key.value();
            match decode(event, value.value()) {
                Some(state) => match out.get_mut(topic) {
                    Some(states) => states.push(state),
                    None => {
                        out.insert(topic.to_owned(), vec![state]);
                    }
                },
                None => tracing::warn!(topic, event, "skipping an undecodable stored event state"),
            }
        }
        Ok(out)
    }

    /// The stored states of `topic` decoded by `decode` (one that does not decode is skipped).
    fn scan_topic<T>(
        &self,
        topic: &str,
        decode: fn(&str, &str) -> Option<T>,
    ) -> Result<Vec<T>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn
            .open_table(TOPIC_STATES)
            .map_err(|e| self.io("topic states", e))?;
        let mut out = Vec::new();
        let range = table
            .range((topic, "")..)
            .map_err(|e| self.io("topic states", e))?;
        for entry in range {
            let (key, value) = entry.map_err(|e| self.io("topic states", e))?;
            let (t, event) = key.value();
            if t != topic {
                break;
            }
            if let Some(state) = decode(event, value.value()) {
                out.push(state);
            }
        }
        Ok(out)
    }

    /// Removes every stored state of `topic`.
    pub fn delete_states(&self, topic: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn
                .open_table(TOPIC_STATES)
                .map_err(|e| self.io("topic states", e))?;
            table
                .retain(|(t, _), _| t != topic)
                .map_err(|e| self.io("topic states", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }
}

fn decode_state(id: &str, json: &str) -> Option<EventState> {
    let stored: StoredState = serde_json::from_str(json).ok()?;
    Some(EventState {
        id: id.to_owned(),
        message: stored.message,
        details: stored.details,
        time: stored.time,
        duration: GoDuration::from_nanos(stored.duration),
        level: stored.level,
    })
}

fn decode_mark(id: &str, json: &str) -> Option<StateMark> {
    let stored: StoredMark = serde_json::from_str(json).ok()?;
    Some(StateMark {
        id: id.to_owned(),
        time: stored.time,
        duration: GoDuration::from_nanos(stored.duration),
        level: stored.level,
    })
}
