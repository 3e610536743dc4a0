//! The post handler: one HTTP POST per alert, of the alert JSON (or an endpoint's alert
//! template) to a URL or to a named `[[httppost]]` endpoint.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use klaxon_core::template::Template;
use klaxon_core::{
    Chained, Derived, Event, GoDuration, Handler, HandlerError, Init, Invalid, Service, TickShape,
    async_trait,
};
use klaxon_http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use klaxon_http::{Client, ClientOptions, ClientTls, Method, Url};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Config;
use crate::config::{Endpoints, header_list, url_template};
use crate::template::Alert;

/// How long one post may take when the handler sets no `timeout`: the overall timeout of
/// Kapacitor's HTTP client.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The options of one post handler: the same type decodes handler files, the HTTP API and
/// TICKscript calls.
///
/// ```json
/// {"url": "https://hooks.example.com/alerts", "headers": {"From": "alerts@example.com"}, "timeout": "10s"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    /// Where to post: an http or https URL, which may be a Go template over the alert. Used when
    /// `endpoint` is empty.
    #[serde(deserialize_with = "url_argument")]
    #[schemars(with = "String")]
    pub url: String,
    /// The name of a `[[httppost]]` endpoint to post to, with its URL, headers, basic-auth and
    /// alert-template; `url` is then ignored.
    pub endpoint: String,
    /// Headers to set, such as {"From": "alerts@example.com"}; they replace an endpoint's header
    /// of the same name. The "Authenticate" header cannot be set.
    pub headers: BTreeMap<String, String>,
    /// Whether a failure message carries the response body (its first 1 KiB).
    pub capture_response: bool,
    /// How long the whole post may take, as a duration ("10s") or integer nanoseconds; 0 means
    /// 30s.
    pub timeout: Timeout,
    /// Whether to accept any server certificate (for test servers only).
    pub skip_ssl_verification: bool,
    /// The spelling of skip-ssl-verification in Kapacitor's documentation, accepted as the
    /// same option.
    #[serde(
        rename = "skipSSLVerification",
        skip_serializing_if = "Option::is_none"
    )]
    pub skip_ssl_verification_alias: Option<bool>,
}

/// The options of the service test (`POST /kapacitor/v1/service-tests/httppost`), with
/// Kapacitor's defaults.
///
/// ```json
/// {"endpoint": "example", "url": "http://localhost:3000/", "headers": {"Auth": "secret"}, "timeout": 0}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TestOptions {
    /// The configured endpoint to post to; when no endpoint has this name, `url` is used.
    pub endpoint: String,
    /// The URL to post to when `endpoint` names no configured endpoint.
    pub url: String,
    /// Headers to set.
    pub headers: BTreeMap<String, String>,
    /// How long the post may take; 0 means 30s.
    pub timeout: Timeout,
}

/// A duration option that reads as Kapacitor writes it, integer nanoseconds, or as a Go duration
/// ("10s", which TICKscript's `.timeout(10s)` and Kapacitor's documentation use), and is written
/// as nanoseconds, as Kapacitor lists it.
///
/// ```
/// use klaxon_handler_post::Timeout;
/// let t: Timeout = serde_json::from_str("\"10s\"").unwrap();
/// assert_eq!(serde_json::to_string(&t).unwrap(), "10000000000");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeout(pub GoDuration);

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0.as_nanos())
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        GoDuration::deserialize(deserializer).map(Timeout)
    }
}

impl schemars::JsonSchema for Timeout {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timeout".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["integer", "string"],
            "description": "integer nanoseconds, or a Go duration such as \"10s\""
        })
    }
}

