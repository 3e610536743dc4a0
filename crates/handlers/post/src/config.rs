//! The `[[httppost]]` configuration section: named endpoints that post handlers use by name, and
//! what each endpoint compiles to (its URL template, headers, credentials and body template).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use klaxon_core::template::Template;
use klaxon_core::{ElementConfig, Elements, Event, Invalid, PostEndpoint};
use klaxon_http::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::template::{self, Alert};

/// The `[[httppost]]` section: a list of endpoints, each named by its `endpoint` key.
///
/// Without any `[[httppost]]` in the file there is one endpoint, Kapacitor's `example` posting to
/// `http://example.com`; writing `[[httppost]]` tables replaces it.
///
/// ```toml
/// [[httppost]]
/// endpoint = "alerts"
/// url = "https://hooks.example.com/alerts"
/// headers = { From = "alerts@example.com" }
/// basic-auth = { username = "klaxon", password = "secret" }
/// ```
pub type Config = Elements<Endpoint>;

/// One `[[httppost]]` endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Endpoint {
    /// The endpoint's name, which handlers give as `endpoint` (`.post().endpoint('alerts')`).
    /// Required and unique.
    pub endpoint: String,
    /// Where alerts are posted: an http or https URL, which may be a Go template over the alert
    /// (`https://hooks.example.com/{{.ID}}`). Required.
    pub url: String,
    /// Headers added to every request, such as { From = "alerts@example.com" }. A handler's own
    /// header of the same name replaces the endpoint's.
    pub headers: BTreeMap<String, String>,
    /// HTTP basic authentication, { username = "...", password = "..." }, sent only when both
    /// are set. Secret: the config API shows only whether it is set.
    pub basic_auth: BasicAuth,
    /// A Go template for the request body, executed with the alert (`.ID`, `.Message`,
    /// `.Details`, `.Time`, `.Duration`, `.Level`, `.Data`, `.PreviousLevel`, `.Recoverable`).
    /// Empty: the alert JSON with Content-Type application/json. With a template no Content-Type
    /// is sent unless a header sets one.
    pub alert_template: String,
    /// An absolute path to a file holding the alert template, instead of `alert-template`.
    pub alert_template_file: String,
    /// A Go template for the body the httpPost node posts for each row (not used by post
    /// handlers).
    pub row_template: String,
    /// An absolute path to a file holding the row template, instead of `row-template`.
    pub row_template_file: String,
}

/// HTTP basic authentication credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl ElementConfig for Endpoint {
    const ELEMENT_KEY: &'static str = "endpoint";
    const SECRETS: &'static [&'static str] = &["basic-auth"];

    fn name(&self) -> &str {
        &self.endpoint
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.endpoint.is_empty() {
            return Err(Invalid::new(
                "must specify an endpoint name, such as endpoint = \"alerts\"",
            ));
        }
        self.compile().map(|_| ())
    }

    /// Kapacitor's default: one endpoint, `example`, posting to `http://example.com`.
    fn defaults() -> Vec<Self> {
        vec![Endpoint {
            endpoint: "example".to_owned(),
            url: "http://example.com".to_owned(),
            ..Endpoint::default()
        }]
    }
}

impl Endpoint {
    /// What delivery needs of this endpoint: its templates parsed, its template files read, its
    /// headers checked. Errors name the key and the value.
    pub(crate) fn compile(&self) -> Result<CompiledEndpoint, Invalid> {
        let url = endpoint_url_template(&self.url)?;
        let headers = header_list("headers", &self.headers)?;
        let alert_template = body_template(
            ("alert-template", &self.alert_template),
            ("alert-template-file", &self.alert_template_file),
        )?;
        // Parsed here to refuse a broken one; the httpPost node renders it.
        let row_template = body_template(
            ("row-template", &self.row_template),
            ("row-template-file", &self.row_template_file),
        )?;
        let auth = &self.basic_auth;
        let authorization = if auth.username.is_empty() || auth.password.is_empty() {
            None
        } else {
            let credentials = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", auth.username, auth.password));
            let mut value = HeaderValue::from_str(&format!("Basic {credentials}"))
                .map_err(|_| Invalid::new("basic-auth cannot be sent as a header"))?;
            value.set_sensitive(true);
            Some(value)
        };
        let auth = &self.basic_auth;
        let for_node = PostEndpoint {
            name: self.endpoint.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            basic_auth: (!auth.username.is_empty() && !auth.password.is_empty())
                .then(|| (auth.username.clone(), auth.password.clone())),
            row_template: row_template.map(|t| t.source().to_owned()),
        };
        Ok(CompiledEndpoint {
            url,
            headers,
            authorization,
            alert_template,
            for_node,
        })
    }
}

