//! The `[[mqtt]]` configuration section: MQTT brokers, each named by its `name`, one of them the
//! default.

use klaxon_core::{ElementConfig, Elements, GoDuration, Invalid, ServiceConfig};
use klaxon_http::{ClientTls, Url};
use serde::{Deserialize, Serialize};

/// The `[[mqtt]]` section: MQTT brokers, each named by its `name` key. Handlers that name no
/// broker publish to the default one: the only broker, or the one with `default = true`.
///
/// Without any `[[mqtt]]` in the file there is Kapacitor's built-in broker: named `default`,
/// disabled. Writing `[[mqtt]]` tables (or a single `[mqtt]` table) replaces it.
///
/// ```toml
/// [[mqtt]]
/// enabled = true
/// name = "localhost"
/// default = true
/// url = "tcp://localhost:1883"
///
/// [[mqtt]]
/// enabled = true
/// name = "alerts-broker"
/// url = "ssl://123.45.67.89:8883"
/// ssl-ca = "/etc/klaxon/ca.pem"
/// username = "myuser"
/// password = "mysupersecretpassw0rd"
/// ```
pub type Config = Brokers;

/// The brokers of the `[[mqtt]]` section, in the order written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Brokers(Elements<Broker>);

/// One `[[mqtt]]` broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Broker {
    /// Whether publishing to this broker is enabled. While it is not, its handlers fail every
    /// delivery with `unknown MQTT broker`, as in Kapacitor, which has no client for it.
    pub enabled: bool,
    /// The broker's name, which handlers give as `broker-name` (any text, such as "localhost").
    /// Required.
    pub name: String,
    /// Whether this is the default broker, used by handlers that name none. A single broker is
    /// the default whatever this says; of several, exactly one must say true.
    pub default: bool,
    /// The broker's URL: tcp://host:port (MQTT over TCP, port 1883 when none is given),
    /// ssl://host:port (over TLS, port 8883 when none), ws://host:port/path or
    /// wss://host:port/path (over a WebSocket). Required when enabled.
    pub url: String,
    /// A PEM file of CA certificates trusted for an ssl:// or wss:// broker, beside the system's
    /// roots.
    pub ssl_ca: String,
    /// A PEM client certificate, sent when the broker asks for one (with ssl-key).
    pub ssl_cert: String,
    /// The PEM private key of ssl-cert.
    pub ssl_key: String,
    /// Accept any certificate from an ssl:// or wss:// broker (insecure; for tests only).
    pub insecure_skip_verify: bool,
    /// The MQTT client identifier. Empty: the broker's name. Two clients with the same
    /// identifier take the connection from each other.
    pub client_id: String,
    /// The user name to connect with. Empty: none is sent.
    pub username: String,
    /// The password to connect with. Empty: none is sent. Secret: the config API shows only
    /// whether it is set.
    pub password: String,
    /// How long connecting to the broker and having one message acknowledged may take together,
    /// as a duration such as "10s" (Klaxon's; Kapacitor waits without a limit).
    pub timeout: GoDuration,
}

impl Default for Broker {
    /// An element as written in the file starts from empty values, as Kapacitor decodes it.
    fn default() -> Self {
        Broker {
            enabled: false,
            name: String::new(),
            default: false,
            url: String::new(),
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            insecure_skip_verify: false,
            client_id: String::new(),
            username: String::new(),
            password: String::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The default of each broker's `timeout`.
const DEFAULT_TIMEOUT: GoDuration = GoDuration::from_secs(10);

/// How a broker is reached, from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    /// MQTT over TCP to `host`:`port`.
    Tcp { host: String, port: u16 },
    /// MQTT over TLS to `host`:`port`.
    Tls { host: String, port: u16 },
    /// MQTT over a WebSocket at this URL (`ws://`), with TLS for `wss://`.
    WebSocket { url: String, tls: bool },
}

impl ElementConfig for Broker {
    const ELEMENT_KEY: &'static str = "name";
    const SECRETS: &'static [&'static str] = &["password"];

    fn name(&self) -> &str {
        &self.name
    }

    // No `validate` here: the list checks each broker with messages that name it once (a check
    // here would be prefixed again by the list's own).
}

impl Broker {
    /// The client identifier sent to the broker: `client-id`, or the name.
    pub(crate) fn client_id(&self) -> &str {
        if self.client_id.is_empty() {
            &self.name
        } else {
            &self.client_id
        }
    }

    /// The broker's TLS keys.
    pub(crate) fn tls(&self) -> ClientTls {
        ClientTls {
            ca: self.ssl_ca.clone(),
            cert: self.ssl_cert.clone(),
            key: self.ssl_key.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
        }
    }

