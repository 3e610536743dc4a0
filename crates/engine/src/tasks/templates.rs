//! Task templates, as Kapacitor's: a TICKscript whose typed declarations (`var x duration`) each
//! task made from it fills with its vars. A template is checked when it is defined or changed
//! (its missing vars take placeholders), and what reads show of it (its vars, its DOT graph) is
//! read then and stored with it, so no read compiles TICKscript. Changing a template changes its
//! tasks, which are restarted if they run; if one of them refuses the new script, the template
//! and the tasks changed before it are put back, as Kapacitor rolls them back.

use klaxon_core::Timestamp;
use klaxon_pipeline::Task;
use klaxon_tick::TaskVars;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::vars::{TaskTemplate, declared_vars_json};
use super::{Dbrp, TaskChange, TaskError, TaskInfo, TaskManager, TaskStatus, is_valid_task_id};

/// The store namespace of templates.
const NAMESPACE: &str = "templates";

/// A template as stored, with what reads show of its script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecord {
    /// The template ID.
    pub id: String,
    /// The TICKscript.
    pub script: String,
    /// When it was defined.
    pub created: Timestamp,
    /// When it last changed.
    pub modified: Timestamp,
    /// The vars it declares in Kapacitor's JSON (`{"x": {"type": "duration", "value": null}}`).
    pub vars: Value,
    /// (parent, child) node IDs, for the DOT graph.
    pub edges: Vec<(String, String)>,
}

/// Why a template cannot be defined, changed or used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template with that ID.
    #[error("no template exists with ID {0:?}")]
    NotFound(String),
    /// A template with that ID exists.
    #[error("template {0:?} already exists; change it with PATCH")]
    AlreadyExists(String),
    /// The ID breaks [`is_valid_task_id`].
    #[error("template ID {0:?} must contain only letters, numbers, '-', '_' and '.'")]
    InvalidId(String),
    /// The script is empty.
    #[error("must provide TICKscript")]
    NoScript,
    /// The script is invalid (with its vars as placeholders), or a task refuses it.
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A task made from the template refuses the changed script; nothing was changed.
    #[error("cannot update task {task:?} made from template {template:?}: {source}")]
    AssociatedTask {
        /// The template.
        template: String,
        /// The task that refused it.
        task: String,
        /// Why.
        #[source]
        source: TaskError,
    },
}

impl From<crate::StoreError> for TemplateError {
    fn from(e: crate::StoreError) -> Self {
        TemplateError::Task(TaskError::Store(e))
    }
}

impl TaskManager {
    /// Every template whose ID passes `filter`, sorted by ID.
    pub fn templates(
        &self,
        filter: impl Fn(&str) -> bool,
    ) -> Result<Vec<TemplateRecord>, TemplateError> {
        Ok(self
            .inner
            .store
            .records(NAMESPACE)?
            .into_iter()
            .filter(|(id, _)| filter(id))
            .filter_map(|(id, value)| match serde_json::from_value(value) {
                Ok(template) => Some(template),
                Err(e) => {
                    tracing::error!(template = %id, error = %e, "stored template cannot be read; skipped");
                    None
                }
            })
            .collect())
    }

    /// One template.
    pub fn template(&self, id: &str) -> Result<TemplateRecord, TemplateError> {
        let value = self
            .inner
            .store
            .record(NAMESPACE, id)?
            .ok_or_else(|| TemplateError::NotFound(id.to_owned()))?;
        serde_json::from_value(value).map_err(|e| TemplateError::Task(TaskError::Encode(e)))
    }

    /// Defines a template (`POST /kapacitor/v1/templates`).
    pub fn define_template(&self, id: &str, script: &str) -> Result<TemplateRecord, TemplateError> {
        let _changing = self.changing();
        if !is_valid_task_id(id) {
            return Err(TemplateError::InvalidId(id.to_owned()));
        }
        if self.inner.store.record(NAMESPACE, id)?.is_some() {
            return Err(TemplateError::AlreadyExists(id.to_owned()));
        }
        let now = Timestamp::now();
        let template = self.check_template(id, script, now, now)?;
        self.save_template(&template)?;
        Ok(template)
    }

    /// Changes a template's ID or script (`PATCH /kapacitor/v1/templates/<id>`), and the tasks
    /// made from it.
    pub fn update_template(
        &self,
        id: &str,
        new_id: Option<&str>,
        script: Option<&str>,
    ) -> Result<TemplateRecord, TemplateError> {
        // Not under the lock of changes: updating each task takes it.
        let old = self.template(id)?;
        let new_id = new_id.filter(|n| !n.is_empty()).unwrap_or(id);
        if !is_valid_task_id(new_id) {
            return Err(TemplateError::InvalidId(new_id.to_owned()));
        }
        if new_id != id && self.inner.store.record(NAMESPACE, new_id)?.is_some() {
            return Err(TemplateError::AlreadyExists(new_id.to_owned()));
        }
        let script = script.filter(|s| !s.is_empty()).unwrap_or(&old.script);
        let template = self.check_template(new_id, script, old.created, Timestamp::now())?;
        // The tasks first: one that refuses the script leaves everything as it was.
        let tasks = self.tasks_of_template(id)?;
        let mut done: Vec<(String, TaskTemplate, String)> = Vec::new();
        for task in &tasks {
            let mut vars = self.task_template(task)?;
            let old_script = self
                .get(task)
                .map(|info| info.record.script)
                .unwrap_or_default();
            let previous = vars.clone();
            vars.template_id = new_id.to_owned();
            let result = self.save_task_template(task, &vars).and_then(|()| {
                self.update(
                    task,
                    TaskChange {
                        script: Some(template.script.clone()),
                        ..TaskChange::default()
                    },
                )
            });
            if let Err(source) = result {
                let _ = self.save_task_template(task, &previous);
                for (task, previous, script) in done.into_iter().rev() {
                    let _ = self.save_task_template(&task, &previous);
                    let change = TaskChange {
                        script: Some(script),
                        ..TaskChange::default()
                    };
                    if let Err(e) = self.update(&task, change) {
                        tracing::error!(task = %task, error = %e, "cannot roll back a task of a template");
                    }
                }
                return Err(TemplateError::AssociatedTask {
                    template: id.to_owned(),
                    task: task.clone(),
                    source,
                });
            }
            done.push((task.clone(), previous, old_script));
        }
        self.save_template(&template)?;
        if new_id != id {
            self.inner.store.delete_record(NAMESPACE, id)?;
        }
        Ok(template)
    }

