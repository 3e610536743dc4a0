//! The alert node's `.id()`, `.message()` and `.details()` templates: Go's text/template (and
//! html/template for details) through gotmpl, with Kapacitor's defaults and data (reference 1.6).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;
use klaxon_core::template::field_value;
use klaxon_core::{FieldValue, GoDuration, Level, Timestamp};
use serde::Serialize;

mod budget;

use super::gotime::Receiver;
use super::methods;
use crate::Limits;

/// Kapacitor's default `.id()`.
pub const DEFAULT_ID: &str = "{{ .Name }}:{{ .Group }}";
/// Kapacitor's default `.message()`.
pub const DEFAULT_MESSAGE: &str = "{{ .ID }} is {{ .Level }}";
/// Kapacitor's default `.details()`.
pub const DEFAULT_DETAILS: &str = "{{ json . }}";

/// Identifies the server in templates (`.ServerInfo.Hostname`...), and carries what the tasks of
/// one server share: the inhibitors of `.inhibit()`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerInfo {
    /// The host name.
    pub hostname: String,
    /// The cluster ID.
    #[serde(rename = "ClusterID")]
    pub cluster_id: String,
    /// The server ID.
    #[serde(rename = "ServerID")]
    pub server_id: String,
    /// The server's `.inhibit()` inhibitors, shared by its tasks (not template data).
    #[serde(skip)]
    pub inhibitors: super::Inhibitors,
    /// The server's `[deadman]` settings (not template data).
    #[serde(skip)]
    pub deadman: DeadmanDefaults,
}

/// Kapacitor's `[deadman]` settings: the ID and message every `|deadman()` starts from, and the
/// deadman `global` adds to every task.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadmanDefaults {
    /// The global deadman's interval, in nanoseconds.
    pub interval: i64,
    /// The global deadman's threshold.
    pub threshold: f64,
    /// The default `.id()`: `NODE_NAME` becomes the deadman's parent node (`from1`).
    pub id: String,
    /// The default `.message()`: `INTERVAL` becomes the deadman's interval (`1m0s`).
    pub message: String,
    /// Whether every task gets `stream|deadman(threshold, interval)`.
    pub global: bool,
}

impl DeadmanDefaults {
    /// Kapacitor's default ID.
    pub const ID: &'static str = "{{ .Group }}:NODE_NAME for task '{{ .TaskName }}'";
    /// Kapacitor's default message.
    pub const MESSAGE: &'static str = r#"{{ .ID }} is {{ if eq .Level "OK" }}alive{{ else }}dead{{ end }}: {{ index .Fields "emitted" | printf "%0.3f" }} points/INTERVAL."#;
}

impl Default for DeadmanDefaults {
    /// Kapacitor's defaults: 10s, 0.0, [`DeadmanDefaults::ID`], [`DeadmanDefaults::MESSAGE`],
    /// not global.
    fn default() -> Self {
        DeadmanDefaults {
            interval: 10_000_000_000,
            threshold: 0.0,
            id: Self::ID.to_owned(),
            message: Self::MESSAGE.to_owned(),
            global: false,
        }
    }
}

impl Eq for DeadmanDefaults {}

/// What the templates of one point see.
#[derive(Debug, Clone, Copy)]
pub struct TemplateInput<'a> {
    /// The measurement.
    pub name: &'a str,
    /// The task.
    pub task_name: &'a str,
    /// The group ID (`nil` without groupBy).
    pub group: &'a str,
    /// The point's tags.
    pub tags: &'a BTreeMap<String, String>,
    /// The point's fields.
    pub fields: &'a BTreeMap<String, FieldValue>,
    /// The server.
    pub server: &'a ServerInfo,
}

/// The three compiled templates of an alert node.
pub struct Templates {
    id: gotmpl::Template,
    message: gotmpl::Template,
    details: Details,
}

enum Details {
    /// `{{ json . }}`: rendered directly, so the object keeps Kapacitor's field order.
    DefaultJson,
    Custom(Box<gotmpl::html::Template>),
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // gotmpl's templates have no Debug; their names say which is which.
        f.debug_struct("Templates")
            .field("id", &self.id.name())
            .field("message", &self.message.name())
            .field(
                "default_details",
                &matches!(self.details, Details::DefaultJson),
            )
            .finish()
    }
}

/// A template that does not parse: which property and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid .{property}() template: {reason}")]
pub struct TemplateError {
    /// `id`, `message` or `details`.
    pub property: &'static str,
    /// gotmpl's message.
    pub reason: String,
}

