//! The `[[kafka]]` configuration section: Kafka clusters, each named by its `id`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use klaxon_core::{ElementConfig, Elements, GoDuration, Invalid, ServiceConfig};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// The `[[kafka]]` section: Kafka clusters, each named by its `id` key, which handlers give as
/// `cluster`.
///
/// Without any `[[kafka]]` in the file there is Kapacitor's built-in cluster: `id = "default"`,
/// disabled. Writing `[[kafka]]` tables (or a single `[kafka]` table) replaces it.
///
/// ```toml
/// [[kafka]]
/// enabled = true
/// id = "infra-monitoring"
/// brokers = ["123.45.67.89:9092", "123.45.67.90:9092"]
/// timeout = "10s"
/// batch-size = 100
/// batch-timeout = "1s"
/// ```
pub type Config = Clusters;

/// The clusters of the `[[kafka]]` section, in the order written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Clusters(Elements<Cluster>);

/// One `[[kafka]]` cluster: Kapacitor's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Cluster {
    /// Whether writing to this cluster is enabled. While it is not, its handlers fail every
    /// delivery with "unknown cluster", as in Kapacitor.
    pub enabled: bool,
    /// The cluster's name, which handlers give as `cluster`; also the Kafka client ID. Required
    /// when enabled.
    pub id: String,
    /// The brokers to start from, as host:port ("kafka1.example.com:9092"). Required when
    /// enabled; the others are found from them.
    pub brokers: Vec<String>,
    /// How long writing one message may take: connecting, finding the topic's partitions and
    /// the broker's acknowledgement. "0s" means 30s, as in Kapacitor.
    pub timeout: GoDuration,
    /// How many messages to a topic's partition are sent together at most. 0 or less means 100.
    pub batch_size: i64,
    /// How long a message waits for others to be sent with it. "0s" sends at once.
    pub batch_timeout: GoDuration,
    /// Connect over TLS, with the ssl-* keys. Not available yet: refused when true (see the
    /// crate's manual).
    pub use_ssl: bool,
    /// A PEM file of CA certificates trusted beside the system's roots (with use-ssl).
    pub ssl_ca: String,
    /// A PEM client certificate (with use-ssl and ssl-key).
    pub ssl_cert: String,
    /// The PEM private key of ssl-cert.
    pub ssl_key: String,
    /// Accept any certificate from the brokers (insecure; for tests only).
    pub insecure_skip_verify: bool,
    /// The SASL user name. Setting it enables SASL (PLAIN unless sasl-mechanism says otherwise).
    pub sasl_username: String,
    /// The SASL password. Secret: the config API shows only whether it is set.
    pub sasl_password: String,
    /// SASL extensions sent with an OAUTHBEARER token, as key = "value" pairs.
    pub sasl_extensions: BTreeMap<String, String>,
    /// Kapacitor's own spelling of sasl-extensions (its struct tag): either works.
    #[serde(rename = "sasl_extensions")]
    pub sasl_extensions_kapacitor: BTreeMap<String, String>,
    /// The SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER ("": PLAIN when a
    /// username is set). GSSAPI (Kerberos) is refused: Klaxon's Kafka client does not have it.
    pub sasl_mechanism: String,
    /// The SASL handshake version: 1 (Kafka 1.0 and later, the default); 0 is refused.
    #[serde(deserialize_with = "optional_int")]
    #[schemars(with = "Option<i64>")]
    pub sasl_version: Option<i64>,
    /// Kerberos service name (GSSAPI; accepted, unused).
    pub sasl_gssapi_service_name: String,
    /// Kerberos authentication type, KRB5_USER_AUTH or KRB5_KEYTAB_AUTH (GSSAPI; accepted,
    /// unused).
    pub sasl_gssapi_auth_type: String,
    /// Disable Kerberos PA-FX-FAST (GSSAPI; accepted, unused).
    pub sasl_gssapi_disable_pafxfast: bool,
    /// The krb5.conf path (GSSAPI; accepted, unused).
    pub sasl_gssapi_kerberos_config_path: String,
    /// The keytab path (GSSAPI; accepted, unused).
    pub sasl_gssapi_key_tab_path: String,
    /// The Kerberos realm (GSSAPI; accepted, unused).
    pub sasl_gssapi_realm: String,
    /// Where OAUTHBEARER tokens come from: "" or "custom" (sasl-oauth-token-url), "auth0" or
    /// "azuread". Unused with sasl-access-token.
    pub sasl_oauth_service: String,
    /// The OAuth client ID (OAUTHBEARER with a token service).
    pub sasl_oauth_client_id: String,
    /// The OAuth client secret (OAUTHBEARER with a token service). Secret.
    pub sasl_oauth_client_secret: String,
    /// The OAuth token URL (OAUTHBEARER with the custom or auth0 service).
    pub sasl_oauth_token_url: String,
    /// The OAuth scopes asked for.
    #[serde(deserialize_with = "string_list")]
    pub sasl_oauth_scopes: Vec<String>,
    /// Extra parameters of the token request, such as audience (required for auth0).
    pub sasl_oauth_parameters: BTreeMap<String, String>,
    /// How long before a token expires a new one is fetched.
    pub sasl_oauth_token_expiry_margin: GoDuration,
    /// A static OAUTHBEARER token, instead of a token service. Secret.
    pub sasl_access_token: String,
    /// The Azure AD tenant (OAUTHBEARER with the azuread service).
    pub sasl_oauth_tenant_id: String,
}

