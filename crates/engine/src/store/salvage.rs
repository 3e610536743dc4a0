//! A damaged database at start. A disk fault, a truncated copy or a stray write can leave
//! `klaxon.db` a redb file that redb cannot read whole. Stopping the start would leave nobody
//! paged; starting empty would silently drop every task, handler and firing alert. So the
//! damaged file is moved aside (the salvage reads only scratch copies of it), every entry redb
//! can still read is copied into a new file, and the caller reports what was kept, table by
//! table.
//!
//! A file that is not a redb database at all (a wrong `data-dir`, another program's file) is
//! not ours to move: that still stops the start.

use std::io::Read;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use redb::{Database, Key, ReadableDatabase, TableDefinition, TableError, TableHandle, Value};

use super::{HANDLERS, META, OVERRIDES, RECORDS, TOPIC_STATES};
use super::{OpenError, Store, StoreError, history, outbox, silences};

/// redb's file signature, the first bytes of every redb database.
const REDB_SIGNATURE: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// What [`Store::open_or_salvage`] did with a damaged database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvage {
    /// Where the damaged file now is, as it was when it was moved.
    pub damaged: PathBuf,
    /// Why it could not be used.
    pub reason: String,
    /// Each table of the damaged file, in the order they were copied.
    pub tables: Vec<TableSalvage>,
}

/// One table of a salvaged database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSalvage {
    /// The table's name in the file (`topic_states`, `records`, `outbox`...).
    pub table: String,
    /// How many entries were copied.
    pub kept: u64,
    /// Why the rest could not be read, when something could not.
    pub lost: Option<String>,
}

impl Salvage {
    /// Whether every entry of every table was copied.
    pub fn is_complete(&self) -> bool {
        self.tables.iter().all(|t| t.lost.is_none())
    }
}

impl Store {
    /// Opens `path` as [`Store::open`] does, then reads every table through. A redb database
    /// that cannot be opened or read whole is moved aside (`klaxon.db.damaged-<time>`) and what
    /// can be read of it copied into a new `path`; the [`Salvage`] says what was kept. Any
    /// other failure (locked, a newer schema, not a redb file, an I/O error) is returned.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("klaxon.db");
    /// let (store, salvage) = klaxon_engine::Store::open_or_salvage(&path).unwrap();
    /// assert!(salvage.is_none(), "a new database needs no salvage");
    /// assert_eq!(store.path(), path);
    /// ```
    pub fn open_or_salvage(path: &Path) -> Result<(Store, Option<Salvage>), StoreError> {
        let reason = match Store::open(path) {
            Ok(store) => match store.read_through() {
                Ok(()) => return Ok((store, None)),
                Err(reason) => reason,
            },
            Err(StoreError::Open {
                reason: reason @ (OpenError::Corrupt | OpenError::Refused(_)),
                ..
            }) if has_redb_signature(path) => reason.to_string(),
            Err(other) => return Err(other),
        };
        let damaged = aside(path)?;
        let store = Store::open(path)?;
        let tables = store.copy_from(&damaged);
        Ok((
            store,
            Some(Salvage {
                damaged,
                reason,
                tables,
            }),
        ))
    }

    /// Reads every entry of every table, so that damage shows now rather than in the middle of
    /// a later read. The first failure is the reason.
    fn read_through(&self) -> Result<(), String> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let mut walk = Walk {
            from: &txn,
            into: None,
            tables: Vec::new(),
        };
        every_table(&mut walk);
        match walk.tables.into_iter().find_map(|t| t.lost) {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    /// Copies what can be read of the database at `damaged` into this one, in one commit.
    fn copy_from(&self, damaged: &Path) -> Vec<TableSalvage> {
        let scratch = Scratch::beside(damaged);
        // Kept open while the walk reads: a closed database fails its read transactions.
        let source = readable(damaged, &scratch);
        let from = match source
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|db| db.begin_read().map_err(|e| e.to_string()))
        {
            Ok(txn) => txn,
            Err(reason) => return nothing_kept(&reason),
        };
        let into = match self.db.begin_write() {
            Ok(txn) => txn,
            Err(e) => return nothing_kept(&format!("cannot write the new database: {e}")),
        };
        let mut walk = Walk {
            from: &from,
            into: Some(&into),
            tables: Vec::new(),
        };
        every_table(&mut walk);
        let mut tables = walk.tables;
        if let Err(e) = into.commit() {
            let reason = format!("cannot commit the new database: {e}");
            for table in &mut tables {
                table.kept = 0;
                table.lost = Some(reason.clone());
            }
        }
        tables
    }
}

/// Every table the database holds, given to `visit` one by one: the one list of them.
fn every_table(visit: &mut impl VisitTable) {
    visit.table(META);
    visit.table(HANDLERS);
    visit.table(TOPIC_STATES);
    visit.table(OVERRIDES);
    visit.table(RECORDS);
    visit.table(history::TOPIC_HISTORY);
    visit.table(silences::SILENCES);
    visit.table(outbox::OUTBOX);
}

trait VisitTable {
    fn table<K: Key + 'static, V: Value + 'static>(&mut self, table: TableDefinition<'_, K, V>);
}

/// Reads each table through, copying each entry into `into` when there is one.
struct Walk<'a> {
    from: &'a redb::ReadTransaction,
    into: Option<&'a redb::WriteTransaction>,
    tables: Vec<TableSalvage>,
}

