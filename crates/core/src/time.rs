//! Points in time and durations, printed and parsed the way Go (and so Kapacitor) does.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time: nanoseconds since the Unix epoch, UTC.
///
/// Line protocol carries nanosecond integers, so that is the representation; the text forms are Go's.
///
/// ```
/// use klaxon_core::Timestamp;
///
/// let t = Timestamp::from_nanos(1_455_811_173_368_443_000);
/// assert_eq!(t.to_rfc3339_nano(), "2016-02-18T15:59:33.368443Z");
/// assert_eq!(Timestamp::from_nanos(0).to_rfc3339_nano(), "1970-01-01T00:00:00Z");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The current wall-clock time.
    ///
    /// ```
    /// assert!(klaxon_core::Timestamp::now().as_nanos() > 0);
    /// ```
    pub fn now() -> Self {
        let nanos = jiff::Timestamp::now().as_nanosecond();
        Timestamp(i64::try_from(nanos).unwrap_or(i64::MAX))
    }

    fn to_jiff(self) -> jiff::Timestamp {
        // Every i64 of nanoseconds (years 1677 to 2262) is inside jiff's range.
        jiff::Timestamp::from_nanosecond(i128::from(self.0)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Go's `time.RFC3339Nano` in UTC: trailing zeros of the fraction trimmed, `Z` for the zone.
    ///
    /// This is how times appear in the alert JSON and the HTTP API.
    ///
    /// ```
    /// use klaxon_core::Timestamp;
    /// assert_eq!(Timestamp::from_nanos(10_000_000_000).to_rfc3339_nano(), "1970-01-01T00:00:10Z");
    /// assert_eq!(Timestamp::from_nanos(2_000_000).to_rfc3339_nano(), "1970-01-01T00:00:00.002Z");
    /// ```
    pub fn to_rfc3339_nano(self) -> String {
        let mut out = String::with_capacity(30);
        self.write_rfc3339_nano(&mut out);
        out
    }

    /// Appends [`Timestamp::to_rfc3339_nano`] to `out`.
    pub fn write_rfc3339_nano(self, out: &mut String) {
        use std::fmt::Write;
        let dt = self.to_jiff().to_zoned(jiff::tz::TimeZone::UTC).datetime();
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        );
        write_fraction(out, dt.subsec_nanosecond().unsigned_abs());
        out.push('Z');
    }

    /// Go's default `time.Time` string in UTC, as `{{ .Time }}` prints in a text template:
    /// `2006-01-02 15:04:05.999999999 +0000 UTC`.
    ///
    /// ```
    /// use klaxon_core::Timestamp;
    /// assert_eq!(Timestamp::from_nanos(1_500_000_000).to_go_string(), "1970-01-01 00:00:01.5 +0000 UTC");
    /// ```
    pub fn to_go_string(self) -> String {
        use std::fmt::Write;
        let dt = self.to_jiff().to_zoned(jiff::tz::TimeZone::UTC).datetime();
        let mut out = String::with_capacity(40);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        );
        write_fraction(&mut out, dt.subsec_nanosecond().unsigned_abs());
        out.push_str(" +0000 UTC");
        out
    }

    /// Parses an RFC 3339 time such as `2016-02-18T15:59:33.368443Z` or `...+01:00`.
    ///
    /// ```
    /// use klaxon_core::Timestamp;
    /// let t = Timestamp::parse_rfc3339("1970-01-01T00:00:01.5Z").unwrap();
    /// assert_eq!(t.as_nanos(), 1_500_000_000);
    /// assert!(Timestamp::parse_rfc3339("yesterday").is_err());
    /// ```
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimeParseError> {
        let ts: jiff::Timestamp = text.parse().map_err(|e: jiff::Error| TimeParseError {
            input: text.to_owned(),
            reason: e.to_string(),
        })?;
        i64::try_from(ts.as_nanosecond())
            .map(Timestamp)
            .map_err(|_| TimeParseError {
                input: text.to_owned(),
                reason: "outside the years 1677 to 2262".to_owned(),
            })
    }
}

