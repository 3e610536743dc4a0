//! Log output: logfmt (`ts=... lvl=info msg="..." key=value`) or JSON lines, to standard error,
//! standard output or a file (`[logging] file`, Kapacitor's key); the level can change while the
//! server runs ([`set_level`], Kapacitor's `POST /kapacitor/v1/loglevel`); and log sessions
//! ([`subscribe`], Kapacitor's `GET /kapacitor/v1preview/logs`) receive the lines that match
//! their filters as they happen, at debug level whatever the level of the log itself, as
//! Kapacitor's sessions do.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::{LogFormat, LoggingConfig};

/// Why the log cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// `[logging] file` cannot be opened for appending.
    #[error(
        "cannot open [logging] file {path}: {source}; create its directory, fix the path, or set \
         file = \"STDERR\""
    )]
    File {
        /// The configured file.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
}

/// A log level that `POST /kapacitor/v1/loglevel` (`klaxon level`) cannot set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log level {0:?}; use debug, info, warn or error")]
pub struct InvalidLevel(pub String);

/// The running log's filter, replaced by [`set_level`].
static LEVEL: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `[logging] level`.
pub fn init(config: &LoggingConfig) -> Result<(), LogError> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| EnvFilter::builder().parse(directives).ok())
        .or_else(|| EnvFilter::builder().parse(&config.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    // Every line, whoever logs it, with URL credentials redacted.
    let writer = BoxMakeWriter::new(crate::redact::Redacting(make_writer(&config.file)?));
    let output: Box<dyn Layer<Registry> + Send + Sync> = match config.format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .fmt_fields(LogfmtFields)
            .event_format(Logfmt)
            .with_ansi(false)
            .with_writer(writer)
            .boxed(),
    };
    // Sessions see Klaxon's own lines from debug up and everyone's from info up, whatever the
    // log's level; what no session could want stays disabled at its call site.
    let sessions = SessionLayer.with_filter(
        filter_fn(|meta| {
            meta.target().starts_with("klaxon") || *meta.level() <= tracing::Level::INFO
        })
        .with_max_level_hint(LevelFilter::DEBUG),
    );
    // A second init (tests embedding the server) keeps the first subscriber.
    if tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(sessions)
        .try_init()
        .is_ok()
    {
        let _ = LEVEL.set(handle);
    }
    Ok(())
}

/// Kapacitor's `file`: `STDERR` (the default), `STDOUT`, or a file appended to.
fn make_writer(file: &str) -> Result<BoxMakeWriter, LogError> {
    Ok(match file {
        "" | "STDERR" | "stderr" => BoxMakeWriter::new(std::io::stderr),
        "STDOUT" | "stdout" => BoxMakeWriter::new(std::io::stdout),
        path => {
            let opened = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| LogError::File {
                    path: path.to_owned(),
                    source,
                })?;
            BoxMakeWriter::new(Mutex::new(opened))
        }
    })
}

/// Changes the level of the running log, as Kapacitor's `POST /kapacitor/v1/loglevel` does
/// (case does not matter; Kapacitor takes debug, info and error, Klaxon warn too).
pub fn set_level(level: &str) -> Result<(), InvalidLevel> {
    check_level(level)?;
    let lower = level.to_ascii_lowercase();
    if let Some(handle) = LEVEL.get() {
        // The filter lives as long as the subscriber, which is global: reload cannot fail.
        let _ = handle.reload(EnvFilter::new(&lower));
    }
    tracing::info!(level = %lower, "log level changed");
    Ok(())
}

/// Whether `level` is one [`set_level`] takes.
pub fn check_level(level: &str) -> Result<(), InvalidLevel> {
    let lower = level.to_ascii_lowercase();
    if ["debug", "info", "warn", "error"].contains(&lower.as_str()) {
        Ok(())
    } else {
        Err(InvalidLevel(level.to_owned()))
    }
}

/// The logfmt event format.
#[derive(Debug, Clone, Copy)]
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(
            writer,
            "ts={} lvl={}",
            timestamp(),
            level_name(event.metadata().level())
        )?;
        ctx.format_fields(writer.by_ref(), event)?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                    write!(writer, "{fields}")?;
                }
            }
        }
        writeln!(writer, " target={}", event.metadata().target())
    }
}

