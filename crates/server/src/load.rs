//! `[load] dir`: topic-handler files and TICKscript tasks defined (or replaced) at every start.
//!
//! Every `handlers/*.yaml`, `*.yml` and `*.json` under the directory is read in name order and
//! defined, or replaces the handler of the same topic and ID; every `tasks/*.tick` is defined as
//! the enabled task named by the file stem, or replaces that task's script. So loading is
//! idempotent. A file that cannot be used is reported with its name and does not stop the others.

use std::path::{Path, PathBuf};

use klaxon_engine::tasks::{TaskChange, TaskManager, TaskStatus};
use klaxon_engine::{AlertService, HandlerSpec};

/// A file of the load directory that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot load {}: {reason}", path.display())]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// What was wrong with it.
    pub reason: String,
}

/// Loads `<dir>/handlers/*.{yaml,yml,json}` into `alerts`; returns the files loaded and the
/// errors of those that were not.
pub fn load_handlers(dir: &Path, alerts: &AlertService) -> (Vec<PathBuf>, Vec<LoadError>) {
    let files = match files_with_extension(&dir.join("handlers"), &["yaml", "yml", "json"]) {
        Ok(files) => files,
        Err(error) => return (Vec::new(), vec![error]),
    };
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

/// The files of `dir` whose extension is one of `extensions`, in name order.
fn files_with_extension(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, LoadError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // A load dir may hold only handlers or only tasks; a missing load dir is still an error.
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && dir.parent().is_some_and(Path::is_dir) =>
        {
            return Ok(Vec::new());
        }
        Err(e) => {
            return Err(LoadError {
                path: dir.to_path_buf(),
                reason: format!("cannot read the directory: {e}; check [load] dir"),
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.contains(&e))
        })
        .collect();
    files.sort();
    Ok(files)
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

/// Loads `<dir>/tasks/*.tick` into `tasks`, enabled, with the file stem as task ID; returns the
/// files loaded and the errors of those that were not. A task that exists gets the file's script
/// (and the dbrps of its `dbrp` statements), so loading is idempotent.
pub fn load_tasks(dir: &Path, tasks: &TaskManager) -> (Vec<PathBuf>, Vec<LoadError>) {
    let tasks_dir = dir.join("tasks");
    let files = match files_with_extension(&tasks_dir, &["tick"]) {
        Ok(files) => files,
        Err(error) => return (Vec::new(), vec![error]),
    };
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        match load_task_file(&path, tasks) {
            Ok(()) => loaded.push(path),
            Err(reason) => errors.push(LoadError { path, reason }),
        }
    }
    (loaded, errors)
}

fn load_task_file(path: &Path, tasks: &TaskManager) -> Result<(), String> {
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or("the file name is not UTF-8; rename it to the task ID")?;
    let script = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let result = if tasks.get(id).is_some() {
        // The file is the whole definition: dbrps come from its `dbrp` statements, not from
        // an earlier PATCH.
        let change = TaskChange {
            script: Some(script),
            dbrps: Some(Vec::new()),
            status: Some(TaskStatus::Enabled),
        };
        tasks.update(id, change)
    } else {
        tasks.define(id, &script, Vec::new(), TaskStatus::Enabled)
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}
