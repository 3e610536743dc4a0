//! Go text/templates over an alert, as Kapacitor's handlers run them: a handler option such as
//! a topic, a title or a URL is a template (through gotmpl) executed with the event's data as
//! dot, `{{ .TaskName }}/{{ index .Tags "host" }}`.
//!
//! [`Template`] is one parsed option: it keeps its source (for messages and for options sent as
//! written), is plain text when the source has no action, and renders against an [`Event`]
//! (with Kapacitor's `alert.TemplateData`, [`template_data`]) or against any dot. Handlers whose
//! Kapacitor service gives its templates other data pick the fields with [`dot`]; those that
//! need another iteration limit, Go's `missingkey=error` or their own functions parse through
//! [`TemplateOptions`].
//!
//! ```
//! use klaxon_core::Event;
//! use klaxon_core::template::Template;
//!
//! let mut event = Event::default();
//! event.data.task_name = "cpu".into();
//! event.data.tags.insert("host".into(), "web01".into());
//!
//! let topic = Template::parse("topic", r#"alerts/{{ .TaskName }}/{{ index .Tags "host" }}"#)?;
//! assert_eq!(topic.render(&event)?, "alerts/cpu/web01");
//! # Ok::<(), klaxon_core::template::TemplateError>(())
//! ```

mod dot;

use std::fmt;
use std::sync::Arc;

pub use dot::{DotField, dot, field_value, template_data};
/// The template engine, for what [`Template`] does not wrap: function signatures, hand-built
/// dots.
pub use gotmpl;
pub use gotmpl::Value;

use crate::Event;

/// How many `range` iterations one rendering may take unless [`TemplateOptions::max_iterations`]
/// says otherwise: more than any alert has tags or fields, few enough that a template cannot
/// spin.
pub const MAX_ITERATIONS: u64 = 10_000;

/// A template that does not parse, or that failed while it ran; the message is gotmpl's.
///
/// ```
/// use klaxon_core::template::Template;
///
/// let error = Template::parse("topic", "{{ .TaskName").unwrap_err();
/// assert!(error.to_string().contains("topic"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct TemplateError(#[from] gotmpl::TemplateError);

/// How a [`Template`] is parsed, where handlers differ: the iteration limit, whether a missing
/// field is an error, and extra functions. [`Template::parse`] uses the defaults.
///
/// ```
/// use klaxon_core::Event;
/// use klaxon_core::template::{TemplateOptions, Value};
///
/// let options = TemplateOptions::new()
///     .max_iterations(100_000)
///     .missing_key_error()
///     .func("shout", |args: &[Value]| {
///         let text = args.first().map(|v| v.to_string()).unwrap_or_default();
///         Ok(Value::String(text.to_uppercase().into()))
///     });
/// let template = options.parse("body", "{{ shout .Level }}")?;
/// assert_eq!(template.render(&Event::default())?, "OK");
/// assert!(options.parse("body", "{{ .Nmae }}")?.render(&Event::default()).is_err());
/// # Ok::<(), klaxon_core::template::TemplateError>(())
/// ```
#[derive(Clone)]
pub struct TemplateOptions {
    max_iterations: u64,
    missing_key: gotmpl::MissingKey,
    funcs: gotmpl::FuncMap,
}

impl Default for TemplateOptions {
    fn default() -> TemplateOptions {
        TemplateOptions {
            max_iterations: MAX_ITERATIONS,
            missing_key: gotmpl::MissingKey::default(),
            funcs: gotmpl::FuncMap::new(),
        }
    }
}

