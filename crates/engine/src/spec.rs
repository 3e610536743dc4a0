//! Handler specs: `{id, topic, kind, options, match}`, and the character rules for their names.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{EngineError, RetryError};

/// A topic handler as a handler file, the HTTP API or the database holds it.
///
/// ```
/// let spec: klaxon_engine::HandlerSpec = serde_json::from_str(
///     r#"{"id":"tcp-cpu-alert","topic":"cpu","kind":"tcp","options":{"address":"127.0.0.1:7777"}}"#,
/// ).unwrap();
/// assert_eq!(spec.match_, "");
/// assert!(spec.check_names().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandlerSpec {
    /// The handler ID, unique within its topic.
    pub id: String,
    /// The topic whose events the handler receives.
    pub topic: String,
    /// The handler kind (`exec`, `tcp`, `publish`...).
    pub kind: String,
    /// The kind's options; `null` when none were given.
    pub options: Value,
    /// A match expression (TICKscript lambda syntax) filtering the events; empty for all.
    #[serde(rename = "match")]
    pub match_: String,
    /// How failed deliveries are retried, overriding `[alert]`'s policy field by field. Klaxon's
    /// own; absent from Kapacitor's specs, and left out of the JSON when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<crate::RetrySpec>,
}

impl HandlerSpec {
    /// Checks the ID, topic and kind against Kapacitor's rules (reference 3.4). Errors are
    /// [`EngineError::InvalidSpec`] with a [`SpecError`].
    ///
    /// ```
    /// let mut spec = klaxon_engine::HandlerSpec { id: "a b".into(), topic: "t".into(), kind: "tcp".into(), ..Default::default() };
    /// assert_eq!(
    ///     spec.check_names().unwrap_err().to_string(),
    ///     "handler ID must contain only letters, numbers, '-', '.' and '_'. \"a b\""
    /// );
    /// ```
    pub fn check_names(&self) -> Result<(), EngineError> {
        if !is_valid_handler_id(&self.id) {
            return Err(SpecError::HandlerId(self.id.clone()).into());
        }
        if !is_valid_topic(&self.topic) {
            return Err(SpecError::HandlerTopic(self.topic.clone()).into());
        }
        if self.kind.is_empty() {
            return Err(SpecError::EmptyKind.into());
        }
        Ok(())
    }
}

/// A handler spec, or a task's anonymous topic, that breaks Kapacitor's rules (reference 3.4).
///
/// ```
/// let err = klaxon_engine::SpecError::HandlerId("a b".into());
/// assert_eq!(err.to_string(), "handler ID must contain only letters, numbers, '-', '.' and '_'. \"a b\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The handler ID breaks [`is_valid_handler_id`].
    #[error("handler ID must contain only letters, numbers, '-', '.' and '_'. {0:?}")]
    HandlerId(String),
    /// The handler's topic breaks [`is_valid_topic`].
    #[error("handler topic must contain only letters, numbers, '-', '.', ':' and '_'. {0:?}")]
    HandlerTopic(String),
    /// The kind is empty.
    #[error("handler Kind must not be empty")]
    EmptyKind,
    /// A task's anonymous topic breaks [`is_valid_topic`] (the task ID has characters a topic
    /// may not).
    #[error("topic {0:?} must contain only letters, numbers, '-', '.', ':' and '_'")]
    AnonymousTopic(String),
    /// The spec's `retry` object does not make a valid policy.
    #[error(transparent)]
    Retry(#[from] RetryError),
}

/// Kapacitor's handler ID rule `^[-\._\p{L}0-9]+$`.
///
/// ```
/// assert!(klaxon_engine::is_valid_handler_id("exec-cpu_alert.2"));
/// assert!(!klaxon_engine::is_valid_handler_id("a/b"));
/// assert!(!klaxon_engine::is_valid_handler_id(""));
/// ```
pub fn is_valid_handler_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_'))
}

/// Kapacitor's topic rule `^[-:\._\p{L}0-9]+$` (anonymous task topics contain `:`).
///
/// ```
/// assert!(klaxon_engine::is_valid_topic("main:cpu_alert:alert2"));
/// assert!(!klaxon_engine::is_valid_topic("cpu alerts"));
/// ```
pub fn is_valid_topic(topic: &str) -> bool {
    !topic.is_empty()
        && topic
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kapacitors_rules() {
        let ok = HandlerSpec {
            id: "größe-1".into(),
            topic: "main:t:alert2".into(),
            kind: "neutral".into(),
            ..HandlerSpec::default()
        };
        assert!(ok.check_names().is_ok());
        let bad_topic = HandlerSpec {
            topic: "a/b".into(),
            ..ok.clone()
        };
        assert_eq!(
            bad_topic.check_names().unwrap_err().to_string(),
            "handler topic must contain only letters, numbers, '-', '.', ':' and '_'. \"a/b\""
        );
        let no_kind = HandlerSpec {
            kind: String::new(),
            ..ok
        };
        assert_eq!(
            no_kind.check_names().unwrap_err().to_string(),
            "handler Kind must not be empty"
        );
    }

    #[test]
    fn specs_decode_with_absent_options_and_match() {
        let spec: HandlerSpec =
            serde_json::from_str(r#"{"id":"x","topic":"t","kind":"neutral"}"#).unwrap();
        assert_eq!(spec.options, Value::Null);
        assert!(serde_json::from_str::<HandlerSpec>(r#"{"idd":"x"}"#).is_err());
    }
}
