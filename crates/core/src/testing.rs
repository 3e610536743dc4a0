//! Checks every handler crate runs on itself: registered, builds from its sample configuration
//! and options, and documents its configuration (the Vector and Apollo Router habit).

use std::sync::Arc;

use serde_json::Value;

use crate::{DynService, Registry, Service};

/// Asserts that `S` is registered in this test binary, builds from the configuration section
/// `config` and makes a handler from `options`; returns the running service.
///
/// # Panics
///
/// When any of that fails, with the reason.
///
/// ```ignore
/// let service = klaxon_core::testing::assert_registered_and_builds::<TcpService>(
///     &serde_json::json!({"timeout": "5s"}),
///     &serde_json::json!({"address": "127.0.0.1:7777"}),
/// );
/// ```
pub fn assert_registered_and_builds<S: Service>(
    config: &Value,
    options: &Value,
) -> Arc<dyn DynService> {
    let registry = Registry::linked().expect("the registry assembles");
    let registration = registry.get(S::KIND).unwrap_or_else(|| {
        panic!(
            "kind {:?} is not registered; have: {}",
            S::KIND,
            registry.kind_list()
        )
    });
    assert_eq!(registration.tick().property, S::TICK.property);
    let service = registration
        .build(config)
        .unwrap_or_else(|e| panic!("sample configuration does not build: {e}"));
    service
        .handler(options)
        .unwrap_or_else(|e| panic!("sample options do not make a handler: {e}"));
    service
}

/// Asserts that every configuration key and every option of `S` has a doc comment, since
/// `klaxond config` prints them as comments and the docs list them.
///
/// # Panics
///
/// Naming the undocumented fields.
pub fn assert_documented<S: Service>() {
    let registration = crate::registry::Registration::of::<S>();
    for (what, schema) in [
        ("configuration key", registration.config_schema()),
        ("option", registration.options_schema()),
    ] {
        let missing = undocumented_fields(&schema);
        assert!(
            missing.is_empty(),
            "{}: {what}s without a doc comment: {}",
            S::KIND,
            missing.join(", ")
        );
    }
}

/// The top-level properties of `schema` that have no description.
pub fn undocumented_fields(schema: &schemars::Schema) -> Vec<String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, p)| {
            p.get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// How long one corpus input may take before [`replay_corpus`] calls it a hang.
pub const CORPUS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `check` on every file under `dir` (sorted by name, subdirectories included), each on
/// its own thread, and fails naming the file when a check panics or runs past
/// [`CORPUS_DEADLINE`]. `check` returns what the parser said, `Ok` or `Err`, as text; this
/// returns it per file so a test can assert on particular inputs.
///
/// # Panics
///
/// When `dir` holds no file, a check panics, or a check does not finish in time.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("klaxon-corpus-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("ok"), b"42").unwrap();
/// std::fs::write(dir.join("bad"), b"x").unwrap();
/// let results = klaxon_core::testing::replay_corpus(&dir, |bytes| {
///     std::str::from_utf8(bytes)
///         .ok()
///         .and_then(|s| s.parse::<i64>().ok())
///         .map(|n| n.to_string())
///         .ok_or_else(|| "not a number".to_owned())
/// });
/// assert_eq!(results.len(), 2);
/// assert_eq!(results[0].1, Err("not a number".to_owned())); // "bad" sorts first
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn replay_corpus<F>(
    dir: &std::path::Path,
    check: F,
) -> Vec<(std::path::PathBuf, Result<String, String>)>
where
    F: Fn(&[u8]) -> Result<String, String> + Send + Sync + 'static,
{
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let entries = std::fs::read_dir(&next)
            .unwrap_or_else(|e| panic!("cannot read corpus directory {}: {e}", next.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "corpus {} holds no file", dir.display());
    let check = Arc::new(check);
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let (tx, rx) = std::sync::mpsc::channel();
            let check = Arc::clone(&check);
            std::thread::spawn(move || {
                let _ = tx.send(check(&bytes));
            });
            match rx.recv_timeout(CORPUS_DEADLINE) {
                Ok(result) => (path, result),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
                    "corpus input {} did not finish within {CORPUS_DEADLINE:?}",
                    path.display()
                ),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("corpus input {} made the parser panic", path.display())
                }
            }
        })
        .collect()
}

/// The result [`replay_corpus`] gave for the corpus file named `name`.
///
/// # Panics
///
/// When no file has that name, so a renamed seed fails its test instead of being skipped.
///
/// ```
/// use std::path::PathBuf;
/// let results = vec![(PathBuf::from("corpus/ok.txt"), Ok("42".to_owned()))];
/// assert_eq!(klaxon_core::testing::corpus_result(&results, "ok.txt"), &Ok("42".to_owned()));
/// ```
pub fn corpus_result<'a>(
    results: &'a [(std::path::PathBuf, Result<String, String>)],
    name: &str,
) -> &'a Result<String, String> {
    &results
        .iter()
        .find(|(path, _)| path.file_name().is_some_and(|f| f == name))
        .unwrap_or_else(|| panic!("no corpus file {name}"))
        .1
}
