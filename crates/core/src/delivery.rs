//! The delivery a handler call belongs to: the event's idempotency key, the attempt, and whether
//! the event may have reached the receiver before (a redelivery after a restart).
//!
//! The engine runs each [`crate::Handler::handle`] call inside [`with_delivery`]; a handler (or
//! the HTTP client every HTTP-based handler shares) reads it with [`current_delivery`] while it
//! builds its request, and sends the key as the [`IDEMPOTENCY_KEY_HEADER`] header, so that a
//! receiver can drop the duplicates at-least-once delivery may make. It is carried per poll in a
//! thread-local, so it needs no runtime and reaches every synchronous call made while the
//! handler's future is polled.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The header HTTP-based handlers send the idempotency key in.
///
/// ```
/// assert_eq!(klaxon_core::IDEMPOTENCY_KEY_HEADER, "Idempotency-Key");
/// ```
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// The header HTTP-based handlers send, with the value `true`, on a redelivery.
///
/// ```
/// assert_eq!(klaxon_core::REDELIVERY_HEADER, "Klaxon-Redelivery");
/// ```
pub const REDELIVERY_HEADER: &str = "Klaxon-Redelivery";

/// One delivery of one event to one handler.
///
/// ```
/// let info = klaxon_core::DeliveryInfo::new("4f2a", 1, false);
/// assert_eq!(&*info.key, "4f2a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    /// The event's idempotency key: the same on every attempt and every redelivery of the event
    /// (and for every handler of its topic), different for every other event.
    pub key: Arc<str>,
    /// The attempt, 1 for the first (attempts made before a restart count).
    pub attempt: u32,
    /// Whether the event may already have been delivered: it was left in the outbox by a
    /// process that stopped before it recorded the outcome.
    pub redelivery: bool,
    /// The event's alert JSON, rendered by the engine before the delivery, with the address of
    /// the event it was rendered from ([`DeliveryInfo::with_alert_json`]).
    alert_json: Option<(usize, Arc<[u8]>)>,
}

impl DeliveryInfo {
    /// A delivery's information.
    ///
    /// ```
    /// let info = klaxon_core::DeliveryInfo::new("k", 2, true);
    /// assert!(info.redelivery);
    /// assert_eq!(info.attempt, 2);
    /// ```
    pub fn new(key: impl Into<Arc<str>>, attempt: u32, redelivery: bool) -> Self {
        DeliveryInfo {
            key: key.into(),
            attempt,
            redelivery,
            alert_json: None,
        }
    }

    /// The delivery of `event`, whose alert JSON ([`crate::Event::write_alert_json`]) is
    /// already rendered as `json`: during the delivery, `write_alert_json` of that very event
    /// (the same value, by address) copies `json` instead of encoding again.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use klaxon_core::{DeliveryInfo, Event};
    ///
    /// let event = Event::sample("disk full");
    /// let json: Arc<[u8]> = event.alert_json().into_bytes().into();
    /// let info = DeliveryInfo::new("k", 1, false).with_alert_json(&event, json);
    /// assert!(info.alert_json_of(&event).is_some());
    /// assert!(info.alert_json_of(&event.clone()).is_none());
    /// ```
    #[must_use]
    pub fn with_alert_json(mut self, event: &crate::Event, json: Arc<[u8]>) -> Self {
        self.alert_json = Some((std::ptr::from_ref(event) as usize, json));
        self
    }

    /// The alert JSON rendered for `event`, if this delivery carries one for that very value.
    pub fn alert_json_of(&self, event: &crate::Event) -> Option<&[u8]> {
        match &self.alert_json {
            Some((at, json)) if *at == std::ptr::from_ref(event) as usize => Some(json),
            _ => None,
        }
    }
}

/// Runs `f` with the alert JSON the current delivery carries for `event`, if any, without
/// cloning the delivery.
pub(crate) fn with_rendered_alert_json<R>(
    event: &crate::Event,
    f: impl FnOnce(Option<&[u8]>) -> R,
) -> R {
    CURRENT.with(|c| match c.try_borrow() {
        Ok(current) => f(current.as_ref().and_then(|d| d.alert_json_of(event))),
        Err(_) => f(None),
    })
}

thread_local! {
    static CURRENT: RefCell<Option<DeliveryInfo>> = const { RefCell::new(None) };
}

/// The delivery whose handler call is being polled on this thread, if any (service tests and
/// other calls outside a delivery have none).
///
/// ```
/// use klaxon_core::{DeliveryInfo, current_delivery, with_delivery};
///
/// assert_eq!(current_delivery(), None);
/// let seen = futures_lite_block_on(with_delivery(DeliveryInfo::new("k", 1, false), async {
///     current_delivery().map(|d| d.key.to_string())
/// }));
/// assert_eq!(seen.as_deref(), Some("k"));
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub fn current_delivery() -> Option<DeliveryInfo> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `future` as part of delivery `info`: [`current_delivery`] returns it whenever the
/// future is being polled.
///
/// ```
/// let fut = klaxon_core::with_delivery(klaxon_core::DeliveryInfo::new("k", 1, false), async { 7 });
/// # let _ = fut;
/// ```
pub fn with_delivery<F: Future>(info: DeliveryInfo, future: F) -> WithDelivery<F> {
    WithDelivery {
        info,
        future: Box::pin(future),
    }
}

/// The future [`with_delivery`] returns.
#[derive(Debug)]
pub struct WithDelivery<F> {
    info: DeliveryInfo,
    future: Pin<Box<F>>,
}

/// Puts the previous delivery back when a poll ends, also by a panic.
struct Restore(Option<DeliveryInfo>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

impl<F: Future> Future for WithDelivery<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let previous = CURRENT.with(|c| c.borrow_mut().replace(this.info.clone()));
        let _restore = Restore(previous);
        this.future.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::Event;

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut cx = Context::from_waker(Waker::noop());
        let mut f = pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    /// During a delivery that carries a rendering, the very event it was made from writes it
    /// (here a marker no encoder would make); any other event, and the same event outside the
    /// delivery, is encoded.
    #[test]
    fn write_alert_json_copies_the_rendering_of_that_event_only() {
        let event = Event::sample("disk full");
        let other = event.clone();
        let marker: Arc<[u8]> = Arc::from(&b"rendered\n"[..]);
        let info = DeliveryInfo::new("k", 1, false).with_alert_json(&event, marker);
        let (mine, theirs) = block_on(with_delivery(info, async {
            let (mut mine, mut theirs) = (Vec::new(), Vec::new());
            event.write_alert_json(&mut mine);
            other.write_alert_json(&mut theirs);
            (mine, theirs)
        }));
        assert_eq!(mine, b"rendered\n");
        assert_eq!(theirs, event.alert_json().into_bytes());
        let mut outside = Vec::new();
        event.write_alert_json(&mut outside);
        assert_eq!(outside, event.alert_json().into_bytes());
    }
}
