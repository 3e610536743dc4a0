//! Admission for writes: refused with 503 once shutdown has begun, or (with
//! `[alert] queue-full = "block"`) when the handler queues stay full for too long. A write is
//! admitted or refused whole, before any of its points is processed, so a 503 loses nothing and
//! the sender's retry duplicates nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use klaxon_engine::{AlertService, QueueFull};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::write::WriteError;

/// More than any number of concurrent writes; closing the gate takes them all.
const PERMITS: u32 = 1 << 20;

/// The gate every write passes.
#[derive(Debug)]
pub struct WriteGate {
    closed: AtomicBool,
    in_flight: Arc<Semaphore>,
    queue_full: QueueFull,
    patience: Duration,
}

/// Held while a write is processed; shutdown waits for every one to be dropped.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] OwnedSemaphorePermit);

impl WriteGate {
    /// A gate for `[alert] queue-full` and `queue-full-wait`.
    pub fn new(queue_full: QueueFull, patience: Duration) -> Self {
        WriteGate {
            closed: AtomicBool::new(false),
            in_flight: Arc::new(Semaphore::new(PERMITS as usize)),
            queue_full,
            patience,
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
        if self.queue_full == QueueFull::Block && !alerts.wait_for_room(self.patience).await {
            return Err(WriteError::unavailable(
                format!(
                    "handler queues are full ([alert] queue-full = \"block\"): a handler is \
                     slower than the alerts arriving; nothing of this write was processed, \
                     retry after {}s",
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
