//! The Silences page: the silences (active, pending, then expired ones until they are
//! removed), a form to make one (pre-filled from an alert's link), and a button to expire each.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use klaxon_core::Timestamp;
use klaxon_engine::{Silence, SilenceState};

use super::{esc, page};
use crate::http::AppState;

/// `GET /console/silences?topic=&alert-id=`: the query pre-fills the form.
pub async fn show(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = Timestamp::now();
    let mut silences = state.alerts.silences();
    silences.sort_by_key(|s| (s.state(now), std::cmp::Reverse(s.end)));
    let prefill = |k: &str| esc(query.get(k).map(String::as_str).unwrap_or_default());
    let mut body = format!(
        "<section aria-labelledby=\"new\"><h2 id=\"new\">New silence</h2>\
         <noscript><p>Making and expiring silences needs JavaScript; the API and \
         <code>klaxon silence add</code> need none.</p></noscript>\
         <form id=\"new-silence\" class=\"silence-form\">\
         <label>Topic <input name=\"topic\" value=\"{topic}\" placeholder=\"glob, such as cpu*\"></label>\
         <label>Alert ID <input name=\"alert-id\" value=\"{alert}\" placeholder=\"glob\"></label>\
         <label>Tag <input name=\"tag\" placeholder=\"host=serverA\"></label>\
         <label>Duration <input name=\"duration\" value=\"1h\" required></label>\
         <label>Comment <input name=\"comment\" placeholder=\"why\"></label>\
         <button type=\"submit\">Silence</button></form></section>",
        topic = prefill("topic"),
        alert = prefill("alert-id"),
    );
    body.push_str(&format!(
        "<section aria-labelledby=\"list\"><h2 id=\"list\">Silences ({})</h2>",
        silences.len()
    ));
    if silences.is_empty() {
        body.push_str("<p class=\"empty\">No silence.</p>");
    } else {
        body.push_str(
            "<table class=\"silences\"><thead><tr><th scope=\"col\">State</th>\
             <th scope=\"col\">Matchers</th><th scope=\"col\">Start</th><th scope=\"col\">End</th>\
             <th scope=\"col\">By</th><th scope=\"col\">Comment</th>\
             <th scope=\"col\"><span class=\"visually-hidden\">Actions</span></th></tr></thead><tbody>",
        );
        for silence in &silences {
            body.push_str(&row(silence, now));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");
    page("Silences", "Silences", &body)
}

fn row(silence: &Silence, now: Timestamp) -> String {
    let state = silence.state(now);
    let action = if state == SilenceState::Expired {
        String::new()
    } else {
        format!(
            "<button type=\"button\" data-action=\"expire\" data-id=\"{}\" \
             data-done=\"Silence expired\">Expire</button>",
            esc(&silence.id)
        )
    };
    format!(
        "<tr data-silence=\"{id}\" class=\"state-{state}\"><td>{state}</td>\
         <td data-label=\"Matchers\">{matchers}</td><td data-label=\"Start\">{start}</td>\
         <td data-label=\"End\">{end}</td><td data-label=\"By\">{by}</td>\
         <td data-label=\"Comment\">{comment}</td><td>{action}</td></tr>",
        id = esc(&silence.id),
        state = state.as_str(),
        matchers = esc(&matchers(silence)),
        start = esc(&silence.start.to_string()),
        end = esc(&silence.end.to_string()),
        by = esc(&silence.created_by),
        comment = esc(&silence.comment),
    )
}

/// `topic=cpu alert-id=x host=a dc=~eu-.* level=CRITICAL`, as `klaxon silence list` shows it.
fn matchers(silence: &Silence) -> String {
    let mut parts = Vec::new();
    if !silence.topic.is_empty() {
        parts.push(format!("topic={}", silence.topic));
    }
    if !silence.alert_id.is_empty() {
        parts.push(format!("alert-id={}", silence.alert_id));
    }
    for tag in &silence.tags {
        match (&tag.value, &tag.regex) {
            (Some(v), _) => parts.push(format!("{}={v}", tag.name)),
            (_, Some(r)) => parts.push(format!("{}=~{r}", tag.name)),
            _ => {}
        }
    }
    if !silence.levels.is_empty() {
        let levels: Vec<&str> = silence.levels.iter().map(|l| l.as_str()).collect();
        parts.push(format!("level={}", levels.join(",")));
    }
    parts.join(" ")
}
