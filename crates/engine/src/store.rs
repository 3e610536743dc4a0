//! The database, `data-dir/klaxon.db` (redb): handler specs, topic event states and config
//! overrides, with a schema version.
//!
//! Every write is one redb transaction, so a crash leaves either the old or the new value.
//! Opening never initialises over an existing file: a file that is not a redb database, is
//! corrupt, or is locked by another process stops startup with [`StoreError::Open`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use klaxon_core::{EventState, GoDuration, Level, Timestamp};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::HandlerSpec;
use crate::error::StoreError;

/// redb's page cache. Its default (1 GiB) grows with the file and was a third of the memory
/// per alert series in the state benchmark (docs/benchmarks.md). Klaxon reads the states once
/// at startup and afterwards mostly writes, which need the pages on a B-tree's path only.
const CACHE_SIZE: usize = 16 << 20;

/// The schema this build writes. Bump it, and add a migration in [`Store::open`], when a table's
/// layout changes.
pub const SCHEMA_VERSION: u64 = 1;

const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// (topic, handler id) → `{"version":1,"value":<spec>}`.
const HANDLERS: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("handlers");
/// (topic, event id) → `{"message","details","time","duration"(ns),"level"}`.
const TOPIC_STATES: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("topic_states");
/// override id (`section` or `section/element`) → JSON object of the overridden keys.
const OVERRIDES: TableDefinition<'_, &str, &str> = TableDefinition::new("config_overrides");
/// (namespace, key) → JSON: records of other parts of the server (tasks...).
const RECORDS: TableDefinition<'_, (&str, &str), &str> = TableDefinition::new("records");

/// The open database. Cheap to clone: clones share the one open file.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let store = klaxon_engine::Store::open(&dir.path().join("klaxon.db")).unwrap();
/// store.set_override("foo", &serde_json::json!({"room": "ops"})).unwrap();
/// assert_eq!(store.overrides().unwrap()["foo"]["room"], "ops");
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    version: u32,
    value: T,
}

/// An event state as Kapacitor stores it: `duration` in integer nanoseconds.
#[derive(Serialize, Deserialize)]
struct StoredState {
    message: String,
    details: String,
    time: Timestamp,
    duration: i64,
    level: Level,
}

