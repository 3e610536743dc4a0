//! The naming rules for handler kinds and their TICKscript properties, in one place: the registry
//! enforces them when a server starts, and `cargo xtask new-handler` applies them before it
//! writes a crate, so the two can never disagree.

/// The longest kind name. Kinds are typed in handler files, TICKscripts and configuration
/// sections; the bound also keeps generated code within rustfmt's line width.
pub const MAX_KIND_LEN: usize = 32;

/// Kinds the engine implements itself (Kapacitor's topic-handler kinds `aggregate` and
/// `publish`): no handler crate may register them.
pub const RESERVED_KINDS: &[&str] = &["aggregate", "publish"];

/// Kinds Kapacitor had whose service no longer exists: a definition naming one is refused with
/// a message saying so, and no crate may register it.
pub const RETIRED_KINDS: &[(&str, &str)] = &[(
    "hipchat",
    "HipChat was shut down by Atlassian in 2019; use slack, teams or another chat handler",
)];

/// The alert node's own TICKscript properties (`.message()`, `.topic()`...) and the property
/// every node has (`.quiet()`): a handler property with one of these names would make
/// `.topic('cpu')` ambiguous, so the registry refuses it. Sorted.
pub const ALERT_NODE_PROPERTIES: &[&str] = &[
    "all",
    "category",
    "crit",
    "critReset",
    "details",
    "durationField",
    "flapping",
    "history",
    "id",
    "idField",
    "idTag",
    "info",
    "infoReset",
    "inhibit",
    "levelField",
    "levelTag",
    "message",
    "messageField",
    "noRecoveries",
    "quiet",
    "stateChangesOnly",
    "topic",
    "warn",
    "warnReset",
];

/// Why a kind or property name breaks the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not lowercase letters, digits and '-' starting with a letter.
    #[error(
        "handler kind {0:?} is not a valid name: use lowercase letters, digits and '-', starting \
         with a letter"
    )]
    Form(String),
    /// A '-' at the end or twice in a row.
    #[error("handler kind {0:?} is not a valid name: a '-' goes between two letters or digits")]
    Hyphen(String),
    /// Longer than [`MAX_KIND_LEN`].
    #[error("handler kind {0:?} is too long: kinds are at most {MAX_KIND_LEN} characters")]
    TooLong(String),
    /// One of [`RESERVED_KINDS`].
    #[error("handler kind {0:?} is reserved by the engine; rename the handler")]
    Reserved(String),
    /// One of [`RETIRED_KINDS`].
    #[error("handler kind {0:?} is a retired Kapacitor kind ({1}); rename the handler")]
    Retired(String, &'static str),
    /// A configuration section name that is not lowercase letters, digits and '-'.
    #[error(
        "configuration section {0:?} is not a valid name: use lowercase letters, digits and '-', \
         starting with a letter"
    )]
    Section(String),
    /// A TICKscript property that is not a lowerCamelCase identifier.
    #[error(
        "TICKscript property {0:?} is not a valid name: use letters and digits, starting with a \
         lowercase letter"
    )]
    PropertyForm(String),
    /// One of [`ALERT_NODE_PROPERTIES`].
    #[error(
        "TICKscript property {0:?} is the alert node's own (.{0}()); a handler cannot claim it"
    )]
    AlertNodeProperty(String),
}

/// Checks a kind name: lowercase letters, digits and '-' between them, starting with a letter, at
/// most [`MAX_KIND_LEN`] characters, and not reserved or retired.
///
/// ```
/// use klaxon_core::naming::check_kind;
///
/// assert!(check_kind("pager-duty2").is_ok());
/// assert!(check_kind("2fa").is_err());
/// assert!(check_kind("Slack").is_err());
/// assert!(check_kind("pager-").is_err());
/// assert_eq!(
///     check_kind("publish").unwrap_err().to_string(),
///     "handler kind \"publish\" is reserved by the engine; rename the handler"
/// );
/// ```
pub fn check_kind(kind: &str) -> Result<(), NameError> {
    let starts_with_letter = kind.starts_with(|c: char| c.is_ascii_lowercase());
    let allowed = kind
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !starts_with_letter || !allowed {
        return Err(NameError::Form(kind.to_owned()));
    }
    // "pager-" and "pager--duty" would make the same TICKscript property as "pager" and
    // "pager-duty".
    if kind.ends_with('-') || kind.contains("--") {
        return Err(NameError::Hyphen(kind.to_owned()));
    }
    if kind.len() > MAX_KIND_LEN {
        return Err(NameError::TooLong(kind.to_owned()));
    }
    if RESERVED_KINDS.contains(&kind) {
        return Err(NameError::Reserved(kind.to_owned()));
    }
    if let Some((_, why)) = RETIRED_KINDS.iter().find(|(retired, _)| *retired == kind) {
        return Err(NameError::Retired(kind.to_owned(), why));
    }
    Ok(())
}

