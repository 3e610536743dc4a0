//! The two kinds built into the engine, because they collect events into topics: `publish`
//! (reference 2.7) and `aggregate` (reference 2.6). They are the only kinds the engine names.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use klaxon_core::decode::{Noun, decode_into};
use klaxon_core::{
    AlertResult, Event, EventData, EventState, GoDuration, Handler, HandlerError, Invalid,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alerts::Collector;
use crate::{EngineError, is_valid_topic};

/// The kind that re-collects each event into other topics.
pub const PUBLISH: &str = "publish";
/// The kind that collects one summary event per interval into another topic.
pub const AGGREGATE: &str = "aggregate";
/// The internal kinds, sorted: the names klaxon-core reserves for the engine, so no handler
/// crate can register them (a test checks that they are these two).
pub const INTERNAL_KINDS: &[&str] = klaxon_core::naming::RESERVED_KINDS;

/// Options of a `publish` handler.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PublishOptions {
    /// The topics each event is collected into.
    topics: Vec<String>,
}

/// Options of an `aggregate` handler.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AggregateOptions {
    /// The ID of the summary event.
    id: String,
    /// How often a summary is made: integer nanoseconds (as Kapacitor) or a duration string.
    interval: GoDuration,
    /// The topic the summary is collected into.
    topic: String,
    /// The summary message: `{{ .Count }}` and `{{ .Interval }}` are replaced.
    message: String,
}

impl Default for AggregateOptions {
    fn default() -> Self {
        AggregateOptions {
            id: String::new(),
            interval: GoDuration::ZERO,
            topic: String::new(),
            message: "Received {{ .Count }} events in the last {{.Interval}}.".to_owned(),
        }
    }
}

/// Why the options of an internal kind are refused. Each message starts with the kind.
///
/// ```
/// let err = klaxon_engine::InternalOptionsError::NoTopics;
/// assert_eq!(err.to_string(), "publish: topics must list at least one topic");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InternalOptionsError {
    /// The options do not decode into the kind's options.
    #[error("{kind}: {source}")]
    Decode {
        /// `publish` or `aggregate`.
        kind: &'static str,
        /// What the decoder said.
        #[source]
        source: Invalid,
    },
    /// A `publish` handler with no topics.
    #[error("{kind}: topics must list at least one topic", kind = PUBLISH)]
    NoTopics,
    /// A `publish` topic breaks the topic rule.
    #[error(
        "{kind}: topic {topic:?} must contain only letters, numbers, '-', '.', ':' and '_'",
        kind = PUBLISH
    )]
    PublishTopic {
        /// The topic.
        topic: String,
    },
    /// A `publish` handler that would publish into its own topic.
    #[error(
        "{kind}: topic {topic:?} is the handler's own topic; publishing to it would loop",
        kind = PUBLISH
    )]
    PublishLoop {
        /// The topic.
        topic: String,
    },
    /// An `aggregate` interval of zero or less.
    #[error(
        "{kind}: interval must be greater than zero, got {interval} (give integer nanoseconds \
         or a duration such as \"1m\")",
        kind = AGGREGATE
    )]
    Interval {
        /// The interval given.
        interval: GoDuration,
    },
    /// An `aggregate` topic breaks the topic rule.
    #[error(
        "{kind}: topic {topic:?} must be a topic name: letters, numbers, '-', '.', ':' and '_'",
        kind = AGGREGATE
    )]
    AggregateTopic {
        /// The topic.
        topic: String,
    },
    /// An `aggregate` handler that would collect into its own topic.
    #[error(
        "{kind}: topic {topic:?} is the handler's own topic; aggregating into it would loop",
        kind = AGGREGATE
    )]
    AggregateLoop {
        /// The topic.
        topic: String,
    },
    /// The `aggregate` message is not a template it can render.
    #[error("{kind}: {source}", kind = AGGREGATE)]
    Message {
        /// Why the message cannot be rendered.
        #[source]
        source: AggregateMessageError,
    },
}

/// An `aggregate` message the two-field template cannot render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregateMessageError {
    /// `{{` without `}}`.
    #[error("message {text:?} has an unclosed {{{{ action")]
    Unclosed {
        /// The message.
        text: String,
    },
    /// An action other than `.Count` and `.Interval`.
    #[error(
        "message {text:?}: the aggregate message knows only {{{{ .Count }}}} and \
         {{{{ .Interval }}}}, not {{{{ {action} }}}}"
    )]
    UnknownAction {
        /// The message.
        text: String,
        /// The action, trimmed.
        action: String,
    },
}

/// Makes a handler of an internal kind, or `None` when `kind` is not one.
pub(crate) fn make(
    kind: &str,
    options: &Value,
    own_topic: &str,
    collector: &Collector,
    runtime: &tokio::runtime::Handle,
) -> Option<Result<Arc<dyn Handler>, EngineError>> {
    match kind {
        PUBLISH => Some(publish(options, own_topic, collector)),
        AGGREGATE => Some(aggregate(options, own_topic, collector, runtime)),
        _ => None,
    }
}

fn publish(
    options: &Value,
    own_topic: &str,
    collector: &Collector,
) -> Result<Arc<dyn Handler>, EngineError> {
    let options: PublishOptions = decode_into(&PublishOptions::default(), options, Noun::Option)
        .map_err(|source| InternalOptionsError::Decode {
            kind: PUBLISH,
            source,
        })?;
    if options.topics.is_empty() {
        return Err(InternalOptionsError::NoTopics.into());
    }
    for topic in &options.topics {
        if !is_valid_topic(topic) {
            return Err(InternalOptionsError::PublishTopic {
                topic: topic.clone(),
            }
            .into());
        }
        if topic == own_topic {
            return Err(InternalOptionsError::PublishLoop {
                topic: topic.clone(),
            }
            .into());
        }
    }
    Ok(Arc::new(Publish {
        topics: options.topics,
        collector: collector.clone(),
    }))
}

