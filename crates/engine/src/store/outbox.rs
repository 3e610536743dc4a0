//! The outbox table: (topic, handler, sequence number) → one event waiting for one handler
//! ([`Delivery`]). Entries are written in the same transaction as the states that produced them
//! ([`super::BatchWrite::outbox`]) and removed once delivered or failed for good, so that an
//! event accepted for delivery survives a crash. The sequence number orders a handler's events.
//!
//! The table is made by its first write; reading it before then finds nothing.

use redb::{ReadableTable, TableDefinition, TableError};

pub(crate) use super::outbox_codec::Delivery;
use super::{Store, StoreError};

/// (topic, handler label, sequence number) → the stored [`Delivery`].
pub(super) const OUTBOX: TableDefinition<'_, (&str, &str, u64), &[u8]> =
    TableDefinition::new("outbox");

/// One entry to write with a batch.
#[derive(Debug)]
pub(crate) struct OutboxPut<'a> {
    pub topic: &'a str,
    pub label: &'a str,
    pub seq: u64,
    pub value: &'a [u8],
}

/// A change to an entry after its delivery began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutboxOp {
    /// Delivered, filtered or failed for good.
    Remove {
        topic: String,
        label: String,
        seq: u64,
    },
    /// Another attempt failed and will be retried.
    Attempts {
        topic: String,
        label: String,
        seq: u64,
        attempts: u32,
    },
}

/// An entry as the start-up scan sees it: where it is, how big, and since when it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutboxSummary {
    pub seq: u64,
    pub bytes: u64,
    pub queued_unix_nanos: i64,
}

/// The readable part of the table, and what was not readable.
#[derive(Debug, Default)]
pub(crate) struct OutboxScan {
    pub entries: Vec<OutboxSummary>,
    /// Entries that did not decode, removed from the table: (topic, handler, seq, why).
    pub unreadable: Vec<(String, String, u64, String)>,
}

impl Store {
    /// Writes `puts` inside `txn`, which the caller commits with the states.
    pub(super) fn write_outbox(
        &self,
        txn: &redb::WriteTransaction,
        puts: &[OutboxPut<'_>],
    ) -> Result<(), StoreError> {
        if puts.is_empty() {
            return Ok(());
        }
        let mut table = txn.open_table(OUTBOX).map_err(|e| self.io("outbox", e))?;
        for put in puts {
            table
                .insert((put.topic, put.label, put.seq), put.value)
                .map_err(|e| self.io("outbox", e))?;
        }
        Ok(())
    }

    /// Up to `limit` entries of (topic, label) after sequence number `after`, in order. An
    /// entry that does not decode is returned as its error, for the caller to log and remove.
    #[allow(clippy::type_complexity)]
    pub(crate) fn outbox_after(
        &self,
        topic: &str,
        label: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, Result<Delivery, String>)>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = match txn.open_table(OUTBOX) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.io("outbox", e)),
        };
        let Some(start) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table
            .range((topic, label, start)..=(topic, label, u64::MAX))
            .map_err(|e| self.io("outbox", e))?
            .take(limit)
        {
            let (key, value) = entry.map_err(|e| self.io("outbox", e))?;
            let decoded = Delivery::decode(value.value()).map_err(|e| e.to_string());
            out.push((key.value().2, decoded));
        }
        Ok(out)
    }

    /// Overwrites one entry with `value` as it is: for tests that damage the outbox.
    #[cfg(test)]
    pub(crate) fn outbox_put_raw(
        &self,
        topic: &str,
        label: &str,
        seq: u64,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        self.write_outbox(
            &txn,
            &[OutboxPut {
                topic,
                label,
                seq,
                value,
            }],
        )?;
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// Applies removals and attempt counts in one transaction.
    pub(crate) fn outbox_apply(&self, ops: &[OutboxOp]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        self.apply_outbox_ops(&txn, ops)?;
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// [`Store::outbox_apply`] inside `txn`, which the caller commits (the write path's state
    /// commit carries the removals reported since the last one).
    pub(super) fn apply_outbox_ops(
        &self,
        txn: &redb::WriteTransaction,
        ops: &[OutboxOp],
    ) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut table = txn.open_table(OUTBOX).map_err(|e| self.io("outbox", e))?;
        for op in ops {
            match op {
                OutboxOp::Remove { topic, label, seq } => {
                    table
                        .remove((topic.as_str(), label.as_str(), *seq))
                        .map_err(|e| self.io("outbox", e))?;
                }
                OutboxOp::Attempts {
                    topic,
                    label,
                    seq,
                    attempts,
                } => {
                    let key = (topic.as_str(), label.as_str(), *seq);
                    let updated = table
                        .get(key)
                        .map_err(|e| self.io("outbox", e))?
                        .and_then(|v| Delivery::with_attempts(v.value(), *attempts));
                    if let Some(updated) = updated {
                        table
                            .insert(key, updated.as_slice())
                            .map_err(|e| self.io("outbox", e))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every entry's size and age, for the outbox's metrics; entries that do not decode are
    /// removed and reported (the readable part is kept).
    pub(crate) fn outbox_scan(&self) -> Result<OutboxScan, StoreError> {
        let mut scan = OutboxScan::default();
        {
            let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
            let table = match txn.open_table(OUTBOX) {
                Ok(table) => table,
                Err(TableError::TableDoesNotExist(_)) => return Ok(scan),
                Err(e) => return Err(self.io("outbox", e)),
            };
            for entry in table.iter().map_err(|e| self.io("outbox", e))? {
                let (key, value) = entry.map_err(|e| self.io("outbox", e))?;
                let (topic, label, seq) = key.value();
                match Delivery::decode(value.value()) {
                    Ok(d) => scan.entries.push(OutboxSummary {
                        seq,
                        bytes: value.value().len() as u64,
                        queued_unix_nanos: d.queued_unix_nanos,
                    }),
                    Err(e) => scan.unreadable.push((
                        topic.to_owned(),
                        label.to_owned(),
                        seq,
                        e.to_string(),
                    )),
                }
            }
        }
        if !scan.unreadable.is_empty() {
            let ops: Vec<OutboxOp> = scan
                .unreadable
                .iter()
                .map(|(topic, label, seq, _)| OutboxOp::Remove {
                    topic: topic.clone(),
                    label: label.clone(),
                    seq: *seq,
                })
                .collect();
            self.outbox_apply(&ops)?;
        }
        Ok(scan)
    }

    /// Removes the entries of `topic` (of its handler `label` only, when given); returns the
    /// sequence numbers and sizes removed.
    pub(crate) fn delete_outbox(
        &self,
        topic: &str,
        label: Option<&str>,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        let mut removed = Vec::new();
        {
            let mut table = match txn.open_table(OUTBOX) {
                Ok(table) => table,
                Err(e) => return Err(self.io("outbox", e)),
            };
            table
                .retain(|(t, l, seq), value| {
                    let gone = t == topic && label.is_none_or(|label| l == label);
                    if gone {
                        removed.push((seq, value.len() as u64));
                    }
                    !gone
                })
                .map_err(|e| self.io("outbox", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))?;
        Ok(removed)
    }
}