impl VisitTable for Walk<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(&mut self, table: TableDefinition<'_, K, V>) {
        let mut kept = 0;
        // redb documents that a file damaged outside redb may panic rather than fail.
        let opened = catch_unwind(AssertUnwindSafe(|| {
            let source = match self.from.open_table(table) {
                Ok(source) => Some(source),
                Err(TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.to_string()),
            };
            let target = match (self.into, &source) {
                (Some(into), Some(_)) => Some(into.open_table(table).map_err(|e| e.to_string())?),
                _ => None,
            };
            Ok((source, target))
        }));
        let lost = match opened {
            Ok(Ok((None, _))) => None,
            Ok(Ok((Some(source), mut target))) => read_past_damage(&source, &mut target, &mut kept),
            Ok(Err(reason)) => Some(reason),
            Err(_) => Some(PANICKED.to_owned()),
        };
        self.tables.push(TableSalvage {
            table: table.name().to_owned(),
            kept,
            lost,
        });
    }
}

const PANICKED: &str = "redb panicked on a damaged page";

/// Reads `source` in key order, copying into `target` when there is one, and counting into
/// `kept`. An entry whose key reads but whose value does not is skipped and the reading goes
/// on after it; damage in the tree itself ends the reading there. Says what was lost, if any.
fn read_past_damage<K: Key + 'static, V: Value + 'static>(
    source: &redb::ReadOnlyTable<K, V>,
    target: &mut Option<redb::Table<'_, K, V>>,
    kept: &mut u64,
) -> Option<String> {
    // The raw key of the last entry whose key was read; the next pass starts after it.
    let mut cursor: Option<Vec<u8>> = None;
    let mut skipped = 0u64;
    let mut first_damage: Option<String> = None;
    loop {
        let mut last_key: Option<Vec<u8>> = None;
        let pass = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
            let entries = match &cursor {
                None => redb::ReadableTable::iter(source),
                Some(after) => redb::ReadableTable::range(
                    source,
                    (
                        Bound::Excluded(K::from_bytes(after)),
                        Bound::<K::SelfType<'_>>::Unbounded,
                    ),
                ),
            }
            .map_err(|e| e.to_string())?;
            for entry in entries {
                let (key, value) = entry.map_err(|e| e.to_string())?;
                let key = key.value();
                last_key = Some(K::as_bytes(&key).as_ref().to_vec());
                let value = value.value();
                if let Some(target) = target.as_mut() {
                    target.insert(key, value).map_err(|e| e.to_string())?;
                }
                *kept += 1;
            }
            Ok(())
        }));
        let damage = match pass {
            Ok(Ok(())) => break,
            Ok(Err(reason)) => reason,
            Err(_) => PANICKED.to_owned(),
        };
        first_damage.get_or_insert(damage);
        match last_key {
            Some(key) if cursor.as_ref() != Some(&key) => {
                // The entry at `key` failed: skip it.
                cursor = Some(key);
                skipped += 1;
            }
            _ => {
                let reason = first_damage.unwrap_or_default();
                return Some(format!(
                    "{reason}; unreadable entries skipped: {skipped}; the rest of the table, after the damage, is lost"
                ));
            }
        }
    }
    first_damage.map(|reason| format!("{reason}; unreadable entries skipped: {skipped}"))
}

/// The damaged database opened for reading, from a scratch copy (redb writes while it opens
/// and repairs, and the damaged file stays as it was for whoever looks at it next): first with
/// redb's integrity check, which repairs what it can (back to the last commit it can verify);
/// failing that, as it is, so that the walk reads each table up to its damage.
fn readable(damaged: &Path, scratch: &Scratch) -> Result<Database, String> {
    let copy = || {
        std::fs::copy(damaged, &scratch.0)
            .map_err(|e| format!("cannot copy it to {}: {e}", scratch.0.display()))
    };
    copy()?;
    let checked = catch_unwind(|| {
        Database::builder()
            .set_check_integrity_on_open(true)
            .open(&scratch.0)
    });
    if let Ok(Ok(db)) = checked {
        return Ok(db);
    }
    copy()?;
    match catch_unwind(|| Database::builder().open(&scratch.0)) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("redb cannot open it".to_owned()),
    }
}

/// The scratch copy's path, removed when the salvage is over.
struct Scratch(PathBuf);

impl Scratch {
    fn beside(damaged: &Path) -> Scratch {
        let mut name = damaged.file_name().unwrap_or_default().to_owned();
        name.push(".salvaging");
        Scratch(damaged.with_file_name(name))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Moves the damaged file to `klaxon.db.damaged-<UTC time>`, beside it.
fn aside(path: &Path) -> Result<PathBuf, StoreError> {
    // 2026-12-03T23:59:01.5Z → 20261203T235901Z
    let now = klaxon_core::Timestamp::now().to_rfc3339_nano();
    let stamp = format!("{}Z", now[..19].replace(['-', ':'], ""));
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".damaged-{stamp}"));
    let damaged = path.with_file_name(name);
    std::fs::rename(path, &damaged).map_err(|e| StoreError::Open {
        path: path.to_owned(),
        reason: OpenError::Refused(
            format!(
                "it is damaged and cannot be moved aside to {}: {e}",
                damaged.display()
            )
            .into(),
        ),
    })?;
    Ok(damaged)
}

fn has_redb_signature(path: &Path) -> bool {
    let mut head = [0; REDB_SIGNATURE.len()];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| head == REDB_SIGNATURE)
}

fn nothing_kept(reason: &str) -> Vec<TableSalvage> {
    struct Names(Vec<String>);
    impl VisitTable for Names {
        fn table<K: Key + 'static, V: Value + 'static>(&mut self, t: TableDefinition<'_, K, V>) {
            self.0.push(t.name().to_owned());
        }
    }
    let mut names = Names(Vec::new());
    every_table(&mut names);
    names
        .0
        .into_iter()
        .map(|table| TableSalvage {
            table,
            kept: 0,
            lost: Some(reason.to_owned()),
        })
        .collect()
}
