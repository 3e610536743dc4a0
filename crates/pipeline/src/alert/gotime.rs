//! Go's `time.Time` and `time.Duration` methods for alert templates: `{{ .Time.Format "15:04" }}`,
//! `{{ .Duration.Minutes }}`. Go templates call methods on values; gotmpl has no methods, so
//! [`super::methods`] rewrites such calls into the functions made here, which take the value as
//! its text (`{{ .Time }}` prints Go's default form, which is parsed back) and run the method.
//! Times are UTC, as Kapacitor's alert times are.

use std::fmt::Write;
use std::sync::Arc;

use gotmpl::Value;
use klaxon_core::{GoDuration, Timestamp};

/// The receiver types whose methods templates may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// `time.Time`.
    Time,
    /// `time.Duration`.
    Duration,
}

/// `time.Time` methods: (name, what it returns, or `None` when it is not a time or duration).
const TIME_METHODS: &[(&str, Option<Receiver>)] = &[
    ("Day", None),
    ("Format", None),
    ("Hour", None),
    ("Local", Some(Receiver::Time)),
    ("Minute", None),
    ("Month", None),
    ("Nanosecond", None),
    ("Second", None),
    ("String", None),
    ("UTC", Some(Receiver::Time)),
    ("Unix", None),
    ("UnixMicro", None),
    ("UnixMilli", None),
    ("UnixNano", None),
    ("Weekday", None),
    ("Year", None),
    ("YearDay", None),
];

/// `time.Duration` methods.
const DURATION_METHODS: &[(&str, Option<Receiver>)] = &[
    ("Hours", None),
    ("Microseconds", None),
    ("Milliseconds", None),
    ("Minutes", None),
    ("Nanoseconds", None),
    ("Seconds", None),
    ("String", None),
];

impl Receiver {
    /// The receiver a field of the template data holds: `.Time` and `.Duration`.
    pub(crate) fn of_field(name: &str) -> Option<Receiver> {
        match name {
            "Time" => Some(Receiver::Time),
            "Duration" => Some(Receiver::Duration),
            _ => None,
        }
    }

    fn methods(self) -> &'static [(&'static str, Option<Receiver>)] {
        match self {
            Receiver::Time => TIME_METHODS,
            Receiver::Duration => DURATION_METHODS,
        }
    }

    /// Whether `name` is a method of this type, and what it returns.
    pub(crate) fn method(self, name: &str) -> Option<Option<Receiver>> {
        self.methods()
            .iter()
            .find(|(m, _)| *m == name)
            .map(|(_, returns)| *returns)
    }

    /// The template function that runs method `name`: a name no template can spell by chance.
    pub(crate) fn function(self, name: &str) -> String {
        match self {
            Receiver::Time => format!("__Time_{name}"),
            Receiver::Duration => format!("__Duration_{name}"),
        }
    }

    /// Every method as a template function, to register on a template.
    pub(crate) fn functions() -> gotmpl::FuncMap {
        let mut out = gotmpl::FuncMap::new();
        for receiver in [Receiver::Time, Receiver::Duration] {
            for (name, _) in receiver.methods() {
                let name: &'static str = name;
                let func: gotmpl::ValueFunc =
                    Arc::new(move |args: &[Value]| call(receiver, name, args));
                out.insert(receiver.function(name), func);
            }
        }
        out
    }
}

fn fail(message: String) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(message)
}

/// Runs method `name` of `receiver` on `args[0]`, with the method's own arguments after it.
fn call(receiver: Receiver, name: &str, args: &[Value]) -> gotmpl::Result<Value> {
    let Some((Value::String(text), rest)) = args.split_first() else {
        return Err(fail(format!(
            "can't evaluate method {name}: its receiver is not a {}",
            receiver_name(receiver)
        )));
    };
    let want_args = usize::from(name == "Format");
    if rest.len() != want_args {
        return Err(fail(format!(
            "wrong number of args for {name}: want {want_args} got {}",
            rest.len()
        )));
    }
    match receiver {
        Receiver::Duration => {
            let d: GoDuration = text
                .parse()
                .map_err(|_| fail(format!("can't evaluate method {name} of {text:?}")))?;
            let ns = d.as_nanos();
            Ok(match name {
                "Hours" => Value::Float(ns as f64 / 3.6e12),
                "Minutes" => Value::Float(ns as f64 / 6e10),
                "Seconds" => Value::Float(ns as f64 / 1e9),
                "Milliseconds" => Value::Int(ns / 1_000_000),
                "Microseconds" => Value::Int(ns / 1_000),
                "Nanoseconds" => Value::Int(ns),
                _ => Value::String(d.to_string().into()),
            })
        }
        Receiver::Time => {
            let t = parse_go_time(text)
                .ok_or_else(|| fail(format!("can't evaluate method {name} of {text:?}")))?;
            let civil = Civil::of(t);
            Ok(match name {
                "Format" => {
                    let Value::String(layout) = &rest[0] else {
                        return Err(fail("Format takes a layout string".to_owned()));
                    };
                    Value::String(format(t, layout).into())
                }
                "Unix" => Value::Int(t.div_euclid(1_000_000_000)),
                "UnixMilli" => Value::Int(t.div_euclid(1_000_000)),
                "UnixMicro" => Value::Int(t.div_euclid(1_000)),
                "UnixNano" => Value::Int(t),
                "Year" => Value::Int(civil.year),
                "Month" => Value::String(MONTHS[civil.month as usize - 1].into()),
                "Day" => Value::Int(civil.day),
                "Hour" => Value::Int(civil.hour),
                "Minute" => Value::Int(civil.minute),
                "Second" => Value::Int(civil.second),
                "Nanosecond" => Value::Int(civil.nanos),
                "Weekday" => Value::String(DAYS[civil.weekday as usize].into()),
                "YearDay" => Value::Int(civil.year_day),
                // UTC, Local and String: the same time, printed as Go prints it.
                _ => Value::String(text.clone()),
            })
        }
    }
}