/// Reads `url` as a string, or as the list TICKscript's `.post(url...)` gives: empty for
/// `.post()`, one URL for `.post('https://...')`.
fn url_argument<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a URL string")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
            let mut urls: Vec<String> = Vec::new();
            while let Some(url) = seq.next_element()? {
                urls.push(url);
            }
            match urls.len() {
                0 | 1 => Ok(urls.pop().unwrap_or_default()),
                n => Err(serde::de::Error::custom(format!(
                    ".post() takes one URL, got {n}: {urls:?}"
                ))),
            }
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// The `post` handler kind: posts each alert as JSON (or an endpoint's template) to an HTTP
/// endpoint. Its configuration section and service test are `httppost`, as in Kapacitor.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_post::{Config, Options, PostService};
///
/// let service = PostService::new(Init::new(Config::default())).unwrap();
/// let options = Options { url: "https://hooks.example.com/alerts".into(), ..Options::default() };
/// assert!(service.handler(options).is_ok());
///
/// let options = Options { endpoint: "nope".into(), ..Options::default() };
/// let err = service.handler(options).unwrap_err();
/// assert_eq!(err.to_string(), r#"endpoint "nope" is not configured; [[httppost]] has: example"#);
/// ```
#[derive(Debug)]
pub struct PostService {
    shared: Arc<Shared>,
}

/// What the service and its handlers share: the endpoints of the live configuration, compiled,
/// and the HTTP clients.
#[derive(Debug)]
struct Shared {
    /// The endpoints of the live configuration, compiled once per configuration, so that
    /// handlers made earlier post to an endpoint as it is configured now.
    endpoints: Derived<Config, Endpoints>,
    /// The client that verifies certificates against the platform's roots.
    verifying: Client,
    /// The client for `skip-ssl-verification`.
    insecure: Client,
}

/// The chained properties of `.post()`.
const CHAINED: &[Chained] = &[
    Chained::value("endpoint", "endpoint"),
    Chained::pair("header", "headers"),
    Chained::flag("captureResponse", "capture-response"),
    Chained::value("timeout", "timeout"),
    Chained::flag("skipSSLVerification", "skip-ssl-verification"),
];

#[async_trait]
impl Service for PostService {
    const KIND: &'static str = "post";
    const SECTION: &'static str = "httppost";
    const DESCRIPTION: &'static str =
        "posts each alert as JSON, or an endpoint's template, to an HTTP endpoint";
    // `.post()` takes its URL optionally, which `TickShape` says as a list of the rest of the
    // arguments: `.post()` gives `url: []`, `.post('https://...')` gives `url: ["https://..."]`.
    const TICK: TickShape = TickShape::new("post").rest("url").chained(CHAINED);
    type Config = Config;
    type Options = Options;
    type TestOptions = TestOptions;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let endpoints = Derived::new(init.config, Endpoints::compile)?;
        let client = |insecure_skip_verify| {
            let tls = ClientTls {
                insecure_skip_verify,
                ..ClientTls::default()
            };
            Client::new(&ClientOptions { tls }).map_err(|e| Invalid::new(e.to_string()))
        };
        Ok(PostService {
            shared: Arc::new(Shared {
                endpoints,
                verifying: client(false)?,
                insecure: client(true)?,
            }),
        })
    }

    /// Refuses a configuration whose endpoints do not compile, before handlers see it.
    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        Endpoints::compile(config).map(|_| ())
    }

    /// The `[[httppost]]` endpoints, for the `|httpPost()` node's `.endpoint()`.
    fn http_post_endpoints(&self) -> Option<Vec<klaxon_core::PostEndpoint>> {
        // The live configuration was validated, so it compiles; were it not to, no endpoint is
        // offered and the node's error lists none.
        Some(
            self.shared
                .endpoints
                .get()
                .map(|e| e.for_node())
                .unwrap_or_default(),
        )
    }

    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        let target = self.target(&options.endpoint, &options.url, false)?;
        let request = Request {
            target,
            headers: handler_headers(&options.headers)?,
            capture_response: options.capture_response,
            timeout: timeout(options.timeout)?,
            insecure: options.skip_ssl_verification
                || options.skip_ssl_verification_alias.unwrap_or(false),
        };
        Ok(Arc::new(PostHandler {
            request,
            shared: Arc::clone(&self.shared),
        }))
    }

    fn test_options(&self) -> TestOptions {
        TestOptions {
            endpoint: "example".to_owned(),
            url: "http://localhost:3000/".to_owned(),
            headers: BTreeMap::from([("Auth".to_owned(), "secret".to_owned())]),
            timeout: Timeout::default(),
        }
    }

    /// Posts Kapacitor's test alert (the zero alert) to the endpoint, or to the URL when no
    /// endpoint has that name. Unlike Kapacitor's, the test fails on a response that is not a
    /// success, and shows its body.
    async fn test(&self, options: TestOptions) -> Result<(), HandlerError> {
        let invalid = |e: Invalid| HandlerError::permanent(e.message());
        let request = Request {
            target: self
                .target(&options.endpoint, &options.url, true)
                .map_err(invalid)?,
            headers: handler_headers(&options.headers).map_err(invalid)?,
            capture_response: true,
            timeout: timeout(options.timeout).map_err(invalid)?,
            insecure: false,
        };
        let prepared = self.shared.prepare(&request, &Alert::zero())?;
        self.shared.send(&request, prepared).await
    }
}

