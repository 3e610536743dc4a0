//! The Tasks pages: the list (status, enable and disable) and a task's page (its TICKscript, its
//! pipeline graph drawn as SVG, each node's counters).

use axum::extract::{Path, State};
use axum::response::Response;
use klaxon_engine::tasks::{TaskInfo, TaskStatus};

use super::{esc, page, url_part};
use crate::http::AppState;

fn status_of(info: &TaskInfo) -> (&'static str, &'static str) {
    match info.record.status {
        TaskStatus::Enabled => ("enabled", "disabled"),
        TaskStatus::Disabled => ("disabled", "enabled"),
    }
}

fn toggle(info: &TaskInfo) -> String {
    let (_, other) = status_of(info);
    let label = if other == "enabled" {
        "Enable"
    } else {
        "Disable"
    };
    format!(
        "<button type=\"button\" data-action=\"task-status\" data-id=\"{id}\" \
         data-status=\"{other}\" data-done=\"Task {id} {other}\">{label}</button>",
        id = esc(&info.record.id)
    )
}

/// `GET /console/tasks`.
pub async fn list(State(state): State<AppState>) -> Response {
    let tasks = state.tasks.list(|_| true);
    let mut body = String::new();
    if tasks.is_empty() {
        body.push_str(
            "<p class=\"empty\">No task yet: define one with <code>klaxon define</code>.</p>",
        );
    } else {
        body.push_str(
            "<table class=\"tasks\"><thead><tr><th scope=\"col\">Task</th>\
             <th scope=\"col\">Status</th><th scope=\"col\">Executing</th>\
             <th scope=\"col\">Databases</th><th scope=\"col\">\
             <span class=\"visually-hidden\">Actions</span></th></tr></thead><tbody>",
        );
        for info in &tasks {
            let (status, _) = status_of(info);
            let dbrps: Vec<String> = info
                .dbrps
                .iter()
                .map(|d| format!("{}.{}", d.db, d.rp))
                .collect();
            let error = if info.error.is_empty() {
                String::new()
            } else {
                format!(" <span class=\"error\">{}</span>", esc(&info.error))
            };
            body.push_str(&format!(
                "<tr data-task=\"{id}\"><td><a href=\"/console/tasks/{url}\">{id}</a></td>\
                 <td data-label=\"Status\" class=\"task-status\">{status}</td>\
                 <td data-label=\"Executing\">{executing}{error}</td>\
                 <td data-label=\"Databases\">{dbrps}</td><td>{toggle}</td></tr>",
                id = esc(&info.record.id),
                url = url_part(&info.record.id),
                executing = if info.executing { "yes" } else { "no" },
                dbrps = esc(&if dbrps.is_empty() {
                    "every database".to_owned()
                } else {
                    dbrps.join(", ")
                }),
                toggle = toggle(info),
            ));
        }
        body.push_str("</tbody></table>");
    }
    page("Tasks", "Tasks", &body)
}

/// `GET /console/tasks/{id}`.
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(info) = state.tasks.get(&id) else {
        return super::not_found("Tasks", &format!("No task {id:?}."));
    };
    let (status, _) = status_of(&info);
    let mut body = format!(
        "<p><a href=\"/console/tasks\">← All tasks</a></p>\
         <p>Status: <strong class=\"task-status\">{status}</strong>, {executing} {toggle}</p>",
        executing = if info.executing {
            "executing"
        } else {
            "not executing"
        },
        toggle = toggle(&info),
    );
    if !info.error.is_empty() {
        body.push_str(&format!("<p class=\"error\">{}</p>", esc(&info.error)));
    }
    body.push_str("<section aria-labelledby=\"graph\"><h2 id=\"graph\">Pipeline</h2>");
    body.push_str(&super::graph::svg(&info));
    body.push_str("</section>");
    if let Some(stats) = &info.stats {
        body.push_str(&format!(
            "<section aria-labelledby=\"nodes\"><h2 id=\"nodes\">Nodes</h2>\
             <p>Throughput: {:.2} points/s</p><table><thead><tr><th scope=\"col\">Node</th>\
             <th scope=\"col\">Collected</th><th scope=\"col\">Emitted</th>\
             <th scope=\"col\">Errors</th><th scope=\"col\">Alerts (OK/INFO/WARNING/CRITICAL)</th>\
             </tr></thead><tbody>",
            stats.throughput
        ));
        for node in &stats.nodes {
            let alerts = node
                .alerts
                .map(|a| format!("{}/{}/{}/{}", a[0], a[1], a[2], a[3]))
                .unwrap_or_default();
            body.push_str(&format!(
                "<tr><td>{}</td><td data-label=\"Collected\">{}</td>\
                 <td data-label=\"Emitted\">{}</td><td data-label=\"Errors\">{}</td>\
                 <td data-label=\"Alerts\">{alerts}</td></tr>",
                esc(&node.id),
                node.collected,
                node.emitted,
                node.errors
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    body.push_str(&format!(
        "<section aria-labelledby=\"script\"><h2 id=\"script\">TICKscript</h2>\
         <pre><code>{}</code></pre></section>",
        esc(&info.record.script)
    ));
    page("Tasks", &format!("Task {id}"), &body)
}