impl Default for Cluster {
    /// An element as written in the file starts from empty values, but for Klaxon's timeout and
    /// Kapacitor's token expiry margin.
    fn default() -> Self {
        Cluster {
            enabled: false,
            id: String::new(),
            brokers: Vec::new(),
            timeout: GoDuration::from_secs(10),
            batch_size: 0,
            batch_timeout: GoDuration::ZERO,
            use_ssl: false,
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            insecure_skip_verify: false,
            sasl_username: String::new(),
            sasl_password: String::new(),
            sasl_extensions: BTreeMap::new(),
            sasl_extensions_kapacitor: BTreeMap::new(),
            sasl_mechanism: String::new(),
            sasl_version: None,
            sasl_gssapi_service_name: String::new(),
            sasl_gssapi_auth_type: String::new(),
            sasl_gssapi_disable_pafxfast: false,
            sasl_gssapi_kerberos_config_path: String::new(),
            sasl_gssapi_key_tab_path: String::new(),
            sasl_gssapi_realm: String::new(),
            sasl_oauth_service: String::new(),
            sasl_oauth_client_id: String::new(),
            sasl_oauth_client_secret: String::new(),
            sasl_oauth_token_url: String::new(),
            sasl_oauth_scopes: Vec::new(),
            sasl_oauth_parameters: BTreeMap::new(),
            sasl_oauth_token_expiry_margin: GoDuration::from_secs(10),
            sasl_access_token: String::new(),
            sasl_oauth_tenant_id: String::new(),
        }
    }
}

/// How a cluster authenticates.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Sasl {
    /// No SASL.
    None,
    /// PLAIN with this user and password.
    Plain(String, String),
    /// SCRAM-SHA-256 with this user and password.
    ScramSha256(String, String),
    /// SCRAM-SHA-512 with this user and password.
    ScramSha512(String, String),
    /// OAUTHBEARER with this static token and extensions.
    OauthBearer(String, BTreeMap<String, String>),
}

impl fmt::Debug for Sasl {
    /// Names the mechanism, never the secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sasl::None => "None",
            Sasl::Plain(..) => "Plain",
            Sasl::ScramSha256(..) => "ScramSha256",
            Sasl::ScramSha512(..) => "ScramSha512",
            Sasl::OauthBearer(..) => "OauthBearer",
        })
    }
}

impl ElementConfig for Cluster {
    const ELEMENT_KEY: &'static str = "id";
    const SECRETS: &'static [&'static str] = &[
        "sasl-password",
        "sasl-oauth-client-secret",
        "sasl-access-token",
    ];

    fn name(&self) -> &str {
        &self.id
    }

    // No `validate` here: the list checks each cluster with messages that name it once.
}

impl Cluster {
    /// How long one write may take: `timeout`, or Kapacitor's 30 s for 0.
    pub(crate) fn write_timeout(&self) -> Duration {
        if self.timeout <= GoDuration::ZERO {
            Duration::from_secs(30)
        } else {
            self.timeout.to_std()
        }
    }

    /// How many messages go together at most: `batch-size`, or Kapacitor's 100.
    pub(crate) fn batch_size(&self) -> usize {
        usize::try_from(self.batch_size)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(100)
    }

