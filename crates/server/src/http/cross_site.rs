//! Requests a browser sends on behalf of another site: cross-site form posts and DNS rebinding.
//!
//! A page on any site can make the visitor's browser post to `http://127.0.0.1:9092` (a form
//! with `enctype="text/plain"` needs no CORS preflight), and after DNS rebinding a page's own
//! name resolves to the server, so the browser treats klaxond as the page's own origin. Without
//! these checks either one can define an exec handler, or run the exec service test, on a
//! developer's laptop in the default configuration. Three checks close it, each enough alone
//! for the form post:
//!
//! - **Host**: every request must name this server: a loopback name, an IP address (rebinding
//!   needs a DNS name), this machine's host name, the bind address's name, or one of
//!   `[http] allowed-hosts`.
//! - **Origin and `Sec-Fetch-Site`**: a request that changes state (any method but GET, HEAD
//!   and OPTIONS) is refused when the browser says it comes from another site.
//! - **Content-Type**: such a request carries JSON, or no body type at all (Kapacitor's Go
//!   client sends service tests without one), never one of the types an HTML form can send;
//!   `/write` takes line protocol with whatever type the client sends, as InfluxDB does.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The host names a request may address, and the check of every request against them.
///
/// ```
/// use klaxon_server::http::cross_site::SiteGuard;
///
/// let guard = SiteGuard::new(&["alerts.example.com".into(), ".corp.example".into()], "127.0.0.1:9092", "box");
/// assert!(guard.host_allowed("localhost:9092"));
/// assert!(guard.host_allowed("10.0.0.7:9092"));
/// assert!(guard.host_allowed("alerts.example.com"));
/// assert!(guard.host_allowed("kapacitor.corp.example:9092"));
/// assert!(guard.host_allowed("box:9092"));
/// assert!(!guard.host_allowed("evil.example:9092"));
/// ```
#[derive(Debug, Clone)]
pub struct SiteGuard {
    any_host: bool,
    /// Exact names, lowercase, without a trailing dot.
    names: Vec<String>,
    /// Domain suffixes from entries written `.example.com`, with their leading dot.
    suffixes: Vec<String>,
}

/// Why a request was refused: the status and the message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// 403 for a foreign host or origin, 415 for a body type a form can send.
    pub status: StatusCode,
    /// What was refused and how to get in.
    pub message: String,
}

impl SiteGuard {
    /// The guard for `[http] allowed-hosts`, the bind address and this machine's `hostname`.
    /// An entry `*` allows every host; an entry starting with `.` allows every name under it.
    pub fn new(allowed_hosts: &[String], bind_address: &str, hostname: &str) -> SiteGuard {
        let mut guard = SiteGuard {
            any_host: false,
            names: Vec::new(),
            suffixes: Vec::new(),
        };
        let bind_host = split_port(bind_address);
        for entry in allowed_hosts
            .iter()
            .map(String::as_str)
            .chain([bind_host, hostname])
        {
            let entry = normalize(entry);
            if entry == "*" {
                guard.any_host = true;
            } else if entry.starts_with('.') && entry.len() > 1 {
                guard.suffixes.push(entry);
            } else if !entry.is_empty() {
                guard.names.push(entry);
            }
        }
        guard
    }

    /// Whether `host` (a `Host` header: a name or address, with or without a port) names this
    /// server.
    pub fn host_allowed(&self, host: &str) -> bool {
        if self.any_host {
            return true;
        }
        let name = normalize(split_port(host));
        if name.is_empty() {
            return false;
        }
        let bare = name.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return true;
        }
        name == "localhost"
            || name.ends_with(".localhost")
            || self.names.contains(&name)
            || self.suffixes.iter().any(|suffix| name.ends_with(suffix))
    }

    /// Checks one request's method, path and headers.
    pub fn check(&self, method: &Method, path: &str, headers: &HeaderMap) -> Result<(), Refused> {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        if let Some(host) = host
            && !self.host_allowed(host)
        {
            return Err(Refused::forbidden(format!(
                "host {host:?} is not allowed: klaxond answers requests addressed to a loopback \
                 name, an IP address, this machine's name or a name in [http] allowed-hosts \
                 (which protects it from DNS rebinding); add {:?} to [http] allowed-hosts if \
                 clients reach this server by that name",
                normalize(split_port(host))
            )));
        }
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        check_fetch_site(headers)?;
        check_origin(headers, host)?;
        if is_write_path(path) {
            return Ok(());
        }
        check_content_type(headers)
    }
}