/// Checks a configuration section name (a kind's `SECTION`): the form of a kind name.
///
/// ```
/// assert!(klaxon_core::naming::check_section("httppost").is_ok());
/// assert!(klaxon_core::naming::check_section("http post").is_err());
/// ```
pub fn check_section(section: &str) -> Result<(), NameError> {
    let valid = section.starts_with(|c: char| c.is_ascii_lowercase())
        && section
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(NameError::Section(section.to_owned()))
    }
}

/// Checks a handler's TICKscript property: a lowerCamelCase identifier that is not one of the
/// alert node's own properties.
///
/// ```
/// use klaxon_core::naming::check_property;
///
/// assert!(check_property("pagerDuty2").is_ok());
/// assert!(check_property("page-duty").is_err());
/// assert_eq!(
///     check_property("message").unwrap_err().to_string(),
///     "TICKscript property \"message\" is the alert node's own (.message()); a handler cannot claim it"
/// );
/// ```
pub fn check_property(property: &str) -> Result<(), NameError> {
    let starts_lower = property.starts_with(|c: char| c.is_ascii_lowercase());
    if !starts_lower || !property.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(NameError::PropertyForm(property.to_owned()));
    }
    if ALERT_NODE_PROPERTIES.contains(&property) {
        return Err(NameError::AlertNodeProperty(property.to_owned()));
    }
    Ok(())
}

/// The TICKscript property for a kind, lowerCamelCase as Kapacitor's are: `pager-duty2` is
/// `pagerDuty2`. What `cargo xtask new-handler` writes; a crate may choose another.
///
/// ```
/// assert_eq!(klaxon_core::naming::property_of("pager-duty2"), "pagerDuty2");
/// assert_eq!(klaxon_core::naming::property_of("log-2-file"), "log2File");
/// ```
pub fn property_of(kind: &str) -> String {
    let mut words = kind.split('-');
    let mut property = words.next().unwrap_or_default().to_owned();
    for word in words {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            property.push(first.to_ascii_uppercase());
            property.push_str(chars.as_str());
        }
    }
    property
}

/// Why `name` (a handler kind, or its TICKscript property in any case, such as `hipChat`) is a
/// retired Kapacitor kind, for refusing a definition that names one.
///
/// ```
/// use klaxon_core::naming::retired;
///
/// assert!(retired("hipChat").unwrap().contains("shut down"));
/// assert!(retired("hipchat").is_some());
/// assert_eq!(retired("slack"), None);
/// ```
pub fn retired(name: &str) -> Option<&'static str> {
    RETIRED_KINDS
        .iter()
        .find(|(kind, _)| kind.eq_ignore_ascii_case(name))
        .map(|(_, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_node_properties_are_sorted_and_valid_identifiers() {
        let mut sorted = ALERT_NODE_PROPERTIES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, ALERT_NODE_PROPERTIES);
        for property in ALERT_NODE_PROPERTIES {
            assert!(
                matches!(
                    check_property(property),
                    Err(NameError::AlertNodeProperty(_))
                ),
                "{property}"
            );
        }
    }

    #[test]
    fn every_kind_rule_refuses_with_its_reason() {
        let long = "x".repeat(MAX_KIND_LEN + 1);
        let cases = [
            ("Pager", "use lowercase letters"),
            ("pager_duty", "use lowercase letters"),
            ("2pager", "use lowercase letters"),
            ("", "use lowercase letters"),
            ("pager-", "a '-' goes between"),
            ("pager--duty", "a '-' goes between"),
            (long.as_str(), "is too long"),
            ("aggregate", "reserved by the engine"),
            ("hipchat", "HipChat was shut down"),
        ];
        for (kind, reason) in cases {
            let err = check_kind(kind).expect_err(kind).to_string();
            assert!(err.contains(reason), "{kind}: {err}");
        }
        assert!(check_kind(&"x".repeat(MAX_KIND_LEN)).is_ok());
    }

    #[test]
    fn every_valid_kind_makes_a_valid_property() {
        for kind in ["wire", "pager-duty2", "s3", "log-2-file", "chat2"] {
            check_kind(kind).expect(kind);
            check_property(&property_of(kind)).expect(kind);
        }
    }
}