fn receiver_name(receiver: Receiver) -> &'static str {
    match receiver {
        Receiver::Time => "time",
        Receiver::Duration => "duration",
    }
}

/// Parses Go's default form back (`2006-01-02 15:04:05.999999999 +0000 UTC`), as
/// [`Timestamp::to_go_string`] prints it.
fn parse_go_time(text: &str) -> Option<i64> {
    let rest = text.strip_suffix(" +0000 UTC")?;
    let (date, time) = rest.split_once(' ')?;
    Timestamp::parse_rfc3339(&format!("{date}T{time}Z"))
        .ok()
        .map(Timestamp::as_nanos)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A UTC time split into its calendar parts.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: i64,
    /// 0 is Sunday.
    weekday: i64,
    /// 1 to 366.
    year_day: i64,
}

impl Civil {
    fn of(nanos: i64) -> Civil {
        let secs = nanos.div_euclid(1_000_000_000);
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        // Howard Hinnant's days-to-civil.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let year_day = BEFORE[month as usize - 1] + day + i64::from(leap && month > 2);
        Civil {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day % 3600 / 60,
            second: of_day % 60,
            nanos: nanos.rem_euclid(1_000_000_000),
            weekday: (days + 4).rem_euclid(7),
            year_day,
        }
    }
}

/// Go's `time.Time.Format` with a reference layout (`2006-01-02 15:04:05`, `Jan _2`, `3:04PM`,
/// `.000`...), for a UTC time.
///
/// ```ignore
/// assert_eq!(format(0, "2006-01-02T15:04:05Z07:00"), "1970-01-01T00:00:00Z");
/// ```
pub(crate) fn format(nanos: i64, layout: &str) -> String {
    let c = Civil::of(nanos);
    let mut out = String::with_capacity(layout.len() + 8);
    let bytes = layout.as_bytes();
    let at = |i: usize, s: &str| layout[i..].starts_with(s);
    let lower_after = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_lowercase);
    let mut i = 0;
    while i < bytes.len() {
        let (width, text): (usize, String) = match bytes[i] {
            b'J' if at(i, "January") => (7, MONTHS[c.month as usize - 1].to_owned()),
            b'J' if at(i, "Jan") && !lower_after(i + 3) => {
                (3, MONTHS[c.month as usize - 1][..3].to_owned())
            }
            b'M' if at(i, "Monday") => (6, DAYS[c.weekday as usize].to_owned()),
            b'M' if at(i, "Mon") && !lower_after(i + 3) => {
                (3, DAYS[c.weekday as usize][..3].to_owned())
            }
            b'M' if at(i, "MST") => (3, "UTC".to_owned()),
            b'0' if at(i, "002") => (3, format!("{:03}", c.year_day)),
            b'0' if matches!(bytes.get(i + 1), Some(b'1'..=b'6')) => {
                let v = match bytes[i + 1] {
                    b'1' => c.month,
                    b'2' => c.day,
                    b'3' => hour12(c.hour),
                    b'4' => c.minute,
                    b'5' => c.second,
                    _ => c.year.rem_euclid(100),
                };
                (2, format!("{v:02}"))
            }
            b'1' if at(i, "15") => (2, format!("{:02}", c.hour)),
            b'1' => (1, c.month.to_string()),
            b'2' if at(i, "2006") => (4, format!("{:04}", c.year)),
            b'2' => (1, c.day.to_string()),
            b'_' if at(i, "_2006") => (5, format!("_{:04}", c.year)),
            b'_' if at(i, "__2") => (3, format!("{:>3}", c.year_day)),
            b'_' if at(i, "_2") => (2, format!("{:>2}", c.day)),
            b'3' => (1, hour12(c.hour).to_string()),
            b'4' => (1, c.minute.to_string()),
            b'5' => (1, c.second.to_string()),
            b'P' if at(i, "PM") => (2, if c.hour >= 12 { "PM" } else { "AM" }.to_owned()),
            b'p' if at(i, "pm") => (2, if c.hour >= 12 { "pm" } else { "am" }.to_owned()),
            b'Z' | b'-' => match zone(&layout[i..]) {
                Some(width) => {
                    let text = if bytes[i] == b'Z' {
                        "Z".to_owned()
                    } else {
                        // A numeric offset: zero, in as many parts as the layout shows.
                        layout[i..i + width]
                            .chars()
                            .map(|ch| {
                                if ch == '-' {
                                    '+'
                                } else if ch == ':' {
                                    ':'
                                } else {
                                    '0'
                                }
                            })
                            .collect()
                    };
                    (width, text)
                }
                None => (1, char::from(bytes[i]).to_string()),
            },
            b'.' | b',' if matches!(bytes.get(i + 1), Some(b'0' | b'9')) => {
                let digit = bytes[i + 1];
                let run = bytes[i + 1..].iter().take_while(|b| **b == digit).count();
                if bytes.get(i + 1 + run).is_some_and(u8::is_ascii_digit) {
                    (1, char::from(bytes[i]).to_string())
                } else {
                    (run + 1, fraction(c.nanos, run, digit == b'9', bytes[i]))
                }
            }
            _ => {
                let ch = layout[i..].chars().next().unwrap_or_default();
                (ch.len_utf8(), ch.to_string())
            }
        };
        out.push_str(&text);
        i += width;
    }
    out
}

