//! The database's tests: persistence, one-transaction replaces, and refusals at open.

use klaxon_core::{EventState, GoDuration, Level};
use redb::{Database, ReadableDatabase};

use super::*;
use crate::HandlerSpec;

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
    // What a topic keeps in memory: the same states without their text.
    let a = StateMark {
        id: "a".into(),
        time: states["t"][0].time,
        duration: GoDuration::from_secs(2),
        level: Level::Critical,
    };
    assert_eq!(store.state_marks().unwrap()["t"], std::slice::from_ref(&a));
    assert_eq!(store.topic_state_marks("t").unwrap(), [a]);
    assert_eq!(store.topic_state_marks("v").unwrap(), []);
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
        kind: "neutral".into(),
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
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Open {
                reason: OpenError::NewerSchema { found: 99 },
                ..
            }
        ),
        "{err:?}"
    );
    let err = err.to_string();
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

/// Garbage written over the middle of a good file (a disk fault, a stray `dd`): redb may panic
/// on such pages; the store reports the file instead, at open or at the first read, and the
/// process goes on.
#[test]
fn garbage_in_the_middle_of_a_good_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    {
        let store = Store::open(&path).unwrap();
        for i in 0..2_000 {
            store
                .put_state("t", &state(&format!("alert-{i}"), Level::Critical))
                .unwrap();
        }
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    let end = (middle + 64 * 1024).min(bytes.len());
    bytes[middle..end].fill(0xA5);
    std::fs::write(&path, &bytes).unwrap();

    let outcome = std::panic::catch_unwind(|| match Store::open(&path) {
        Err(e) => Err(e.to_string()),
        Ok(store) => store.states().map(|s| s.len()).map_err(|e| e.to_string()),
    });
    let result = outcome.expect("the store panicked on a corrupt file instead of reporting it");
    let message = result.expect_err("64 KiB of garbage over the states went unnoticed");
    assert!(
        message.contains("klaxon.db") || message.contains("corrupt"),
        "{message}"
    );
}

/// A database with `n` alert states in topic `t`, a handler and a record, closed.
fn filled(path: &Path, n: usize) {
    let store = Store::open(path).unwrap();
    for i in 0..n {
        store
            .put_state("t", &state(&format!("alert-{i}"), Level::Critical))
            .unwrap();
    }
    let spec = HandlerSpec {
        id: "pager".into(),
        topic: "t".into(),
        kind: "neutral".into(),
        ..HandlerSpec::default()
    };
    store.put_handler(&spec, None).unwrap();
}

#[test]
fn a_sound_database_opens_without_salvage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    filled(&path, 100);
    let (store, salvage) = Store::open_or_salvage(&path).unwrap();
    assert_eq!(salvage, None);
    assert_eq!(store.states().unwrap()["t"].len(), 100);
}

/// Damage that redb cannot read past: the file is moved aside as it was, the new file holds
/// what was readable and reads whole, and the salvage names every table.
#[test]
fn a_damaged_database_is_moved_aside_and_its_readable_part_kept() {
    for damage in ["garbage in the middle", "cut in half"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("klaxon.db");
        filled(&path, 2_000);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        if damage == "cut in half" {
            bytes.truncate(middle);
        } else {
            let end = (middle + 64 * 1024).min(bytes.len());
            bytes[middle..end].fill(0xA5);
        }
        std::fs::write(&path, &bytes).unwrap();

        let (store, salvage) = Store::open_or_salvage(&path).unwrap();
        let salvage = salvage.unwrap_or_else(|| panic!("{damage}: not noticed"));
        assert!(!salvage.reason.is_empty(), "{damage}");
        assert_eq!(
            std::fs::read(&salvage.damaged).unwrap(),
            bytes,
            "{damage}: the damaged file is kept as it was"
        );
        assert!(
            salvage
                .damaged
                .to_string_lossy()
                .contains("klaxon.db.damaged-"),
            "{salvage:?}"
        );
        let names: Vec<&str> = salvage.tables.iter().map(|t| t.table.as_str()).collect();
        assert_eq!(
            names,
            [
                "meta",
                "handlers",
                "topic_states",
                "config_overrides",
                "records",
                "topic_history",
                "silences",
                "outbox"
            ],
            "{damage}"
        );
        // What was kept is what the new file holds, and it reads whole.
        let kept = |name: &str| {
            salvage
                .tables
                .iter()
                .find(|t| t.table == name)
                .unwrap()
                .kept
        };
        let states = store.states().unwrap();
        let stored = states.get("t").map_or(0, Vec::len);
        assert_eq!(stored as u64, kept("topic_states"), "{damage}: {salvage:?}");
        assert_eq!(store.handlers().unwrap().0.len() as u64, kept("handlers"));
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        drop(store);
        let (_, again) = Store::open_or_salvage(&path).unwrap();
        assert_eq!(again, None, "{damage}: the salvaged file is sound");
    }
}

#[test]
fn a_file_that_is_not_a_database_is_not_moved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    std::fs::write(&path, b"someone else's file\n".repeat(100)).unwrap();
    let err = Store::open_or_salvage(&path).unwrap_err().to_string();
    assert!(err.contains("the file was left untouched"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Flipped bits in one alert state (a bad sector under a value): redb opens the file, the
/// read-through finds the damage, and the salvage keeps every other table whole and every
/// state but the damaged one.
#[test]
fn a_damaged_value_loses_only_what_redb_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.db");
    filled(&path, 2_000);
    let mut bytes = std::fs::read(&path).unwrap();
    let needle = b"alert-1500 is CRITICAL";
    let mut damaged = 0;
    // Every copy of it: redb's copy-on-write leaves older pages behind.
    for at in 0..bytes.len() - needle.len() {
        if &bytes[at..at + needle.len()] == needle {
            bytes[at + 14..at + needle.len()].fill(0xFF);
            damaged += 1;
        }
    }
    assert!(damaged > 0, "the state is in the file");
    std::fs::write(&path, &bytes).unwrap();

    let (store, salvage) = Store::open_or_salvage(&path).unwrap();
    let salvage = salvage.expect("the damaged value was not noticed");
    let table = |name: &str| salvage.tables.iter().find(|t| t.table == name).unwrap();
    assert_eq!(table("handlers").kept, 1, "{salvage:#?}");
    assert_eq!(table("handlers").lost, None, "{salvage:#?}");
    let states = table("topic_states");
    assert_eq!(
        states.kept, 1_999,
        "only the damaged state is lost: {salvage:#?}"
    );
    let lost = states.lost.as_deref().unwrap_or_default();
    assert!(lost.ends_with("unreadable entries skipped: 1"), "{lost}");
    assert_eq!(store.handlers().unwrap().0.len(), 1);
    assert_eq!(store.states().unwrap()["t"].len() as u64, states.kept);
}
