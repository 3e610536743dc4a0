//! Silences: for a while, keep the alerts that match from every handler, as Alertmanager's
//! silences do (Kapacitor has none).
//!
//! A [`Silence`] has matchers (a topic glob, an alert-ID glob, tags equal to a value or matching
//! a regex, levels), a start and an end, who made it and why. A silenced event still updates
//! its topic's state and history (marked silenced); no handler gets it. When the silence ends,
//! an alert still firing is delivered once (see [`crate::AlertService::add_silence`]).
//!
//! This module holds the definitions and their checks ([`SilenceSpec::build`]) and the matching
//! ([`Compiled`]); `alerts/silencing.rs` keeps them in the alert service.

use klaxon_core::pattern::{BadPattern, Pattern};
use klaxon_core::{Event, GoDuration, Level, Timestamp};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A silence as stored and listed.
///
/// ```
/// use klaxon_core::{GoDuration, Timestamp};
/// use klaxon_engine::{SilenceSpec, SilenceState, TagMatcher};
///
/// let now = Timestamp::now();
/// let spec = SilenceSpec {
///     topic: "cpu".into(),
///     tags: vec![TagMatcher::equal("host", "serverA")],
///     duration: Some(GoDuration::from_secs(3600)),
///     created_by: "alice".into(),
///     comment: "maintenance".into(),
///     ..SilenceSpec::default()
/// };
/// let silence = spec.build("s1".into(), now, regex_limit()).unwrap();
/// assert_eq!(silence.state(now), SilenceState::Active);
/// # fn regex_limit() -> usize { 1 << 20 }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Silence {
    /// The silence's ID, made by the server.
    pub id: String,
    /// A Go `path.Match` glob the topic must match; empty for every topic.
    pub topic: String,
    /// A glob the alert (event) ID must match; empty for every alert.
    pub alert_id: String,
    /// Tags the event must have, each equal to a value or matching a regex.
    pub tags: Vec<TagMatcher>,
    /// The levels silenced; empty for every level. An OK event (a recovery) is silenced when
    /// the level it recovers from is.
    pub levels: Vec<Level>,
    /// When it begins.
    pub start: Timestamp,
    /// When it ends (expiring it sets this to the moment it was expired).
    pub end: Timestamp,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was made.
    pub created: Timestamp,
}

/// One tag condition of a silence: the tag `name` equals `value`, or matches `regex` (anchored
/// at both ends, as Alertmanager's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TagMatcher {
    /// The tag.
    pub name: String,
    /// The value it must equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The regex it must match whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

impl TagMatcher {
    /// The tag `name` equal to `value`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> TagMatcher {
        TagMatcher {
            name: name.into(),
            value: Some(value.into()),
            regex: None,
        }
    }

    /// The tag `name` matching `regex`.
    pub fn regex(name: impl Into<String>, regex: impl Into<String>) -> TagMatcher {
        TagMatcher {
            name: name.into(),
            value: None,
            regex: Some(regex.into()),
        }
    }
}

/// Where a silence is in its life, from the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SilenceState {
    /// Its start is still to come.
    Pending,
    /// It silences now.
    Active,
    /// Its end has passed (it is removed after `[alert] silence-retention`).
    Expired,
}

impl SilenceState {
    /// Every state, in the order of the metric's `state` label.
    pub const ALL: [SilenceState; 3] = [
        SilenceState::Active,
        SilenceState::Pending,
        SilenceState::Expired,
    ];