fn hour12(hour: i64) -> i64 {
    match hour % 12 {
        0 => 12,
        h => h,
    }
}

/// The width of a zone layout at the start of `s` (`-0700`, `Z07:00`...), longest first as Go.
fn zone(s: &str) -> Option<usize> {
    let forms = [
        "Z07:00:00",
        "-07:00:00",
        "Z070000",
        "-070000",
        "Z07:00",
        "-07:00",
        "Z0700",
        "-0700",
        "Z07",
        "-07",
    ];
    forms.iter().find(|f| s.starts_with(**f)).map(|f| f.len())
}

/// `.000` (fixed digits) or `.999` (trailing zeros dropped, nothing at all for a whole second).
fn fraction(nanos: i64, digits: usize, trim: bool, separator: u8) -> String {
    let digits = digits.min(9);
    let mut text = format!("{nanos:09}");
    text.truncate(digits);
    if trim {
        while text.ends_with('0') {
            text.pop();
        }
        if text.is_empty() {
            return String::new();
        }
    }
    let mut out = String::with_capacity(text.len() + 1);
    let _ = write!(out, "{}{text}", char::from(separator));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-02-29T13:45:30.25Z, a Thursday.
    const T: i64 = 1_709_214_330_250_000_000;

    #[test]
    fn layouts_format_as_go() {
        for (layout, want) in [
            ("15:04", "13:45"),
            ("2006-01-02 15:04:05", "2024-02-29 13:45:30"),
            (
                "2006-01-02 15:04:05.999999999 -0700 MST",
                "2024-02-29 13:45:30.25 +0000 UTC",
            ),
            ("2006-01-02T15:04:05Z07:00", "2024-02-29T13:45:30Z"),
            ("Mon Jan _2 15:04:05 2006", "Thu Feb 29 13:45:30 2024"),
            (
                "Monday, 02-Jan-06 15:04:05 MST",
                "Thursday, 29-Feb-24 13:45:30 UTC",
            ),
            ("3:04PM", "1:45PM"),
            ("03:04:05.000 pm", "01:45:30.250 pm"),
            ("January 2, 2006 (day 002)", "February 29, 2024 (day 060)"),
            ("15h04.999", "13h45.25"),
            ("05,000000", "30,250000"),
        ] {
            assert_eq!(format(T, layout), want, "{layout}");
        }
        assert_eq!(format(0, "2006-01-02 15:04:05.999"), "1970-01-01 00:00:00");
        assert_eq!(
            format(-1, "2006-01-02 15:04:05.000"),
            "1969-12-31 23:59:59.999"
        );
    }

    #[test]
    fn methods_run_on_the_printed_values() {
        let time = Value::String(Timestamp::from_nanos(T).to_go_string().into());
        let run = |receiver, name, args: &[Value]| call(receiver, name, args).unwrap();
        let t = |name| run(Receiver::Time, name, std::slice::from_ref(&time));
        assert!(matches!(t("Unix"), Value::Int(1_709_214_330)));
        assert!(matches!(t("YearDay"), Value::Int(60)));
        assert!(matches!(t("Weekday"), Value::String(s) if &*s == "Thursday"));
        assert!(matches!(t("Month"), Value::String(s) if &*s == "February"));
        let formatted = run(
            Receiver::Time,
            "Format",
            &[time.clone(), Value::String("15:04".into())],
        );
        assert!(matches!(formatted, Value::String(s) if &*s == "13:45"));
        let duration = Value::String("1m30s".into());
        let d = |name| run(Receiver::Duration, name, std::slice::from_ref(&duration));
        assert!(matches!(d("Minutes"), Value::Float(m) if m == 1.5));
        assert!(matches!(d("Milliseconds"), Value::Int(90_000)));
        let err = call(Receiver::Time, "Format", std::slice::from_ref(&time)).unwrap_err();
        assert!(err.to_string().contains("want 1 got 0"), "{err}");
    }
}
