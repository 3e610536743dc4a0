//! The Handlers page: per topic, each handler (topic handlers and tasks' inline ones) with its
//! delivery counters, queue depth and last failure. Options are not shown: they hold secrets;
//! and a failure message has any credentials inside a URL replaced, as in the log.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;

use super::{esc, page, url_part};
use crate::http::AppState;

/// `GET /console/handlers`.
pub async fn show(State(state): State<AppState>) -> Response {
    let mut by_topic: BTreeMap<String, Vec<klaxon_engine::HandlerStats>> = BTreeMap::new();
    for stats in state.alerts.stats().snapshot() {
        by_topic.entry(stats.topic.clone()).or_default().push(stats);
    }
    let depths: BTreeMap<(String, String), usize> = state
        .alerts
        .queue_depths()
        .into_iter()
        .map(|q| ((q.topic, q.handler), q.depth))
        .collect();
    let mut body = String::new();
    if by_topic.is_empty() {
        body.push_str("<p class=\"empty\">No handler has received an event yet.</p>");
    }
    for (topic, handlers) in &by_topic {
        body.push_str(&format!(
            "<section><h2><a href=\"/console/topics/{}\">{}</a></h2>\
             <table><thead><tr><th scope=\"col\">Handler</th><th scope=\"col\">Kind</th>\
             <th scope=\"col\">Delivered</th><th scope=\"col\">Failed</th>\
             <th scope=\"col\">Dropped</th><th scope=\"col\">Filtered</th>\
             <th scope=\"col\">Retried</th><th scope=\"col\">Queued</th>\
             <th scope=\"col\">Last failure</th></tr></thead><tbody>",
            url_part(topic),
            esc(topic)
        ));
        for h in handlers {
            let failure = match &h.last_failure {
                Some((at, error)) => format!(
                    "<time datetime=\"{at}\">{at}</time>: {}",
                    esc(&crate::redact::url_credentials(error)),
                    at = esc(&at.to_string()),
                ),
                None => "none".to_owned(),
            };
            let queued = depths
                .get(&(h.topic.clone(), h.handler.clone()))
                .copied()
                .unwrap_or(0);
            body.push_str(&format!(
                "<tr><td>{}</td><td data-label=\"Kind\">{}</td>\
                 <td data-label=\"Delivered\">{}</td><td data-label=\"Failed\">{}</td>\
                 <td data-label=\"Dropped\">{}</td><td data-label=\"Filtered\">{}</td>\
                 <td data-label=\"Retried\">{}</td><td data-label=\"Queued\">{queued}</td>\
                 <td data-label=\"Last failure\" class=\"failure\">{failure}</td></tr>",
                esc(&h.handler),
                esc(&h.kind),
                h.delivered,
                h.failed,
                h.dropped,
                h.filtered,
                h.retried
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    page("Handlers", "Handlers", &body)
}
