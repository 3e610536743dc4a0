//! A small client for Klaxon's (and Kapacitor's) HTTP API.

pub use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Why a command failed; each maps to Kapacitor's CLI exit code.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No connection to the server (exit 4).
    #[error(
        "cannot connect to {url}: {reason}; is klaxond running there? Give the server's URL \
         with -url or KLAXON_URL"
    )]
    Connect {
        /// The server URL.
        url: String,
        /// What the connection attempt said.
        reason: String,
    },
    /// The server URL cannot be used (exit 4, as Kapacitor's CLI).
    #[error("{0}")]
    Url(String),
    /// The server answered with an error (exit 3): its full message.
    #[error("{message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's explanation (`message`, which says what to do, else `error`).
        message: String,
    },
    /// A file or argument given to the command cannot be used (exit 3, as Kapacitor's commands).
    #[error("{0}")]
    Input(String),
    /// The command was given the wrong arguments (exit 2, as Kapacitor's usage errors).
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    /// Kapacitor's exit codes: 2 for usage, 3 for a server error, 4 when the server cannot be
    /// reached.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Connect { .. } | ClientError::Url(_) => 4,
            ClientError::Server { .. } | ClientError::Input(_) => 3,
            ClientError::Usage(_) => 2,
        }
    }

    /// A server error with this message (for answers the command finds wrong itself).
    pub fn server(message: impl Into<String>) -> ClientError {
        ClientError::Server {
            status: 0,
            message: message.into(),
        }
    }

    /// Whether the server said 404 because it has no such route at all (an API this server
    /// does not offer), rather than no such object.
    pub fn is_missing_route(&self) -> bool {
        matches!(self, ClientError::Server { status: 404, message } if message == "Not Found")
    }
}

/// How long one API request may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The API at one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// HTTP basic auth credentials, for a server with `[http] auth-enabled`.
    credentials: Option<(String, String)>,
}

/// How to trust an `https://` server: Kapacitor's `-skipVerify`, and a CA file beside the
/// platform's roots.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// `-skipVerify`: accept any certificate (insecure).
    pub skip_verify: bool,
    /// `-cacert FILE`: a PEM CA bundle trusted beside the platform's roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Client {
    /// A client for the server at `url` (`http://localhost:9092` or `https://...`). Credentials
    /// come from the URL (`http://user:password@host:9092`, percent-encoded), else from
    /// `KLAXON_USERNAME` and `KLAXON_PASSWORD`; they are sent as HTTP basic auth and never shown
    /// in errors.
    pub fn new(url: &str, trust: &Trust) -> Result<Client, ClientError> {
        check_url(url)?;
        let (url, credentials) = split_credentials(url);
        let credentials = match credentials {
            Some(credentials) => Some(credentials),
            None => env_credentials()?,
        };
        let url = url.as_str();
        let tls = klaxon_http::ClientTls {
            ca: trust
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            insecure_skip_verify: trust.skip_verify,
            ..Default::default()
        };
        let http = klaxon_http::Client::new(&klaxon_http::ClientOptions { tls })
            .map_err(|e| ClientError::Input(e.to_string().replace("ssl-ca", "-cacert")))?
            .http()
            .clone();
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

    /// `GET` expecting 200, or `None` when the server answers 404 (no such object).
    pub async fn get_optional(&self, path: &str) -> Result<Option<Value>, ClientError> {
        match self.get(path).await {
            Ok(value) => Ok(Some(value)),
            Err(ClientError::Server { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
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

    /// A request to `full_path` (from the server's root, such as `/kapacitor/v1preview/logs`)
    /// whose answer the caller reads itself: a 2xx response, or the server's error. `timeout`
    /// bounds the whole exchange, `None` for a stream that lasts until it is stopped.
    pub async fn raw(
        &self,
        method: Method,
        full_path: &str,
        accept: Option<&str>,
        timeout: Option<std::time::Duration>,
    ) -> Result<reqwest::Response, ClientError> {
        let url = format!("{}{full_path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some((user, password)) = &self.credentials {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(|e| self.connect_error(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        Err(server_error(status, &bytes, &url))
    }

    fn connect_error(&self, err: &reqwest::Error) -> ClientError {
        ClientError::Connect {
            url: self.base.clone(),
            reason: root_cause(err),
        }
    }

    /// A request to `/kapacitor/v1<path>` with an optional JSON body, expecting one of `ok`;
    /// its JSON answer.
    pub async fn send(
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
        let response = request
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.connect_error(&e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::server(format!("reading the response to {url}: {e}")))?;
        if !ok.contains(&status) {
            return Err(server_error(status, &bytes, &url));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())))
    }
}

/// `KLAXON_USERNAME` and `KLAXON_PASSWORD`, which keep the password out of the command line
/// (and `ps`); a password without a user is a mistake worth saying.
fn env_credentials() -> Result<Option<(String, String)>, ClientError> {
    let user = std::env::var("KLAXON_USERNAME")
        .ok()
        .filter(|u| !u.is_empty());
    let password = std::env::var("KLAXON_PASSWORD").ok();
    match (user, password) {
        (Some(user), password) => Ok(Some((user, password.unwrap_or_default()))),
        (None, Some(_)) => Err(ClientError::Usage(
            "KLAXON_PASSWORD is set but KLAXON_USERNAME is not; set both, such as \
             KLAXON_USERNAME=alice"
                .to_owned(),
        )),
        (None, None) => Ok(None),
    }
}

/// The error of an unexpected answer. Kapacitor's client reads `{"error": ...}` from any
/// unexpected status; Klaxon's `message` says the same and what to do about it, so it is
/// preferred, and a body that is not such JSON is shown as it is.
fn server_error(status: StatusCode, body: &[u8], url: &str) -> ClientError {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let message = field("message")
        .filter(|m| field("error").is_none_or(|e| m.contains(&e)))
        .or_else(|| field("error"))
        .or_else(|| {
            let text = String::from_utf8_lossy(body).trim().to_owned();
            (!text.is_empty() && text.len() < 2000).then(|| format!("{status} from {url}: {text}"))
        })
        .unwrap_or_else(|| format!("unexpected status {status} from {url}"));
    ClientError::Server {
        status: status.as_u16(),
        message,
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

/// Refuses a URL that is not an `http://` or `https://` URL with a host before anything is
/// sent, as Kapacitor's client does (exit code 4), instead of a connection error that would
/// send the user looking for a server that is not the problem.
fn check_url(url: &str) -> Result<(), ClientError> {
    let refuse = |why: &str| {
        Err(ClientError::Url(format!(
            "the server URL {url:?} {why}; write it like http://localhost:9092 (-url or \
             KLAXON_URL)"
        )))
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return refuse("is not an http:// or https:// URL");
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return refuse("is not an http:// or https:// URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return refuse("has no host");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("contains spaces");
    }
    if let Err(e) = reqwest::Url::parse(url) {
        return refuse(&format!("cannot be read ({e})"));
    }
    Ok(())
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
