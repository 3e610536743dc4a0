//! Alert levels, with Kapacitor's text forms.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The severity of an alert, ordered `Ok < Info < Warning < Critical`.
///
/// The text forms are Kapacitor's: `OK`, `INFO`, `WARNING`, `CRITICAL`. They are what the alert JSON,
/// the HTTP API and handler files use.
///
/// ```
/// use klaxon_core::Level;
///
/// assert_eq!(Level::Critical.as_str(), "CRITICAL");
/// assert_eq!("warning".parse::<Level>().unwrap(), Level::Warning);
/// assert!(Level::Critical > Level::Warning);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    /// Nothing is wrong, or an alert has recovered.
    #[default]
    Ok,
    /// Informational.
    Info,
    /// Something needs attention.
    Warning,
    /// Something is broken.
    Critical,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 4] = [Level::Ok, Level::Info, Level::Warning, Level::Critical];

    /// The Kapacitor text form: `OK`, `INFO`, `WARNING` or `CRITICAL`.
    ///
    /// ```
    /// assert_eq!(klaxon_core::Level::Ok.as_str(), "OK");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }

    /// The numeric form used by lambda expressions (`level() >= WARNING`): 0 to 3.
    ///
    /// ```
    /// assert_eq!(klaxon_core::Level::Warning.as_i64(), 2);
    /// ```
    pub const fn as_i64(self) -> i64 {
        self as i64
    }

    /// The level for a number 0 to 3, as `as_i64` gives it.
    ///
    /// ```
    /// use klaxon_core::Level;
    /// assert_eq!(Level::from_i64(3), Some(Level::Critical));
    /// assert_eq!(Level::from_i64(4), None);
    /// ```
    pub const fn from_i64(n: i64) -> Option<Level> {
        match n {
            0 => Some(Level::Ok),
            1 => Some(Level::Info),
            2 => Some(Level::Warning),
            3 => Some(Level::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that is not a level name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown alert level '{0}'")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Parses a level name, ignoring case (Kapacitor's `ParseLevel`, used for `min-level`).
    ///
    /// The empty string is `OK`, as in Kapacitor, so an absent `min-level` means every level.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.to_ascii_uppercase();
        match upper.as_str() {
            "" | "OK" => Ok(Level::Ok),
            "INFO" => Ok(Level::Info),
            "WARNING" => Ok(Level::Warning),
            "CRITICAL" => Ok(Level::Critical),
            _ => Err(UnknownLevel(s.to_owned())),
        }
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Level {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Level".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["OK", "INFO", "WARNING", "CRITICAL"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        for level in Level::ALL {
            assert_eq!(level.as_str().parse::<Level>().unwrap(), level);
            assert_eq!(Level::from_i64(level.as_i64()), Some(level));
        }
    }

    #[test]
    fn parsing_is_case_insensitive_and_empty_is_ok() {
        assert_eq!("critical".parse::<Level>().unwrap(), Level::Critical);
        assert_eq!("Info".parse::<Level>().unwrap(), Level::Info);
        assert_eq!("".parse::<Level>().unwrap(), Level::Ok);
    }

    #[test]
    fn unknown_text_is_named_in_the_error() {
        let err = "SEVERE".parse::<Level>().unwrap_err();
        assert_eq!(err.to_string(), "unknown alert level 'SEVERE'");
    }

    #[test]
    fn serde_uses_the_text_form() {
        assert_eq!(
            serde_json::to_string(&Level::Warning).unwrap(),
            r#""WARNING""#
        );
        let level: Level = serde_json::from_str(r#""CRITICAL""#).unwrap();
        assert_eq!(level, Level::Critical);
        assert!(serde_json::from_str::<Level>(r#""LOUD""#).is_err());
    }
}
