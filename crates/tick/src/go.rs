//! Go's text formats, where Kapacitor's output depends on them: floats, durations, times and
//! go-humanize byte sizes. Written here because they are a few lines each and exactness matters.

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// Go's `strconv.FormatFloat(x, 'f', -1, 64)`: the shortest decimal that reads back as `x`,
/// never in exponent form. Rust's `Display` for `f64` has the same contract except for the
/// spelling of infinities.
pub(crate) fn format_float(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if x.is_nan() {
        return "NaN".to_owned();
    }
    format!("{x}")
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5µs`, `0s`.
pub(crate) fn format_duration(d: i64) -> String {
    if d == 0 {
        return "0s".to_owned();
    }
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    if u < SECOND as u64 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (int, frac) = split_frac(u, prec);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (secs, frac) = split_frac(u, 9);
        u = secs;
        let s = format!("{}{}s", u % 60, frac);
        u /= 60;
        if u > 0 {
            let m = u % 60;
            u /= 60;
            if u > 0 {
                out.push_str(&format!("{u}h"));
            }
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&s);
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^prec` and the fraction digits as `.ddd` without trailing zeros
/// (empty when the fraction is zero), as Go's `fmtFrac`.
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    if prec == 0 {
        return (v, String::new());
    }
    let scale = 10u64.pow(prec);
    let frac = v % scale;
    if frac == 0 {
        return (v / scale, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / scale, format!(".{}", digits.trim_end_matches('0')))
}

/// InfluxQL's `FormatDuration`, which Kapacitor's `string(duration)` uses: the largest unit
/// that divides the duration exactly (`90s`, `2w`, `1500ms`, `3u`, `7ns`).
pub(crate) fn format_duration_influx(d: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (WEEK, "w"),
        (DAY, "d"),
        (HOUR, "h"),
        (MINUTE, "m"),
        (SECOND, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    if d == 0 {
        return "0s".to_owned();
    }
    for (unit, name) in UNITS {
        if d % unit == 0 {
            return format!("{}{name}", d / unit);
        }
    }
    format!("{d}ns")
}

/// Broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanos: u32,
    /// 0 = Sunday, as Go's `time.Weekday`.
    pub weekday: u32,
}

/// Converts nanoseconds since the epoch to UTC civil time (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil(ns: i64) -> Civil {
    let secs = ns.div_euclid(SECOND);
    let nanos = ns.rem_euclid(SECOND) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: sod / 3_600,
        minute: sod / 60 % 60,
        second: sod % 60,
        nanos,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Go's `time.RFC3339Nano` in UTC: `2006-01-02T15:04:05.999999999Z` with trailing zeros of the
/// fraction trimmed.
pub(crate) fn format_rfc3339_nano(ns: i64) -> String {
    let c = civil(ns);
    let (_, frac) = split_frac(u64::from(c.nanos), 9);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// go-humanize's `Bytes`: SI units, one decimal below 10 (`1.0 kB`, `83 MB`, `9 B`).
pub(crate) fn human_bytes(s: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if s < 10 {
        return format!("{s} B");
    }
    let sf = s as f64;
    let e = (sf.ln() / 1000f64.ln()).floor();
    let suffix = SIZES[(e as usize).min(SIZES.len() - 1)];
    let val = (sf / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {suffix}")
    } else {
        format!("{val:.0} {suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        for (x, want) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e21, "1000000000000000000000"),
            (1e-7, "0.0000001"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(format_float(x), want, "{x}");
        }
    }

    #[test]
    fn durations_print_like_go() {
        for (d, want) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (1_500_000, "1.5ms"),
            (SECOND, "1s"),
            (90 * SECOND, "1m30s"),
            (HOUR, "1h0m0s"),
            (HOUR + 2 * MINUTE + 3 * SECOND + 500_000_000, "1h2m3.5s"),
            (-90 * SECOND, "-1m30s"),
        ] {
            assert_eq!(format_duration(d), want, "{d}");
        }
    }

    #[test]
    fn durations_print_like_influxql() {
        for (d, want) in [
            (0, "0s"),
            (90 * SECOND, "90s"),
            (2 * WEEK, "2w"),
            (3 * DAY, "3d"),
            (1_500_000_000, "1500ms"),
            (3_000, "3u"),
            (7, "7ns"),
            (-MINUTE, "-1m"),
        ] {
            assert_eq!(format_duration_influx(d), want, "{d}");
        }
    }

    #[test]
    fn civil_time_matches_known_dates() {
        // 2024-02-29T13:45:30.25Z, a Thursday.
        let c = civil(1_709_214_330_250_000_000);
        assert_eq!(
            (
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.weekday
            ),
            (2024, 2, 29, 13, 45, 30, 4)
        );
        assert_eq!(c.nanos, 250_000_000);
        // Before the epoch: 1969-12-31T23:59:59Z, a Wednesday.
        let c = civil(-SECOND);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.weekday),
            (1969, 12, 31, 23, 3)
        );
        assert_eq!(format_rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_nano(31_536_000 * SECOND + 10 * SECOND),
            "1971-01-01T00:00:10Z"
        );
    }

    #[test]
    fn bytes_print_like_go_humanize() {
        for (s, want) in [
            (0, "0 B"),
            (9, "9 B"),
            (10, "10 B"),
            (1_000, "1.0 kB"),
            (1_500, "1.5 kB"),
            (82_854_982, "83 MB"),
            (u64::MAX, "18 EB"),
        ] {
            assert_eq!(human_bytes(s), want, "{s}");
        }
    }
}