impl PostService {
    /// Where a handler posts: the endpoint named `endpoint`, or `url` when no endpoint is named
    /// (or, for the service test, when none has that name).
    fn target(&self, endpoint: &str, url: &str, fall_back: bool) -> Result<Target, Invalid> {
        if !endpoint.is_empty() {
            let endpoints = self.shared.endpoints()?;
            if endpoints.get(endpoint).is_some() {
                return Ok(Target::Endpoint(endpoint.to_owned()));
            }
            if !fall_back {
                return Err(Invalid::new(format!(
                    "endpoint {endpoint:?} is not configured; [[httppost]] has: {}",
                    endpoints.names()
                )));
            }
        }
        if url.is_empty() && !fall_back {
            return Err(Invalid::new(
                "one of url and endpoint is required; write .post('https://host/path') or .post().endpoint('name') (url: or endpoint: in a handler file)",
            ));
        }
        url_template("url", url).map(Target::Url)
    }
}

/// Checks a handler's headers: valid, and not `Authenticate`, which Kapacitor refuses.
fn handler_headers(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Invalid> {
    if let Some(name) = headers
        .keys()
        .find(|name| name.eq_ignore_ascii_case("authenticate"))
    {
        return Err(Invalid::new(format!(
            "headers: the {name:?} header cannot be set"
        )));
    }
    header_list("headers", headers)
}

/// The delivery timeout of a `timeout` option: 0 is the default, a negative one is refused.
fn timeout(timeout: Timeout) -> Result<Duration, Invalid> {
    let Timeout(timeout) = timeout;
    if timeout < GoDuration::ZERO {
        return Err(Invalid::new(format!(
            "timeout must not be negative, got {timeout}"
        )));
    }
    if timeout == GoDuration::ZERO {
        return Ok(DEFAULT_TIMEOUT);
    }
    Ok(timeout.to_std())
}

/// Where a post goes.
#[derive(Debug)]
enum Target {
    /// A configured endpoint, by name: looked up at each alert, so that a configuration change
    /// reaches handlers made earlier.
    Endpoint(String),
    /// A URL template of the handler's own.
    Url(Template),
}

/// What one handler (or one service test) posts, besides the alert.
#[derive(Debug)]
struct Request {
    target: Target,
    headers: Vec<(HeaderName, HeaderValue)>,
    capture_response: bool,
    timeout: Duration,
    insecure: bool,
}

/// Posts each event as its options say.
#[derive(Debug)]
struct PostHandler {
    request: Request,
    shared: Arc<Shared>,
}

#[async_trait]
impl Handler for PostHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let prepared = self.shared.prepare(&self.request, &Alert::of(event))?;
        self.shared.send(&self.request, prepared).await
    }
}

