//! A small client for Klaxon's (and Kapacitor's) HTTP API.

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Why a request failed; each maps to Kapacitor's CLI exit code.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection to the server (exit 4).
    #[error("cannot connect to {url}: {reason}; is klaxond running? Set --url or KLAXON_URL")]
    Connect {
        /// The server URL.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The server answered with an error (exit 3).
    #[error("{0}")]
    Server(String),
    /// A file or argument given to the command cannot be used (exit 3, as Kapacitor's commands).
    #[error("{0}")]
    Input(String),
}

impl ClientError {
    /// Kapacitor's exit codes: 3 for a server error, 4 when the server cannot be reached.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Connect { .. } => 4,
            ClientError::Server(_) | ClientError::Input(_) => 3,
        }
    }
}

/// The API at one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// HTTP basic auth credentials, for a server with `[http] auth-enabled`.
    credentials: Option<(String, String)>,
}

impl Client {
    /// A client for the server at `url` (`http://localhost:9092`). Credentials come from the
    /// URL (`http://user:password@host:9092`, percent-encoded), else from `KLAXON_USERNAME` and
    /// `KLAXON_PASSWORD`; they are sent as HTTP basic auth and never shown in errors.
    pub fn new(url: &str) -> Result<Client, ClientError> {
        let (url, credentials) = split_credentials(url);
        let credentials = credentials.or_else(|| {
            let user = std::env::var("KLAXON_USERNAME").ok()?;
            let password = std::env::var("KLAXON_PASSWORD").unwrap_or_default();
            Some((user, password))
        });
        let url = url.as_str();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Connect {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            base: url.trim_end_matches('/').to_owned(),
            http,
            credentials,
        })
    }

    /// `GET /kapacitor/v1<path>` (path with its query), expecting 200 and JSON.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(Method::GET, path, None, &[StatusCode::OK]).await
    }

    /// `POST /kapacitor/v1<path>` with a JSON body, expecting one of `ok`.
    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        ok: &[StatusCode],
    ) -> Result<Value, ClientError> {
        self.send(Method::POST, path, Some(body), ok).await
    }

    /// `GET` expecting 200, or `None` on 404.
    pub async fn get_optional(&self, path: &str) -> Result<Option<Value>, ClientError> {
        match self
            .send(
                Method::GET,
                path,
                None,
                &[StatusCode::OK, StatusCode::NOT_FOUND],
            )
            .await
        {
            Ok(value) if value.get("error").is_some() => Ok(None),
            other => other.map(Some),
        }
    }

    /// `PUT /kapacitor/v1<path>` with a JSON body, expecting 200.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(Method::PUT, path, Some(body), &[StatusCode::OK])
            .await
    }

    /// `PATCH /kapacitor/v1<path>` with a JSON body, expecting 200.
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(Method::PATCH, path, Some(body), &[StatusCode::OK])
            .await
    }

    /// `DELETE /kapacitor/v1<path>`, expecting 204.
    pub async fn delete(&self, path: &str) -> Result<(), ClientError> {
        self.send(Method::DELETE, path, None, &[StatusCode::NO_CONTENT])
            .await
            .map(|_| ())
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ok: &[StatusCode],
    ) -> Result<Value, ClientError> {
        let url = format!("{}/kapacitor/v1{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some((user, password)) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        let response = request.send().await.map_err(|e| ClientError::Connect {
            url: self.base.clone(),
            reason: root_cause(&e),
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Server(format!("reading the response to {url}: {e}")))?;
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if ok.contains(&status) {
            return Ok(value);
        }
        // Kapacitor's client reads `{"error": ...}` from any unexpected status.
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("unexpected status {status} from {url}"));
        Err(ClientError::Server(message))
    }
}

/// The innermost error text (reqwest wraps the IO error that says "connection refused").
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Percent-encodes a query value.
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `url` without its `user:password@`, and the decoded user and password if it had them.
fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_owned(), None);
    };
    let (userinfo, host) = (&rest[..at], &rest[at + 1..]);
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let stripped = if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    };
    (
        stripped,
        Some((percent_decode(user), percent_decode(password))),
    )
}

/// Decodes `%XX` escapes; anything malformed stays as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod credential_tests {
    use super::split_credentials;

    #[test]
    fn credentials_come_out_of_the_url_decoded() {
        assert_eq!(
            split_credentials("http://alice:s%40cr3t@127.0.0.1:9092/x@y"),
            (
                "http://127.0.0.1:9092/x@y".to_owned(),
                Some(("alice".to_owned(), "s@cr3t".to_owned()))
            )
        );
        assert_eq!(
            split_credentials("http://localhost:9092"),
            ("http://localhost:9092".to_owned(), None)
        );
        assert_eq!(
            split_credentials("http://bob@h:1"),
            (
                "http://h:1".to_owned(),
                Some(("bob".to_owned(), String::new()))
            )
        );
    }
}