impl Store {
    /// Opens `path`, creating it when it does not exist. An existing file is only opened, never
    /// initialised.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |reason: String| StoreError::Open {
            path: path.to_owned(),
            reason,
        };
        let exists = path.exists();
        // redb documents that opening a file corrupted outside redb may panic; report it instead.
        let opened = std::panic::catch_unwind(|| {
            let mut builder = Database::builder();
            builder.set_cache_size(CACHE_SIZE);
            if exists {
                builder.open(path)
            } else {
                builder.create(path)
            }
        });
        let db = match opened {
            Ok(Ok(db)) => db,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(open_error(
                    "it is locked by another process (is another klaxond using this data-dir?)"
                        .to_owned(),
                ));
            }
            Ok(Err(e)) => return Err(open_error(e.to_string())),
            Err(_) => return Err(open_error("the file is corrupt".to_owned())),
        };
        let store = Store {
            db: Arc::new(db),
            path: path.to_owned(),
        };
        store.init_schema().map_err(|e| match e {
            StoreError::Io { reason, .. } => open_error(reason),
            other => other,
        })?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, what: &str, err: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            reason: format!("{what}: {err}"),
        }
    }

    fn init_schema(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.io("meta", e))?;
            let version = meta
                .get("schema_version")
                .map_err(|e| self.io("meta", e))?
                .map(|v| v.value());
            match version {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)
                        .map_err(|e| self.io("meta", e))?;
                }
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(self.io(
                        "schema",
                        format!(
                            "schema version {v} is newer than this klaxond supports \
                             ({SCHEMA_VERSION}); run a newer klaxond"
                        ),
                    ));
                }
                Some(_) => {}
            }
            txn.open_table(HANDLERS)
                .map_err(|e| self.io("handlers", e))?;
            txn.open_table(TOPIC_STATES)
                .map_err(|e| self.io("topic states", e))?;
            txn.open_table(OVERRIDES)
                .map_err(|e| self.io("config overrides", e))?;
            txn.open_table(RECORDS).map_err(|e| self.io("records", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }

    /// The schema version stored in the file.
    pub fn schema_version(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let meta = txn.open_table(META).map_err(|e| self.io("meta", e))?;
        Ok(meta
            .get("schema_version")
            .map_err(|e| self.io("meta", e))?
            .map(|v| v.value())
            .unwrap_or(0))
    }

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
        txn.commit().map_err(|e| self.io("commit", e))
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

    /// Every stored event state, by topic.
    pub fn states(&self) -> Result<BTreeMap<String, Vec<EventState>>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.io("read", e))?;
        let table = txn
            .open_table(TOPIC_STATES)
            .map_err(|e| self.io("topic states", e))?;
        let mut out: BTreeMap<String, Vec<EventState>> = BTreeMap::new();
        for entry in table.iter().map_err(|e| self.io("topic states", e))? {
            let (key, value) = entry.map_err(|e| self.io("topic states", e))?;
            let (topic, event) = key.value();
            match decode_state(event, value.value()) {
                Some(state) => out.entry(topic.to_owned()).or_default().push(state),
                None => tracing::warn!(topic, event, "skipping an undecodable stored event state"),
            }
        }
        Ok(out)
    }

    /// The stored states of one topic.
    pub fn topic_states(&self, topic: &str) -> Result<Vec<EventState>, StoreError> {
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
            if let Some(state) = decode_state(event, value.value()) {
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
                .map_err(|e| self.io(&format!("config override {}", key.value()), e))?;
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
            .map_err(|e| self.io(&format!("record {namespace}/{key}"), e))
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
                .map_err(|e| self.io(&format!("record {namespace}/{k}"), e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str, level: Level) -> EventState {
        EventState {
            id: id.into(),
            message: format!("{id} is {level}"),
            level,
            duration: GoDuration::from_secs(2),
            ..EventState::default()
        }
    }

    #[test]
    fn states_survive_reopen_and_ok_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        {
            let store = Store::open(&path).unwrap();
            store.put_state("t", &state("a", Level::Critical)).unwrap();
            store.put_state("t", &state("b", Level::Warning)).unwrap();
            store.put_state("t", &state("b", Level::Ok)).unwrap();
            store.put_state("u", &state("c", Level::Info)).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let states = store.states().unwrap();
        assert_eq!(states["t"], [state("a", Level::Critical)]);
        assert_eq!(states["u"].len(), 1);
        store.delete_states("t").unwrap();
        assert!(!store.states().unwrap().contains_key("t"));
        assert_eq!(
            store.state("u", "c").unwrap(),
            Some(state("c", Level::Info))
        );
    }

    #[test]
    fn handler_replace_is_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("klaxon.db")).unwrap();
        let spec = HandlerSpec {
            id: "a".into(),
            topic: "t".into(),
            kind: "tcp".into(),
            ..HandlerSpec::default()
        };
        store.put_handler(&spec, None).unwrap();
        let renamed = HandlerSpec {
            id: "b".into(),
            ..spec.clone()
        };
        store.put_handler(&renamed, Some(("t", "a"))).unwrap();
        assert_eq!(store.handlers().unwrap().0, [renamed]);
        store.delete_handler("t", "b").unwrap();
        assert!(store.handlers().unwrap().0.is_empty());
    }

    #[test]
    fn garbage_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        let garbage = b"this is not a database, and it must stay exactly like this".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot open database {}: ", path.display())),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_newer_schema_is_refused_without_changing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        drop(Store::open(&path).unwrap());
        {
            let db = Database::open(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META)
                .unwrap()
                .insert("schema_version", 99)
                .unwrap();
            txn.commit().unwrap();
        }
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("schema version 99 is newer than this klaxond supports (1)"),
            "{err}"
        );
        let db = Database::open(&path).unwrap();
        let txn = db.begin_read().unwrap();
        let version = txn.open_table(META).unwrap().get("schema_version").unwrap();
        assert_eq!(version.map(|v| v.value()), Some(99));
    }

    #[test]
    fn a_second_open_is_refused_as_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        let _first = Store::open(&path).unwrap();
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(err.contains("locked by another process"), "{err}");
    }
}
