//! Admission for writes: refused with 503 once shutdown has begun, while the database cannot be
//! written (a full disk: until a probe commits again), or (with
//! `[alert] queue-full = "block"`) when the handler queues stay full for too long. A write is
//! admitted or refused whole, before any of its points is processed, so a 503 loses nothing and
//! the sender's retry duplicates nothing. It also bounds how many writes are read and processed
//! at once (`[http] max-concurrent-write-limit`): the others wait for a slot up to
//! `[http] enqueued-write-timeout`, holding only their connection, then get 503.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use klaxon_engine::{AlertService, QueueFull};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::write::WriteError;

/// Retry-After while the database cannot be written.
const STORAGE_RETRY: u64 = 5;

/// More than any number of concurrent writes; closing the gate takes them all.
const PERMITS: u32 = 1 << 20;

/// The gate every write passes.
#[derive(Debug)]
pub struct WriteGate {
    /// Writes read and processed at once; `None` without a bound.
    slots: Option<Arc<Semaphore>>,
    /// How long a write waits for a slot, and how many slots there are.
    concurrency: Concurrency,
    closed: AtomicBool,
    in_flight: Arc<Semaphore>,
    queue_full: QueueFull,
    patience: Duration,
}

/// One of `[http] max-concurrent-write-limit`'s slots, held from before the body is read until
/// its points are through.
#[derive(Debug)]
pub struct Slot(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

/// How writes wait for each other: `[http] max-concurrent-write-limit` and
/// `enqueued-write-timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Concurrency {
    /// Writes read and processed at once; 0 for no bound.
    pub max: usize,
    /// How long a write waits for a slot before it is refused with 503.
    pub wait: Duration,
}

/// Held while a write is processed; shutdown waits for every one to be dropped.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] OwnedSemaphorePermit);

impl WriteGate {
    /// A gate for `[alert] queue-full` and `queue-full-wait`, and for `concurrency`.
    pub fn new(queue_full: QueueFull, patience: Duration, concurrency: Concurrency) -> Self {
        WriteGate {
            slots: (concurrency.max > 0).then(|| Arc::new(Semaphore::new(concurrency.max))),
            concurrency,
            closed: AtomicBool::new(false),
            in_flight: Arc::new(Semaphore::new(PERMITS as usize)),
            queue_full,
            patience,
        }
    }

    /// Waits for a slot among `[http] max-concurrent-write-limit`, up to
    /// `enqueued-write-timeout`; 503 with `Retry-After` past it.
    pub async fn slot(&self) -> Result<Slot, WriteError> {
        let Some(slots) = &self.slots else {
            return Ok(Slot(None));
        };
        let wait = self.concurrency.wait;
        match tokio::time::timeout(wait, Arc::clone(slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot(Some(permit))),
            Ok(Err(_)) | Err(_) => Err(WriteError::unavailable(
                format!(
                    "too many writes at once: {} are being processed ([http] \
                     max-concurrent-write-limit) and this one waited {} ([http] \
                     enqueued-write-timeout); retry later",
                    self.concurrency.max,
                    klaxon_core::GoDuration::from_std(wait)
                ),
                1,
            )),
        }
    }

    /// Admits a write, or says why not (503 with the seconds to wait before retrying).
    pub async fn admit(&self, alerts: &AlertService) -> Result<Admitted, WriteError> {
        let shutting_down = || {
            WriteError::unavailable(
                "the server is shutting down; retry against the restarted server",
                5,
            )
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(shutting_down());
        }
        let permit = Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map_err(|_| shutting_down())?;
        // After a failed commit (a full disk), writes are refused until a probe commits again:
        // states and events would otherwise be accepted without reaching the disk.
        if alerts.store().fault().is_some() {
            let store = alerts.store().clone();
            let probed =
                tokio::task::spawn_blocking(move || store.probe().map_err(|e| e.to_string()))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
            if let Err(e) = probed {
                return Err(WriteError::unavailable(
                    format!(
                        "cannot store alert states and events: {e} (is the disk of data-dir \
                         full?); nothing of this write was processed; klaxond takes writes again \
                         by itself once the database can be written, retry after {STORAGE_RETRY}s"
                    ),
                    STORAGE_RETRY,
                ));
            }
        }
        if self.queue_full == QueueFull::Block && !alerts.wait_for_room(self.patience).await {
            return Err(WriteError::unavailable(
                format!(
                    "handler queues are full, or the outbox is ([alert] outbox-max-bytes, with \
                     [alert] queue-full = \"block\"): a handler is slower than the alerts \
                     arriving; nothing of this write was processed, retry after {}s",
                    self.retry_after()
                ),
                self.retry_after(),
            ));
        }
        Ok(Admitted(permit))
    }

    /// Refuses every later write and waits up to `timeout` for those admitted to finish;
    /// `false` if some were still running then.
    pub async fn close(&self, timeout: Duration) -> bool {
        self.closed.store(true, Ordering::Release);
        let all = Arc::clone(&self.in_flight).acquire_many_owned(PERMITS);
        match tokio::time::timeout(timeout, all).await {
            Ok(Ok(permits)) => {
                // Never returned: nothing may be admitted again.
                permits.forget();
                true
            }
            Ok(Err(_)) | Err(_) => false,
        }
    }

    fn retry_after(&self) -> u64 {
        self.patience.as_secs().max(1)
    }
}