    /// The SASL settings, as Kapacitor's client (sarama) reads the keys: a username or a
    /// mechanism enables SASL, PLAIN by default.
    pub(crate) fn sasl(&self) -> Sasl {
        let credentials = || (self.sasl_username.clone(), self.sasl_password.clone());
        match self.sasl_mechanism.as_str() {
            "" | "PLAIN" if self.sasl_username.is_empty() && self.sasl_mechanism.is_empty() => {
                Sasl::None
            }
            "" | "PLAIN" => {
                let (user, password) = credentials();
                Sasl::Plain(user, password)
            }
            "SCRAM-SHA-256" => {
                let (user, password) = credentials();
                Sasl::ScramSha256(user, password)
            }
            "SCRAM-SHA-512" => {
                let (user, password) = credentials();
                Sasl::ScramSha512(user, password)
            }
            _ => {
                let mut extensions = self.sasl_extensions_kapacitor.clone();
                extensions.extend(self.sasl_extensions.clone());
                Sasl::OauthBearer(self.sasl_access_token.clone(), extensions)
            }
        }
    }

    /// Kapacitor's `Config.Validate` (only for an enabled cluster, as there), with the brokers
    /// checked and what Klaxon's client cannot do refused.
    fn check(&self) -> Result<(), Invalid> {
        if self.timeout < GoDuration::ZERO || self.batch_timeout < GoDuration::ZERO {
            return Err(Invalid::new("timeout and batch-timeout cannot be negative"));
        }
        if !self.enabled {
            return Ok(());
        }
        if self.id.is_empty() {
            return Err(Invalid::new(
                "id must not be empty: handlers name the cluster by it, such as id = \"localhost\"",
            ));
        }
        if self.brokers.is_empty() {
            return Err(Invalid::new(
                "no brokers specified, must provide at least one broker URL, such as \
                 brokers = [\"localhost:9092\"]",
            ));
        }
        for broker in &self.brokers {
            check_broker(broker)?;
        }
        if self.use_ssl {
            return Err(Invalid::new(
                "use-ssl = true is not available yet: Klaxon's Kafka client connects without \
                 TLS for now; set use-ssl = false, or reach the brokers through a TLS tunnel",
            ));
        }
        self.check_sasl()
    }

    fn check_sasl(&self) -> Result<(), Invalid> {
        match self.sasl_version {
            None | Some(1) => {}
            Some(0) => {
                return Err(Invalid::new(
                    "sasl-version = 0 (SASL before Kafka 1.0) is not supported; use 1",
                ));
            }
            Some(_) => return Err(Invalid::new("invalid SASL version; use 1")),
        }
        match self.sasl_mechanism.as_str() {
            "" | "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" => Ok(()),
            "OAUTHBEARER" => self.check_oauth(),
            "GSSAPI" => Err(Invalid::new(
                "sasl-mechanism GSSAPI (Kerberos) is not supported by Klaxon's Kafka client; \
                 use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
            )),
            other => Err(Invalid::new(format!(
                "invalid sasl-mechanism {other:?}; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or \
                 OAUTHBEARER"
            ))),
        }
    }

    /// Kapacitor's OAUTHBEARER checks; then, of its two sources of tokens, the static token,
    /// which is the one Klaxon has.
    fn check_oauth(&self) -> Result<(), Invalid> {
        let service = self.sasl_oauth_service.as_str();
        if !self.sasl_access_token.is_empty() {
            if !service.is_empty() && !self.sasl_oauth_token_url.is_empty() {
                return Err(Invalid::new(
                    "cannot set 'sasl-access-token' with 'sasl-oauth-service' and \
                     'sasl-oauth-token-url'",
                ));
            }
            return Ok(());
        }
        if self.sasl_oauth_client_id.is_empty() || self.sasl_oauth_client_secret.is_empty() {
            return Err(Invalid::new(
                "'sasl-oauth-client-id' and 'sasl-oauth-client-secret' are required",
            ));
        }
        match service {
            "" | "custom" if self.sasl_oauth_token_url.is_empty() => Err(Invalid::new(
                "'sasl-oauth-token-url' required for custom service",
            )),
            "auth0" if self.sasl_oauth_token_url.is_empty() => {
                Err(Invalid::new("'sasl-oauth-token-url' required for Auth0"))
            }
            "auth0" if !self.sasl_oauth_parameters.contains_key("audience") => {
                Err(Invalid::new("'audience' parameter is required for Auth0"))
            }
            "azuread" if self.sasl_oauth_tenant_id.is_empty() => {
                Err(Invalid::new("'sasl-oauth-tenant-id' required for AzureAD"))
            }
            "azuread" if !self.sasl_oauth_token_url.is_empty() => Err(Invalid::new(format!(
                "'sasl-oauth-token-url' cannot be set for service {service}"
            ))),
            "" | "custom" | "auth0" | "azuread" => Err(Invalid::new(
                "OAUTHBEARER tokens from a token service are not available yet; set \
                 sasl-access-token to a token instead",
            )),
            other => Err(Invalid::new(format!("service {other} not supported"))),
        }
    }
}

