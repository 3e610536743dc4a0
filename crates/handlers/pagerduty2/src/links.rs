//! The links of a PagerDuty v2 event: `href` and `text` are Go text/templates (through gotmpl)
//! executed with Kapacitor's `alert.TemplateData` of each event as dot.

use std::fmt;

use klaxon_core::template::{Template, template_data};
use klaxon_core::{Event, HandlerError, Invalid};
use serde::{Deserialize, Serialize};

/// One link of a handler's options, as written: both parts may hold templates.
///
/// ```json
/// {"href": "https://grafana.example.com/d/{{ index .Tags \"host\" }}", "text": "Host graph"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Link {
    /// The link's URL, a Go template over the event (`{{ .TaskName }}`, `{{ index .Tags "host" }}`).
    /// Required.
    pub href: String,
    /// The link's text, a Go template like `href`. Empty: the rendered `href`.
    pub text: String,
}

/// A link as sent: both parts rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Rendered {
    pub(crate) href: String,
    pub(crate) text: String,
}

/// A handler's links, parsed once when the handler is made.
#[derive(Clone, Default)]
pub(crate) struct LinkTemplates {
    links: Vec<LinkTemplate>,
}

#[derive(Clone)]
struct LinkTemplate {
    source: Link,
    href: Template,
    text: Option<Template>,
}

impl fmt::Debug for LinkTemplates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // gotmpl's templates have no Debug; their sources say what they are.
        f.debug_list()
            .entries(self.links.iter().map(|l| &l.source))
            .finish()
    }
}

impl LinkTemplates {
    /// Parses the links of a handler's options; refuses a link without an `href` and a template
    /// that does not parse, naming the option as the decoder does (`links[0].href`).
    pub(crate) fn parse(links: &[Link]) -> Result<LinkTemplates, Invalid> {
        let links = links
            .iter()
            .enumerate()
            .map(|(i, link)| {
                if link.href.trim().is_empty() {
                    return Err(Invalid::new(format!(
                        "option \"links[{i}].href\" is required; write the link like {{href: \"https://example.com/\", text: \"Dashboard\"}}"
                    )));
                }
                let parse = |part: &str, source: &str| {
                    Template::parse(part, source).map_err(|e| {
                        Invalid::new(format!(
                            "option \"links[{i}].{part}\": {source:?} is not a valid template: {e}"
                        ))
                    })
                };
                Ok(LinkTemplate {
                    source: link.clone(),
                    href: parse("href", &link.href)?,
                    text: match link.text.as_str() {
                        "" => None,
                        text => Some(parse("text", text)?),
                    },
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(LinkTemplates { links })
    }

    /// The links rendered for `event`; an empty `text` is the rendered `href`, as in Kapacitor.
    /// A template that fails (a missing map key used as a map...) fails the delivery: a retry
    /// would fail the same way.
    pub(crate) fn render(&self, event: &Event) -> Result<Vec<Rendered>, HandlerError> {
        if self.links.is_empty() {
            return Ok(Vec::new());
        }
        let data = template_data(event);
        self.links
            .iter()
            .enumerate()
            .map(|(i, link)| {
                let run = |part: &str, template: &Template| {
                    template.render_with(&data).map_err(|e| {
                        HandlerError::permanent(format!("cannot render links[{i}].{part}: {e}"))
                    })
                };
                let href = run("href", &link.href)?;
                let text = match &link.text {
                    Some(text) => run("text", text)?,
                    None => href.clone(),
                };
                Ok(Rendered { href, text })
            })
            .collect()
    }
}

/// Links sent as they are, without templates (the service test's, as Kapacitor's).
pub(crate) fn verbatim(links: &[Link]) -> Vec<Rendered> {
    links
        .iter()
        .map(|l| Rendered {
            href: l.href.clone(),
            text: l.text.clone(),
        })
        .collect()
}
