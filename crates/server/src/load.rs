//! `[load] dir`: topic-handler files defined (or replaced) at every start.
//!
//! Every `handlers/*.yaml`, `*.yml` and `*.json` under the directory is read in name order and
//! defined, or replaces the handler of the same topic and ID, so loading is idempotent. A file
//! that cannot be used is reported with its name and does not stop the others.

use std::path::{Path, PathBuf};

use klaxon_engine::{AlertService, HandlerSpec};

/// A handler file that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot load handler file {}: {reason}", path.display())]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// What was wrong with it.
    pub reason: String,
}

/// Loads `<dir>/handlers/*.{yaml,yml,json}` into `alerts`; returns the files loaded and the
/// errors of those that were not.
pub fn load_handlers(dir: &Path, alerts: &AlertService) -> (Vec<PathBuf>, Vec<LoadError>) {
    let handlers_dir = dir.join("handlers");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&handlers_dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            })
            .collect(),
        Err(e) => {
            let error = LoadError {
                path: handlers_dir,
                reason: format!("cannot read the directory: {e}; check [load] dir"),
            };
            return (Vec::new(), vec![error]);
        }
    };
    files.sort();
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        match load_file(&path, alerts) {
            Ok(()) => loaded.push(path),
            Err(reason) => errors.push(LoadError { path, reason }),
        }
    }
    (loaded, errors)
}

fn load_file(path: &Path, alerts: &AlertService) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    // YAML reads JSON too.
    let spec: HandlerSpec = yaml_serde::from_str(&text).map_err(|e| match e.location() {
        Some(at) => format!("line {}, column {}: {e}", at.line(), at.column()),
        None => e.to_string(),
    })?;
    let result = if alerts.get(&spec.topic, &spec.id).is_some() {
        let (topic, id) = (spec.topic.clone(), spec.id.clone());
        alerts.replace(&topic, &id, spec)
    } else {
        alerts.define(spec)
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}
