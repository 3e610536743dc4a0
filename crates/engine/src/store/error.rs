//! The database's errors: the file cannot be opened, or a read or write failed.

use std::borrow::Cow;
use std::path::PathBuf;

use super::SCHEMA_VERSION;

/// A database failure.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("klaxon.db");
/// let _first = klaxon_engine::Store::open(&path).unwrap();
/// let err = klaxon_engine::Store::open(&path).unwrap_err();
/// assert!(matches!(
///     err,
///     klaxon_engine::StoreError::Open { reason: klaxon_engine::OpenError::Locked, .. }
/// ));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file cannot be opened; startup stops and the file is left as it is.
    #[error(
        "cannot open database {path}: {reason}; the file was left untouched: restore it from a \
         backup, or move it aside to start with an empty database"
    )]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why not.
        #[source]
        reason: OpenError,
    },
    /// A read or write failed.
    #[error("database {path}: {what}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// What was being read or written: a table, `commit`, `record tasks/cpu`...
        what: Cow<'static, str>,
        /// What redb (or the JSON codec of a stored value) said.
        #[source]
        source: IoSource,
    },
}

/// The error under a [`StoreError::Io`]: redb's or the JSON codec's, kept opaque so that no
/// crate but the engine knows redb.
pub type IoSource = Box<dyn std::error::Error + Send + Sync>;

/// Why the database file cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the file.
    #[error("it is locked by another process (is another klaxond using this data-dir?)")]
    Locked,
    /// redb panicked on the file's contents.
    #[error("the file is corrupt")]
    Corrupt,
    /// The file was written by a newer klaxond.
    #[error(
        "schema: schema version {found} is newer than this klaxond supports ({SCHEMA_VERSION}); \
         run a newer klaxond"
    )]
    NewerSchema {
        /// The version in the file.
        found: u64,
    },
    /// redb refused the file (not a redb database, an IO error...).
    #[error("{0}")]
    Refused(#[source] IoSource),
    /// The schema could not be read or written.
    #[error("{what}: {source}")]
    Schema {
        /// What was being read or written.
        what: Cow<'static, str>,
        /// What redb said.
        #[source]
        source: IoSource,
    },
}