#[derive(Debug)]
struct Publish {
    topics: Vec<String>,
    collector: Collector,
}

#[klaxon_core::async_trait]
impl Handler for Publish {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        for topic in &self.topics {
            let mut copy = event.clone();
            copy.topic = topic.clone();
            if !self.collector.collect(copy).await {
                return Err(HandlerError::permanent("the alert service is shut down"));
            }
        }
        Ok(())
    }
}

fn aggregate(
    options: &Value,
    own_topic: &str,
    collector: &Collector,
    runtime: &tokio::runtime::Handle,
) -> Result<Arc<dyn Handler>, EngineError> {
    let options: AggregateOptions =
        decode_into(&AggregateOptions::default(), options, Noun::Option).map_err(|source| {
            InternalOptionsError::Decode {
                kind: AGGREGATE,
                source,
            }
        })?;
    if options.interval <= GoDuration::ZERO {
        return Err(InternalOptionsError::Interval {
            interval: options.interval,
        }
        .into());
    }
    if !is_valid_topic(&options.topic) {
        return Err(InternalOptionsError::AggregateTopic {
            topic: options.topic,
        }
        .into());
    }
    if options.topic == own_topic {
        return Err(InternalOptionsError::AggregateLoop {
            topic: options.topic,
        }
        .into());
    }
    let template = Template::parse(&options.message)
        .map_err(|source| InternalOptionsError::Message { source })?;
    let buffer: Arc<Mutex<Vec<Event>>> = Arc::default();
    let ticker = runtime.spawn(tick(
        Arc::clone(&buffer),
        options.clone(),
        template,
        collector.clone(),
    ));
    Ok(Arc::new(Aggregate { buffer, ticker }))
}

#[derive(Debug)]
struct Aggregate {
    buffer: Arc<Mutex<Vec<Event>>>,
    ticker: tokio::task::JoinHandle<()>,
}

impl Drop for Aggregate {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}

#[klaxon_core::async_trait]
impl Handler for Aggregate {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.buffer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
        Ok(())
    }
}

async fn tick(
    buffer: Arc<Mutex<Vec<Event>>>,
    options: AggregateOptions,
    template: Template,
    collector: Collector,
) {
    let period = options.interval.to_std().max(Duration::from_millis(1));
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        let events = std::mem::take(&mut *buffer.lock().unwrap_or_else(|e| e.into_inner()));
        if events.is_empty() {
            continue;
        }
        let summary = summarize(&events, &options, &template);
        if !collector.collect(summary).await {
            return;
        }
    }
}

fn summarize(events: &[Event], options: &AggregateOptions, template: &Template) -> Event {
    let mut state = EventState {
        id: options.id.clone(),
        message: template.render(events.len(), options.interval),
        ..EventState::default()
    };
    let mut details = Vec::with_capacity(events.len());
    let mut series = Vec::new();
    for event in events {
        state.level = state.level.max(event.state.level);
        state.time = state.time.max(event.state.time);
        state.duration = state.duration.max(event.state.duration);
        details.push(event.state.message.as_str());
        series.extend(event.data.result.series.iter().cloned());
    }
    state.details = details.join("\n");
    Event {
        topic: options.topic.clone(),
        state,
        data: EventData {
            recoverable: false,
            result: AlertResult { series },
            ..EventData::default()
        },
        previous_level: Default::default(),
    }
}

/// The aggregate message: text with `{{ .Count }}` and `{{ .Interval }}` actions only.
#[derive(Debug, Clone)]
struct Template(Vec<Piece>);

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Count,
    Interval,
}

impl Template {
    fn parse(text: &str) -> Result<Template, AggregateMessageError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            pieces.push(Piece::Text(rest[..start].to_owned()));
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| AggregateMessageError::Unclosed {
                    text: text.to_owned(),
                })?;
            pieces.push(match after[..end].trim() {
                ".Count" => Piece::Count,
                ".Interval" => Piece::Interval,
                other => {
                    return Err(AggregateMessageError::UnknownAction {
                        text: text.to_owned(),
                        action: other.to_owned(),
                    });
                }
            });
            rest = &after[end + 2..];
        }
        pieces.push(Piece::Text(rest.to_owned()));
        Ok(Template(pieces))
    }

    fn render(&self, count: usize, interval: GoDuration) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Count => count.to_string(),
                Piece::Interval => interval.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_internal_kinds_are_the_reserved_ones() {
        assert_eq!(INTERNAL_KINDS, [AGGREGATE, PUBLISH]);
    }

    #[test]
    fn default_message_renders_like_kapacitor() {
        let t = Template::parse(&AggregateOptions::default().message).unwrap();
        assert_eq!(
            t.render(3, GoDuration::from_nanos(100_000_000)),
            "Received 3 events in the last 100ms."
        );
        assert_eq!(
            Template::parse("{{ .Level }}").unwrap_err().to_string(),
            "message \"{{ .Level }}\": the aggregate message knows only {{ .Count }} and \
             {{ .Interval }}, not {{ .Level }}"
        );
        assert_eq!(
            Template::parse("{{ .Count").unwrap_err().to_string(),
            "message \"{{ .Count\" has an unclosed {{ action"
        );
    }
}
