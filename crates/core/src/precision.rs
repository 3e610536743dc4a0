//! The unit of line-protocol timestamps, as `/write?precision=` names it: shared by the ingest
//! path and by everything that writes line protocol back to InfluxDB.

use std::str::FromStr;

/// The unit of the timestamps in a write.
///
/// ```
/// use klaxon_core::Precision;
/// assert_eq!("ms".parse::<Precision>().unwrap(), Precision::Milliseconds);
/// assert_eq!("".parse::<Precision>().unwrap(), Precision::Nanoseconds);
/// assert_eq!(Precision::Seconds.nanos(), 1_000_000_000);
/// assert_eq!(Precision::Microseconds.name(), "u");
/// assert_eq!(
///     "d".parse::<Precision>().unwrap_err().to_string(),
///     "invalid precision \"d\"; use n, u, ms, s, m or h"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Precision {
    /// `n` or `ns` (the default).
    #[default]
    Nanoseconds,
    /// `u`, `us` or `µ`.
    Microseconds,
    /// `ms`.
    Milliseconds,
    /// `s`.
    Seconds,
    /// `m`.
    Minutes,
    /// `h`.
    Hours,
}

impl Precision {
    /// Nanoseconds in one unit.
    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }

    /// The name InfluxDB's `/write?precision=` takes.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "ns",
            Precision::Microseconds => "u",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
            Precision::Minutes => "m",
            Precision::Hours => "h",
        }
    }
}

/// A `precision` that is not one of Kapacitor's.
///
/// ```
/// let err = "week".parse::<klaxon_core::Precision>().unwrap_err();
/// assert_eq!(err, klaxon_core::InvalidPrecision("week".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid precision {0:?}; use n, u, ms, s, m or h")]
pub struct InvalidPrecision(pub String);

impl FromStr for Precision {
    type Err = InvalidPrecision;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "" | "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            other => return Err(InvalidPrecision(other.to_owned())),
        })
    }
}
