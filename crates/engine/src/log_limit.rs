//! A per-source log budget: a handler failing thousands of times a second must not flood the
//! log, yet the first lines of a burst, and how many were held back, must always appear.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines allowed per window for one source.
const BURST: u32 = 10;
/// The window after which the budget refills.
const WINDOW: Duration = Duration::from_secs(10);

/// The budget of one source: a (topic, handler) pair, or one kind of refusal of the HTTP server
/// (failed logins, refused connections).
#[derive(Debug)]
pub struct LogLimit {
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit {
            state: Mutex::new(Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            }),
        }
    }
}

impl LogLimit {
    /// Whether a line may be logged now: `Some(n)` with the number of lines suppressed since
    /// the last one that was, or `None` to stay silent (the line is counted as suppressed).
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut window = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(window.started) >= WINDOW {
            window.started = now;
            window.logged = 0;
        }
        if window.logged < BURST {
            window.logged += 1;
            Some(std::mem::take(&mut window.suppressed))
        } else {
            window.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_and_the_gap_reported_after_the_window() {
        let limit = LogLimit::default();
        let start = Instant::now();
        let allowed = (0..25).filter(|_| limit.allow_at(start).is_some()).count();
        assert_eq!(allowed, BURST as usize);
        assert_eq!(limit.allow_at(start + WINDOW), Some(15));
        assert_eq!(limit.allow_at(start + WINDOW), Some(0));
    }
}
