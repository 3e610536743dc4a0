//! How HTTP failures become handler errors, and whether a retry could help.
//!
//! | what happened | retryable | message |
//! |---|---|---|
//! | no connection, reset, timeout | yes | `POST https://h/p: ...: Connection refused (os error 111)` |
//! | TLS: untrusted or wrong certificate, handshake refused | no | `POST https://h/p: TLS with h failed: invalid peer certificate: UnknownIssuer` |
//! | 5xx, 429 | yes, after `Retry-After` when given | `POST https://h/p: 503 Service Unavailable` |
//! | other non-success | no | `POST https://h/p: 400 Bad Request: <the body, cut>` |
//!
//! [`check_response`] puts the service's own explanation of a refusal in place of the body: the
//! handler reads it from the start of the body, most with [`explain_json`] (the named fields of a
//! JSON error body, such as PagerDuty's `status`, `message` and `errors`).

use std::error::Error;
use std::time::Duration;

use klaxon_core::HandlerError;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How much of a response body an error message keeps.
pub const BODY_LIMIT: usize = 1024;

/// The error for a request that got no response: `what` is `METHOD URL`. TLS failures are
/// permanent (the certificate will not change by itself) and name the host; a URL the client
/// cannot use is permanent; everything else (refused, reset, timed out) is retryable.
pub fn request_failed(what: &str, timeout: Duration, err: &reqwest::Error) -> HandlerError {
    if err.is_timeout() {
        return HandlerError::timed_out(what, timeout);
    }
    if let Some(tls) = tls_error(err) {
        let host = err
            .url()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        return HandlerError::permanent(format!("{what}: TLS with {host} failed: {tls}"));
    }
    let message = format!("{what}: {}", chain(err));
    if err.is_builder() {
        HandlerError::permanent(message)
    } else {
        HandlerError::transient(message)
    }
}

/// `Ok` for a 2xx `status`, else the error for it: retryable for 5xx and 429 (with the
/// response's `Retry-After` as the earliest retry), permanent otherwise. `body`, when given
/// (Kapacitor's capture-response), is added to the message, cut at [`BODY_LIMIT`] bytes.
///
/// ```
/// use klaxon_http::{StatusCode, header::HeaderMap};
/// let err = klaxon_http::failure::check_status("POST http://h/", StatusCode::BAD_REQUEST, &HeaderMap::new(), Some("no such room"))
///     .unwrap_err();
/// assert_eq!(err.message(), "POST http://h/: 400 Bad Request: no such room");
/// assert!(!err.is_retryable());
/// ```
pub fn check_status(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: Option<&str>,
) -> Result<(), HandlerError> {
    if status.is_success() {
        return Ok(());
    }
    let mut message = format!("{what}: {status}");
    if let Some(body) = body.map(str::trim).filter(|b| !b.is_empty()) {
        message.push_str(": ");
        message.push_str(cut(body, BODY_LIMIT));
    }
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let error = HandlerError::transient(message);
        Err(match retry_after(headers) {
            Some(after) => error.with_retry_after(after),
            None => error,
        })
    } else {
        Err(HandlerError::permanent(message))
    }
}

/// How much of an error response body [`check_response`] reads: enough for any service's
/// explanation, bounded so that a huge error page costs nothing.
pub const READ_LIMIT: usize = 64 * 1024;

/// `Ok` for a 2xx `response`, else the error for it as [`check_status`] makes it, with the
/// service's own explanation of its refusal: `explain` turns the status and the start of the body
/// (at most [`READ_LIMIT`] bytes) into it. `what` is `METHOD URL` as messages show it.
pub async fn check_response(
    what: &str,
    response: reqwest::Response,
    explain: impl FnOnce(StatusCode, &str) -> String,
) -> Result<(), HandlerError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let headers = response.headers().clone();
    let body = read_start(response, READ_LIMIT).await;
    check_status(what, status, &headers, Some(&explain(status, &body)))
}

/// A service's JSON error body as one line, for [`check_response`]'s `explain`: the `fields` of
/// the body's object, in the order given, joined with `": "`: a string as it is, a list of strings
/// one after the other, a map as `key: value` per entry in key order (a value that is not a string
/// as JSON); empty strings and absent fields are left out. A body that is not a JSON object, or
/// that has one of `fields` in another form (a number, `null`, a list holding something else than
/// strings), is not the service's error format: it is returned trimmed, as is a body whose fields
/// say nothing.
///
/// ```
/// use klaxon_http::failure::explain_json;
///
/// // PagerDuty's, OpsGenie's and Slack's error bodies.
/// let refusal = r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}"#;
/// assert_eq!(
///     explain_json(refusal, &["status", "message", "errors"]),
///     "invalid event: Event object is invalid: Length of 'routing_key' is incorrect"
/// );
/// let refusal = r#"{"message":"Request body is not processable","errors":{"priority":"should be one of [P1, P2]"},"took":0.002}"#;
/// assert_eq!(
///     explain_json(refusal, &["message", "error", "errors"]),
///     "Request body is not processable: priority: should be one of [P1, P2]"
/// );
/// assert_eq!(explain_json(r#"{"ok":false,"error":"channel_not_found"}"#, &["error"]), "channel_not_found");
/// // What is not the service's format is shown as it came.
/// assert_eq!(explain_json("<html>bad gateway</html>\n", &["error"]), "<html>bad gateway</html>");
/// assert_eq!(explain_json(r#"{"error":404}"#, &["error"]), r#"{"error":404}"#);
/// ```
pub fn explain_json(body: &str, fields: &[&str]) -> String {
    explained(body, fields).unwrap_or_else(|| body.trim().to_owned())
}