impl Shared {
    fn endpoints(&self) -> Result<Arc<Endpoints>, Invalid> {
        self.endpoints.get()
    }

    /// Sends a prepared post (prepared outside, before any await: the alert's template data is
    /// not `Sync`, and templates run on one thread).
    async fn send(&self, request: &Request, prepared: Prepared) -> Result<(), HandlerError> {
        let Prepared { url, headers, body } = prepared;
        let client = if request.insecure {
            &self.insecure
        } else {
            &self.verifying
        };
        // reqwest moves credentials in the URL into an Authorization header (unless one is set
        // here), so the URL it reports in errors has none; so must ours.
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        let what = format!("POST {shown}");
        let builder = client
            .request(Method::POST, url.as_str())
            .headers(headers)
            .body(body);
        let response = client.send(builder, request.timeout).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let response_headers = response.headers().clone();
        let captured = if request.capture_response {
            // Enough for the message, which keeps the first BODY_LIMIT bytes: a huge or endless
            // body is not read to its end.
            let limit = klaxon_http::failure::BODY_LIMIT + 1;
            Some(klaxon_http::failure::read_start(response, limit).await)
        } else {
            None
        };
        klaxon_http::failure::check_status(&what, status, &response_headers, captured.as_deref())
            .map_err(|e| {
                if request.capture_response {
                    e
                } else {
                    let message = format!(
                        "{}; set capture-response (.captureResponse()) to see the response body",
                        e.message()
                    );
                    e.with_message(message)
                }
            })
    }
}

/// A request ready to send.
struct Prepared {
    url: Url,
    headers: HeaderMap,
    body: String,
}

impl Shared {
    /// The URL, headers and body of a post. The body is the endpoint's alert template, if it has
    /// one, else the alert JSON with Content-Type application/json. Headers apply in Kapacitor's
    /// order: the endpoint's basic-auth, then its headers, then the handler's (replacing any of
    /// the same name), then the JSON Content-Type.
    fn prepare(&self, request: &Request, alert: &Alert<'_>) -> Result<Prepared, HandlerError> {
        let endpoints = self
            .endpoints()
            .map_err(|e| HandlerError::permanent(e.to_string()))?;
        let (url, endpoint) = match &request.target {
            Target::Url(url) => (url, None),
            Target::Endpoint(name) => {
                let endpoint = endpoints.get(name).ok_or_else(|| {
                    HandlerError::permanent(format!(
                        "endpoint {name:?} is no longer configured; [[httppost]] has: {}",
                        endpoints.names()
                    ))
                })?;
                (&endpoint.url, Some((name, endpoint)))
            }
        };
        let rendered = alert.render(url).map_err(|e| {
            HandlerError::permanent(format!(
                "cannot render the url template {:?}: {e}",
                url.source()
            ))
        })?;
        let url = klaxon_http::check_url("url", &rendered)
            .map_err(|e| HandlerError::permanent(e.message()))?;
        let mut headers = HeaderMap::new();
        let mut body = None;
        if let Some((name, endpoint)) = endpoint {
            if let Some(authorization) = &endpoint.authorization {
                headers.insert(AUTHORIZATION, authorization.clone());
            }
            for (header, value) in &endpoint.headers {
                headers.append(header.clone(), value.clone());
            }
            if let Some(template) = &endpoint.alert_template {
                body = Some(alert.render(template).map_err(|e| {
                    HandlerError::permanent(format!(
                        "cannot render the alert-template of endpoint {name:?}: {e}"
                    ))
                })?);
            }
        }
        for (header, value) in &request.headers {
            headers.insert(header.clone(), value.clone());
        }
        let body = match body {
            Some(body) => body,
            None => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                alert.json()
            }
        };
        Ok(Prepared { url, headers, body })
    }
}