    /// `pending`, `active` or `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

impl Silence {
    /// Its state at `now`.
    pub fn state(&self, now: Timestamp) -> SilenceState {
        if now >= self.end {
            SilenceState::Expired
        } else if now < self.start {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }
}

/// What a client asks for: [`Silence`] less what the server sets, with `end` or `duration`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct SilenceSpec {
    /// See [`Silence::topic`].
    pub topic: String,
    /// See [`Silence::alert_id`].
    pub alert_id: String,
    /// See [`Silence::tags`].
    pub tags: Vec<TagMatcher>,
    /// See [`Silence::levels`].
    pub levels: Vec<Level>,
    /// When it begins; now when absent.
    pub start: Option<Timestamp>,
    /// When it ends; give this or `duration`.
    pub end: Option<Timestamp>,
    /// How long it lasts from its start; give this or `end`.
    pub duration: Option<GoDuration>,
    /// Who makes it.
    pub created_by: String,
    /// Why.
    pub comment: String,
}

/// Why a silence is refused, or cannot be found or stored. Each refusal names the field and
/// what to give instead.
#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    /// `topic` or `alert-id` is not a glob.
    #[error("silence {field}: {source}; give a glob (*, ?, [a-z], \\ escapes), or nothing for any")]
    Pattern {
        /// `topic` or `alert-id`.
        field: &'static str,
        /// The parser's complaint.
        source: BadPattern,
    },
    /// A tag matcher's regex does not compile.
    #[error("silence tags[{index}].regex: {source}; fix the regular expression")]
    Regex {
        /// The matcher's index in `tags`.
        index: usize,
        /// The compiler's complaint.
        source: regex::Error,
    },
    /// A tag matcher without a name, or without exactly one of `value` and `regex`.
    #[error("silence tags[{index}]: {reason}")]
    TagMatcher {
        /// The matcher's index in `tags`.
        index: usize,
        /// What is wrong and what to give.
        reason: &'static str,
    },
    /// Nothing to match on.
    #[error(
        "silence: no matchers; give at least one of topic, alert-id or tags (\"topic\": \"*\" \
         silences every topic)"
    )]
    NoMatchers,
    /// Neither `end` nor `duration`, or both.
    #[error("silence end: {0}")]
    End(&'static str),
    /// `duration` is not positive.
    #[error("silence duration: {0} is not positive; give a duration such as \"2h\"")]
    Duration(GoDuration),
    /// The end is not after the start.
    #[error("silence end: {end} is not after start {start}; give an end after the start")]
    EndBeforeStart {
        /// The start.
        start: Timestamp,
        /// The end.
        end: Timestamp,
    },
    /// The end has already passed.
    #[error("silence end: {0} has already passed; give an end in the future")]
    EndPassed(Timestamp),
    /// No silence has this ID.
    #[error("unknown silence {0:?}")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SilenceSpec {
    /// The silence this spec asks for, with the ID `id`, made at `now`; the regexes are bounded
    /// by `regex_size_limit` bytes compiled (`[limits] max-regex-size`).
    pub fn build(
        self,
        id: String,
        now: Timestamp,
        regex_size_limit: usize,
    ) -> Result<Silence, SilenceError> {
        if self.topic.is_empty() && self.alert_id.is_empty() && self.tags.is_empty() {
            return Err(SilenceError::NoMatchers);
        }
        let start = self.start.unwrap_or(now);
        let end = match (self.end, self.duration) {
            (Some(end), None) => end,
            (None, Some(duration)) if duration <= GoDuration::ZERO => {
                return Err(SilenceError::Duration(duration));
            }
            (None, Some(duration)) => {
                Timestamp::from_nanos(start.as_nanos().saturating_add(duration.as_nanos()))
            }
            (None, None) => {
                return Err(SilenceError::End(
                    "missing; give an end time (RFC 3339) or a duration",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(SilenceError::End(
                    "both end and duration given; give one of them",
                ));
            }
        };
        if end <= start {
            return Err(SilenceError::EndBeforeStart { start, end });
        }
        if end <= now {
            return Err(SilenceError::EndPassed(end));
        }
        let silence = Silence {
            id,
            topic: self.topic,
            alert_id: self.alert_id,
            tags: self.tags,
            levels: self.levels,
            start,
            end,
            created_by: self.created_by,
            comment: self.comment,
            created: now,
        };
        Compiled::new(silence.clone(), regex_size_limit)?;
        Ok(silence)
    }
}

/// A silence ready to match events.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub silence: Silence,
    topic: Option<Pattern>,
    alert_id: Option<Pattern>,
    tags: Vec<(String, TagTest)>,
}

#[derive(Debug, Clone)]
enum TagTest {
    Equal(String),
    Regex(regex::Regex),
}

impl Compiled {
    pub(crate) fn new(silence: Silence, regex_size_limit: usize) -> Result<Compiled, SilenceError> {
        let glob = |field: &'static str, text: &str| {
            if text.is_empty() {
                return Ok(None);
            }
            Pattern::new(text)
                .map(Some)
                .map_err(|source| SilenceError::Pattern { field, source })
        };
        let topic = glob("topic", &silence.topic)?;
        let alert_id = glob("alert-id", &silence.alert_id)?;
        let mut tags = Vec::with_capacity(silence.tags.len());
        for (index, matcher) in silence.tags.iter().enumerate() {
            if matcher.name.is_empty() {
                return Err(SilenceError::TagMatcher {
                    index,
                    reason: "the tag name is empty; give \"name\"",
                });
            }
            let test = match (&matcher.value, &matcher.regex) {
                (Some(value), None) => TagTest::Equal(value.clone()),
                (None, Some(regex)) => TagTest::Regex(
                    regex::RegexBuilder::new(&format!("^(?:{regex})$"))
                        .size_limit(regex_size_limit)
                        .build()
                        .map_err(|source| SilenceError::Regex { index, source })?,
                ),
                _ => {
                    return Err(SilenceError::TagMatcher {
                        index,
                        reason: "give exactly one of \"value\" and \"regex\"",
                    });
                }
            };
            tags.push((matcher.name.clone(), test));
        }
        Ok(Compiled {
            silence,
            topic,
            alert_id,
            tags,
        })
    }

    /// Whether this silence, active or not, matches `event` (its `previous_level` set).
    pub(crate) fn matches(&self, event: &Event) -> bool {
        let levels = &self.silence.levels;
        let level_matches = levels.is_empty()
            || levels.contains(&event.state.level)
            || (event.state.level == Level::Ok && levels.contains(&event.previous_level));
        level_matches
            && self.topic.as_ref().is_none_or(|p| p.matches(&event.topic))
            && self
                .alert_id
                .as_ref()
                .is_none_or(|p| p.matches(&event.state.id))
            && self.tags.iter().all(|(name, test)| {
                event.data.tags.get(name).is_some_and(|v| match test {
                    TagTest::Equal(value) => v == value,
                    TagTest::Regex(regex) => regex.is_match(v),
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    fn spec() -> SilenceSpec {
        SilenceSpec {
            topic: "cpu*".into(),
            duration: Some(GoDuration::from_secs(60)),
            ..SilenceSpec::default()
        }
    }

    fn refusal(spec: SilenceSpec) -> String {
        spec.build("s".into(), Timestamp::from_nanos(1_000_000_000_000), LIMIT)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn refusals_name_the_field_and_the_fix() {
        let now = Timestamp::from_nanos(1_000_000_000_000);
        let cases = [
            (
                SilenceSpec {
                    topic: "[".into(),
                    ..spec()
                },
                "silence topic: syntax error in pattern \"[\"; give a glob",
            ),
            (
                SilenceSpec {
                    tags: vec![TagMatcher::regex("host", "(")],
                    ..spec()
                },
                "silence tags[0].regex: regex parse error",
            ),
            (
                SilenceSpec {
                    tags: vec![TagMatcher {
                        name: "host".into(),
                        ..TagMatcher::default()
                    }],
                    ..spec()
                },
                "silence tags[0]: give exactly one of \"value\" and \"regex\"",
            ),
            (
                SilenceSpec {
                    duration: None,
                    start: Some(now),
                    end: Some(Timestamp::from_nanos(now.as_nanos() - 1)),
                    ..spec()
                },
                "silence end: 1970-01-01T00:16:39.999999999Z is not after start 1970-01-01T00:16:40Z; give an end after the start",
            ),
            (
                SilenceSpec {
                    duration: None,
                    ..spec()
                },
                "silence end: missing; give an end time",
            ),
            (
                SilenceSpec {
                    topic: String::new(),
                    ..spec()
                },
                "silence: no matchers",
            ),
        ];
        for (spec, expected) in cases {
            let got = refusal(spec);
            assert!(
                got.starts_with(expected),
                "{got:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn matching_uses_every_matcher_and_recoveries_follow_their_level() {
        let now = Timestamp::now();
        let silence = SilenceSpec {
            topic: "cpu*".into(),
            alert_id: "*:host=a*".into(),
            tags: vec![TagMatcher::regex("dc", "eu-.*")],
            levels: vec![Level::Warning],
            ..spec()
        }
        .build("s".into(), now, LIMIT)
        .unwrap();
        let compiled = Compiled::new(silence, LIMIT).unwrap();
        let mut event = Event {
            topic: "cpu_high".into(),
            ..Event::default()
        };
        event.state.id = "cpu:host=a1".into();
        event.state.level = Level::Warning;
        event.data.tags.insert("dc".into(), "eu-west".into());
        assert!(compiled.matches(&event));
        event.state.level = Level::Critical;
        assert!(!compiled.matches(&event), "not a silenced level");
        event.state.level = Level::Ok;
        event.previous_level = Level::Warning;
        assert!(compiled.matches(&event), "the recovery of a silenced level");
        event.previous_level = Level::Warning;
        event.data.tags.insert("dc".into(), "us-eu-1".into());
        assert!(!compiled.matches(&event), "the regex is anchored");
    }
}