impl Refused {
    fn forbidden(message: String) -> Refused {
        Refused {
            status: StatusCode::FORBIDDEN,
            message,
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        ApiError::new(self.status, self.message).into_response()
    }
}

/// Puts `guard` in front of everything `router` serves, its refusals carrying the version
/// headers like every other answer.
pub fn protect(router: Router, guard: SiteGuard) -> Router {
    router
        .layer(middleware::from_fn_with_state(Arc::new(guard), check))
        .layer(middleware::from_fn(super::version_headers))
}

/// The middleware: refuses what [`SiteGuard::check`] refuses, logs it, passes the rest on.
async fn check(State(guard): State<Arc<SiteGuard>>, request: Request, next: Next) -> Response {
    match guard.check(request.method(), request.uri().path(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            tracing::warn!(
                method = %request.method(),
                path = %request.uri().path(),
                status = refused.status.as_u16(),
                reason = %refused.message,
                "request refused as cross-site"
            );
            refused.into_response()
        }
    }
}

/// `Sec-Fetch-Site`, which browsers send on every request: only the server's own pages
/// (`same-origin`) and what the user typed (`none`) may change state.
fn check_fetch_site(headers: &HeaderMap) -> Result<(), Refused> {
    let Some(site) = headers.get("sec-fetch-site") else {
        return Ok(());
    };
    match site.to_str().unwrap_or("") {
        "same-origin" | "none" => Ok(()),
        other => Err(Refused::forbidden(format!(
            "a {other} request may not change anything here (Sec-Fetch-Site: {other}); \
             browsers may act on klaxond only from its own pages"
        ))),
    }
}

/// `Origin`, which browsers send on every request that changes state: it must be this server,
/// the same host and port the request is addressed to.
fn check_origin(headers: &HeaderMap, host: Option<&str>) -> Result<(), Refused> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let same = origin_authority(origin)
        .zip(host)
        .is_some_and(|(from, to)| same_authority(&from, to));
    if same {
        return Ok(());
    }
    Err(Refused::forbidden(format!(
        "origin {origin:?} is not this server: requests from other sites' pages may not \
         change anything here"
    )))
}

/// Only JSON (or no declared type) on the API, so that no HTML form can reach it.
fn check_content_type(headers: &HeaderMap) -> Result<(), Refused> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let media = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json = media == "application/json"
        || media == "application/json+patch"
        || (media.starts_with("application/") && media.ends_with("+json"));
    if is_json {
        return Ok(());
    }
    Err(Refused {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        message: format!(
            "Content-Type {text:?} is not accepted here: send the body as JSON with \
             Content-Type: application/json"
        ),
    })
}

/// The write routes, which take line protocol as InfluxDB's `/write` does.
fn is_write_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path == "/write" || path == "/kapacitor/v1/write" || path == "/kapacitor/v1preview/write"
}

/// `scheme://host[:port]` as `host:port`, with the scheme's default port; `None` for `null`
/// (sandboxed frames, files) and anything else that is not an origin.
fn origin_authority(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return None;
    }
    Some(with_port(authority, default_port))
}

/// Whether an origin's `host:port` is the `Host` header's (a `Host` without a port is port 80,
/// as for plain HTTP; an https origin on 443 matches a `Host` of the same name with `:443`).
fn same_authority(origin: &str, host: &str) -> bool {
    let origin_port = origin.rsplit_once(':').map(|(_, port)| port);
    let default = origin_port.and_then(|p| p.parse().ok()).unwrap_or(80);
    origin.eq_ignore_ascii_case(&with_port(host, default))
}

/// `authority` with an explicit port, `default` when it has none.
fn with_port(authority: &str, default: u16) -> String {
    let host = split_port(authority);
    if host.len() == authority.len() {
        format!("{}:{default}", normalize(host))
    } else {
        format!("{}{}", normalize(host), &authority[host.len()..])
    }
}

/// The host part of `host[:port]`, keeping an IPv6 address's brackets.
fn split_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        // More than one ':' without brackets is a bare IPv6 address, not a port.
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => authority,
    }
}