    /// Deletes a template; its tasks keep running with the script they have. Unknown IDs are
    /// fine.
    pub fn delete_template(&self, id: &str) -> Result<(), TemplateError> {
        let _changing = self.changing();
        Ok(self.inner.store.delete_record(NAMESPACE, id)?)
    }

    /// Defines a task (`POST /kapacitor/v1/tasks`) with vars, from its own script or from a
    /// template (`template_id`, whose script it then runs and follows).
    pub fn define_with_vars(
        &self,
        id: &str,
        script: Option<&str>,
        template_id: &str,
        vars: TaskVars,
        dbrps: Vec<Dbrp>,
        status: TaskStatus,
    ) -> Result<TaskInfo, TemplateError> {
        let script = if template_id.is_empty() {
            script.unwrap_or_default().to_owned()
        } else {
            self.template(template_id)?.script
        };
        if self.get(id).is_some() {
            return Err(TaskError::AlreadyExists(id.to_owned()).into());
        }
        let template = TaskTemplate {
            template_id: template_id.to_owned(),
            vars,
        };
        self.save_task_template(id, &template)?;
        self.define(id, &script, dbrps, status).map_err(|e| {
            // Nothing of a refused task stays, its vars neither.
            if !matches!(e, TaskError::AlreadyExists(_)) {
                let _ = self.forget_vars(id);
            }
            TemplateError::Task(e)
        })
    }

    /// Changes a task (`PATCH`) and, when given, its template (whose script it then runs) or
    /// its vars; a templated task always runs its template's script.
    pub fn update_with_vars(
        &self,
        id: &str,
        mut change: TaskChange,
        template_id: Option<&str>,
        vars: Option<TaskVars>,
    ) -> Result<TaskInfo, TemplateError> {
        let previous = self.task_template(id)?;
        let mut next = previous.clone();
        if let Some(template_id) = template_id.filter(|t| !t.is_empty()) {
            next.template_id = template_id.to_owned();
        }
        if let Some(vars) = vars.filter(|v| !v.is_empty()) {
            next.vars = vars;
        }
        if !next.template_id.is_empty() {
            change.script = Some(self.template(&next.template_id)?.script);
        }
        if self.get(id).is_none() {
            return Err(TaskError::NotFound(id.to_owned()).into());
        }
        self.save_task_template(id, &next)?;
        self.update(id, change).map_err(|e| {
            let _ = self.save_task_template(id, &previous);
            TemplateError::Task(e)
        })
    }

    /// The tasks made from template `id`, sorted.
    fn tasks_of_template(&self, id: &str) -> Result<Vec<String>, TemplateError> {
        let ids: Vec<String> = self.read_slots().keys().cloned().collect();
        let mut out = Vec::new();
        for task in ids {
            if self.task_template(&task)?.template_id == id {
                out.push(task);
            }
        }
        Ok(out)
    }

    /// Checks a template's script with placeholders for its vars, and reads what reads show.
    fn check_template(
        &self,
        id: &str,
        script: &str,
        created: Timestamp,
        modified: Timestamp,
    ) -> Result<TemplateRecord, TemplateError> {
        if script.trim().is_empty() {
            return Err(TemplateError::NoScript);
        }
        let limits = &self.inner.alerts.limits().pipeline;
        let invalid = |e: klaxon_tick::Error| TemplateError::Task(TaskError::Invalid(e.into()));
        let filled = klaxon_tick::apply_vars(script, &TaskVars::new(), &limits.tick, true)
            .map_err(invalid)?;
        Task::compile_with(
            id,
            &filled,
            &self.inner.registry,
            &self.inner.server,
            limits,
        )
        .map_err(|e| TemplateError::Task(TaskError::Invalid(e)))?;
        let parsed =
            klaxon_tick::parse_with(script, &limits.tick).map_err(|e| invalid(e.into()))?;
        let program =
            klaxon_tick::resolve_template(&parsed, &limits.tick).map_err(|e| invalid(e.into()))?;
        let edges = program
            .nodes
            .iter()
            // Every parent, the arguments of a join or union too.
            .flat_map(|n| {
                let parents = n.parent.into_iter().chain(n.others.iter().copied());
                parents.map(|p| (program.nodes[p].id(), n.id()))
            })
            .collect();
        Ok(TemplateRecord {
            id: id.to_owned(),
            script: script.to_owned(),
            created,
            modified,
            vars: declared_vars_json(&program.vars),
            edges,
        })
    }

    fn save_template(&self, template: &TemplateRecord) -> Result<(), TemplateError> {
        let value = serde_json::to_value(template).map_err(TaskError::Encode)?;
        Ok(self
            .inner
            .store
            .put_record(NAMESPACE, &template.id, &value)?)
    }
}
