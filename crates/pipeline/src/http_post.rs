//! `|httpPost()`: posts each point, or each window as one row, to an HTTP endpoint, as
//! Kapacitor's `HTTPPostNode`, and passes it on, with the response's status code in
//! `.codeField()` when asked.
//!
//! The node is pure: it builds the request (URL and body rendered from the row, headers) and
//! hands it to [`Context::post`], whose implementation (the engine, with the server's HTTP
//! client) sends it and returns the status code. An `.endpoint('name')` is one of the endpoints
//! the linked services offer ([`klaxon_core::PostEndpoint`], Kapacitor's `[[httppost]]`), given to
//! [`HttpPost::resolve`] when the task is defined or started.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use gotmpl::Value;
use klaxon_core::{AlertResult, FieldValue, PostEndpoint, Row, RowValue};
use klaxon_tick::{Node, Span};

use crate::alert::{render_text, text_template};
use crate::batch::Message;
use crate::props::{first_arg_span, once, unknown_property};
use crate::{Context, DefineError};

/// One HTTP request of an `|httpPost()` node, ready to send: method `POST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRequest {
    /// The URL, its template rendered for the row.
    pub url: String,
    /// HTTP basic authentication (user name, password), the endpoint's.
    pub basic_auth: Option<(String, String)>,
    /// Headers in the order Kapacitor sets them (the endpoint's, `Content-Type` for JSON, the
    /// node's), a later one having replaced an earlier one of the same name.
    pub headers: Vec<(String, String)>,
    /// The body: the row as JSON (`{"series":[row]}` and a newline) or the endpoint's row
    /// template rendered.
    pub body: String,
    /// `.timeout()`, when given.
    pub timeout: Option<Duration>,
    /// `.captureResponse()`: a failure's log shows the response body.
    pub capture_response: bool,
}

/// Where a node posts: its URL template, and what its endpoint adds.
#[derive(Debug)]
struct Target {
    url: Template,
    basic_auth: Option<(String, String)>,
    headers: BTreeMap<String, String>,
    row_template: Option<Template>,
}

/// A parsed Go template with its text (a template without actions is used as it is).
#[derive(Clone)]
struct Template {
    source: String,
    parsed: Option<Arc<gotmpl::Template>>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl Template {
    fn parse(name: &str, source: &str) -> Result<Template, String> {
        let parsed = if source.contains("{{") {
            Some(Arc::new(text_template(name, source)?))
        } else {
            None
        };
        Ok(Template {
            source: source.to_owned(),
            parsed,
        })
    }

    fn render(&self, data: &Value) -> Result<String, String> {
        match &self.parsed {
            None => Ok(self.source.clone()),
            Some(template) => render_text(template, data),
        }
    }
}

/// A compiled `|httpPost()`.
#[derive(Debug)]
pub struct HttpPost {
    /// `.endpoint('name')` with its span, until [`HttpPost::resolve`] finds it.
    endpoint: Option<(String, Span)>,
    target: Option<Target>,
    headers: BTreeMap<String, String>,
    code_field: Option<String>,
    capture_response: bool,
    timeout: Option<Duration>,
}

impl HttpPost {
    const PROPERTIES: &'static [&'static str] = &[
        "captureResponse",
        "codeField",
        "endpoint",
        "header",
        "timeout",
    ];

