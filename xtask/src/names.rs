//! A new handler's name and every identifier derived from it.

use anyhow::{Result, bail};
use klaxon_core::naming;

/// The names of one handler crate, all derived from the kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerName {
    /// The kind, as given: `pager-duty` (`kind: pager-duty`, `[pager-duty]`).
    pub kind: String,
    /// The package: `klaxon-handler-pager-duty`.
    pub package: String,
    /// The library, as Rust code names it: `klaxon_handler_pager_duty`.
    pub lib: String,
    /// The type prefix: `PagerDuty` (`PagerDutyService`).
    pub type_prefix: String,
    /// The TICKscript property, lowerCamelCase as Kapacitor's are: `pagerDuty`.
    pub property: String,
}

impl HandlerName {
    /// Checks the form of `name` and derives the other names from it.
    ///
    /// # Errors
    ///
    /// When the name breaks the rules, saying which.
    pub fn parse(name: &str) -> Result<HandlerName> {
        // The registry's own rules, so that a generated crate never fails at server start.
        let property = naming::property_of(name);
        if let Err(why) = naming::check_kind(name).and_then(|()| naming::check_property(&property))
        {
            bail!("refusing {name:?}: {why}");
        }
        let type_prefix: String = name.split('-').map(capitalized).collect();
        Ok(HandlerName {
            kind: name.to_owned(),
            package: format!("klaxon-handler-{name}"),
            lib: format!("klaxon_handler_{}", name.replace('-', "_")),
            type_prefix,
            property,
        })
    }

    /// The `use` line that links the crate into a server binary.
    pub fn use_line(&self) -> String {
        format!("use {} as _;", self.lib)
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_every_name_from_the_kind() {
        let name = HandlerName::parse("pager-duty2").unwrap();
        assert_eq!(
            name,
            HandlerName {
                kind: "pager-duty2".into(),
                package: "klaxon-handler-pager-duty2".into(),
                lib: "klaxon_handler_pager_duty2".into(),
                type_prefix: "PagerDuty2".into(),
                property: "pagerDuty2".into(),
            }
        );
        assert_eq!(name.use_line(), "use klaxon_handler_pager_duty2 as _;");

        let name = HandlerName::parse("s3").unwrap();
        assert_eq!(
            (name.type_prefix.as_str(), name.property.as_str()),
            ("S3", "s3")
        );
        let name = HandlerName::parse("log-2-file").unwrap();
        assert_eq!(name.type_prefix, "Log2File");
        assert_eq!(name.property, "log2File");
    }

    #[test]
    fn refuses_names_that_break_the_registrys_rules_saying_why() {
        let form = "use lowercase letters, digits and '-', starting with a letter";
        let hyphen = "a '-' goes between two letters or digits";
        let long = "x".repeat(naming::MAX_KIND_LEN + 1);
        let cases = [
            ("Pager", form),
            ("pager_duty", form),
            ("2pager", form),
            ("-pager", form),
            ("", form),
            ("pager duty", form),
            ("päger", form),
            ("pager-", hyphen),
            ("pager--duty", hyphen),
            (long.as_str(), "too long: kinds are at most 32 characters"),
            ("publish", "reserved by the engine"),
            ("hipchat", "retired Kapacitor kind"),
            ("inhibit", "the alert node's own (.inhibit())"),
            ("level-tag", "the alert node's own (.levelTag())"),
        ];
        for (name, why) in cases {
            let err = HandlerName::parse(name).unwrap_err().to_string();
            assert!(err.starts_with(&format!("refusing {name:?}: ")), "{err}");
            assert!(err.contains(why), "{name}: {err}");
        }
        assert!(HandlerName::parse(&"x".repeat(naming::MAX_KIND_LEN)).is_ok());
    }
}
