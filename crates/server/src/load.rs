//! `[load] dir`: topic-handler files and TICKscript tasks defined (or replaced) at every start.
//!
//! Every `handlers/*.yaml`, `*.yml` and `*.json` under the directory is read in name order and
//! defined, or replaces the handler of the same topic and ID; every `tasks/*.tick` is defined as
//! the enabled task named by the file stem, or replaces that task's script. So loading is
//! idempotent. A file that cannot be used is reported with its name and does not stop the others.

use std::io::Read;
use std::path::{Path, PathBuf};

use klaxon_engine::tasks::{TaskChange, TaskError, TaskManager, TaskStatus};
use klaxon_engine::{AlertService, EngineError, HandlerSpec, LimitError, Limits};

/// A file of the load directory that was not loaded, and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot load {}: {reason}", path.display())]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// What was wrong with it.
    #[source]
    pub reason: LoadReason,
}

/// What was wrong with a file of the load directory.
#[derive(Debug, thiserror::Error)]
pub enum LoadReason {
    /// The directory cannot be listed.
    #[error("cannot read the directory: {0}; check [load] dir")]
    Directory(#[source] std::io::Error),
    /// The file cannot be read.
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// The file is larger than its `[limits]` setting.
    #[error(transparent)]
    TooLarge(LimitError),
    /// The file is not text.
    #[error("the file is not UTF-8: {0}")]
    NotUtf8(#[source] std::string::FromUtf8Error),
    /// A task file's name, which is the task ID, is not text.
    #[error("the file name is not UTF-8; rename it to the task ID")]
    NameNotUtf8,
    /// The handler file does not decode.
    #[error(transparent)]
    Spec(#[from] SpecFileError),
    /// The alert service refused the handler (boxed, as the next: they are large and rare).
    #[error(transparent)]
    Handler(Box<EngineError>),
    /// The task manager refused the task.
    #[error(transparent)]
    Task(Box<TaskError>),
}

/// A handler file that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum SpecFileError {
    /// Brackets nested deeper than [`MAX_FLOW_DEPTH`], refused before the YAML parser sees them.
    #[error(
        "line {line}: brackets nested deeper than {MAX_FLOW_DEPTH} levels; a handler spec needs \
         only a few"
    )]
    TooDeep {
        /// The line of the bracket that went too deep.
        line: usize,
    },
    /// Not YAML (or JSON), or not a handler spec; the message has line and column when the
    /// parser knows them.
    #[error("{}", located(.0))]
    Yaml(#[source] yaml_serde::Error),
}

fn located(e: &yaml_serde::Error) -> String {
    match e.location() {
        Some(at) => format!("line {}, column {}: {e}", at.line(), at.column()),
        None => e.to_string(),
    }
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
                reason: LoadReason::Directory(e),
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

/// Reads a UTF-8 file of at most `max` bytes without reading more than that; a larger one is
/// refused with the error `too_large` makes from its size.
fn read_bounded(
    path: &Path,
    max: usize,
    too_large: impl Fn(usize) -> LimitError,
) -> Result<String, LoadReason> {
    let file = std::fs::File::open(path).map_err(LoadReason::Read)?;
    let mut bytes = Vec::new();
    file.take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(LoadReason::Read)?;
    if bytes.len() > max {
        let size = std::fs::metadata(path)
            .ok()
            .and_then(|m| usize::try_from(m.len()).ok())
            .unwrap_or(bytes.len());
        return Err(LoadReason::TooLarge(too_large(size)));
    }
    String::from_utf8(bytes).map_err(LoadReason::NotUtf8)
}

/// Decodes a handler file, YAML or JSON (YAML reads JSON too); errors have line and column.
/// Public for the property tests, which feed it what an operator might write.
pub fn parse_spec(text: &str) -> Result<HandlerSpec, SpecFileError> {
    check_flow_depth(text)?;
    yaml_serde::from_str(text).map_err(SpecFileError::Yaml)
}

/// The deepest `[`/`{` nesting a handler file may have. The YAML parser's time grows with the
/// square of the nesting (10 000 levels: 0.2 s; 20 000: 1 s; a 1 MiB file of brackets: minutes),
/// and a handler spec needs a handful of levels.
const MAX_FLOW_DEPTH: usize = 128;

/// Refuses flow collections nested deeper than [`MAX_FLOW_DEPTH`] before the YAML parser sees
/// them. Quoted strings and comments are skipped, so brackets inside values do not count.
fn check_flow_depth(text: &str) -> Result<(), SpecFileError> {
    let mut depth = 0usize;
    let (mut line, mut quote, mut comment) = (1usize, None::<char>, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            comment = false;
            continue;
        }
        if comment {
            continue;
        }
        match (quote, c) {
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err(SpecFileError::TooDeep { line });
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            (None, _) => {}
        }
    }
    Ok(())
}

fn load_file(path: &Path, alerts: &AlertService) -> Result<(), LoadReason> {
    let max = alerts.limits().max_handler_spec_size;
    let text = read_bounded(path, max, |size| LimitError {
        what: format!("the handler file is {size} bytes"),
        setting: Limits::SPEC_SIZE_SETTING,
        max,
    })?;
    // YAML reads JSON too.
    let spec = parse_spec(&text)?;
    let result = if alerts.get(&spec.topic, &spec.id).is_some() {
        let (topic, id) = (spec.topic.clone(), spec.id.clone());
        alerts.replace(&topic, &id, spec)
    } else {
        alerts.define(spec)
    };
    result
        .map(|_| ())
        .map_err(|e| LoadReason::Handler(Box::new(e)))
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

fn load_task_file(path: &Path, tasks: &TaskManager) -> Result<(), LoadReason> {
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or(LoadReason::NameNotUtf8)?;
    let max = tasks.limits().pipeline.tick.max_script_size;
    let script = read_bounded(path, max, |size| LimitError {
        what: format!("the TICKscript file is {size} bytes"),
        setting: klaxon_tick::Limits::SCRIPT_SETTING,
        max,
    })?;
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
    result
        .map(|_| ())
        .map_err(|e| LoadReason::Task(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_spec_corpus_gets_an_answer_from_both_decoders() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/handler_spec");
        let results = klaxon_core::testing::replay_corpus(&dir, |bytes| {
            // The HTTP API decodes JSON; handler files go through YAML.
            let json = serde_json::from_slice::<HandlerSpec>(bytes).map_err(|e| e.to_string());
            let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
            let spec = parse_spec(text).map_err(|e| e.to_string())?;
            spec.check_names().map_err(|e| e.to_string())?;
            Ok(format!("{} (json: {})", spec.id, json.is_ok()))
        });
        let result = |name: &str| klaxon_core::testing::corpus_result(&results, name).clone();
        assert_eq!(result("valid.yaml"), Ok("tcp-cpu (json: false)".to_owned()));
        assert_eq!(result("valid.json"), Ok("h (json: true)".to_owned()));
        assert!(result("yaml_anchors_bomb.yaml").is_err());
        assert!(result("deep_json.json").is_err());
    }

    #[test]
    fn deep_brackets_are_refused_before_parsing_and_quoted_ones_are_not_counted() {
        let deep = format!("id: x\ntopic: t\nkind: k\noptions: {}", "[".repeat(20_000));
        let err = parse_spec(&deep).unwrap_err().to_string();
        assert_eq!(
            err,
            "line 4: brackets nested deeper than 128 levels; a handler spec needs only a few"
        );
        let quoted = format!(
            "id: x\ntopic: t\nkind: k\noptions: {{a: \"{}\", b: '{}'}} # {}\n",
            "[".repeat(500),
            "{".repeat(500),
            "[".repeat(500)
        );
        let spec = parse_spec(&quoted).unwrap();
        assert_eq!(spec.options["a"].as_str().unwrap().len(), 500);
    }
}