    /// Compiles `|httpPost('url')` or `|httpPost().endpoint('name')` and its properties, with
    /// Kapacitor's checks.
    pub fn compile(node: &Node) -> Result<HttpPost, DefineError> {
        let mut post = HttpPost {
            endpoint: None,
            target: None,
            headers: BTreeMap::new(),
            code_field: None,
            capture_response: false,
            timeout: None,
        };
        if node.args.len() > 1 {
            return Err(DefineError::new(
                node.span,
                format!(
                    "|httpPost() takes 0 or 1 URL, got {}; post to one URL per node",
                    node.args.len()
                ),
            ));
        }
        for p in &node.properties {
            match p.name.as_str() {
                "endpoint" => {
                    p.expect_args(1, 1)?;
                    if post.endpoint.is_some() {
                        return Err(DefineError::new(
                            p.span,
                            "|httpPost() takes 0 or 1 endpoints; keep one .endpoint()",
                        ));
                    }
                    post.endpoint = Some((p.arg(0).as_str()?.to_owned(), p.span));
                }
                "header" => {
                    p.expect_args(2, 2)?;
                    let name = p.arg(0).as_str()?;
                    if name.eq_ignore_ascii_case("authenticate") {
                        return Err(DefineError::new(
                            first_arg_span(p),
                            "cannot set 'authenticate' header",
                        ));
                    }
                    check_header(name, p.arg(1).as_str()?)
                        .map_err(|e| DefineError::new(first_arg_span(p), e))?;
                    post.headers
                        .insert(name.to_owned(), p.arg(1).as_str()?.to_owned());
                }
                "codeField" => {
                    p.expect_args(1, 1)?;
                    once(&post.code_field, p)?;
                    post.code_field = Some(p.arg(0).as_str()?.to_owned());
                }
                "captureResponse" => {
                    p.expect_args(0, 0)?;
                    post.capture_response = true;
                }
                "timeout" => {
                    p.expect_args(1, 1)?;
                    once(&post.timeout, p)?;
                    let nanos = p.arg(0).as_duration()?;
                    let nanos = u64::try_from(nanos).map_err(|_| {
                        DefineError::new(
                            first_arg_span(p),
                            ".timeout() must not be negative; give 0s for none",
                        )
                    })?;
                    post.timeout = (nanos > 0).then(|| Duration::from_nanos(nanos));
                }
                _ => return Err(unknown_property("httpPost", p, Self::PROPERTIES)),
            }
        }
        match (node.args.first(), &post.endpoint) {
            (None, None) => {
                return Err(DefineError::new(
                    node.span,
                    "|httpPost() must provide url or endpoint: |httpPost('https://...') or |httpPost().endpoint('name')",
                ));
            }
            (Some(_), Some((_, span))) => {
                return Err(DefineError::new(
                    *span,
                    "|httpPost() takes a URL or an .endpoint(), not both; remove one",
                ));
            }
            (Some(arg), None) => {
                let url = node.arg(0).as_str()?;
                let url = url_template(url).map_err(|e| DefineError::new(arg.span, e))?;
                post.target = Some(Target {
                    url,
                    basic_auth: None,
                    headers: BTreeMap::new(),
                    row_template: None,
                });
            }
            (None, Some(_)) => {}
        }
        Ok(post)
    }

    /// Whether the node names an `.endpoint()`, which [`HttpPost::resolve`] must find.
    pub fn needs_endpoint(&self) -> bool {
        self.endpoint.is_some()
    }

    /// Finds the node's `.endpoint()` among `offered`: the endpoints the linked services offer,
    /// or `None` when no linked service offers any (a server built without the crate that has
    /// Kapacitor's `[[httppost]]`).
    pub fn resolve(&mut self, offered: Option<&[PostEndpoint]>) -> Result<(), DefineError> {
        let Some((name, span)) = &self.endpoint else {
            return Ok(());
        };
        let Some(offered) = offered else {
            return Err(DefineError::new(
                *span,
                format!(
                    "|httpPost().endpoint('{name}') needs the [[httppost]] endpoints of a handler crate this server does not link (klaxon-handler-post); build the server with it, or give the URL: |httpPost('https://...')"
                ),
            ));
        };
        let Some(endpoint) = offered.iter().find(|e| e.name == *name) else {
            let mut names: Vec<&str> = offered.iter().map(|e| e.name.as_str()).collect();
            names.sort_unstable();
            let names = if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            };
            return Err(DefineError::new(
                *span,
                format!("endpoint '{name}' does not exist; [[httppost]] has: {names}"),
            ));
        };
        let failed = |what: &str, e: String| {
            DefineError::new(*span, format!("endpoint '{name}': {what}: {e}"))
        };
        self.target = Some(Target {
            url: url_template(&endpoint.url).map_err(|e| failed("url", e))?,
            basic_auth: endpoint.basic_auth.clone(),
            headers: endpoint.headers.clone(),
            row_template: endpoint
                .row_template
                .as_deref()
                .map(|source| Template::parse("row-template", source))
                .transpose()
                .map_err(|e| failed("row-template", e))?,
        });
        Ok(())
    }

    /// Posts `message` as one row and returns it, with the status code in `.codeField()` (0 when
    /// no response came, as Kapacitor). A URL or body that cannot be rendered is reported and
    /// counts as no response.
    pub fn apply(&self, message: &Message, node: &str, ctx: &mut dyn Context) -> Message {
        let code = match self.request(&message.to_row()) {
            Ok(request) => ctx.post(node, request),
            Err(e) => {
                ctx.point_error(node, format!("failed to POST data: {e}"));
                0
            }
        };
        let Some(field) = &self.code_field else {
            return message.clone();
        };
        let mut out = message.clone();
        let code = FieldValue::Int(i64::from(code));
        match &mut out {
            Message::Point(p) => {
                p.fields.insert(field.clone(), code);
            }
            Message::Batch(b) => {
                for p in &mut b.points {
                    p.fields.insert(field.clone(), code.clone());
                }
            }
        }
        out
    }

    /// The request for `row`, as Kapacitor's `postRow` builds it.
    fn request(&self, row: &Row) -> Result<PostRequest, String> {
        let target = self
            .target
            .as_ref()
            .ok_or("the endpoint was never resolved")?;
        let data = mapped_row(row);
        let url = target
            .url
            .render(&data)
            .map_err(|e| format!("failed to execute url template: {e}"))?;
        let mut headers: Vec<(String, String)> = target
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let body = match &target.row_template {
            Some(template) => template
                .render(&data)
                .map_err(|e| format!("failed to execute template: {e}"))?,
            None => {
                set(&mut headers, "Content-Type", "application/json");
                let result = AlertResult {
                    series: vec![row.clone()],
                };
                // Go's json.Encoder ends what it writes with a newline.
                let mut body = klaxon_core::json::to_go_string(&result);
                body.push('\n');
                body
            }
        };
        for (name, value) in &self.headers {
            set(&mut headers, name, value);
        }
        Ok(PostRequest {
            url,
            basic_auth: target.basic_auth.clone(),
            headers,
            body,
            timeout: self.timeout,
            capture_response: self.capture_response,
        })
    }
}

