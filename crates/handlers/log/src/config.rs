//! The `[log]` configuration section, which has no keys: a log handler's options say everything.

use klaxon_core::ServiceConfig;
use serde::{Deserialize, Serialize};

/// The `[log]` section. Kapacitor's log handler has no configuration section and neither has
/// anything to configure here; the section exists because every kind has one, and takes no keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {}

impl ServiceConfig for Config {}
