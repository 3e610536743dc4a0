//! The config overrides table: override ID (`section` or `section/element`) → the keys set
//! through the config API.

use std::collections::BTreeMap;

use redb::ReadableTable;
use serde_json::Value;

use super::{OVERRIDES, Store, StoreError};

impl Store {
    /// Every config override, by id.
    pub fn overrides(&self) -> Result<BTreeMap<String, Value>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn
            .open_table(OVERRIDES)
            .map_err(|e| self.io("config overrides", e))?;
        let mut out = BTreeMap::new();
        for entry in table.iter().map_err(|e| self.io("config overrides", e))? {
            let (key, value) = entry.map_err(|e| self.io("config overrides", e))?;
            let value: Value = serde_json::from_str(value.value())
                .map_err(|e| self.io(format!("config override {}", key.value()), e))?;
            out.insert(key.value().to_owned(), value);
        }
        Ok(out)
    }

    /// Stores the override `id`; `Value::Null` or an empty object removes it.
    pub fn set_override(&self, id: &str, value: &Value) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn
                .open_table(OVERRIDES)
                .map_err(|e| self.io("config overrides", e))?;
            let empty = value.is_null() || value.as_object().is_some_and(|m| m.is_empty());
            if empty {
                table
                    .remove(id)
                    .map_err(|e| self.io("config overrides", e))?;
            } else {
                let json = value.to_string();
                table
                    .insert(id, json.as_str())
                    .map_err(|e| self.io("config overrides", e))?;
            }
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }
}