impl Templates {
    /// Parses the three templates (`None` for Kapacitor's defaults).
    pub fn new(
        id: Option<&str>,
        message: Option<&str>,
        details: Option<&str>,
    ) -> Result<Templates, TemplateError> {
        let text = |property: &'static str, source: &str| {
            let failed = |reason: String| TemplateError { property, reason };
            // Parsed as written first, so that a syntax error names the template's own text.
            gotmpl::Template::new(property)
                .parse(source)
                .map_err(|e| failed(e.to_string()))?;
            let prepared = methods::prepare(source, &[]).map_err(failed)?;
            gotmpl::Template::new(property)
                .max_range_iters(Limits::MAX_TEMPLATE_ITERATIONS)
                .funcs(budget::functions())
                .funcs(Receiver::functions())
                .parse(&prepared)
                .map_err(|e| failed(e.to_string()))
        };
        let details = match details {
            None => Details::DefaultJson,
            Some(source) if source.trim() == DEFAULT_DETAILS => Details::DefaultJson,
            Some(source) => {
                let failed = |reason: String| TemplateError {
                    property: "details",
                    reason,
                };
                gotmpl::html::Template::new("details")
                    .func("json", json_func(true))
                    .func("jsonCompact", json_func(false))
                    .parse(source)
                    .map_err(|e| failed(e.to_string()))?;
                let prepared =
                    methods::prepare(source, &["json", "jsonCompact"]).map_err(failed)?;
                let template = gotmpl::html::Template::new("details")
                    .max_range_iters(Limits::MAX_TEMPLATE_ITERATIONS)
                    .funcs(budget::functions())
                    .func("json", json_func(true))
                    .func("jsonCompact", json_func(false))
                    .funcs(Receiver::functions());
                Details::Custom(Box::new(
                    template
                        .parse(&prepared)
                        .map_err(|e| failed(e.to_string()))?,
                ))
            }
        };
        Ok(Templates {
            id: text("id", id.unwrap_or(DEFAULT_ID))?,
            message: text("message", message.unwrap_or(DEFAULT_MESSAGE))?,
            details,
        })
    }

    /// Renders the ID.
    pub fn id(&self, input: &TemplateInput<'_>) -> Result<String, String> {
        bounded("id", |out| self.id.execute_fmt(out, &id_data(input)))
    }

    /// Renders the message.
    pub fn message(
        &self,
        input: &TemplateInput<'_>,
        id: &str,
        level: Level,
        time: Timestamp,
        duration: GoDuration,
    ) -> Result<String, String> {
        bounded("message", |out| {
            self.message
                .execute_fmt(out, &message_data(input, id, level, time, duration))
        })
    }

    /// Renders the details.
    pub fn details(
        &self,
        input: &TemplateInput<'_>,
        id: &str,
        level: Level,
        time: Timestamp,
        duration: GoDuration,
        message: &str,
    ) -> Result<String, String> {
        match &self.details {
            Details::DefaultJson => Ok(default_details(input, id, level, time, duration, message)),
            Details::Custom(template) => {
                let Value::Map(map) = message_data(input, id, level, time, duration) else {
                    return Err("template data is not a map".to_owned());
                };
                let mut map = (*map).clone();
                map.insert("Message".into(), Value::String(message.into()));
                let data = Value::Map(Arc::new(map));
                bounded("details", |out| template.execute_fmt(out, &data))
            }
        }
    }
}

/// A Go text/template as Kapacitor's httppost endpoints parse theirs (the `|httpPost()` node's
/// URL and row templates): with `json` and `jsonCompact`, and bounded as the alert templates.
pub(crate) fn text_template(name: &str, source: &str) -> Result<gotmpl::Template, String> {
    gotmpl::Template::new(name)
        .max_range_iters(Limits::MAX_TEMPLATE_ITERATIONS)
        .funcs(budget::functions())
        .func("json", json_func(true))
        .func("jsonCompact", json_func(false))
        .parse(source)
        .map_err(|e| e.to_string())
}