/// A host name as compared: lowercase, without the root's trailing dot.
fn normalize(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn guard() -> SiteGuard {
        SiteGuard::new(&["alerts.example.com".to_owned()], "127.0.0.1:9092", "box")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    fn status(method: Method, path: &str, pairs: &[(&'static str, &str)]) -> Option<u16> {
        guard()
            .check(&method, path, &headers(pairs))
            .err()
            .map(|refused| refused.status.as_u16())
    }

    #[test]
    fn hosts_that_name_this_server_pass_and_others_do_not() {
        let guard = guard();
        for host in [
            "127.0.0.1:9092",
            "127.0.0.2",
            "localhost",
            "LOCALHOST.:9092",
            "app.localhost:9092",
            "[::1]:9092",
            "::1",
            "10.1.2.3:9092",
            "alerts.example.com:9092",
            "box",
        ] {
            assert!(guard.host_allowed(host), "{host}");
        }
        for host in [
            "evil.example:9092",
            "localhost.evil.example",
            "example.com",
            "boxes",
            "",
        ] {
            assert!(!guard.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn a_star_allows_every_host_and_a_leading_dot_a_domain() {
        let any = SiteGuard::new(&["*".to_owned()], "0.0.0.0:9092", "");
        assert!(any.host_allowed("anything.example:9092"));
        let domain = SiteGuard::new(&[".corp.example".to_owned()], ":9092", "");
        assert!(domain.host_allowed("kapacitor.corp.example"));
        assert!(!domain.host_allowed("corp.example.evil"));
    }

    #[test]
    fn the_bind_address_name_is_allowed() {
        let guard = SiteGuard::new(&[], "alerts.internal:9092", "");
        assert!(guard.host_allowed("alerts.internal:9092"));
    }

    #[test]
    fn a_cross_site_form_post_is_refused_three_ways() {
        // Each alone: the foreign host, the foreign origin, the form's content type.
        let form = ("content-type", "text/plain");
        let path = "/kapacitor/v1/service-tests/exec";
        assert_eq!(
            status(Method::POST, path, &[("host", "evil.example:9092")]),
            Some(403)
        );
        assert_eq!(
            status(
                Method::POST,
                path,
                &[
                    ("host", "127.0.0.1:9092"),
                    ("origin", "http://evil.example")
                ]
            ),
            Some(403)
        );
        assert_eq!(
            status(
                Method::POST,
                path,
                &[("host", "127.0.0.1:9092"), ("sec-fetch-site", "cross-site")]
            ),
            Some(403)
        );
        assert_eq!(
            status(Method::POST, path, &[("host", "127.0.0.1:9092"), form]),
            Some(415)
        );
        for media in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            assert_eq!(
                status(
                    Method::POST,
                    "/kapacitor/v1/tasks",
                    &[("content-type", media)]
                ),
                Some(415),
                "{media}"
            );
        }
    }

    #[test]
    fn the_servers_own_clients_pass() {
        let ok = [
            // The klaxon CLI and Kapacitor's client.
            (
                Method::POST,
                "/kapacitor/v1/tasks",
                vec![("content-type", "application/json")],
            ),
            (
                Method::PATCH,
                "/kapacitor/v1/alerts/topics/t/handlers/h",
                vec![("content-type", "application/json+patch")],
            ),
            // Kapacitor's client posts service tests without a content type.
            (Method::POST, "/kapacitor/v1/service-tests/tcp", vec![]),
            (Method::DELETE, "/kapacitor/v1/tasks/t", vec![]),
            // curl --data-binary, Telegraf, InfluxDB subscriptions.
            (
                Method::POST,
                "/write",
                vec![("content-type", "application/x-www-form-urlencoded")],
            ),
            (
                Method::POST,
                "/kapacitor/v1/write",
                vec![("content-type", "text/plain; charset=utf-8")],
            ),
            // The server's own pages.
            (
                Method::POST,
                "/kapacitor/v1/tasks",
                vec![
                    ("origin", "http://127.0.0.1:9092"),
                    ("sec-fetch-site", "same-origin"),
                    ("content-type", "application/json; charset=utf-8"),
                ],
            ),
            // Reads are never refused for their origin.
            (
                Method::GET,
                "/kapacitor/v1/tasks",
                vec![("origin", "http://evil.example")],
            ),
        ];
        for (method, path, mut pairs) in ok {
            pairs.push(("host", "127.0.0.1:9092"));
            assert_eq!(
                status(method.clone(), path, &pairs),
                None,
                "{method} {path} {pairs:?}"
            );
        }
    }

    #[test]
    fn origins_compare_host_and_port() {
        assert!(same_authority(
            &origin_authority("http://127.0.0.1:9092").unwrap(),
            "127.0.0.1:9092"
        ));
        assert!(same_authority(
            &origin_authority("http://Box").unwrap(),
            "box"
        ));
        assert!(same_authority(
            &origin_authority("https://box").unwrap(),
            "box:443"
        ));
        assert!(same_authority(
            &origin_authority("http://[::1]:9092").unwrap(),
            "[::1]:9092"
        ));
        assert!(!same_authority(
            &origin_authority("http://127.0.0.1:9093").unwrap(),
            "127.0.0.1:9092"
        ));
        assert!(!same_authority(
            &origin_authority("http://localhost:9092").unwrap(),
            "127.0.0.1:9092"
        ));
        assert_eq!(origin_authority("null"), None);
        assert_eq!(origin_authority("file://"), None);
        assert_eq!(
            status(
                Method::POST,
                "/write",
                &[("host", "127.0.0.1:9092"), ("origin", "null")]
            ),
            Some(403)
        );
    }

    #[test]
    fn refusals_say_what_to_do() {
        let refused = guard()
            .check(
                &Method::GET,
                "/kapacitor/v1/ping",
                &headers(&[("host", "evil.example:9092")]),
            )
            .unwrap_err();
        assert!(
            refused
                .message
                .contains("add \"evil.example\" to [http] allowed-hosts"),
            "{}",
            refused.message
        );
        let refused = guard()
            .check(
                &Method::POST,
                "/kapacitor/v1/tasks",
                &headers(&[("content-type", "text/plain")]),
            )
            .unwrap_err();
        assert!(
            refused.message.contains("Content-Type: application/json"),
            "{}",
            refused.message
        );
    }
}
