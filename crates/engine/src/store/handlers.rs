//! The handler specs table: (topic, handler ID) → the spec, versioned.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{HANDLERS, Store, StoreError};
use crate::HandlerSpec;

/// A stored value with the version of its layout, so a later layout can read an older one.
#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    version: u32,
    value: T,
}

impl Store {
    /// Writes one handler spec, replacing `replaces` (topic, id) in the same transaction.
    pub fn put_handler(
        &self,
        spec: &HandlerSpec,
        replaces: Option<(&str, &str)>,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(&Versioned {
            version: 1,
            value: spec,
        })
        .map_err(|e| self.io("encode handler", e))?;
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn
                .open_table(HANDLERS)
                .map_err(|e| self.io("handlers", e))?;
            if let Some(old) = replaces {
                table.remove(old).map_err(|e| self.io("handlers", e))?;
            }
            table
                .insert((spec.topic.as_str(), spec.id.as_str()), json.as_str())
                .map_err(|e| self.io("handlers", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// Removes a handler spec; absent is fine.
    pub fn delete_handler(&self, topic: &str, id: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn
                .open_table(HANDLERS)
                .map_err(|e| self.io("handlers", e))?;
            table
                .remove((topic, id))
                .map_err(|e| self.io("handlers", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// Every stored handler spec. A spec that does not decode is reported with its key and
    /// skipped, so one bad entry does not hide the others.
    pub fn handlers(&self) -> Result<(Vec<HandlerSpec>, Vec<String>), StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn
            .open_table(HANDLERS)
            .map_err(|e| self.io("handlers", e))?;
        let mut specs = Vec::new();
        let mut bad = Vec::new();
        for entry in table.iter().map_err(|e| self.io("handlers", e))? {
            let (key, value) = entry.map_err(|e| self.io("handlers", e))?;
            let (topic, id) = key.value();
            match serde_json::from_str::<Versioned<HandlerSpec>>(value.value()) {
                Ok(v) => specs.push(v.value),
                Err(e) => bad.push(format!("handler {topic}/{id}: {e}")),
            }
        }
        Ok((specs, bad))
    }
}