/// Executes a [`text_template`] with `data`, its output bounded as the alert templates'.
pub(crate) fn render_text(template: &gotmpl::Template, data: &Value) -> Result<String, String> {
    budget::reset();
    let mut out = Bounded {
        text: String::new(),
        exceeded: false,
    };
    match template.execute_fmt(&mut out, data) {
        Ok(()) => Ok(out.text),
        Err(_) if out.exceeded => Err(format!(
            "its output would exceed {} bytes",
            Limits::MAX_TEMPLATE_OUTPUT
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Output that refuses to grow past [`Limits::MAX_TEMPLATE_OUTPUT`], which stops the template.
struct Bounded {
    text: String,
    exceeded: bool,
}

impl std::fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.text.len() + s.len() > Limits::MAX_TEMPLATE_OUTPUT {
            self.exceeded = true;
            return Err(std::fmt::Error);
        }
        self.text.push_str(s);
        Ok(())
    }
}

/// Runs one template into a [`Bounded`] output; errors name the property.
fn bounded(
    property: &str,
    execute: impl FnOnce(&mut Bounded) -> Result<(), gotmpl::TemplateError>,
) -> Result<String, String> {
    budget::reset();
    let mut out = Bounded {
        text: String::new(),
        exceeded: false,
    };
    match execute(&mut out) {
        Ok(()) => Ok(out.text),
        Err(_) if out.exceeded => Err(format!(
            "cannot render .{property}(): its output would exceed {} bytes",
            Limits::MAX_TEMPLATE_OUTPUT
        )),
        Err(e) => Err(format!("cannot render .{property}(): {e}")),
    }
}

fn string(s: &str) -> Value {
    Value::String(s.into())
}

fn map(entries: impl IntoIterator<Item = (&'static str, Value)>) -> BTreeMap<Arc<str>, Value> {
    entries
        .into_iter()
        .map(|(k, v)| (Arc::from(k), v))
        .collect()
}

fn id_map(input: &TemplateInput<'_>) -> BTreeMap<Arc<str>, Value> {
    let tags = input
        .tags
        .iter()
        .map(|(k, v)| (Arc::from(k.as_str()), string(v)))
        .collect();
    let server = map([
        ("Hostname", string(&input.server.hostname)),
        ("ClusterID", string(&input.server.cluster_id)),
        ("ServerID", string(&input.server.server_id)),
    ]);
    map([
        ("Name", string(input.name)),
        ("TaskName", string(input.task_name)),
        ("Group", string(input.group)),
        ("Tags", Value::Map(Arc::new(tags))),
        ("ServerInfo", Value::Map(Arc::new(server))),
    ])
}

fn id_data(input: &TemplateInput<'_>) -> Value {
    Value::Map(Arc::new(id_map(input)))
}

fn message_data(
    input: &TemplateInput<'_>,
    id: &str,
    level: Level,
    time: Timestamp,
    duration: GoDuration,
) -> Value {
    let mut data = id_map(input);
    let fields = input
        .fields
        .iter()
        .map(|(k, v)| (Arc::from(k.as_str()), field_value(v)))
        .collect();
    data.insert("ID".into(), string(id));
    data.insert("Fields".into(), Value::Map(Arc::new(fields)));
    data.insert("Level".into(), string(level.as_str()));
    // Go prints a time.Time and a time.Duration with these forms.
    data.insert("Time".into(), string(&time.to_go_string()));
    data.insert("Duration".into(), string(&duration.to_string()));
    Value::Map(Arc::new(data))
}

/// The details data in Kapacitor's field order, for `{{ json . }}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DetailsData<'a> {
    name: &'a str,
    task_name: &'a str,
    group: &'a str,
    tags: &'a BTreeMap<String, String>,
    server_info: &'a ServerInfo,
    #[serde(rename = "ID")]
    id: &'a str,
    fields: &'a BTreeMap<String, FieldValue>,
    level: Level,
    time: Timestamp,
    duration: i64,
    message: &'a str,
}

/// `{{ json . }}` in an HTML text context: Go's encoder output (with its newline), HTML-escaped.
fn default_details(
    input: &TemplateInput<'_>,
    id: &str,
    level: Level,
    time: Timestamp,
    duration: GoDuration,
    message: &str,
) -> String {
    let data = DetailsData {
        name: input.name,
        task_name: input.task_name,
        group: input.group,
        tags: input.tags,
        server_info: input.server,
        id,
        fields: input.fields,
        level,
        time,
        duration: duration.as_nanos(),
        message,
    };
    let mut json = klaxon_core::json::to_go_string(&data);
    json.push('\n');
    html_escape(&json)
}

/// Go's html/template escaping of text content.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    for c in text.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '+' => out.push_str("&#43;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The `json` (with the encoder's newline) and `jsonCompact` template functions.
fn json_func(newline: bool) -> impl Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync + 'static {
    move |args: &[Value]| {
        let value = args.first().map(to_json).unwrap_or(serde_json::Value::Null);
        let mut text = klaxon_core::json::to_go_string(&value);
        if newline {
            text.push('\n');
        }
        Ok(Value::String(text.into()))
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Uint(u) => serde_json::Value::from(*u),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::String(s) => serde_json::Value::String(s.to_string()),
        Value::List(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(
        tags: &'a BTreeMap<String, String>,
        fields: &'a BTreeMap<String, FieldValue>,
        server: &'a ServerInfo,
    ) -> TemplateInput<'a> {
        TemplateInput {
            name: "cpu",
            task_name: "cpu_alert",
            group: "nil",
            tags,
            fields,
            server,
        }
    }

    /// Renders `source` as a message (and as details, which use html/template) for a point with
    /// one tag and one field.
    fn render(source: &str) -> Result<String, String> {
        let tags = BTreeMap::from([("host".to_owned(), "serverA".to_owned())]);
        let fields = BTreeMap::from([("value".to_owned(), FieldValue::Float(10.0))]);
        let server = ServerInfo::default();
        let t = Templates::new(None, Some(source), Some(source)).map_err(|e| e.to_string())?;
        let input = input(&tags, &fields, &server);
        let args = (Level::Critical, Timestamp::EPOCH, GoDuration::ZERO);
        let message = t.message(&input, "id", args.0, args.1, args.2)?;
        let details = t.details(&input, "id", args.0, args.1, args.2, &message)?;
        Ok(format!("{message}|{details}"))
    }

    #[test]
    fn templates_reach_nothing_but_the_alert_data() {
        // Go's text/template has no function that reads the environment or files, and
        // Kapacitor's templates add none; gotmpl's built-ins are the same, and these prove that a
        // template asking for more is refused rather than answered.
        for (source, refusal) in [
            ("{{ env \"HOME\" }}", "function \"env\" not defined"),
            ("{{ getenv \"HOME\" }}", "function \"getenv\" not defined"),
            (
                "{{ readFile \"/etc/passwd\" }}",
                "function \"readFile\" not defined",
            ),
            (
                "{{ include \"/etc/passwd\" }}",
                "function \"include\" not defined",
            ),
            ("{{ exec \"id\" }}", "function \"exec\" not defined"),
            ("{{ .Env.HOME }}", ""),
        ] {
            match render(source) {
                Err(e) => assert!(e.contains(refusal), "{source}: {e}"),
                // A missing key renders as Go's "<no value>", never as data from elsewhere.
                Ok(text) => assert!(
                    refusal.is_empty() && !text.contains('/') && text.contains("no value"),
                    "{source} rendered {text:?}"
                ),
            }
        }
        // `template` runs only templates defined in the same text: a file name is not one.
        let err = render("{{ template \"/etc/passwd\" }}").unwrap_err();
        assert!(err.contains("/etc/passwd"), "{err}");
        assert!(!err.contains("root:"), "{err}");
        // A template that includes itself stops at the recursion limit.
        let err = render("{{ define \"x\" }}{{ template \"x\" }}{{ end }}{{ template \"x\" }}")
            .unwrap_err();
        assert!(err.starts_with("cannot render .message()"), "{err}");
    }

    #[test]
    fn loops_and_padding_are_bounded() {
        let err = render("{{ range 100000000 }}x{{ end }}").unwrap_err();
        assert!(err.starts_with("cannot render .message()"), "{err}");
        let err = render("{{ range 50000 }}{{ printf \"%60000d\" 1 }}{{ end }}").unwrap_err();
        assert_eq!(
            err,
            "cannot render .message(): its output would exceed 1048576 bytes"
        );
        let ok = render("{{ range 3 }}{{ . }}{{ end }}").unwrap();
        assert_eq!(ok, "012|012");
    }

    #[test]
    fn defaults_match_kapacitor() {
        let tags = BTreeMap::from([("host".to_owned(), "serverA".to_owned())]);
        let fields = BTreeMap::from([("value".to_owned(), FieldValue::Float(10.0))]);
        let server = ServerInfo::default();
        let t = Templates::new(None, None, None).unwrap();
        let input = input(&tags, &fields, &server);
        let id = t.id(&input).unwrap();
        assert_eq!(id, "cpu:nil");
        let message = t
            .message(
                &input,
                &id,
                Level::Critical,
                Timestamp::EPOCH,
                GoDuration::ZERO,
            )
            .unwrap();
        assert_eq!(message, "cpu:nil is CRITICAL");
        let details = t
            .details(
                &input,
                &id,
                Level::Critical,
                Timestamp::EPOCH,
                GoDuration::ZERO,
                &message,
            )
            .unwrap();
        assert_eq!(
            details,
            "{&#34;Name&#34;:&#34;cpu&#34;,&#34;TaskName&#34;:&#34;cpu_alert&#34;,&#34;Group&#34;:&#34;nil&#34;,\
             &#34;Tags&#34;:{&#34;host&#34;:&#34;serverA&#34;},&#34;ServerInfo&#34;:{&#34;Hostname&#34;:&#34;&#34;,\
             &#34;ClusterID&#34;:&#34;&#34;,&#34;ServerID&#34;:&#34;&#34;},&#34;ID&#34;:&#34;cpu:nil&#34;,\
             &#34;Fields&#34;:{&#34;value&#34;:10},&#34;Level&#34;:&#34;CRITICAL&#34;,\
             &#34;Time&#34;:&#34;1970-01-01T00:00:00Z&#34;,&#34;Duration&#34;:0,\
             &#34;Message&#34;:&#34;cpu:nil is CRITICAL&#34;}\n"
        );
    }

    #[test]
    fn kapacitor_idioms_render() {
        let tags = BTreeMap::from([("host".to_owned(), "serverA".to_owned())]);
        let fields = BTreeMap::from([("value".to_owned(), FieldValue::Float(97.5))]);
        let server = ServerInfo::default();
        let t = Templates::new(
            Some("kapacitor.{{ .Name }}.{{ index .Tags \"host\" }}"),
            Some("{{ .ID }} {{ .Level }} value={{ index .Fields \"value\" }} for {{ .Duration }} at {{ .Time }}"),
            Some("{{ .Message }} <b>"),
        )
        .unwrap();
        let input = input(&tags, &fields, &server);
        let id = t.id(&input).unwrap();
        assert_eq!(id, "kapacitor.cpu.serverA");
        let m = t
            .message(
                &input,
                &id,
                Level::Warning,
                Timestamp::from_nanos(1_000_000_000),
                GoDuration::from_secs(90),
            )
            .unwrap();
        assert_eq!(
            m,
            "kapacitor.cpu.serverA WARNING value=97.5 for 1m30s at 1970-01-01 00:00:01 +0000 UTC"
        );
        let d = t
            .details(
                &input,
                &id,
                Level::Warning,
                Timestamp::EPOCH,
                GoDuration::ZERO,
                "a<b",
            )
            .unwrap();
        assert_eq!(d, "a&lt;b <b>");
    }

    /// Kapacitor's `.Time` is a `time.Time` and `.Duration` a `time.Duration`: they print in
    /// Go's forms and their methods work.
    #[test]
    fn time_and_duration_are_values_with_methods() {
        let tags = BTreeMap::new();
        let fields = BTreeMap::new();
        let server = ServerInfo::default();
        let t = Templates::new(
            None,
            Some(
                "{{ .Time }}|{{ .Duration }}|{{ .Time.Format \"15:04\" }}|{{ .Duration.Minutes }}|\
                 {{ printf \"%.0f\" .Duration.Seconds }}|{{ .Time.Unix }}|{{ if gt .Duration.Seconds 60.0 }}long{{ end }}",
            ),
            Some("{{ .Time.Format \"Jan 2 15:04:05\" }} for {{ .Duration }}"),
        )
        .unwrap();
        let input = input(&tags, &fields, &server);
        let time = Timestamp::from_nanos(1_709_214_330_250_000_000);
        let duration = GoDuration::from_secs(90);
        let m = t
            .message(&input, "id", Level::Critical, time, duration)
            .unwrap();
        assert_eq!(
            m,
            "2024-02-29 13:45:30.25 +0000 UTC|1m30s|13:45|1.5|90|1709214330|long"
        );
        let d = t
            .details(&input, "id", Level::Critical, time, duration, &m)
            .unwrap();
        assert_eq!(d, "Feb 29 13:45:30 for 1m30s");
        let zero = t
            .message(&input, "id", Level::Ok, Timestamp::EPOCH, GoDuration::ZERO)
            .unwrap();
        assert_eq!(zero, "1970-01-01 00:00:00 +0000 UTC|0s|00:00|0|0|0|");
    }

    #[test]
    fn unknown_functions_are_refused_when_the_task_is_defined() {
        let err = Templates::new(None, Some("{{ upper .ID }}"), None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid .message() template: function \"upper\" not defined; the functions are and,"),
            "{err}"
        );
        let err = Templates::new(None, None, Some("{{ toJson . }}")).unwrap_err();
        assert!(err.to_string().contains("json, jsonCompact"), "{err}");
        assert!(Templates::new(Some("{{ .Time.Format \"x\" }}"), None, None).is_ok());
    }

    #[test]
    fn bad_templates_name_the_property() {
        let err = Templates::new(Some("{{ .Name "), None, None).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid .id() template: "),
            "{err}"
        );
        let err = Templates::new(None, None, Some("{{ if }}")).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid .details() template: "),
            "{err}"
        );
    }
}
