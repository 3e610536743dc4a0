//! The Alerts page (every topic, and the firing alerts sorted by level then age, filtered by
//! level, topic and text) and a topic's page (its timeline, alerts and history).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use klaxon_core::{EventState, Level, Timestamp};
use klaxon_engine::HistoryQuery;

use super::{esc, level_badge, page, url_part};
use crate::http::AppState;
use crate::pattern::Pattern;

/// How many history entries a topic's page reads for its timeline and table.
const HISTORY_SHOWN: usize = 200;

/// `GET /console/alerts?level=&topic=&q=`.
pub async fn show(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |k: &str| {
        query
            .get(k)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (level_text, topic_text, text) = (param("level"), param("topic"), param("q"));
    let min_level = level_text
        .parse::<Level>()
        .unwrap_or(Level::Info)
        .max(Level::Info);
    let mut problems = Vec::new();
    let topic_filter = if topic_text.is_empty() {
        None
    } else {
        match Pattern::new(&topic_text) {
            Ok(p) => Some(p),
            Err(e) => {
                problems.push(format!("topic: {e}"));
                None
            }
        }
    };
    let topics = state.alerts.topics(
        |id| topic_filter.as_ref().is_none_or(|p| p.matches(id)),
        Level::Ok,
    );
    let needle = text.to_lowercase();
    let mut firing: Vec<(String, EventState)> = Vec::new();
    for topic in &topics {
        let Ok(events) = state.alerts.events(&topic.id, min_level) else {
            continue;
        };
        firing.extend(
            events
                .into_iter()
                .filter(|e| {
                    needle.is_empty()
                        || e.id.to_lowercase().contains(&needle)
                        || e.message.to_lowercase().contains(&needle)
                        || topic.id.to_lowercase().contains(&needle)
                })
                .map(|e| (topic.id.clone(), e)),
        );
    }
    // The worst first, then the oldest (the longest firing).
    firing.sort_by(|(ta, a), (tb, b)| {
        b.level
            .cmp(&a.level)
            .then(a.time.cmp(&b.time))
            .then(ta.cmp(tb))
            .then(a.id.cmp(&b.id))
    });

    let mut body = String::new();
    body.push_str(&filter_form(min_level, &topic_text, &text));
    for problem in &problems {
        body.push_str(&format!("<p class=\"error\">{}</p>", esc(problem)));
    }
    body.push_str(&format!(
        "<section aria-labelledby=\"firing\"><h2 id=\"firing\">Firing alerts ({})</h2>",
        firing.len()
    ));
    if firing.is_empty() {
        body.push_str("<p class=\"empty\">No alert fires.</p>");
    } else {
        body.push_str(
            "<table class=\"alerts\"><thead><tr><th scope=\"col\">Level</th>\
             <th scope=\"col\">Topic</th><th scope=\"col\">Alert</th>\
             <th scope=\"col\">Message</th><th scope=\"col\">Since</th>\
             <th scope=\"col\"><span class=\"visually-hidden\">Actions</span></th></tr></thead><tbody>",
        );
        for (topic, event) in &firing {
            body.push_str(&format!(
                "<tr data-alert=\"{id}\"><td>{badge}</td>\
                 <td data-label=\"Topic\"><a href=\"/console/topics/{topic_url}\">{topic}</a></td>\
                 <td data-label=\"Alert\">{id}</td><td data-label=\"Message\">{message}</td>\
                 <td data-label=\"Since\"><time datetime=\"{since}\">{since}</time> ({duration})</td>\
                 <td><button type=\"button\" data-action=\"silence\" data-topic=\"{topic}\" \
                 data-alert-id=\"{id}\" data-done=\"Silenced {id} for 1h\">Silence 1h</button> \
                 <a href=\"/console/silences?topic={topic_q}&amp;alert-id={id_q}\">…</a></td></tr>",
                id = esc(&event.id),
                badge = level_badge(event.level),
                topic_url = url_part(topic),
                topic = esc(topic),
                message = esc(&event.message),
                since = esc(&event.time.to_string()),
                duration = esc(&event.duration.to_string()),
                topic_q = url_part(topic),
                id_q = url_part(&event.id),
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    body.push_str(&format!(
        "<section aria-labelledby=\"topics\"><h2 id=\"topics\">Topics ({})</h2>",
        topics.len()
    ));
    if topics.is_empty() {
        body.push_str("<p class=\"empty\">No topic yet.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Topic</th><th scope=\"col\">Level</th>\
             <th scope=\"col\">Collected</th></tr></thead><tbody>",
        );
        for topic in &topics {
            body.push_str(&format!(
                "<tr><td><a href=\"/console/topics/{}\">{}</a></td><td>{}</td>\
                 <td data-label=\"Collected\">{}</td></tr>",
                url_part(&topic.id),
                esc(&topic.id),
                level_badge(topic.level),
                topic.collected
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");
    page("Alerts", "Alerts", &body)
}

/// The filters, a GET form that works without JavaScript.
fn filter_form(min_level: Level, topic: &str, text: &str) -> String {
    let mut options = String::new();
    for level in [Level::Info, Level::Warning, Level::Critical] {
        let selected = if level == min_level { " selected" } else { "" };
        options.push_str(&format!(
            "<option value=\"{level}\"{selected}>{level} and above</option>"
        ));
    }
    format!(
        "<form class=\"filters\" method=\"get\" action=\"/console/alerts\" role=\"search\">\
         <label>Level <select name=\"level\">{options}</select></label>\
         <label>Topic <input name=\"topic\" value=\"{topic}\" placeholder=\"glob, such as cpu*\"></label>\
         <label>Text <input name=\"q\" type=\"search\" value=\"{text}\" placeholder=\"alert ID or message\"></label>\
         <button type=\"submit\">Filter</button></form>",
        topic = esc(topic),
        text = esc(text),
    )
}

/// `GET /console/topics/{topic}`: the timeline of its alerts, its current alerts, its history.
pub async fn topic(State(state): State<AppState>, Path(topic): Path<String>) -> Response {
    let query = HistoryQuery {
        limit: HISTORY_SHOWN,
        ..HistoryQuery::default()
    };
    let history = state.alerts.history(&topic, &query);
    let events = state.alerts.events(&topic, Level::Ok);
    let (history, events) = match (history, events) {
        (Err(_), Err(_)) => {
            return super::not_found("Alerts", &format!("No topic {topic:?}."));
        }
        (h, e) => (
            h.map(|p| p.entries).unwrap_or_default(),
            e.unwrap_or_default(),
        ),
    };
    let now = Timestamp::now();
    let mut body = String::from("<p><a href=\"/console/alerts\">← All alerts</a></p>");
    body.push_str("<section aria-labelledby=\"timeline\"><h2 id=\"timeline\">Timeline</h2>");
    body.push_str(&super::timeline::svg(&history, now));
    body.push_str("</section>");

    body.push_str("<section aria-labelledby=\"current\"><h2 id=\"current\">Alerts</h2>");
    if events.is_empty() {
        body.push_str("<p class=\"empty\">No alert state.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Level</th><th scope=\"col\">Alert</th>\
             <th scope=\"col\">Message</th><th scope=\"col\">Time</th></tr></thead><tbody>",
        );
        for event in &events {
            body.push_str(&format!(
                "<tr><td>{}</td><td data-label=\"Alert\">{}</td><td data-label=\"Message\">{}</td>\
                 <td data-label=\"Time\">{}</td></tr>",
                level_badge(event.level),
                esc(&event.id),
                esc(&event.message),
                esc(&event.time.to_string())
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");

    body.push_str("<section aria-labelledby=\"history\"><h2 id=\"history\">History</h2>");
    if history.is_empty() {
        body.push_str("<p class=\"empty\">No level change recorded.</p>");
    } else {
        body.push_str(
            "<table><thead><tr><th scope=\"col\">Recorded</th><th scope=\"col\">Alert</th>\
             <th scope=\"col\">Change</th><th scope=\"col\">Message</th></tr></thead><tbody>",
        );
        for entry in &history {
            let silenced = if entry.silenced {
                " <span class=\"silenced\">silenced</span>"
            } else {
                ""
            };
            body.push_str(&format!(
                "<tr><td data-label=\"Recorded\">{}</td><td data-label=\"Alert\">{}</td>\
                 <td>{} → {}{silenced}</td><td data-label=\"Message\">{}</td></tr>",
                esc(&entry.recorded.to_string()),
                esc(&entry.id),
                level_badge(entry.previous_level),
                level_badge(entry.level),
                esc(&entry.message)
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str("</section>");
    page("Alerts", &format!("Topic {topic}"), &body)
}
