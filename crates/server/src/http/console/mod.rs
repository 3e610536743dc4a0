//! The web console: klaxond's own pages at `/` and `/console/...` (alerts, a topic's timeline,
//! silences, tasks, handlers), HTML made here from the engine's state, with one stylesheet and
//! one script embedded in the binary (no Node build, nothing fetched from elsewhere).
//!
//! Every page is complete without JavaScript (reading, and the filters, which are GET forms);
//! the script adds live updates (it fetches the page again and swaps its `<main>`) and the
//! actions, which go through the JSON API (`/kapacitor/v1/silences`, `/kapacitor/v1/tasks`) so
//! that they meet the same authentication and cross-site checks as any client: viewing needs
//! `read`, silencing `write`, enabling a task `admin`. With `[http] auth-enabled`, a page asked
//! for without credentials redirects to the login form (`/console/login`), which opens a
//! session cookie; basic-auth and bearer credentials work as well, and a browser without
//! JavaScript signs in through its own basic-auth dialog (`/console/login/basic`). Handler
//! options are never shown (they hold secrets).

mod alerts;
mod graph;
mod handlers;
mod login;
mod silences;
mod tasks;
mod timeline;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use klaxon_core::Level;

use super::AppState;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// How often the script reloads a page's content, in milliseconds.
const REFRESH_MS: u32 = 2000;

/// The console's routes, merged into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/alerts", get(alerts::show))
        .route("/console/topics/{topic}", get(alerts::topic))
        .route("/console/silences", get(silences::show))
        .route("/console/tasks", get(tasks::list))
        .route("/console/tasks/{id}", get(tasks::show))
        .route("/console/handlers", get(handlers::show))
        .route("/console/login", get(login::form).post(login::login))
        .route("/console/login/basic", get(login::basic))
        .route("/console/logout", axum::routing::post(login::logout))
        .route("/console/assets/console.css", get(css))
        .route("/console/assets/console.js", get(js))
}

async fn home() -> Redirect {
    Redirect::to("/console/alerts")
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The console's sections, in the navigation's order: (path, name).
const SECTIONS: [(&str, &str); 4] = [
    ("/console/alerts", "Alerts"),
    ("/console/silences", "Silences"),
    ("/console/tasks", "Tasks"),
    ("/console/handlers", "Handlers"),
];

/// A whole page: `section` is the navigation entry it belongs to, `body` the content of
/// `<main>`. Scripts and styles come only from this server, and no other site may frame it
/// (its buttons act in one click).
pub(super) fn page(section: &str, title: &str, body: &str) -> Response {
    let mut nav = String::new();
    for (path, name) in SECTIONS {
        let current = if name == section {
            " aria-current=\"page\""
        } else {
            ""
        };
        nav.push_str(&format!("<li><a href=\"{path}\"{current}>{name}</a></li>"));
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Klaxon</title>\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\">\
         <script src=\"/console/assets/console.js\" defer></script></head>\
         <body><header><a class=\"brand\" href=\"/console/alerts\">Klaxon</a>\
         <nav aria-label=\"Console\"><ul>{nav}</ul></nav></header>\
         <p id=\"status\" role=\"status\" aria-live=\"polite\"></p>\
         <main id=\"main\" data-refresh=\"{REFRESH_MS}\">\n<h1>{title}</h1>\n{body}</main>\
         <footer>klaxond {version}</footer></body></html>\n",
        title = esc(title),
        version = env!("CARGO_PKG_VERSION"),
    );
    let mut response = (StatusCode::OK, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page saying what was not found.
pub(super) fn not_found(section: &str, what: &str) -> Response {
    let mut response = page(section, "Not found", &format!("<p>{}</p>", esc(what)));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// `text` safe inside HTML text and quoted attributes.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as one URL path segment or query value.
pub(super) fn url_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A level as a badge, its colour from its class (the text says it too).
pub(super) fn level_badge(level: Level) -> String {
    format!(
        "<span class=\"level level-{}\">{level}</span>",
        level.as_str().to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html_and_urls() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_part("cpu:host=a b/c"), "cpu%3Ahost%3Da%20b%2Fc");
    }
}