/// Writes `.123` for 123 ms, nothing for a whole second: Go's trimmed nanosecond fraction.
fn write_fraction(out: &mut String, nanos: u32) {
    if nanos == 0 {
        return;
    }
    let digits = format!("{nanos:09}");
    out.push('.');
    out.push_str(digits.trim_end_matches('0'));
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_nano())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339_nano())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// A time text that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time {input:?}: {reason}")]
pub struct TimeParseError {
    input: String,
    reason: String,
}

/// A span of time in nanoseconds, written as Go writes `time.Duration`: `1m30s`, `2ms`, `0s`.
///
/// In configuration and handler options it is read from a Go duration string (`"10s"`,
/// `"1m30s"`) or from integer nanoseconds, because Kapacitor's clients send integers. It is
/// written back as a string; the alert JSON writes the integer instead (see [`crate::Event`]).
///
/// ```
/// use klaxon_core::GoDuration;
///
/// let d: GoDuration = "1m30s".parse().unwrap();
/// assert_eq!(d.as_nanos(), 90_000_000_000);
/// assert_eq!(d.to_string(), "1m30s");
/// assert_eq!(GoDuration::from_nanos(2_000_000).to_string(), "2ms");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(i64);

impl GoDuration {
    /// No time at all.
    pub const ZERO: GoDuration = GoDuration(0);

    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        GoDuration(nanos)
    }

    /// A duration of whole seconds.
    pub const fn from_secs(secs: i64) -> Self {
        GoDuration(secs.saturating_mul(1_000_000_000))
    }

    /// The length in nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// The same length as a `std::time::Duration`; negative durations become zero.
    ///
    /// ```
    /// use klaxon_core::GoDuration;
    /// assert_eq!(GoDuration::from_secs(2).to_std(), std::time::Duration::from_secs(2));
    /// ```
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(u64::try_from(self.0).unwrap_or(0))
    }

    /// The duration of a `std::time::Duration`, saturating at about 292 years.
    pub fn from_std(d: std::time::Duration) -> Self {
        GoDuration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }
}

impl fmt::Display for GoDuration {
    /// Go's `time.Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SECOND: u64 = 1_000_000_000;
        let negative = self.0 < 0;
        let mut u = self.0.unsigned_abs();
        if u == 0 {
            return f.write_str("0s");
        }
        let mut out = String::with_capacity(24);
        if u < SECOND {
            let (precision, unit) = if u < 1_000 {
                (0, "ns")
            } else if u < 1_000_000 {
                (3, "µs")
            } else {
                (6, "ms")
            };
            let (whole, frac) = split_fraction(u, precision);
            out.push_str(&whole.to_string());
            out.push_str(&frac);
            out.push_str(unit);
        } else {
            let (secs, frac) = split_fraction(u, 9);
            u = secs;
            let (hours, minutes, seconds) = (u / 3600, (u / 60) % 60, u % 60);
            if hours > 0 {
                out.push_str(&format!("{hours}h{minutes}m"));
            } else if u >= 60 {
                out.push_str(&format!("{minutes}m"));
            }
            out.push_str(&seconds.to_string());
            out.push_str(&frac);
            out.push('s');
        }
        if negative {
            f.write_str("-")?;
        }
        f.write_str(&out)
    }
}

/// Splits `v` into `v / 10^precision` and the fraction `.ddd` with trailing zeros removed.
fn split_fraction(v: u64, precision: u32) -> (u64, String) {
    let scale = 10u64.pow(precision);
    let (whole, frac) = (v / scale, v % scale);
    if frac == 0 {
        return (whole, String::new());
    }
    let digits = format!("{frac:0width$}", width = precision as usize);
    (whole, format!(".{}", digits.trim_end_matches('0')))
}

/// A duration text that Go's `time.ParseDuration` would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}; write it like \"10s\", \"1m30s\" or \"500ms\"")]
pub struct DurationParseError {
    input: String,
    reason: &'static str,
}

impl FromStr for GoDuration {
    type Err = DurationParseError;