/// [`explain_json`]'s parts joined, if the body is in the form it reads and says something.
fn explained(body: &str, fields: &[&str]) -> Option<String> {
    use klaxon_core::serde_json::Value;
    let Ok(Value::Object(object)) = klaxon_core::serde_json::from_str::<Value>(body) else {
        return None;
    };
    let mut parts = Vec::new();
    for field in fields {
        match object.get(*field) {
            None => {}
            Some(Value::String(text)) => parts.push(text.clone()),
            Some(Value::Array(items)) => {
                for item in items {
                    parts.push(item.as_str()?.to_owned());
                }
            }
            Some(Value::Object(map)) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_by_key(|(key, _)| *key);
                for (key, value) in entries {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    parts.push(format!("{key}: {value}"));
                }
            }
            Some(_) => return None,
        }
    }
    parts.retain(|part| !part.is_empty());
    (!parts.is_empty()).then(|| parts.join(": "))
}

/// The first `limit` bytes (or a little more: whole chunks) of a response body, as text.
pub async fn read_start(mut response: reqwest::Response, limit: usize) -> String {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The `Retry-After` header in seconds (the HTTP-date form is not used by the services Klaxon
/// talks to and is ignored).
///
/// ```
/// use klaxon_http::header::{HeaderMap, HeaderValue, RETRY_AFTER};
/// let mut headers = HeaderMap::new();
/// headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
/// assert_eq!(klaxon_http::failure::retry_after(&headers), Some(std::time::Duration::from_secs(7)));
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// `text` cut to at most `limit` bytes, at a character boundary.
fn cut(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The rustls error somewhere in `err`'s causes.
fn tls_error(err: &reqwest::Error) -> Option<&rustls::Error> {
    let mut cause: Option<&(dyn Error + 'static)> = err.source();
    while let Some(next) = cause {
        if let Some(tls) = next.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // rustls errors reach reqwest wrapped in io::Errors, which do not expose their inner
        // error as a source.
        cause = match next.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn Error + 'static)),
                None => next.source(),
            },
            None => next.source(),
        };
    }
    None
}

/// The causes of `err`, joined: reqwest's own message repeats the URL, its causes say what
/// happened ("Connection refused").
pub(crate) fn chain(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut cause: Option<&dyn Error> = err.source().or(Some(err));
    while let Some(next) = cause {
        parts.push(next.to_string());
        cause = next.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn server_errors_and_429_are_retryable_and_keep_retry_after() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        let err =
            check_status("POST u", StatusCode::TOO_MANY_REQUESTS, &headers, None).unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        let err =
            check_status("POST u", StatusCode::BAD_GATEWAY, &HeaderMap::new(), None).unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), None);
        assert_eq!(err.message(), "POST u: 502 Bad Gateway");
        assert!(check_status("POST u", StatusCode::NO_CONTENT, &headers, None).is_ok());
    }

    #[test]
    fn captured_bodies_are_cut() {
        let body = "é".repeat(BODY_LIMIT);
        let err = check_status(
            "POST u",
            StatusCode::NOT_FOUND,
            &HeaderMap::new(),
            Some(&body),
        )
        .unwrap_err();
        assert!(err.message().len() <= "POST u: 404 Not Found: ".len() + BODY_LIMIT);
        assert!(!err.is_retryable());
    }

    #[test]
    fn json_explanations_join_the_named_fields_in_order() {
        let body = r#"{"errors":["e1","","e2"],"message":"m","status":"","extra":"x"}"#;
        assert_eq!(
            explain_json(body, &["status", "message", "errors"]),
            "m: e1: e2"
        );
        let body = r#"{"errors":{"b":"second","a":{"n":1},"c":""},"error":"first"}"#;
        assert_eq!(
            explain_json(body, &["error", "errors"]),
            r#"first: a: {"n":1}: b: second: c: "#
        );
    }

    #[test]
    fn bodies_in_another_form_are_shown_trimmed() {
        for body in [
            " not json \n",
            r#"["message"]"#,
            r#""message""#,
            r#"{"message":null}"#,
            r#"{"message":7}"#,
            r#"{"errors":["a",1]}"#,
            r#"{"message":""}"#,
            r#"{"took":0.1}"#,
            "",
        ] {
            assert_eq!(
                explain_json(body, &["message", "errors"]),
                body.trim(),
                "{body}"
            );
        }
    }

    #[test]
    fn retry_after_ignores_what_it_cannot_read() {
        for value in ["soon", "-1", "Wed, 21 Oct 2015 07:28:00 GMT"] {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            assert_eq!(retry_after(&headers), None, "{value}");
        }
    }
}
