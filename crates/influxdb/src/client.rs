//! Talking to one InfluxDB cluster ([`Client`]) and the configured clusters by name
//! ([`Clusters`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use klaxon_http::Method;

use crate::query::{self, QueryResult};
use crate::writer::Destination;
use crate::{ClusterConfig, InfluxError};

/// How long a request may take when the cluster's `timeout` is 0 (no limit in Kapacitor): long
/// enough for any sane query, short enough that a hung InfluxDB does not hold a writer forever.
const NO_TIMEOUT: Duration = Duration::from_secs(300);

/// A client of one cluster: its URLs are tried in order until one answers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    config: Arc<ClusterConfig>,
    http: klaxon_http::Client,
}

impl Client {
    /// A client for `config` (checked first).
    pub fn new(config: ClusterConfig) -> Result<Client, InfluxError> {
        config.validate()?;
        let http = klaxon_http::Client::new(&klaxon_http::ClientOptions { tls: config.tls() })
            .map_err(|e| InfluxError::Config {
                cluster: config.name.clone(),
                message: e.to_string(),
            })?;
        Ok(Client {
            config: Arc::new(config),
            http,
        })
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The cluster's configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    fn timeout(&self) -> Duration {
        match self.config.timeout.to_std() {
            d if d.is_zero() => NO_TIMEOUT,
            d => d,
        }
    }

    /// `GET /ping`: whether some URL of the cluster answers.
    pub async fn ping(&self) -> Result<(), InfluxError> {
        self.exchange(|_| Method::GET, "/ping", |r| r)
            .await
            .map(drop)
    }

    /// Runs InfluxQL `statement` (in database `db` when given) through `POST /query`; the
    /// results, one per statement, or the first statement's error.
    pub async fn query(
        &self,
        db: Option<&str>,
        statement: &str,
    ) -> Result<Vec<QueryResult>, InfluxError> {
        let mut form = vec![("q", statement)];
        if let Some(db) = db {
            form.push(("db", db));
        }
        let body = self
            .exchange(
                |_| Method::POST,
                "/query",
                |r| {
                    r.header("content-type", "application/x-www-form-urlencoded")
                        .body(form_encode(&form))
                },
            )
            .await?;
        query::decode(statement, &body)
    }

    /// Runs a batch task's `SELECT` through `POST /query` with times in nanoseconds since the
    /// epoch (`epoch=ns`), so that no precision is lost in RFC 3339 text; the results, or the
    /// statement's error.
    pub async fn select(&self, statement: &str) -> Result<Vec<QueryResult>, InfluxError> {
        let form = form_encode(&[("q", statement), ("epoch", "ns")]);
        let body = self
            .exchange(
                |_| Method::POST,
                "/query",
                |r| {
                    r.header("content-type", "application/x-www-form-urlencoded")
                        .body(form.clone())
                },
            )
            .await?;
        query::decode(statement, &body)
    }

    /// Writes line protocol `body` to `destination` through `POST /write`.
    pub async fn write(&self, destination: &Destination, body: String) -> Result<(), InfluxError> {
        let mut params = vec![
            ("db", destination.database.as_str()),
            ("precision", destination.precision.name()),
        ];
        if !destination.retention_policy.is_empty() {
            params.push(("rp", destination.retention_policy.as_str()));
        }
        let path = format!("/write?{}", form_encode(&params));
        self.exchange(|_| Method::POST, &path, |r| r.body(body.clone()))
            .await
            .map(drop)
    }

    /// Sends a request to each URL in turn until one answers; a 2xx answer's body, or the
    /// error status of the first URL that answered.
    async fn exchange(
        &self,
        method: impl Fn(&str) -> Method,
        path: &str,
        build: impl Fn(klaxon_http::RequestBuilder) -> klaxon_http::RequestBuilder,
    ) -> Result<String, InfluxError> {
        let mut failures = Vec::new();
        for base in &self.config.urls {
            let url = format!("{}{path}", base.trim_end_matches('/'));
            let mut request = build(self.http.request(method(base), &url));
            if !self.config.token.is_empty() {
                request = request.header("authorization", format!("Token {}", self.config.token));
            } else if !self.config.username.is_empty() {
                request = request.basic_auth(&self.config.username, Some(&self.config.password));
            }
            let response = match self.http.send(request, self.timeout()).await {
                Ok(response) => response,
                Err(e) => {
                    failures.push(e.to_string());
                    continue;
                }
            };
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if status.is_success() {
                return Ok(body);
            }
            let shown = base.split('?').next().unwrap_or(base);
            return Err(InfluxError::Status {
                url: format!("{}{}", shown, path.split('?').next().unwrap_or(path)),
                status: status.as_u16(),
                body: body.chars().take(512).collect(),
            });
        }
        Err(InfluxError::Unavailable {
            cluster: self.config.name.clone(),
            message: failures.join("; "),
        })
    }
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The enabled clusters by name, with the default one (`default = true`, or the only one).
///
/// ```
/// use klaxon_influxdb::{ClusterConfig, Clusters};
/// let clusters = Clusters::new(&[ClusterConfig::default()]).unwrap();
/// assert_eq!(clusters.get("").unwrap().name(), "default");
/// assert!(clusters.get("other").is_err());
/// assert!(Clusters::new(&[]).unwrap().get("").is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    clients: BTreeMap<String, Client>,
    default: Option<String>,
}

impl Clusters {
    /// Checks and builds the enabled clusters of `configs`: names unique, at most one default.
    pub fn new(configs: &[ClusterConfig]) -> Result<Clusters, InfluxError> {
        let mut clusters = Clusters::default();
        let mut defaults = Vec::new();
        for config in configs.iter().filter(|c| c.enabled) {
            let name = config.name.clone();
            if clusters.clients.contains_key(&name) {
                return Err(InfluxError::Config {
                    cluster: name,
                    message: "two [[influxdb]] sections have this name; give each its own"
                        .to_owned(),
                });
            }
            if config.default {
                defaults.push(name.clone());
            }
            clusters.clients.insert(name, Client::new(config.clone())?);
        }
        if defaults.len() > 1 {
            return Err(InfluxError::Config {
                cluster: defaults[1].clone(),
                message: format!(
                    "more than one [[influxdb]] is the default ({}); set default = true on one",
                    defaults.join(", ")
                ),
            });
        }
        clusters.default = defaults.pop().or_else(|| {
            (clusters.clients.len() == 1)
                .then(|| clusters.clients.keys().next().cloned())
                .flatten()
        });
        Ok(clusters)
    }

    /// Whether no cluster is configured.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The clusters, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.clients.values()
    }

    /// The cluster named `name`, or the default one for an empty name.
    pub fn get(&self, name: &str) -> Result<&Client, InfluxError> {
        let wanted = if name.is_empty() {
            self.default.as_deref()
        } else {
            Some(name)
        };
        wanted
            .and_then(|n| self.clients.get(n))
            .ok_or_else(|| InfluxError::UnknownCluster {
                name: if name.is_empty() {
                    "(the default)".to_owned()
                } else {
                    name.to_owned()
                },
                known: if self.clients.is_empty() {
                    "none, add an [[influxdb]] section to the configuration".to_owned()
                } else if self.default.is_none() && name.is_empty() {
                    format!(
                        "{} and none is the default; set default = true on one or name it with .cluster()",
                        self.clients.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                } else {
                    self.clients.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            })
    }
}
