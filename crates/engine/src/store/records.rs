//! The records table: (namespace, key) → JSON, for the parts of the server that keep their
//! own definitions (the task manager's `tasks`).

use serde_json::Value;

use super::{RECORDS, Store, StoreError};

impl Store {
    /// Stores a JSON record under (namespace, key), replacing any, in one transaction.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = klaxon_engine::Store::open(&dir.path().join("klaxon.db")).unwrap();
    /// store.put_record("tasks", "cpu", &serde_json::json!({"status": "enabled"})).unwrap();
    /// assert_eq!(store.records("tasks").unwrap()[0].0, "cpu");
    /// assert_eq!(store.record("tasks", "cpu").unwrap().unwrap()["status"], "enabled");
    /// store.delete_record("tasks", "cpu").unwrap();
    /// assert!(store.record("tasks", "cpu").unwrap().is_none());
    /// ```
    pub fn put_record(&self, namespace: &str, key: &str, value: &Value) -> Result<(), StoreError> {
        let json = value.to_string();
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn.open_table(RECORDS).map_err(|e| self.io("records", e))?;
            table
                .insert((namespace, key), json.as_str())
                .map_err(|e| self.io("records", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// The record (namespace, key), if any.
    pub fn record(&self, namespace: &str, key: &str) -> Result<Option<Value>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn.open_table(RECORDS).map_err(|e| self.io("records", e))?;
        let Some(value) = table
            .get((namespace, key))
            .map_err(|e| self.io("records", e))?
        else {
            return Ok(None);
        };
        serde_json::from_str(value.value())
            .map(Some)
            .map_err(|e| self.io(format!("record {namespace}/{key}"), e))
    }

    /// Every record of `namespace`, sorted by key.
    pub fn records(&self, namespace: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn.open_table(RECORDS).map_err(|e| self.io("records", e))?;
        let mut out = Vec::new();
        for entry in table
            .range((namespace, "")..)
            .map_err(|e| self.io("records", e))?
        {
            let (key, value) = entry.map_err(|e| self.io("records", e))?;
            let (ns, k) = key.value();
            if ns != namespace {
                break;
            }
            let value = serde_json::from_str(value.value())
                .map_err(|e| self.io(format!("record {namespace}/{k}"), e))?;
            out.push((k.to_owned(), value));
        }
        Ok(out)
    }

    /// Removes the record (namespace, key); absent is fine.
    pub fn delete_record(&self, namespace: &str, key: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut table = txn.open_table(RECORDS).map_err(|e| self.io("records", e))?;
            table
                .remove((namespace, key))
                .map_err(|e| self.io("records", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }
}
