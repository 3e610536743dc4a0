//! The silences table: silence ID → the silence ([`Silence`]) as JSON.
//!
//! The table is made by its first write; reading it before then finds nothing.

use redb::{ReadableTable, TableDefinition, TableError};

use super::{Store, StoreError};
use crate::Silence;

/// silence ID → the silence's JSON.
pub(super) const SILENCES: TableDefinition<'_, &str, &str> = TableDefinition::new("silences");

impl Store {
    /// Stores `silence`, replacing the one with its ID.
    pub fn put_silence(&self, silence: &Silence) -> Result<(), StoreError> {
        let json = serde_json::to_string(silence).map_err(|e| self.io("encode silence", e))?;
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn
                .open_table(SILENCES)
                .map_err(|e| self.io("silences", e))?;
            table
                .insert(silence.id.as_str(), json.as_str())
                .map_err(|e| self.io("silences", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// Every stored silence, by ID; undecodable ones are logged and skipped.
    pub fn silences(&self) -> Result<Vec<Silence>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = match txn.open_table(SILENCES) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.io("silences", e)),
        };
        let mut out = Vec::new();
        for entry in table.iter().map_err(|e| self.io("silences", e))? {
            let (key, value) = entry.map_err(|e| self.io("silences", e))?;
            match serde_json::from_str::<Silence>(value.value()) {
                Ok(silence) => out.push(silence),
                Err(e) => {
                    tracing::warn!(silence = key.value(), error = %e, "skipping an undecodable stored silence")
                }
            }
        }
        Ok(out)
    }

    /// Removes the silences `ids` (absent ones are fine), in one transaction.
    pub fn delete_silences(&self, ids: &[String]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn
                .open_table(SILENCES)
                .map_err(|e| self.io("silences", e))?;
            for id in ids {
                table
                    .remove(id.as_str())
                    .map_err(|e| self.io("silences", e))?;
            }
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }
}
