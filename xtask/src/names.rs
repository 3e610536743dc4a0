//! A new handler's name and every identifier derived from it.

use anyhow::{Result, bail};

/// The longest name accepted. Names are typed in handler files, TICKscripts and configuration
/// sections; the limit also keeps the generated code's lines within rustfmt's width.
pub const MAX_LEN: usize = 32;

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
        let starts_with_letter = name.starts_with(|c: char| c.is_ascii_lowercase());
        let allowed = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !starts_with_letter || !allowed {
            bail!(
                "refusing {name:?}: names are lowercase letters, digits and '-', starting with a \
                 letter"
            );
        }
        // "pager-" and "pager--duty" would make the same TICKscript property as "pager" and
        // "pager-duty".
        if name.ends_with('-') || name.contains("--") {
            bail!("refusing {name:?}: a '-' goes between two letters or digits");
        }
        if name.len() > MAX_LEN {
            bail!(
                "refusing {name:?}: names are at most {MAX_LEN} characters, this one has {}",
                name.len()
            );
        }
        let words: Vec<&str> = name.split('-').collect();
        let type_prefix: String = words.iter().map(|w| capitalized(w)).collect();
        let property = format!("{}{}", words[0], &type_prefix[words[0].len()..]);
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
    fn refuses_names_that_break_the_rules_saying_why() {
        let form = "names are lowercase letters, digits and '-', starting with a letter";
        let hyphen = "a '-' goes between two letters or digits";
        let long = "x".repeat(MAX_LEN + 1);
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
            (
                long.as_str(),
                "names are at most 32 characters, this one has 33",
            ),
        ];
        for (name, why) in cases {
            let err = HandlerName::parse(name).unwrap_err();
            assert_eq!(err.to_string(), format!("refusing {name:?}: {why}"));
        }
        assert!(HandlerName::parse(&"x".repeat(MAX_LEN)).is_ok());
    }
}