/// Go's `Header.Set`: replaces a header of the same name (names are case-insensitive).
fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value.to_owned()));
}

/// A header that can be sent: a token for a name, no control characters in the value.
fn check_header(name: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!(
            "{name:?} is not a valid header name; use letters, digits and '-'"
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "the value {value:?} of header {name:?} may not hold line breaks or other control characters"
        ));
    }
    Ok(())
}

/// Parses a URL template; a URL without template actions must be an `http` or `https` URL with
/// a host, and one with actions must at least start with the scheme.
fn url_template(url: &str) -> Result<Template, String> {
    let template = Template::parse("url", url)
        .map_err(|e| format!("url {url:?} is not a valid template: {e}"))?;
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let Some(rest) = rest else {
        return Err(format!(
            "url {url:?} must start with http:// or https://, like \"https://example.com/rows\""
        ));
    };
    if template.parsed.is_none() && rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() {
        return Err(format!("url {url:?} has no host"));
    }
    Ok(template)
}

/// The row as Kapacitor's `mappedRow`, the dot of URL and row templates: `.Name`, `.Tags` and
/// `.Values`, one map of column to value per point (times printed as Go prints a `time.Time`).
fn mapped_row(row: &Row) -> Value {
    let tags = row
        .tags
        .iter()
        .map(|(k, v)| (Arc::from(k.as_str()), Value::String(v.as_str().into())))
        .collect();
    let values: Vec<Value> = row
        .values
        .iter()
        .map(|cells| {
            let map = row
                .columns
                .iter()
                .zip(cells)
                .map(|(column, cell)| (Arc::from(column.as_str()), cell_value(cell)))
                .collect();
            Value::Map(Arc::new(map))
        })
        .collect();
    let fields = BTreeMap::from([
        (Arc::from("Name"), Value::String(row.name.as_str().into())),
        (Arc::from("Tags"), Value::Map(Arc::new(tags))),
        (Arc::from("Values"), Value::List(values.into())),
    ]);
    Value::Map(Arc::new(fields))
}

fn cell_value(cell: &RowValue) -> Value {
    match cell {
        RowValue::Time(t) => Value::String(t.to_go_string().into()),
        RowValue::Field(FieldValue::Float(f)) => Value::Float(*f),
        RowValue::Field(FieldValue::Int(i)) => Value::Int(*i),
        RowValue::Field(FieldValue::UInt(u)) => Value::Uint(*u),
        RowValue::Field(FieldValue::String(s)) => Value::String(s.as_str().into()),
        RowValue::Field(FieldValue::Bool(b)) => Value::Bool(*b),
        RowValue::Null => Value::Nil,
    }
}
