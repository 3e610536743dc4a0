//! The `[sensu]` configuration section: Kapacitor's keys, plus a timeout.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// Kapacitor's default JIT source.
pub const DEFAULT_SOURCE: &str = "Kapacitor";

/// The `[sensu]` section of the server configuration, as in Kapacitor's kapacitor.conf.
///
/// ```toml
/// [sensu]
/// enabled = true
/// addr = "sensu-client:3030"
/// source = "Kapacitor"
/// handlers = ["sns", "slack"]
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether the Sensu service is enabled. While it is not, sensu handlers fail every delivery
    /// with "service is not enabled".
    pub enabled: bool,
    /// The Sensu client's socket, as host:port (Sensu's default port is 3030). Required when
    /// enabled.
    pub addr: String,
    /// The JIT source (the client name the check result is reported for) of handlers that name
    /// none. Empty: the check result is the Sensu client's own.
    pub source: String,
    /// The Sensu handlers of handlers that name none. Empty: Sensu's default handler.
    pub handlers: Vec<String>,
    /// How long connecting to the Sensu client, sending one check result and reading its answer
    /// may take together, as a duration such as "10s". A delivery that takes longer fails and
    /// may be retried. (Klaxon's; Kapacitor has no timeout.)
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            enabled: false,
            addr: String::new(),
            source: DEFAULT_SOURCE.to_owned(),
            handlers: Vec::new(),
            timeout: GoDuration::from_secs(10),
        }
    }
}

impl ServiceConfig for Config {
    fn validate(&self) -> Result<(), Invalid> {
        if self.enabled && self.addr.is_empty() {
            return Err(Invalid::new(
                "must specify client address: set addr to the Sensu client's host:port, such as \"sensu-client:3030\"",
            ));
        }
        if !self.addr.is_empty() {
            check_addr(&self.addr)?;
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

/// Refuses an `addr` that a TCP connect cannot use: it must end in `:port`.
fn check_addr(addr: &str) -> Result<(), Invalid> {
    let port = addr
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty() && !addr.ends_with(']'))
        .map(|(_, port)| port);
    match port.map(str::parse::<u16>) {
        Some(Ok(port)) if port > 0 => Ok(()),
        _ => Err(Invalid::new(format!(
            "addr {addr:?} is not host:port; write it like \"sensu-client:3030\""
        ))),
    }
}
