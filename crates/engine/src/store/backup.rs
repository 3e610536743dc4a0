//! A consistent copy of the database while the server runs (Kapacitor's
//! `GET /kapacitor/v1/storage/backup`): every table is copied inside one read transaction, so
//! the copy is the database as of one instant, and writers go on meanwhile.

use std::path::Path;

use redb::{Database, Key, TableDefinition, TableHandle, Value};

use super::{HANDLERS, META, OVERRIDES, RECORDS, Store, StoreError, TOPIC_STATES};

impl Store {
    /// Writes a copy of the database to `to` (a new file; an existing one is replaced) and
    /// returns the number of entries copied. A table this code does not know of is an error
    /// rather than a backup that silently lacks it.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = klaxon_engine::Store::open(&dir.path().join("klaxon.db")).unwrap();
    /// store.put_record("tasks", "cpu", &serde_json::json!({"status": "enabled"})).unwrap();
    /// store.backup(&dir.path().join("backup.db")).unwrap();
    /// drop(store);
    /// let copy = klaxon_engine::Store::open(&dir.path().join("backup.db")).unwrap();
    /// assert_eq!(copy.record("tasks", "cpu").unwrap().unwrap()["status"], "enabled");
    /// ```
    pub fn backup(&self, to: &Path) -> Result<u64, StoreError> {
        let write_error = |what: &'static str| {
            move |e: redb::Error| StoreError::Io {
                path: to.to_owned(),
                what: what.into(),
                source: e.into(),
            }
        };
        let source = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let known = [
            META.name(),
            HANDLERS.name(),
            TOPIC_STATES.name(),
            OVERRIDES.name(),
            RECORDS.name(),
        ];
        for table in source.list_tables().map_err(|e| self.io("tables", e))? {
            if !known.contains(&table.name()) {
                return Err(self.io(
                    "backup",
                    format!(
                        "table {:?} is not copied by Store::backup; add it there",
                        table.name()
                    ),
                ));
            }
        }
        let _ = std::fs::remove_file(to);
        let target = Database::create(to).map_err(|e| write_error("create")(e.into()))?;
        let txn = target
            .begin_write()
            .map_err(|e| write_error("write")(e.into()))?;
        let mut copied = 0;
        copied += self.copy(&source, &txn, META, to)?;
        copied += self.copy(&source, &txn, HANDLERS, to)?;
        copied += self.copy(&source, &txn, TOPIC_STATES, to)?;
        copied += self.copy(&source, &txn, OVERRIDES, to)?;
        copied += self.copy(&source, &txn, RECORDS, to)?;
        txn.commit().map_err(|e| write_error("commit")(e.into()))?;
        Ok(copied)
    }

    fn copy<K: Key + 'static, V: Value + 'static>(
        &self,
        source: &redb::ReadTransaction,
        target: &redb::WriteTransaction,
        table: TableDefinition<'_, K, V>,
        to: &Path,
    ) -> Result<u64, StoreError> {
        let name = table.name().to_owned();
        let write_error = |e: redb::Error| StoreError::Io {
            path: to.to_owned(),
            what: name.clone().into(),
            source: e.into(),
        };
        let from = source
            .open_table(table)
            .map_err(|e| self.io(name.clone(), e))?;
        let mut into = target
            .open_table(table)
            .map_err(|e| write_error(e.into()))?;
        let mut copied = 0;
        for entry in redb::ReadableTable::iter(&from).map_err(|e| self.io(name.clone(), e))? {
            let (key, value) = entry.map_err(|e| self.io(name.clone(), e))?;
            into.insert(key.value(), value.value())
                .map_err(|e| write_error(e.into()))?;
            copied += 1;
        }
        Ok(copied)
    }
}
