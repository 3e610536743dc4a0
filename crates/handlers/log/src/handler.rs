//! The log handler: appends each alert, as one line of JSON, to a file, opening it for each
//! alert as Kapacitor does, so that a file rotated away is created afresh by the next alert.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use klaxon_core::{
    Chained, Event, Handler, HandlerError, Init, Invalid, Service, TickShape, async_trait,
    sample_test,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Config;

/// The options of one log handler: the same type decodes handler files, the HTTP API and
/// TICKscript calls.
///
/// ```json
/// {"path": "/var/log/klaxon/alerts.log", "mode": 420}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The file to append alerts to, as an absolute path. Its directory must exist; the file is
    /// created if needed. Required.
    pub path: String,
    /// The permissions the file is created with (the umask applies), which must let the owner
    /// write: a number (420 for 0644, as JSON has no octal), or a string of octal digits with a
    /// leading 0 ("0644", which YAML's 0644 becomes). Default 0600.
    pub mode: Mode,
}

/// File permissions, such as `0644`. Reads a number (`420`, what TICKscript's `.mode(0644)` and
/// Kapacitor's JSON give) or an octal string with a leading `0` (`"0644"`: a YAML handler file's
/// `mode: 0644`); writes a number, as Kapacitor does.
///
/// ```
/// use klaxon_handler_log::Mode;
/// let mode: Mode = serde_json::from_str("\"0644\"").unwrap();
/// assert_eq!(mode, Mode(0o644));
/// assert_eq!(mode.to_string(), "0644");
/// assert_eq!(serde_json::to_string(&mode).unwrap(), "420");
/// assert_eq!(Mode::default(), Mode(0o600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

impl Default for Mode {
    /// Kapacitor's default, `0600`.
    fn default() -> Self {
        Mode(0o600)
    }
}

impl fmt::Display for Mode {
    /// Octal with a leading zero, as the mode is written: `0644`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0");
        }
        write!(f, "0{:o}", self.0)
    }
}

impl Mode {
    /// The permissions as `ls -l` shows them (and Kapacitor's messages): `-rw-r--r--`.
    ///
    /// ```
    /// assert_eq!(klaxon_handler_log::Mode(0o444).symbolic(), "-r--r--r--");
    /// ```
    pub fn symbolic(self) -> String {
        let mut text = String::from("-");
        for shift in [6, 3, 0] {
            let bits = (self.0 >> shift) & 0o7;
            text.push(if bits & 0o4 != 0 { 'r' } else { '-' });
            text.push(if bits & 0o2 != 0 { 'w' } else { '-' });
            text.push(if bits & 0o1 != 0 { 'x' } else { '-' });
        }
        text
    }

    /// Refuses what a log file cannot be created with: bits beyond the permissions, or a file
    /// its owner cannot write (Kapacitor's check).
    fn check(self) -> Result<(), Invalid> {
        if self.0 & !0o777 != 0 {
            return Err(Invalid::new(format!(
                "mode {self} has bits beyond the permissions 0777; give permissions only, such as 0644"
            )));
        }
        if self.0 & 0o200 == 0 {
            return Err(Invalid::new(format!(
                "mode {self} ({}) must be user writable; use a mode such as 0600 or 0644",
                self.symbolic()
            )));
        }
        Ok(())
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Mode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a file mode: a number such as 420, or octal text such as \"0644\"")
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Mode, E> {
                u32::try_from(v)
                    .map(Mode)
                    .map_err(|_| E::custom(format!("mode {v} is too large for a file mode")))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Mode, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!("mode {v} is negative"))),
                }
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Mode, E> {
                // Kapacitor decodes JSON numbers into the mode by truncation; a fraction is a
                // mistake worth saying.
                if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
                    return Ok(Mode(v as u32));
                }
                Err(E::custom(format!("mode {v} is not a file mode")))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Mode, E> {
                let digits = v
                    .strip_prefix("0o")
                    .or_else(|| v.strip_prefix('0').filter(|rest| !rest.is_empty()));
                let Some(digits) = digits.or((v == "0").then_some("0")) else {
                    return Err(E::custom(format!(
                        "mode {v:?} is ambiguous; write octal text with a leading 0, such as \"0644\", or a number"
                    )));
                };
                u32::from_str_radix(digits, 8).map(Mode).map_err(|_| {
                    E::custom(format!(
                        "mode {v:?} is not octal; write it like \"0644\", with the digits 0 to 7"
                    ))
                })
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl schemars::JsonSchema for Mode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["integer", "string"],
            "description": "file permissions: a number (420 for 0644) or octal text (\"0644\")"
        })
    }
}

