//! One outbound HTTP client per service: a connection pool with the section's TLS keys.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use klaxon_core::{ElementConfig, Elements, HandlerError, Invalid};

use crate::failure;
use crate::tls::{ClientTls, TlsError, install_crypto_provider, read, read_certificates};

/// How long connecting (TCP and TLS) may take, unless a request's own timeout is shorter.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a [`Client`] is built from.
///
/// ```
/// let options = klaxon_http::ClientOptions::default();
/// assert_eq!(options.tls, klaxon_http::ClientTls::default());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientOptions {
    /// The section's TLS keys.
    pub tls: ClientTls,
}

/// An HTTP client: HTTP/1.1 and HTTP/2, one connection pool, proxies from `HTTPS_PROXY`,
/// `HTTP_PROXY` and `NO_PROXY`, the platform's CA roots plus `ssl-ca`. Cheap to clone (clones
/// share the pool); build one per service and rebuild it when the service's TLS keys change.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let client = klaxon_http::Client::new(&klaxon_http::ClientOptions::default()).unwrap();
/// let request = client.request(klaxon_http::Method::POST, "http://127.0.0.1:1/");
/// let err = client.send(request, std::time::Duration::from_secs(5)).await.unwrap_err();
/// assert!(err.is_retryable(), "{err}");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: reqwest::Client,
    /// Shared by clones, which share the pool: what [`Client::same_pool`] compares.
    pool: Arc<()>,
}

impl Client {
    /// A client with `options`; refuses, naming the setting and file, a CA, certificate or key
    /// that cannot be read or used.
    pub fn new(options: &ClientOptions) -> Result<Client, TlsError> {
        install_crypto_provider();
        let tls = &options.tls;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("Klaxon/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .tls_danger_accept_invalid_certs(tls.insecure_skip_verify);
        if !tls.ca.is_empty() {
            let certificates = read_certificates("ssl-ca", Path::new(&tls.ca))?;
            let certificates = certificates
                .iter()
                .map(|der| reqwest::Certificate::from_der(der))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TlsError::Client(format!("ssl-ca {}: {e}", tls.ca)))?;
            builder = builder.tls_certs_merge(certificates);
        }
        if let Some((cert, key)) = tls.client_pair()? {
            // Checked one by one first, so that an error names the file at fault.
            read_certificates("ssl-cert", Path::new(cert))?;
            crate::tls::read_private_key("ssl-key", Path::new(key))?;
            let mut pem = read("ssl-cert", Path::new(cert))?;
            pem.push(b'\n');
            pem.extend(read("ssl-key", Path::new(key))?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| TlsError::Pair {
                cert: cert.into(),
                key: key.into(),
                reason: e.to_string(),
            })?;
            builder = builder.identity(identity);
        }
        let inner = builder
            .build()
            .map_err(|e| TlsError::Client(failure::chain(&e)))?;
        Ok(Client {
            inner,
            pool: Arc::new(()),
        })
    }

    /// Whether `other` is a clone of this client (shares its connection pool).
    pub fn same_pool(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.pool, &other.pool)
    }

    /// The `reqwest` client underneath, for callers with their own error handling (the CLI).
    pub fn http(&self) -> &reqwest::Client {
        &self.inner
    }

    /// A request to `url`, to be sent with [`Client::send`]. Made during a delivery, it carries
    /// the event's idempotency key (`Idempotency-Key`) and, on a redelivery,
    /// `Klaxon-Redelivery: true`, so that receivers can drop duplicates.
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.inner.request(method, url);
        match klaxon_core::current_delivery() {
            Some(delivery) => {
                let request = request.header(klaxon_core::IDEMPOTENCY_KEY_HEADER, &*delivery.key);
                if delivery.redelivery {
                    request.header(klaxon_core::REDELIVERY_HEADER, "true")
                } else {
                    request
                }
            }
            None => request,
        }
    }

    /// Sends `request` within `timeout` (the whole exchange: connect, send, response head).
    /// Whatever kept it from getting a response becomes a [`HandlerError`] naming the method and
    /// URL ([`failure::request_failed`]); the response is returned whatever its status (see
    /// [`failure::check_status`]).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<reqwest::Response, HandlerError> {
        let request = request
            .timeout(timeout)
            .build()
            .map_err(|e| HandlerError::permanent(format!("cannot make the request: {e}")))?;
        let what = format!("{} {}", request.method(), request.url());
        self.inner
            .execute(request)
            .await
            .map_err(|e| failure::request_failed(&what, timeout, &e))
    }
}

/// The clients of one service, one per set of TLS settings in use, built when first asked for:
/// a handler asks with the settings of its live configuration at each delivery, so a TLS change
/// through the config API takes effect at the next alert while unchanged settings keep their
/// connection pool. Cheap to clone (clones share the clients).
///
/// ```
/// let clients = klaxon_http::Clients::default();
/// let options = klaxon_http::ClientOptions::default();
/// let first = clients.get(&options).unwrap();
/// let again = clients.get(&options).unwrap();
/// assert!(first.same_pool(&again));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clients {
    built: Arc<Mutex<HashMap<ClientOptions, Client>>>,
}

/// More distinct TLS settings than this in one service (only a workspace list with many TLS
/// files reaches it) start the cache afresh rather than grow it.
const MAX_CLIENTS: usize = 64;

impl Clients {
    /// The client for `options`, built now if these settings have none yet.
    pub fn get(&self, options: &ClientOptions) -> Result<Client, TlsError> {
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = built.get(options) {
            return Ok(client.clone());
        }
        let client = Client::new(options)?;
        if built.len() >= MAX_CLIENTS {
            built.clear();
        }
        built.insert(options.clone(), client.clone());
        Ok(client)
    }

    /// Builds the client of each element of a list section from its own TLS keys (`options`
    /// gives them), refusing, naming the element, files that cannot be used: a `[[slack]]`
    /// workspace with an `ssl-ca` that cannot be read refuses the configuration, where the
    /// service is made or reconfigured, instead of failing every alert it would post.
    ///
    /// ```
    /// use klaxon_core::{ElementConfig, Elements, ServiceConfig};
    /// use klaxon_http::{ClientOptions, ClientTls, Clients};
    ///
    /// #[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, klaxon_core::schemars::JsonSchema)]
    /// #[schemars(crate = "klaxon_core::schemars")]
    /// #[serde(default, rename_all = "kebab-case")]
    /// struct Workspace { workspace: String, ssl_ca: String }
    /// impl ElementConfig for Workspace {
    ///     const ELEMENT_KEY: &'static str = "workspace";
    ///     fn name(&self) -> &str { &self.workspace }
    /// }
    /// fn options(w: &Workspace) -> ClientOptions {
    ///     ClientOptions { tls: ClientTls { ca: w.ssl_ca.clone(), ..ClientTls::default() } }
    /// }
    ///
    /// let list = klaxon_core::serde_json::json!([{"workspace": "ops"}, {"workspace": "dev", "ssl-ca": "/nonexistent/ca.pem"}]);
    /// let workspaces = Elements::<Workspace>::decode(&list).unwrap();
    /// let err = Clients::default().check_elements(&workspaces, options).unwrap_err();
    /// assert!(err.to_string().starts_with(r#"workspace "dev": "#), "{err}");
    /// ```
    pub fn check_elements<E: ElementConfig>(
        &self,
        elements: &Elements<E>,
        options: impl Fn(&E) -> ClientOptions,
    ) -> Result<(), Invalid> {
        for element in elements.iter() {
            self.get(&options(element))
                .map_err(|e| Invalid::new(format!("{}: {e}", element.label())))?;
        }
        Ok(())
    }
}
