//! Recipient templates (`to-field` in handler files, `.toTemplates()` in TICKscript): Go
//! text/templates (through gotmpl) executed with Kapacitor's `alert.EventData` of each event as
//! dot (`.Name`, `.TaskName`, `.Category`, `.Group`, `.Tags`, `.Fields`, `.Recoverable`), each
//! rendering one address.

use std::fmt;

use klaxon_core::template::{DotField, Template, TemplateOptions, dot};
use klaxon_core::{Event, HandlerError, Invalid};

/// What Go prints for a missing value (`{{ index .Fields "none" }}`); gotmpl prints it for a
/// missing tag too, where Go prints nothing.
const NO_VALUE: &str = "<no value>";

/// Recipient templates, parsed once.
#[derive(Clone, Default)]
pub(crate) struct ToTemplates {
    name: &'static str,
    templates: Vec<Template>,
}

impl fmt::Debug for ToTemplates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // gotmpl's templates have no Debug; their sources say what they are.
        f.debug_list()
            .entries(self.templates.iter().map(Template::source))
            .finish()
    }
}

impl ToTemplates {
    /// Parses the templates of the option or key `name`; refuses one that does not parse, naming
    /// it as `name[i]`.
    pub(crate) fn parse(name: &'static str, sources: &[String]) -> Result<ToTemplates, Invalid> {
        // The dot stands for a Go struct, where a field that does not exist is an error: a
        // misspelt field should say so rather than mail nobody.
        let options = TemplateOptions::new().missing_key_error();
        let templates = sources
            .iter()
            .enumerate()
            .map(|(i, source)| {
                options.parse(name, source).map_err(|e| {
                    Invalid::new(format!(
                        "{name}[{i}] {source:?} is not a valid template: {e}"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(ToTemplates { name, templates })
    }

    /// Appends to `to` what each template renders for `event`. A template that renders nothing
    /// (a missing tag) or `<no value>` (a missing field) adds no recipient. A template that fails
    /// fails the delivery: a retry would fail the same way.
    pub(crate) fn render(&self, event: &Event, to: &mut Vec<String>) -> Result<(), HandlerError> {
        if self.templates.is_empty() {
            return Ok(());
        }
        let data = dot(event, &EVENT_DATA);
        for (i, template) in self.templates.iter().enumerate() {
            let address = template.render_with(&data).map_err(|e| {
                HandlerError::permanent(format!(
                    "cannot render {}[{i}] {:?}: {e}",
                    self.name,
                    template.source()
                ))
            })?;
            if !address.is_empty() && address != NO_VALUE {
                to.push(address);
            }
        }
        Ok(())
    }
}

/// Kapacitor's `alert.EventData`, what recipient templates see as dot. (`.Result`, the data as
/// series, is not given.)
const EVENT_DATA: [DotField; 7] = [
    DotField::Name,
    DotField::TaskName,
    DotField::Category,
    DotField::Group,
    DotField::Tags,
    DotField::Fields,
    DotField::Recoverable,
];
