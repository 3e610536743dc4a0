//! The `[tcp]` configuration section.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// The `[tcp]` section of the server configuration.
///
/// ```toml
/// [tcp]
/// timeout = "10s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// How long connecting to the address and writing one alert may take together, as a duration
    /// such as "10s". A delivery that takes longer fails and may be retried.
    pub timeout: GoDuration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: GoDuration::from_secs(10),
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
