//! The `[snmptrap]` configuration section.

use klaxon_core::{Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// The `[snmptrap]` section of the server configuration: where traps go and with which
/// community.
///
/// ```toml
/// [snmptrap]
/// enabled = true
/// addr = "localhost:162"
/// community = "kapacitor"
/// retries = 1
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Whether traps are sent. While it is not, snmptrap handlers fail every delivery with
    /// "service is not enabled".
    pub enabled: bool,
    /// The trap receiver, as host:port ("localhost:162"); traps are UDP datagrams. Required when
    /// enabled.
    pub addr: String,
    /// The SNMPv2c community sent with every trap. Secret: the config API shows only whether it
    /// is set.
    pub community: String,
    /// Kapacitor's retries of a trap, accepted for compatibility: its SNMP library resends only
    /// after a reply times out, and a trap has no reply, so it never did. Failed deliveries are
    /// retried by Klaxon's [alert] retry policy instead.
    pub retries: u32,
}

impl Default for Config {
    /// Kapacitor's defaults.
    fn default() -> Self {
        Config {
            enabled: false,
            addr: "localhost:162".to_owned(),
            community: "kapacitor".to_owned(),
            retries: 1,
        }
    }
}

impl ServiceConfig for Config {
    const SECRETS: &'static [&'static str] = &["community"];

    /// Kapacitor's `Validate`, with the address checked.
    fn validate(&self) -> Result<(), Invalid> {
        if self.addr.is_empty() {
            if self.enabled {
                return Err(Invalid::new(
                    "must specify addr, the trap receiver as host:port, such as \
                     addr = \"localhost:162\"",
                ));
            }
            return Ok(());
        }
        check_addr(&self.addr)
    }
}

/// An address must be host:port with a port from 1 to 65535.
fn check_addr(addr: &str) -> Result<(), Invalid> {
    let bad = |why: &str| {
        Err(Invalid::new(format!(
            "addr {addr:?} {why}; write it as host:port"
        )))
    };
    let Some((host, port)) = addr.rsplit_once(':') else {
        return bad("has no port");
    };
    if host.is_empty() {
        return bad("has no host");
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => bad("has no port from 1 to 65535"),
        Ok(_) => Ok(()),
    }
}
