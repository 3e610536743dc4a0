//! Bounds on what the API may make the engine hold: tasks, topic handlers and the size of a
//! handler spec, plus the pipeline's limits on scripts, lambdas, templates and line protocol.

/// The engine's limits; the server fills them from `[limits]`.
///
/// ```
/// let limits = klaxon_engine::Limits { max_tasks: 2, ..Default::default() };
/// let err = limits.check_tasks(2).unwrap_err();
/// assert_eq!(err.to_string(), "there are already 2 tasks; [limits] max-tasks is 2");
/// assert!(limits.check_tasks(1).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Limits on task definitions and on line protocol.
    pub pipeline: klaxon_pipeline::Limits,
    /// Most tasks defined at once.
    pub max_tasks: usize,
    /// Most topic handlers defined at once, over all topics (a task's inline handlers do not
    /// count: they are bounded by its script).
    pub max_topic_handlers: usize,
    /// Largest handler spec (a handler file, or the body of a handler request), in bytes.
    pub max_handler_spec_size: usize,
}

impl Default for Limits {
    /// The pipeline's defaults, 10 000 tasks, 10 000 topic handlers and 1 MiB per handler spec.
    fn default() -> Self {
        Limits {
            pipeline: klaxon_pipeline::Limits::default(),
            max_tasks: 10_000,
            max_topic_handlers: 10_000,
            max_handler_spec_size: 1 << 20,
        }
    }
}

/// A limit was reached: what was asked, and the setting that bounds it.
///
/// ```
/// let err = klaxon_engine::LimitError {
///     what: "the handler spec is 2000 bytes".into(),
///     setting: "[limits] max-handler-spec-size",
///     max: 1000,
/// };
/// assert_eq!(err.to_string(), "the handler spec is 2000 bytes; [limits] max-handler-spec-size is 1000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}; {setting} is {max}")]
pub struct LimitError {
    /// What was asked, such as `there are already 100 tasks`.
    pub what: String,
    /// The setting, such as `[limits] max-tasks`.
    pub setting: &'static str,
    /// Its value.
    pub max: usize,
}

impl Limits {
    /// The klaxond setting of [`Limits::max_tasks`].
    pub const TASKS_SETTING: &'static str = "[limits] max-tasks";
    /// The klaxond setting of [`Limits::max_topic_handlers`].
    pub const HANDLERS_SETTING: &'static str = "[limits] max-topic-handlers";
    /// The klaxond setting of [`Limits::max_handler_spec_size`].
    pub const SPEC_SIZE_SETTING: &'static str = "[limits] max-handler-spec-size";

    /// Whether one more task may be defined when `existing` are.
    pub fn check_tasks(&self, existing: usize) -> Result<(), LimitError> {
        at_most(existing, self.max_tasks, Self::TASKS_SETTING, "tasks")
    }

    /// Whether one more topic handler may be defined when `existing` are.
    pub fn check_topic_handlers(&self, existing: usize) -> Result<(), LimitError> {
        at_most(
            existing,
            self.max_topic_handlers,
            Self::HANDLERS_SETTING,
            "topic handlers",
        )
    }

    /// Whether a handler spec of `size` bytes may be read.
    pub fn check_spec_size(&self, size: usize) -> Result<(), LimitError> {
        if size <= self.max_handler_spec_size {
            return Ok(());
        }
        Err(LimitError {
            what: format!("the handler spec is {size} bytes"),
            setting: Self::SPEC_SIZE_SETTING,
            max: self.max_handler_spec_size,
        })
    }
}

fn at_most(
    existing: usize,
    max: usize,
    setting: &'static str,
    noun: &str,
) -> Result<(), LimitError> {
    if existing < max {
        return Ok(());
    }
    Err(LimitError {
        what: format!("there are already {existing} {noun}"),
        setting,
        max,
    })
}