/// A broker must be host:port with a port from 1 to 65535.
fn check_broker(broker: &str) -> Result<(), Invalid> {
    let port = broker
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty())
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .filter(|port| *port > 0);
    match port {
        Some(_) => Ok(()),
        None => Err(Invalid::new(format!(
            "broker {broker:?} is not host:port, such as \"localhost:9092\""
        ))),
    }
}

impl Clusters {
    /// A section of these clusters.
    pub fn new(clusters: Vec<Cluster>) -> Clusters {
        Clusters(Elements::new(clusters))
    }

    /// The clusters in the order written.
    pub fn iter(&self) -> impl Iterator<Item = &Cluster> {
        self.0.iter()
    }

    /// The cluster a handler naming `id` writes to. An empty `id` is the only cluster when
    /// there is one (Kapacitor knows no default cluster). The error names the clusters there
    /// are.
    pub fn cluster(&self, id: &str) -> Result<&Cluster, Invalid> {
        let found = if id.is_empty() && self.0.len() == 1 {
            self.0.iter().next()
        } else {
            self.0.get(id)
        };
        found.ok_or_else(|| Invalid::new(format!("unknown cluster {id:?}; {}", self.known())))
    }

    /// The clusters there are, for messages.
    fn known(&self) -> String {
        if self.0.is_empty() {
            return "no [[kafka]] cluster is configured".to_owned();
        }
        let ids: Vec<String> = self.0.iter().map(|c| format!("{:?}", c.id)).collect();
        format!("the [[kafka]] clusters are: {}", ids.join(", "))
    }
}

impl Default for Clusters {
    /// Kapacitor's built-in cluster: `id = "default"`, disabled.
    fn default() -> Self {
        Clusters::new(vec![Cluster {
            id: "default".to_owned(),
            ..Cluster::default()
        }])
    }
}

impl ServiceConfig for Clusters {
    const SECRETS: &'static [&'static str] = Cluster::SECRETS;
    const ELEMENT_KEY: Option<&'static str> = Some(Cluster::ELEMENT_KEY);

    /// Kapacitor's `Configs.Validate`: each cluster valid.
    fn validate(&self) -> Result<(), Invalid> {
        for (index, cluster) in self.0.iter().enumerate() {
            cluster.check().map_err(|e| {
                if cluster.id.is_empty() {
                    Invalid::new(format!("[[kafka]] element {}: {e}", index + 1))
                } else {
                    Invalid::new(format!("cluster {:?}: {e}", cluster.id))
                }
            })?;
        }
        Ok(())
    }

    /// An absent section (`null`) is the built-in cluster; a list, or a single table, is
    /// exactly the clusters given.
    fn decode(section: &serde_json::Value) -> Result<Self, Invalid> {
        let config = if section.is_null() {
            Clusters::default()
        } else {
            Clusters(Elements::decode(section)?)
        };
        config.validate()?;
        Ok(config)
    }
}

/// `sasl-version`: a number, or nothing (Kapacitor's documentation writes `""`).
fn optional_int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(text) if text.trim().is_empty() => Ok(None),
        serde_json::Value::String(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("{text:?} is not a number; write 1"))),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("{n} is not a whole number; write 1"))),
        other => Err(de::Error::custom(format!(
            "{other} is not a number; write 1"
        ))),
    }
}

/// `sasl-oauth-scopes`: a list, or one string (Kapacitor's documentation writes `""`, none).
fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(text) if text.is_empty() => Vec::new(),
        OneOrMany::One(text) => vec![text],
        OneOrMany::Many(list) => list,
    })
}