impl fmt::Debug for TemplateOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Functions have no Debug; their names say which they are.
        f.debug_struct("TemplateOptions")
            .field("max_iterations", &self.max_iterations)
            .field("missing_key", &self.missing_key)
            .field("funcs", &self.funcs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TemplateOptions {
    /// The defaults: [`MAX_ITERATIONS`], a missing map key prints `<no value>`, Go's built-in
    /// functions only.
    pub fn new() -> TemplateOptions {
        TemplateOptions::default()
    }

    /// How many `range` iterations one rendering may take.
    #[must_use]
    pub fn max_iterations(mut self, max: u64) -> TemplateOptions {
        self.max_iterations = max;
        self
    }

    /// Go's `missingkey=error`: the dot stands for a Go struct, where a field that does not
    /// exist is an error, so a misspelt field fails the rendering instead of printing
    /// `<no value>`.
    #[must_use]
    pub fn missing_key_error(mut self) -> TemplateOptions {
        self.missing_key = gotmpl::MissingKey::Error;
        self
    }

    /// Adds the template function `name`.
    #[must_use]
    pub fn func(
        mut self,
        name: &str,
        func: impl Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync + 'static,
    ) -> TemplateOptions {
        self.funcs.insert(name.to_owned(), Arc::new(func));
        self
    }

    /// Parses `source` as the template `name` (the name gotmpl's messages give). A source without
    /// `{{` is plain text and is not parsed: it renders as written.
    pub fn parse(&self, name: &str, source: &str) -> Result<Template, TemplateError> {
        let parsed = if source.contains("{{") {
            let parsed = gotmpl::Template::new(name)
                .max_range_iters(self.max_iterations)
                .missing_key(self.missing_key)
                .funcs(self.funcs.clone())
                .parse(source)?;
            Some(Arc::new(parsed))
        } else {
            None
        };
        Ok(Template {
            name: name.to_owned(),
            source: source.to_owned(),
            parsed,
        })
    }
}

/// A parsed template, or plain text when its source has no action. Cloning shares the parse.
///
/// ```
/// use klaxon_core::Event;
/// use klaxon_core::template::{Template, template_data};
///
/// let title = Template::parse("title", "{{ .Level }}: {{ .Message }}")?;
/// let mut event = Event::default();
/// event.state.message = "cpu is high".into();
/// assert_eq!(title.render(&event)?, "OK: cpu is high");
/// assert_eq!(title.render_with(&template_data(&event))?, "OK: cpu is high");
/// assert_eq!(title.source(), "{{ .Level }}: {{ .Message }}");
/// assert!(!title.is_plain());
/// assert_eq!(format!("{title:?}"), r#"Template("{{ .Level }}: {{ .Message }}")"#);
///
/// let plain = Template::parse("title", "Disk full")?;
/// assert!(plain.is_plain());
/// assert_eq!(plain.render(&event)?, "Disk full");
/// # Ok::<(), klaxon_core::template::TemplateError>(())
/// ```
#[derive(Clone, Default)]
pub struct Template {
    name: String,
    source: String,
    /// `None` when the source is its own output.
    parsed: Option<Arc<gotmpl::Template>>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // gotmpl's templates have no Debug; the source says which template this is.
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl Template {
    /// Parses `source` as the template `name` with the default [`TemplateOptions`].
    pub fn parse(name: &str, source: &str) -> Result<Template, TemplateError> {
        TemplateOptions::default().parse(name, source)
    }

    /// Text that renders as written even if it looks like a template (an option whose value is
    /// not a template, or one a handler sends verbatim).
    ///
    /// ```
    /// use klaxon_core::Event;
    /// use klaxon_core::template::Template;
    ///
    /// let literal = Template::literal("{{ .ID }}");
    /// assert!(literal.is_plain());
    /// assert_eq!(literal.render(&Event::default())?, "{{ .ID }}");
    /// # Ok::<(), klaxon_core::template::TemplateError>(())
    /// ```
    pub fn literal(text: impl Into<String>) -> Template {
        Template {
            name: String::new(),
            source: text.into(),
            parsed: None,
        }
    }

    /// The name the template was parsed as (empty for a [`literal`](Template::literal)), for
    /// messages that name the option.
    ///
    /// ```
    /// use klaxon_core::template::Template;
    ///
    /// assert_eq!(Template::parse("links[0].href", "{{ .ID }}")?.name(), "links[0].href");
    /// # Ok::<(), klaxon_core::template::TemplateError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template is plain text: it renders as its source, needing no dot.
    pub fn is_plain(&self) -> bool {
        self.parsed.is_none()
    }

    /// The text for `event`, with Kapacitor's `alert.TemplateData` ([`template_data`]) as dot,
    /// made only when the template has actions.
    pub fn render(&self, event: &Event) -> Result<String, TemplateError> {
        if self.is_plain() {
            return Ok(self.source.clone());
        }
        self.render_with(&template_data(event))
    }

    /// The text for the dot `data`.
    pub fn render_with(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.render_to(&mut out, data)?;
        Ok(out)
    }

    /// What the template writes for `data` even if it fails while it runs: the text written
    /// until then. Some Kapacitor services ignore a template's error this way, so that a field
    /// that cannot be filled does not keep the alert from being sent.
    ///
    /// ```
    /// use klaxon_core::template::{Template, Value};
    ///
    /// let template = Template::parse("node", "host-{{ index 1 2 }}")?;
    /// assert_eq!(template.render_lossy(&Value::Nil), "host-");
    /// # Ok::<(), klaxon_core::template::TemplateError>(())
    /// ```
    pub fn render_lossy(&self, data: &Value) -> String {
        let mut out = String::new();
        let _partial = self.render_to(&mut out, data);
        out
    }

    /// Writes the text for `data` to `out`, for a writer that bounds or streams the output; a
    /// write error stops the template.
    ///
    /// ```
    /// use klaxon_core::Event;
    /// use klaxon_core::template::{Template, template_data};
    ///
    /// let template = Template::parse("body", "{{ .Level }}")?;
    /// let mut out = String::from("level: ");
    /// template.render_to(&mut out, &template_data(&Event::default()))?;
    /// assert_eq!(out, "level: OK");
    /// # Ok::<(), klaxon_core::template::TemplateError>(())
    /// ```
    pub fn render_to<W: fmt::Write>(&self, out: &mut W, data: &Value) -> Result<(), TemplateError> {
        match &self.parsed {
            Some(parsed) => Ok(parsed.execute_fmt(out, data)?),
            None => out
                .write_str(&self.source)
                .map_err(|fmt::Error| TemplateError(gotmpl::TemplateError::Write)),
        }
    }
}
