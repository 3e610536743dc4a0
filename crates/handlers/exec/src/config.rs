//! The `[exec]` configuration section.

use klaxon_core::{GoDuration, Invalid, ServiceConfig};
use serde::{Deserialize, Serialize};

/// The `[exec]` section of the server configuration.
///
/// ```toml
/// [exec]
/// timeout = "30s"
/// allowed-programs = ["/usr/local/bin/*"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// How long one run of the program may take, as a duration such as "30s". A program still
    /// running then is killed, with every process it started in its process group.
    pub timeout: GoDuration,
    /// The programs a handler may run, as absolute paths or globs ("/usr/local/bin/alert-*";
    /// `*` does not cross a "/"). Empty, the default, allows every program, as Kapacitor does.
    /// When set, a definition naming another program is refused; a bare name is resolved on
    /// PATH when the handler is defined and the resolved path is checked and run. Read from the
    /// file and environment at startup only: the config API refuses to change it.
    pub allowed_programs: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: GoDuration::from_secs(30),
            allowed_programs: Vec::new(),
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
        // `allowed-programs` is compiled, and refused if bad, once: when the service is built.
        Ok(())
    }
}
