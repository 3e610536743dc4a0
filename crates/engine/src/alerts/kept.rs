//! An event's last state as a topic keeps it in memory: what the alert state machine and the
//! topic's level need (level, time, duration), with the rendered message and details only while
//! they are nowhere else.
//!
//! A topic of a million series keeps a state per firing alert, and its message and details
//! (the default details template is a few hundred bytes of escaped JSON) were most of a
//! series' memory. Once a non-OK state's commit has landed, the text is in `klaxon.db`, so the
//! topic drops its copy and a reader of the topics API gets it from there. OK states (removed
//! from disk) and the states of topics that are not persisted keep their text in memory.

use klaxon_core::{EventState, GoDuration, Level, Timestamp};

use crate::store::StateMark;

/// An event state in a topic's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Kept {
    pub(super) level: Level,
    pub(super) time: Timestamp,
    pub(super) duration: GoDuration,
    /// Which record made this state (service-wide, increasing, wrapping): a commit that wrote
    /// version `v` may drop the text only if the state is still `v`. 32 bits: a state would
    /// have to be replaced exactly 2^32 records later, before its commit lands, to be mistaken.
    pub(super) version: u32,
    /// The message and details, while memory holds the only copy (or the topic is not
    /// persisted).
    texts: Option<Box<Texts>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Texts {
    message: String,
    details: String,
}

impl Kept {
    /// `state` as recorded, text included.
    pub(super) fn new(state: EventState, version: u32) -> Kept {
        Kept {
            level: state.level,
            time: state.time,
            duration: state.duration,
            version,
            texts: Some(Box::new(Texts {
                message: state.message,
                details: state.details,
            })),
        }
    }

    /// A state read back from `klaxon.db`: its text stays there.
    pub(super) fn stored(state: &StateMark) -> Kept {
        Kept {
            level: state.level,
            time: state.time,
            duration: state.duration,
            version: 0,
            texts: None,
        }
    }

    /// The whole state of event `id`, if memory holds its text.
    pub(super) fn whole(&self, id: &str) -> Option<EventState> {
        let texts = self.texts.as_deref()?;
        Some(EventState {
            id: id.to_owned(),
            message: texts.message.clone(),
            details: texts.details.clone(),
            time: self.time,
            duration: self.duration,
            level: self.level,
        })
    }

    /// The state without its text (empty message and details), for when the text is gone from
    /// both places: the event was removed from disk between reading memory and reading the disk.
    pub(super) fn bare(&self, id: &str) -> EventState {
        EventState {
            id: id.to_owned(),
            message: String::new(),
            details: String::new(),
            time: self.time,
            duration: self.duration,
            level: self.level,
        }
    }

    /// Whether memory holds the text.
    pub(super) fn has_text(&self) -> bool {
        self.texts.is_some()
    }

    /// The commit of version `version` landed: a non-OK state of that version is on disk, so
    /// memory drops its text. OK states are not on disk and keep theirs.
    pub(super) fn committed(&mut self, version: u32) {
        if self.version == version && self.level != Level::Ok {
            self.texts = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(level: Level) -> EventState {
        EventState {
            id: "cpu:host=a".into(),
            message: "cpu is high".into(),
            details: "{}".into(),
            time: Timestamp::from_nanos(5),
            duration: GoDuration::from_nanos(3),
            level,
        }
    }

    #[test]
    fn a_committed_non_ok_state_drops_its_text_and_an_ok_one_keeps_it() {
        let mut critical = Kept::new(state(Level::Critical), 7);
        assert_eq!(critical.whole("cpu:host=a"), Some(state(Level::Critical)));
        critical.committed(6);
        assert!(
            critical.has_text(),
            "an older commit leaves a newer state's text"
        );
        critical.committed(7);
        assert!(!critical.has_text());
        assert_eq!(critical.whole("cpu:host=a"), None);
        assert_eq!(critical.bare("cpu:host=a").level, Level::Critical);

        let mut ok = Kept::new(state(Level::Ok), 8);
        ok.committed(8);
        assert_eq!(ok.whole("cpu:host=a"), Some(state(Level::Ok)));
    }

    #[test]
    fn a_kept_state_is_a_few_words() {
        // The point of the type: a million of them must not cost what a million EventStates do.
        assert!(
            std::mem::size_of::<Kept>() <= 40,
            "{}",
            std::mem::size_of::<Kept>()
        );
    }
}
