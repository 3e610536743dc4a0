//! The database, `data-dir/klaxon.db` (redb): handler specs, topic event states, config
//! overrides and other parts' records (tasks), with a schema version.
//!
//! Every write is one redb transaction, so a crash leaves either the old or the new value.
//! Opening never initialises over an existing file: a file that is not a redb database, is
//! corrupt, or is locked by another process stops [`Store::open`] with [`StoreError::Open`];
//! [`Store::open_or_salvage`], what klaxond uses, moves a damaged redb file aside and keeps
//! what it can read of it (`salvage`). One file
//! per table: [`handlers`], [`states`], [`overrides`], [`records`], and the tables that make
//! themselves on their first write, [`history`], [`silences`] and [`outbox`] (events waiting for
//! delivery).

mod backup;
mod error;
mod handlers;
mod history;
mod outbox;
mod outbox_codec;
mod overrides;
mod records;
mod salvage;
mod silences;
mod states;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use klaxon_core::Timestamp;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

pub use error::{IoSource, OpenError, StoreError};
pub(crate) use history::BatchWrite;
pub(crate) use outbox::{Delivery, OutboxOp, OutboxPut};
pub use salvage::{Salvage, TableSalvage};
pub(crate) use states::StateMark;

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
    db: Arc<Db>,
    path: PathBuf,
}

/// The open redb database, reopened after an I/O failure. redb fails every operation after a
/// failed write (a full disk: `Previous I/O error occurred. Please close and re-open the
/// database.`), so without a reopen klaxond could store nothing until restarted. The next
/// transaction after a failure closes and reopens the file (redb then repairs it, if needed,
/// from its last commit); until that succeeds (space freed), it fails with the reason.
#[derive(Debug)]
struct Db {
    current: RwLock<Option<Database>>,
    /// Set by a failed read or write; the next transaction reopens the file first.
    failed: AtomicBool,
    /// The last failure, while `failed` is set: what [`Store::fault`] reports.
    fault: Mutex<Option<String>>,
    /// Failures since the file was opened, and the last one, kept after a reopen ends it:
    /// what [`Store::failures`] and [`Store::last_failure`] report.
    failures: AtomicU64,
    last_failure: Mutex<Option<String>>,
    path: PathBuf,
}

/// A transaction with the database it runs on held open: a reopen waits for it to end. Without
/// it, a reopen (which any reader may start during a fault) could close the handle under a
/// write in flight, which would then commit through a handle the new one does not follow.
pub(crate) struct Held<'a, T> {
    txn: T,
    _db: RwLockReadGuard<'a, Option<Database>>,
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.txn
    }
}

impl<T> std::ops::DerefMut for Held<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.txn
    }
}

impl Held<'_, redb::WriteTransaction> {
    /// Commits, then lets a reopen go ahead.
    pub(crate) fn commit(self) -> Result<(), redb::CommitError> {
        self.txn.commit()
    }
}

