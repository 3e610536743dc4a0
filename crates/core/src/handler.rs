//! The `Handler` trait: what a handler does with one event, and how it reports failure.

use std::fmt;
use std::io;
use std::time::Duration;

use async_trait::async_trait;

use crate::{Event, GoDuration};

/// Delivers alert events somewhere: runs a program, writes to a socket, posts to a chat room.
///
/// One value serves one handler spec (or one inline TICKscript handler). The engine calls
/// [`Handler::handle`] for each event of the topic, in order, one at a time per handler, under a
/// timeout; it logs, counts and retries the errors. A handler therefore never logs its own
/// failures: it returns them, saying whether trying again could help.
///
/// ```
/// use async_trait::async_trait;
/// use klaxon_core::{Event, Handler, HandlerError};
///
/// #[derive(Debug)]
/// struct Discard;
///
/// #[async_trait]
/// impl Handler for Discard {
///     async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
///         if event.state.id.is_empty() {
///             return Err(HandlerError::permanent("event has no id"));
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Handler: Send + Sync + fmt::Debug + 'static {
    /// Delivers one event.
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;

    /// Whether the handler sends the alert JSON ([`Event::write_alert_json`]). When one handler
    /// of a topic does, the engine renders it once per event, where the event is made, and
    /// shares it with every handler of the topic: their [`Event::write_alert_json`] copies it
    /// during the delivery instead of encoding again on the delivery's own time. Otherwise (the
    /// default is `false`) a handler that encodes gets the same bytes, encoded then.
    ///
    /// ```
    /// # use async_trait::async_trait;
    /// # use klaxon_core::{Event, Handler, HandlerError};
    /// #[derive(Debug)]
    /// struct Printer;
    ///
    /// #[async_trait]
    /// impl Handler for Printer {
    ///     async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
    ///         let mut json = Vec::new();
    ///         event.write_alert_json(&mut json);
    ///         print!("{}", String::from_utf8_lossy(&json));
    ///         Ok(())
    ///     }
    ///     fn sends_alert_json(&self) -> bool {
    ///         true
    ///     }
    /// }
    /// ```
    fn sends_alert_json(&self) -> bool {
        false
    }
}

/// Why a delivery failed, and whether a retry could succeed.
///
/// Transient failures (connection refused or reset, timeouts, HTTP 5xx and 429) are retryable;
/// permanent ones (HTTP 4xx, bad options, a program that exits non-zero) are not.
///
/// ```
/// use klaxon_core::HandlerError;
///
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// let err = HandlerError::io("connect to 127.0.0.1:7777", &refused);
/// assert!(err.is_retryable());
/// assert!(err.to_string().starts_with("connect to 127.0.0.1:7777: "));
/// assert!(!HandlerError::permanent("unexpected response code 400").is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl HandlerError {
    /// A failure that will happen again if retried.
    pub fn permanent(message: impl Into<String>) -> Self {
        HandlerError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }

    /// A failure that a later attempt may not meet.
    pub fn transient(message: impl Into<String>) -> Self {
        HandlerError {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }

    /// An IO failure while doing `context`, retryable when the error is a network or timing one.
    pub fn io(context: impl fmt::Display, err: &io::Error) -> Self {
        use io::ErrorKind::*;
        let retryable = matches!(
            err.kind(),
            ConnectionRefused
                | ConnectionReset
                | ConnectionAborted
                | NotConnected
                | BrokenPipe
                | TimedOut
                | Interrupted
                | WouldBlock
                | AddrInUse
                | AddrNotAvailable
                | HostUnreachable
                | NetworkUnreachable
                | NetworkDown
                | UnexpectedEof
        );
        HandlerError {
            message: format!("{context}: {err}"),
            retryable,
            retry_after: None,
        }
    }

    /// A step that did not finish in time: `<what> timed out after 10s`. Retryable.
    pub fn timed_out(what: impl fmt::Display, after: Duration) -> Self {
        HandlerError::transient(format!(
            "{what} timed out after {}",
            GoDuration::from_std(after)
        ))
    }

    /// The same error, asking that a retry wait at least `after` (an HTTP `Retry-After`). The
    /// engine waits the longer of this and its own backoff, and gives up instead when the wait
    /// would pass its retry budget.
    ///
    /// ```
    /// use std::time::Duration;
    /// let err = klaxon_core::HandlerError::transient("503").with_retry_after(Duration::from_secs(9));
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(9)));
    /// ```
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The same error with another message, still retryable or not, and after the same
    /// `Retry-After`: for a handler that rewrites a message made elsewhere, to keep a secret out
    /// of it or to add what to do.
    ///
    /// ```
    /// use std::time::Duration;
    /// use klaxon_core::HandlerError;
    ///
    /// let err = HandlerError::transient("POST https://h/key-123: 503 Service Unavailable")
    ///     .with_retry_after(Duration::from_secs(5));
    /// let hidden = err.message().replace("key-123", "<api-key>");
    /// let err = err.with_message(hidden);
    /// assert_eq!(err.message(), "POST https://h/<api-key>: 503 Service Unavailable");
    /// assert!(err.is_retryable());
    /// assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    /// ```
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// How long the receiver asked to wait before a retry, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether retrying the delivery could succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The message, without any prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let transient = [
            io::ErrorKind::ConnectionRefused,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::TimedOut,
            io::ErrorKind::BrokenPipe,
        ];
        for kind in transient {
            assert!(
                HandlerError::io("x", &io::Error::from(kind)).is_retryable(),
                "{kind:?}"
            );
        }
        let permanent = [io::ErrorKind::NotFound, io::ErrorKind::PermissionDenied];
        for kind in permanent {
            assert!(
                !HandlerError::io("x", &io::Error::from(kind)).is_retryable(),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_new_message_keeps_the_retry_classification() {
        let permanent = HandlerError::permanent("a").with_message("b");
        assert_eq!(permanent, HandlerError::permanent("b"));
        let after = Duration::from_secs(3);
        let transient = HandlerError::transient("a")
            .with_retry_after(after)
            .with_message("b");
        assert_eq!(
            transient,
            HandlerError::transient("b").with_retry_after(after)
        );
    }

    #[test]
    fn timeouts_say_how_long_in_go_form() {
        let err = HandlerError::timed_out("exec /bin/sleep", Duration::from_secs(30));
        assert_eq!(err.to_string(), "exec /bin/sleep timed out after 30s");
        assert!(err.is_retryable());
    }
}