    /// How the URL says to reach the broker. The error names the URL and the schemes there are.
    pub(crate) fn transport(&self) -> Result<Transport, Invalid> {
        let url = &self.url;
        let parsed = Url::parse(url).map_err(|e| {
            Invalid::new(format!(
                "url {url:?} is not a URL ({e}); write it as tcp://host:port"
            ))
        })?;
        let host = match parsed.host_str() {
            Some(host) if !host.is_empty() => host.to_owned(),
            _ => {
                return Err(Invalid::new(format!(
                    "url {url:?} has no host; write it as tcp://host:port"
                )));
            }
        };
        // paho, Kapacitor's client, takes these schemes.
        match parsed.scheme() {
            "tcp" | "mqtt" => Ok(Transport::Tcp {
                host,
                port: parsed.port().unwrap_or(1883),
            }),
            "ssl" | "tls" | "mqtts" | "tcps" => Ok(Transport::Tls {
                host,
                port: parsed.port().unwrap_or(8883),
            }),
            "ws" => Ok(Transport::WebSocket {
                url: url.clone(),
                tls: false,
            }),
            "wss" => Ok(Transport::WebSocket {
                url: url.clone(),
                tls: true,
            }),
            other => Err(Invalid::new(format!(
                "url {url:?} has the scheme {other:?}; use tcp://, ssl://, ws:// or wss://"
            ))),
        }
    }

    /// Kapacitor's `Config.Validate`, with the URL and the timeout checked.
    fn check(&self) -> Result<(), Invalid> {
        if self.url.is_empty() {
            if self.enabled {
                return Err(Invalid::new(
                    "must specify a url for mqtt service, such as url = \"tcp://localhost:1883\"",
                ));
            }
        } else {
            self.transport()?;
        }
        if self.timeout <= GoDuration::ZERO {
            return Err(Invalid::new(format!(
                "timeout must be greater than zero, got {}",
                self.timeout
            )));
        }
        Ok(())
    }
}

impl Brokers {
    /// A section of these brokers.
    pub fn new(brokers: Vec<Broker>) -> Brokers {
        Brokers(Elements::new(brokers))
    }

    /// The brokers in the order written.
    pub fn iter(&self) -> impl Iterator<Item = &Broker> {
        self.0.iter()
    }

    /// The default broker: the only one, or the one with `default = true`.
    pub fn default_broker(&self) -> Option<&Broker> {
        if self.0.len() == 1 {
            return self.0.iter().next();
        }
        self.0.iter().find(|b| b.default)
    }

    /// The broker a handler naming `name` publishes to: the default one for an empty name. The
    /// error names the brokers there are.
    pub fn broker(&self, name: &str) -> Result<&Broker, Invalid> {
        let found = if name.is_empty() {
            self.default_broker()
        } else {
            self.0.get(name)
        };
        found.ok_or_else(|| Invalid::new(format!("unknown MQTT broker {name:?}; {}", self.known())))
    }

    /// The brokers there are, for messages.
    fn known(&self) -> String {
        if self.0.is_empty() {
            return "no [[mqtt]] broker is configured".to_owned();
        }
        let names: Vec<String> = self.0.iter().map(|b| format!("{:?}", b.name)).collect();
        format!("the [[mqtt]] brokers are: {}", names.join(", "))
    }
}

impl Default for Brokers {
    /// Kapacitor's built-in broker: named `default`, disabled.
    fn default() -> Self {
        Brokers::new(vec![Broker {
            name: "default".to_owned(),
            ..Broker::default()
        }])
    }
}

impl ServiceConfig for Brokers {
    const SECRETS: &'static [&'static str] = Broker::SECRETS;
    const ELEMENT_KEY: Option<&'static str> = Some(Broker::ELEMENT_KEY);

    /// Kapacitor's `Configs.Validate`: every broker named and valid, exactly one default among
    /// several.
    fn validate(&self) -> Result<(), Invalid> {
        for (index, broker) in self.0.iter().enumerate() {
            if broker.name.is_empty() {
                return Err(Invalid::new(format!(
                    "[[mqtt]] element {}: must specify a name for the mqtt broker, such as \
                     name = \"localhost\"",
                    index + 1
                )));
            }
            broker
                .check()
                .map_err(|e| Invalid::new(format!("broker {:?}: {e}", broker.name)))?;
        }
        let defaults: Vec<String> = self
            .0
            .iter()
            .filter(|b| b.default)
            .map(|b| format!("{:?}", b.name))
            .collect();
        if defaults.len() > 1 {
            return Err(Invalid::new(format!(
                "only one [[mqtt]] broker may have default = true; {} do",
                defaults.join(" and ")
            )));
        }
        if self.0.len() > 1 && defaults.is_empty() {
            return Err(Invalid::new(format!(
                "one [[mqtt]] broker must have default = true; {}",
                self.known()
            )));
        }
        Ok(())
    }

    /// An absent section (`null`) is the built-in broker; a list, or a single table, is exactly
    /// the brokers given, each decoded into empty values.
    fn decode(section: &serde_json::Value) -> Result<Self, Invalid> {
        let config = if section.is_null() {
            Brokers::default()
        } else {
            Brokers(Elements::decode(section)?)
        };
        config.validate()?;
        Ok(config)
    }
}