impl Db {
    fn begin_write(&self) -> Result<Held<'_, redb::WriteTransaction>, redb::TransactionError> {
        self.with(|db| db.begin_write())
    }

    fn begin_read(&self) -> Result<Held<'_, redb::ReadTransaction>, redb::TransactionError> {
        self.with(|db| db.begin_read())
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, redb::TransactionError>,
    ) -> Result<Held<'_, T>, redb::TransactionError> {
        if self.failed.load(Ordering::Acquire) {
            self.reopen();
        }
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some(db) => {
                let txn = f(db)?;
                Ok(Held { txn, _db: current })
            }
            None => Err(redb::TransactionError::Storage(redb::StorageError::Io(
                std::io::Error::other(format!(
                    "the database is closed after an I/O failure and cannot be reopened yet: {}",
                    self.fault().unwrap_or_default()
                )),
            ))),
        }
    }

    /// Closes the file and opens it again; on success the failure is over.
    fn reopen(&self) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        if !self.failed.load(Ordering::Acquire) {
            return; // Another thread reopened it meanwhile.
        }
        // Closed first: redb refuses a second open of the same file.
        drop(current.take());
        let opened = std::panic::catch_unwind(|| {
            let mut builder = Database::builder();
            builder.set_cache_size(CACHE_SIZE);
            builder.open(&self.path)
        });
        match opened {
            Ok(Ok(db)) => {
                *current = Some(db);
                self.failed.store(false, Ordering::Release);
                let fault = self.fault.lock().unwrap_or_else(|e| e.into_inner()).take();
                tracing::warn!(
                    path = %self.path.display(), fault = fault.as_deref().unwrap_or(""),
                    "database reopened after an I/O failure; storing again"
                );
            }
            Ok(Err(e)) => self.record(&format!("reopen: {e}")),
            Err(_) => self.record("reopen: redb panicked on the file"),
        }
    }

    fn record(&self, fault: &str) {
        self.failed.store(true, Ordering::Release);
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = Some(fault.to_owned());
        *self.last_failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(fault.to_owned());
        self.failures.fetch_add(1, Ordering::AcqRel);
    }

    fn fault(&self) -> Option<String> {
        if !self.failed.load(Ordering::Acquire) {
            return None;
        }
        self.fault.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Whether `e` is a failure of the file itself (redb's I/O error, or its latch after one), as
/// opposed to a value that does not decode.
fn is_io_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    use redb::StorageError as S;
    let storage = |s: &S| matches!(s, S::Io(_) | S::PreviousIo);
    if let Some(s) = e.downcast_ref::<S>() {
        return storage(s);
    }
    if let Some(redb::CommitError::Storage(s)) = e.downcast_ref::<redb::CommitError>() {
        return storage(s);
    }
    if let Some(redb::TransactionError::Storage(s)) = e.downcast_ref::<redb::TransactionError>() {
        return storage(s);
    }
    if let Some(redb::TableError::Storage(s)) = e.downcast_ref::<redb::TableError>() {
        return storage(s);
    }
    if let Some(e) = e.downcast_ref::<redb::Error>() {
        return matches!(e, redb::Error::Io(_) | redb::Error::PreviousIo);
    }
    false
}

impl Store {
    /// Opens `path`, creating it when it does not exist. An existing file is only opened, never
    /// initialised.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_error = |reason: OpenError| StoreError::Open {
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
                return Err(open_error(OpenError::Locked));
            }
            Ok(Err(e)) => return Err(open_error(OpenError::Refused(e.into()))),
            Err(_) => return Err(open_error(OpenError::Corrupt)),
        };
        let store = Store {
            db: Arc::new(Db {
                current: RwLock::new(Some(db)),
                failed: AtomicBool::new(false),
                fault: Mutex::new(None),
                failures: AtomicU64::new(0),
                last_failure: Mutex::new(None),
                path: path.to_owned(),
            }),
            path: path.to_owned(),
        };
        store.init_schema().map_err(open_error)?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A failed read or write of `what` (a table, `commit`, a record's key...). A failure of
    /// the file (a full disk) makes the next transaction reopen it, and [`Store::fault`] say so.
    fn io(&self, what: impl Into<Cow<'static, str>>, source: impl Into<IoSource>) -> StoreError {
        let what = what.into();
        let source = source.into();
        if is_io_failure(source.as_ref()) {
            self.db.record(&format!("{what}: {source}"));
        }
        StoreError::Io {
            path: self.path.clone(),
            what,
            source,
        }
    }

    /// The last failure of the file (a full disk, an I/O error), while it lasts: set by a
    /// failed read or write, cleared once the file is reopened. See [`Store::probe`].
    pub fn fault(&self) -> Option<String> {
        self.db.fault()
    }

    /// How many times the file has failed since it was opened. Read before and after some work,
    /// it says whether a read or commit failed meanwhile, even if a reopen has since ended the
    /// fault (which [`Store::fault`] would no longer report): `/write` answers 503 then, so
    /// that the sender retries what may not be stored.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = klaxon_engine::Store::open(&dir.path().join("klaxon.db")).unwrap();
    /// assert_eq!((store.failures(), store.last_failure()), (0, None));
    /// ```
    pub fn failures(&self) -> u64 {
        self.db.failures.load(Ordering::Acquire)
    }

    /// The most recent failure of the file, also once it is over.
    pub fn last_failure(&self) -> Option<String> {
        self.db
            .last_failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the database can commit now: reopens it after a failure, then commits a small
    /// write. Ends the fault when it passes (space was freed).
    pub fn probe(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.io("write", e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.io("meta", e))?;
            meta.insert("probe", Timestamp::now().as_nanos().unsigned_abs())
                .map_err(|e| self.io("meta", e))?;
        }
        txn.commit().map_err(|e| self.io("commit", e))
    }

    fn init_schema(&self) -> Result<(), OpenError> {
        let txn = self.db.begin_write().map_err(schema_error("write"))?;
        {
            let mut meta = txn.open_table(META).map_err(schema_error("meta"))?;
            let version = meta
                .get("schema_version")
                .map_err(schema_error("meta"))?
                .map(|v| v.value());
            match version {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION)
                        .map_err(schema_error("meta"))?;
                }
                Some(found) if found > SCHEMA_VERSION => {
                    return Err(OpenError::NewerSchema { found });
                }
                Some(_) => {}
            }
            txn.open_table(HANDLERS).map_err(schema_error("handlers"))?;
            txn.open_table(TOPIC_STATES)
                .map_err(schema_error("topic states"))?;
            txn.open_table(OVERRIDES)
                .map_err(schema_error("config overrides"))?;
            txn.open_table(RECORDS).map_err(schema_error("records"))?;
        }
        txn.commit().map_err(schema_error("commit"))
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
}

/// What [`Store::init_schema`] makes of a redb error while it reads or writes `what`.
fn schema_error<E: Into<IoSource>>(what: &'static str) -> impl FnOnce(E) -> OpenError {
    move |e| OpenError::Schema {
        what: what.into(),
        source: e.into(),
    }
}
