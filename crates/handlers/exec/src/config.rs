//! The `[exec]` configuration section.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// The `[exec]` section of the server configuration.
///
/// ```toml
/// [exec]
/// timeout = "30s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// How long one run of the program may take, as a duration such as "30s". A program still
    /// running then is killed, with every process it started in its process group.
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: GoDuration::from_secs(30),
        }
    }
}

impl ServiceConfig for Config {
    fn validate(&self) -> Result<(), Invalid> {
        if self.timeout <= GoDuration::ZERO {
            return Err(Invalid::new(format!(
                "timeout must be greater than zero, got {}",
                self.timeout
            )));
        }
        Ok(())
    }
}