/// The `log` handler kind: appends each alert, as one line of JSON, to a file.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_log::{Config, LogService, Mode, Options};
///
/// let service = LogService::new(Init::new(Config::default())).unwrap();
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("alerts.log").display().to_string();
/// assert!(service.handler(Options { path, mode: Mode(0o644) }).is_ok());
///
/// let relative = Options { path: "alerts.log".into(), ..Options::default() };
/// let err = service.handler(relative).unwrap_err();
/// assert_eq!(err.to_string(), r#"path "alerts.log" is relative; write an absolute path"#);
/// ```
#[derive(Debug)]
pub struct LogService {}

/// The chained properties of `.log(path)`: `.mode(0644)`.
const CHAINED: &[Chained] = &[Chained::value("mode", "mode")];

#[async_trait]
impl Service for LogService {
    const KIND: &'static str = "log";
    const DESCRIPTION: &'static str = "appends each alert as a line of JSON to a file";
    const TICK: TickShape = TickShape::new("log").args(&["path"]).chained(CHAINED);
    type Config = Config;
    type Options = Options;
    type TestOptions = Options;

    fn new(_init: Init<Config>) -> Result<Self, Invalid> {
        Ok(LogService {})
    }

    /// Checks the path and mode, and that the file can be opened for appending (creating it, with
    /// the mode, if it does not exist), so that a file that cannot be written refuses the
    /// definition with the reason.
    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        let Options { path, mode } = options;
        if path.is_empty() {
            return Err(Invalid::new(
                "path is required; write an absolute path such as \"/var/log/klaxon/alerts.log\"",
            ));
        }
        if !Path::new(&path).is_absolute() {
            return Err(Invalid::new(format!(
                "path {path:?} is relative; write an absolute path"
            )));
        }
        mode.check()?;
        open(&path, mode).map_err(|e| Invalid::new(format!("cannot open path {path:?}: {e}")))?;
        Ok(Arc::new(LogHandler { path, mode }))
    }

    /// Appends a sample alert whose message is `test log message` to the options' file. Kapacitor
    /// has no log service test.
    async fn test(&self, options: Options) -> Result<(), HandlerError> {
        sample_test(self, options, "test log message").await
    }
}

/// Appends events to one file.
#[derive(Debug)]
struct LogHandler {
    path: String,
    mode: Mode,
}

#[async_trait]
impl Handler for LogHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let line = event.alert_json();
        let (path, mode) = (self.path.clone(), self.mode);
        // Opening, writing and closing block; they run off the async workers, in one go.
        tokio::task::spawn_blocking(move || append(&path, mode, line.as_bytes()))
            .await
            .unwrap_or_else(|e| {
                Err(HandlerError::transient(format!(
                    "append to {}: {e}",
                    self.path
                )))
            })
    }

    fn sends_alert_json(&self) -> bool {
        true
    }
}

/// Opens `path` for appending, creating it with `mode` if it does not exist.
fn open(path: &str, mode: Mode) -> std::io::Result<std::fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode.0)
        .open(path)
}

/// Appends `line` to the file at `path`. The file is opened for this one line, as Kapacitor
/// does: after a rotation (`mv` of the file) the next line creates a new file at the path rather
/// than following the old one. One write of the whole line to a file opened for appending keeps
/// lines from concurrent handlers whole.
fn append(path: &str, mode: Mode, line: &[u8]) -> Result<(), HandlerError> {
    let mut file =
        open(path, mode).map_err(|e| HandlerError::io(format_args!("open {path}"), &e))?;
    file.write_all(line)
        .map_err(|e| HandlerError::io(format_args!("append to {path}"), &e))
}
