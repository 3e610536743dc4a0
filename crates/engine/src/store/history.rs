//! The topic history table: (topic, sequence number) → one level change of one of the topic's
//! alerts ([`HistoryEntry`]), written in the same transaction as the topic's states.
//!
//! The table is made by its first write; reading it before then finds nothing.

use std::collections::BTreeMap;

use klaxon_core::EventState;
use redb::{ReadableTable, TableDefinition, TableError};

use super::{Store, StoreError};
use crate::HistoryEntry;

/// (topic, sequence number) → the entry's JSON.
pub(super) const TOPIC_HISTORY: TableDefinition<'_, (&str, u64), &str> =
    TableDefinition::new("topic_history");

/// What one collected batch writes: its event states, its new history entries, and for each
/// topic it touched the first sequence number still kept (older entries are removed).
#[derive(Debug, Default)]
pub(crate) struct BatchWrite<'a> {
    pub states: Vec<(&'a str, &'a EventState)>,
    pub history: Vec<(&'a str, &'a HistoryEntry)>,
    pub kept_from: Vec<(&'a str, u64)>,
    /// The batch's events waiting for delivery (the outbox, `store/outbox.rs`).
    pub outbox: Vec<super::outbox::OutboxPut<'a>>,
    /// Removals and attempt counts the workers reported since the last outbox commit: carried
    /// by this commit, so that they cost no disk sync of their own.
    pub outbox_ops: &'a [super::outbox::OutboxOp],
}

impl Store {
    /// Writes a batch's states, history and outbox changes in one transaction (one disk sync).
    pub(crate) fn put_batch(&self, batch: &BatchWrite<'_>) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        self.write_states(&txn, batch.states.iter().copied())?;
        self.write_outbox(&txn, &batch.outbox)?;
        self.apply_outbox_ops(&txn, batch.outbox_ops)?;
        if !batch.history.is_empty() || !batch.kept_from.is_empty() {
            let mut table = txn
                .open_table(TOPIC_HISTORY)
                .map_err(|e| self.io("topic history", e))?;
            for (topic, entry) in &batch.history {
                let json =
                    serde_json::to_string(entry).map_err(|e| self.io("encode history", e))?;
                table
                    .insert((*topic, entry.seq), json.as_str())
                    .map_err(|e| self.io("topic history", e))?;
            }
            for (topic, first) in &batch.kept_from {
                let old: Vec<u64> = table
                    .range((*topic, 0)..(*topic, *first))
                    .map_err(|e| self.io("topic history", e))?
                    .map(|entry| entry.map(|(key, _)| key.value().1))
                    .collect::<Result<_, _>>()
                    .map_err(|e| self.io("topic history", e))?;
                for seq in old {
                    table
                        .remove((*topic, seq))
                        .map_err(|e| self.io("topic history", e))?;
                }
            }
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// The stored history of one topic, oldest first.
    pub fn history(&self, topic: &str) -> Result<Vec<HistoryEntry>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = match txn.open_table(TOPIC_HISTORY) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.io("topic history", e)),
        };
        let mut out = Vec::new();
        for entry in table
            .range((topic, 0)..=(topic, u64::MAX))
            .map_err(|e| self.io("topic history", e))?
        {
            let (key, value) = entry.map_err(|e| self.io("topic history", e))?;
            if let Some(entry) = decode(topic, key.value().1, value.value()) {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// The stored history of every topic, oldest first.
    pub fn all_history(&self) -> Result<BTreeMap<String, Vec<HistoryEntry>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = match txn.open_table(TOPIC_HISTORY) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.io("topic history", e)),
        };
        let mut out: BTreeMap<String, Vec<HistoryEntry>> = BTreeMap::new();
        for entry in table.iter().map_err(|e| self.io("topic history", e))? {
            let (key, value) = entry.map_err(|e| self.io("topic history", e))?;
            let (topic, seq) = key.value();
            if let Some(entry) = decode(topic, seq, value.value()) {
                out.entry(topic.to_owned()).or_default().push(entry);
            }
        }
        Ok(out)
    }

    /// Removes the stored history of `topic`.
    pub fn delete_history(&self, topic: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn
                .open_table(TOPIC_HISTORY)
                .map_err(|e| self.io("topic history", e))?;
            table
                .retain(|(t, _), _| t != topic)
                .map_err(|e| self.io("topic history", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }
}

fn decode(topic: &str, seq: u64, json: &str) -> Option<HistoryEntry> {
    match serde_json::from_str::<HistoryEntry>(json) {
        Ok(mut entry) => {
            entry.seq = seq;
            Some(entry)
        }
        Err(e) => {
            tracing::warn!(topic, seq, error = %e, "skipping an undecodable history entry");
            None
        }
    }
}