/// Now, as the logs write it: RFC 3339 in UTC with milliseconds.
fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn level_name(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::ERROR => "error",
        tracing::Level::WARN => "warn",
        tracing::Level::INFO => "info",
        tracing::Level::DEBUG => "debug",
        tracing::Level::TRACE => "trace",
    }
}

/// Formats fields as ` key=value` pairs, `message` as `msg`.
#[derive(Debug, Clone, Copy)]
pub struct LogfmtFields;

impl<'writer> FormatFields<'writer> for LogfmtFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = LogfmtVisitor {
            writer,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct LogfmtVisitor<'w> {
    writer: Writer<'w>,
    result: fmt::Result,
}

impl LogfmtVisitor<'_> {
    fn pair(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        self.result = write!(self.writer, " {}={}", key_name(field), quote(value));
    }
}

fn key_name(field: &Field) -> &'static str {
    match field.name() {
        "message" => "msg",
        name => name,
    }
}

impl Visit for LogfmtVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.pair(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.pair(field, &format!("{value:?}"));
    }
}

/// Quotes a logfmt value when it is empty or holds spaces, `=`, quotes or control characters.
pub fn quote(value: &str) -> String {
    let needs = value.is_empty()
        || value
            .chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if !needs {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What a log session wants: Kapacitor's `key=value` query of `/logs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// `lvl=info+`: this level and above only.
    pub min_level: Option<tracing::Level>,
    /// Every other pair must match: `lvl` the level, `msg` the message, any other key a field
    /// of that name with that value.
    pub tags: Vec<(String, String)>,
    /// JSON lines (`Accept: application/json`) instead of logfmt.
    pub json: bool,
}

impl SessionFilter {
    /// The filter of Kapacitor's query pairs: `lvl=X+` is a threshold, anything else must
    /// match.
    pub fn from_pairs(pairs: Vec<(String, String)>, json: bool) -> Result<Self, InvalidLevel> {
        let mut filter = SessionFilter {
            json,
            ..SessionFilter::default()
        };
        for (key, value) in pairs {
            match value.strip_suffix('+') {
                Some(level) if key == "lvl" => {
                    let parsed = level
                        .parse::<tracing::Level>()
                        .map_err(|_| InvalidLevel(level.to_owned()))?;
                    filter.min_level = Some(parsed);
                }
                _ => filter.tags.push((key, value)),
            }
        }
        Ok(filter)
    }

    fn matches(&self, line: &Line) -> bool {
        if self.min_level.is_some_and(|min| line.level > min) {
            return false;
        }
        self.tags.iter().all(|(key, value)| match key.as_str() {
            "lvl" => level_name(&line.level) == value.to_ascii_lowercase(),
            "msg" => line.message == *value,
            _ => line.fields.iter().any(|(k, v)| k == key && v == value),
        })
    }
}

/// One log event, as sessions see it.
#[derive(Debug)]
struct Line {
    level: tracing::Level,
    target: &'static str,
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Line {
    fn of(event: &Event<'_>) -> Line {
        let mut line = Line {
            level: *event.metadata().level(),
            target: event.metadata().target(),
            message: String::new(),
            fields: Vec::new(),
        };
        event.record(&mut line);
        line
    }

    fn logfmt(&self, ts: &str) -> String {
        let mut out = format!(
            "ts={ts} lvl={} msg={}",
            level_name(&self.level),
            quote(&self.message)
        );
        for (key, value) in &self.fields {
            let _ = write!(out, " {key}={}", quote(value));
        }
        let _ = writeln!(out, " target={}", self.target);
        out
    }

    fn json(&self, ts: &str) -> String {
        let mut map = serde_json::Map::new();
        map.insert("ts".into(), ts.into());
        map.insert("lvl".into(), level_name(&self.level).into());
        map.insert("msg".into(), self.message.clone().into());
        for (key, value) in &self.fields {
            map.insert((*key).to_owned(), value.clone().into());
        }
        map.insert("target".into(), self.target.into());
        let mut out = serde_json::Value::Object(map).to_string();
        out.push('\n');
        out
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        match key_name(field) {
            "msg" => self.message = value.to_owned(),
            key => self.fields.push((key, value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Lines a session may have waiting before newer ones are dropped for it: a slow reader must not
/// slow the server down.
const SESSION_BUFFER: usize = 1024;

/// One open session.
#[derive(Debug)]
struct Session {
    filter: SessionFilter,
    lines: tokio::sync::mpsc::Sender<String>,
}

/// The open sessions; `open` lets a line go by without taking the lock when there are none.
#[derive(Debug)]
struct Sessions {
    open: AtomicUsize,
    list: Mutex<Vec<Session>>,
}

static SESSIONS: Sessions = Sessions {
    open: AtomicUsize::new(0),
    list: Mutex::new(Vec::new()),
};

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, line: &Line) {
        let mut list = self.lock();
        list.retain(|s| !s.lines.is_closed());
        self.open.store(list.len(), Ordering::Relaxed);
        let ts = timestamp();
        for session in list.iter().filter(|s| s.filter.matches(line)) {
            let text = if session.filter.json {
                line.json(&ts)
            } else {
                line.logfmt(&ts)
            };
            let _ = session.lines.try_send(text);
        }
    }
}

/// Opens a log session: the lines that match `filter` from now on, formatted, until the
/// receiver is dropped.
pub fn subscribe(filter: SessionFilter) -> tokio::sync::mpsc::Receiver<String> {
    let (tx, rx) = tokio::sync::mpsc::channel(SESSION_BUFFER);
    let mut list = SESSIONS.lock();
    list.retain(|s| !s.lines.is_closed());
    list.push(Session { filter, lines: tx });
    SESSIONS.open.store(list.len(), Ordering::Relaxed);
    rx
}

/// Hands events to the open sessions.
struct SessionLayer;

impl<S: Subscriber> Layer<S> for SessionLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if SESSIONS.open.load(Ordering::Relaxed) == 0 {
            return;
        }
        SESSIONS.publish(&Line::of(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(quote("a=b"), "\"a=b\"");
    }

    fn line(level: tracing::Level, fields: &[(&'static str, &str)]) -> Line {
        Line {
            level,
            target: "klaxon_engine::tasks",
            message: "alert event".into(),
            fields: fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn sessions_match_as_kapacitor_matches() {
        let pairs = |p: &[(&str, &str)]| {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let cpu = line(
            tracing::Level::DEBUG,
            &[("task", "cpu"), ("node", "alert2")],
        );
        let filter = SessionFilter::from_pairs(pairs(&[("task", "cpu")]), false).unwrap();
        assert!(filter.matches(&cpu));
        let filter =
            SessionFilter::from_pairs(pairs(&[("task", "cpu"), ("node", "alert3")]), false)
                .unwrap();
        assert!(!filter.matches(&cpu));
        let filter = SessionFilter::from_pairs(pairs(&[("lvl", "info+")]), false).unwrap();
        assert!(!filter.matches(&cpu));
        assert!(filter.matches(&line(tracing::Level::ERROR, &[])));
        let filter = SessionFilter::from_pairs(pairs(&[("lvl", "debug")]), false).unwrap();
        assert!(filter.matches(&cpu));
        let filter = SessionFilter::from_pairs(pairs(&[("msg", "alert event")]), false).unwrap();
        assert!(filter.matches(&cpu));
        assert!(SessionFilter::from_pairs(pairs(&[("lvl", "loud+")]), false).is_err());
    }

    #[test]
    fn session_lines_are_logfmt_or_json() {
        let cpu = line(
            tracing::Level::DEBUG,
            &[("task", "cpu"), ("event", "cpu:nil")],
        );
        assert_eq!(
            cpu.logfmt("T"),
            "ts=T lvl=debug msg=\"alert event\" task=cpu event=cpu:nil target=klaxon_engine::tasks\n"
        );
        assert_eq!(
            cpu.json("T"),
            "{\"ts\":\"T\",\"lvl\":\"debug\",\"msg\":\"alert event\",\"task\":\"cpu\",\"event\":\"cpu:nil\",\"target\":\"klaxon_engine::tasks\"}\n"
        );
    }

    #[test]
    fn only_kapacitor_levels_and_warn_can_be_set() {
        assert_eq!(
            set_level("loud").unwrap_err().to_string(),
            "invalid log level \"loud\"; use debug, info, warn or error"
        );
        assert!(set_level("DEBUG").is_ok());
    }
}