    /// Go's `time.ParseDuration`: a sign, then one or more decimal numbers each with a unit
    /// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`). A bare `0` is zero.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason| DurationParseError {
            input: input.to_owned(),
            reason,
        };
        let (negative, mut rest) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        if rest == "0" {
            return Ok(GoDuration::ZERO);
        }
        if rest.is_empty() {
            return Err(fail("empty duration"));
        }
        let mut total: i128 = 0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let number = &rest[..number_len];
            if number.is_empty() || number == "." {
                return Err(fail("expected a number"));
            }
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let scale: i128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "" => return Err(fail("missing unit")),
                _ => return Err(fail("unknown unit")),
            };
            let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
            if frac.contains('.') {
                return Err(fail("more than one decimal point"));
            }
            let whole: i128 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| fail("number too large"))?
            };
            let mut part = whole.checked_mul(scale).ok_or_else(|| fail("overflow"))?;
            let mut place = scale;
            for digit in frac.bytes() {
                place /= 10;
                part += i128::from(digit - b'0') * place;
            }
            total += part;
            if total > i128::from(i64::MAX) {
                return Err(fail("overflow"));
            }
        }
        let total = i64::try_from(total).map_err(|_| fail("overflow"))?;
        Ok(GoDuration(if negative { -total } else { total }))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = GoDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"10s\" or integer nanoseconds")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<GoDuration, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<GoDuration, E> {
                Ok(GoDuration(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<GoDuration, E> {
                i64::try_from(v)
                    .map(GoDuration)
                    .map_err(|_| E::custom("duration too large"))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<GoDuration, E> {
                // Kapacitor decodes JSON floats into integer fields by truncation.
                if v.is_finite() && v.abs() < 9.2e18 {
                    Ok(GoDuration(v as i64))
                } else {
                    Err(E::custom("duration out of range"))
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl schemars::JsonSchema for GoDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GoDuration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "integer"],
            "description": "a Go duration such as \"10s\" or \"1m30s\", or integer nanoseconds"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (100_000_000, "100ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (4_000_000_000, "4s"),
            (60_000_000_000, "1m0s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_661_000_000_001, "1h1m1.000000001s"),
            (-2_000_000_000, "-2s"),
        ];
        for &(nanos, text) in cases {
            assert_eq!(GoDuration::from_nanos(nanos).to_string(), text, "{nanos}");
        }
    }

    #[test]
    fn durations_parse_like_go() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("10s", 10_000_000_000),
            ("1m30s", 90_000_000_000),
            ("1.5h", 5_400_000_000_000),
            ("500ms", 500_000_000),
            ("3us", 3_000),
            ("3µs", 3_000),
            ("-1s", -1_000_000_000),
            (".5s", 500_000_000),
            ("1h0m0s", 3_600_000_000_000),
        ];
        for &(text, nanos) in cases {
            assert_eq!(
                text.parse::<GoDuration>().unwrap().as_nanos(),
                nanos,
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        for text in ["", "10", "10x", "s", "1..5s", "9999999999999h"] {
            let err = text.parse::<GoDuration>().unwrap_err().to_string();
            assert!(err.contains(&format!("{text:?}")), "{err}");
            assert!(err.contains("\"1m30s\""), "{err}");
        }
    }

    #[test]
    fn durations_deserialize_from_strings_and_nanoseconds() {
        let d: GoDuration = serde_json::from_str(r#""1m""#).unwrap();
        assert_eq!(d.as_nanos(), 60_000_000_000);
        let d: GoDuration = serde_json::from_str("100000000").unwrap();
        assert_eq!(d.as_nanos(), 100_000_000);
        assert!(serde_json::from_str::<GoDuration>("true").is_err());
        assert_eq!(serde_json::to_string(&d).unwrap(), r#""100ms""#);
    }

    #[test]
    fn timestamps_print_like_go() {
        assert_eq!(
            Timestamp::from_nanos(-1).to_rfc3339_nano(),
            "1969-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            Timestamp::from_nanos(31_536_004_000_000_000).to_rfc3339_nano(),
            "1971-01-01T00:00:04Z"
        );
        assert_eq!(
            Timestamp::from_nanos(0).to_go_string(),
            "1970-01-01 00:00:00 +0000 UTC"
        );
    }

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        for nanos in [0, 1, 1_455_811_173_368_443_000, -86_400_000_000_001] {
            let t = Timestamp::from_nanos(nanos);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339_nano()).unwrap(), t);
        }
    }
}
