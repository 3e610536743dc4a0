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
        }
    }
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