/// An endpoint ready for delivery.
#[derive(Debug)]
pub(crate) struct CompiledEndpoint {
    /// The URL template.
    pub(crate) url: Template,
    /// The endpoint's headers, in name order.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// `Basic ...` when both parts of `basic-auth` are set.
    pub(crate) authorization: Option<HeaderValue>,
    /// The body template, if the endpoint has one.
    pub(crate) alert_template: Option<Template>,
    /// The endpoint as the `|httpPost()` node uses it (its row template read from its file).
    pub(crate) for_node: PostEndpoint,
}

/// Every endpoint of a configuration, compiled, by name.
#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    by_name: BTreeMap<String, Arc<CompiledEndpoint>>,
}

impl Endpoints {
    /// Compiles every endpoint of `config`; the first that does not compile is the error.
    pub(crate) fn compile(config: &Config) -> Result<Endpoints, Invalid> {
        let mut by_name = BTreeMap::new();
        for endpoint in config.iter() {
            let compiled = endpoint
                .compile()
                .map_err(|e| Invalid::new(format!("endpoint {:?}: {e}", endpoint.endpoint)))?;
            by_name.insert(endpoint.endpoint.clone(), Arc::new(compiled));
        }
        Ok(Endpoints { by_name })
    }

    /// The endpoint named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<CompiledEndpoint>> {
        self.by_name.get(name)
    }

    /// The endpoints as the `|httpPost()` node uses them.
    pub(crate) fn for_node(&self) -> Vec<PostEndpoint> {
        self.by_name.values().map(|e| e.for_node.clone()).collect()
    }

    /// The names, comma-separated, or `none`, for messages.
    pub(crate) fn names(&self) -> String {
        if self.by_name.is_empty() {
            return "none".to_owned();
        }
        self.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Parses a URL template (`field` names it in errors) and checks what it gives: the URL itself
/// when it has no template actions, else what it renders for a sample alert, must be an http or
/// https URL with a host.
pub(crate) fn url_template(field: &str, url: &str) -> Result<Template, Invalid> {
    if url.is_empty() {
        klaxon_http::check_url(field, url)?;
    }
    let template = template::parse(url)
        .map_err(|e| Invalid::new(format!("{field} {url:?} is not a valid template: {e}")))?;
    if template.is_plain() {
        klaxon_http::check_url(field, url)?;
        return Ok(template);
    }
    let sample = Event::sample("sample");
    let sample = Alert::of(&sample);
    let rendered = sample.render(&template).map_err(|e| {
        Invalid::new(format!(
            "{field} template {url:?} cannot be rendered for a sample alert: {e}"
        ))
    })?;
    klaxon_http::check_url(field, &rendered).map_err(|e| {
        Invalid::new(format!(
            "{field} template {url:?} gives {rendered:?} for a sample alert: {e}"
        ))
    })?;
    Ok(template)
}

/// An endpoint's URL template. The `|httpPost()` node executes it with a row (`.Name`, `.Tags`,
/// `.Values`) and handlers with an alert, so one that does not render for a sample alert is
/// kept when it starts with `http://` or `https://`: it may be meant for rows, as in Kapacitor.
fn endpoint_url_template(url: &str) -> Result<Template, Invalid> {
    url_template("url", url).or_else(|refusal| {
        let template = template::parse(url)
            .map_err(|e| Invalid::new(format!("url {url:?} is not a valid template: {e}")))?;
        let scheme = url.starts_with("http://") || url.starts_with("https://");
        if template.is_plain() || !scheme {
            return Err(refusal);
        }
        Ok(template)
    })
}

/// Checks the header names and values of `headers` (the option or key `field`).
pub(crate) fn header_list(
    field: &str,
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Invalid> {
    headers
        .iter()
        .map(|(name, value)| {
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Invalid::new(format!(
                    "{field}: {name:?} is not a valid header name; use letters, digits and '-'"
                ))
            })?;
            let header_value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
                Invalid::new(format!(
                    "{field}: the value {value:?} of {name:?} is not a valid header value; it may not hold line breaks or other control characters"
                ))
            })?;
            Ok((header_name, header_value))
        })
        .collect()
}

/// The body template given inline or as a file (the key names and values of both), if any.
fn body_template(
    (inline_key, inline): (&str, &str),
    (file_key, file): (&str, &str),
) -> Result<Option<Template>, Invalid> {
    match (inline.is_empty(), file.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Err(Invalid::new(format!(
            "must specify only one of {inline_key} and {file_key}"
        ))),
        (false, true) => template::parse(inline).map(Some).map_err(|e| {
            Invalid::new(format!(
                "{inline_key} {inline:?} is not a valid template: {e}"
            ))
        }),
        (true, false) => {
            if !Path::new(file).is_absolute() {
                return Err(Invalid::new(format!(
                    "{file_key} {file:?} is relative; write an absolute path"
                )));
            }
            let source = std::fs::read_to_string(file)
                .map_err(|e| Invalid::new(format!("cannot read {file_key} {file:?}: {e}")))?;
            template::parse(&source).map(Some).map_err(|e| {
                Invalid::new(format!("{file_key} {file:?} is not a valid template: {e}"))
            })
        }
    }
}
