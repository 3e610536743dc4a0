//! A worker's loop: take the next event (from the queue, or from the outbox while spilling),
//! run the match, call the handler under its timeout, retry, and report the outcome.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use klaxon_core::{DeliveryInfo, Event, GoDuration, HandlerError, Timestamp};
use klaxon_tick::MatchContext;
use tokio::sync::{mpsc, watch};

use super::{Outbox, Queued, Shared, SharedEvent, Target};
use crate::stats::Counters;

/// Outbox entries read per disk read while spilling.
const READ_AHEAD: usize = 64;

/// Resolves once the service abandons delivery; never if it cannot (its sender is gone).
async fn abandoned(abandon: &mut watch::Receiver<bool>) {
    if abandon.wait_for(|a| *a).await.is_err() {
        std::future::pending::<()>().await;
    }
}

pub(super) async fn run(
    mut target: Target,
    mut rx: mpsc::Receiver<Queued>,
    counters: Arc<Counters>,
    mut shared: Shared,
    spilling: Arc<Mutex<bool>>,
) {
    // The highest outbox sequence number taken, so that an event read from disk and queued
    // too is delivered once.
    let mut last_seq = 0;
    let mut closed = false;
    let mut from_disk: std::collections::VecDeque<Queued> = Default::default();
    loop {
        if *shared.abandon.borrow() {
            break;
        }
        let next = if let Some(q) = from_disk.pop_front() {
            Some(q)
        } else {
            match rx.try_recv() {
                Ok(q) => Some(q),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    None
                }
                Err(mpsc::error::TryRecvError::Empty) => None,
            }
        };
        let next = match next {
            Some(q) => Some(q),
            None => {
                // Upgraded here only, never held across an await.
                let durable = match shared.outbox.as_ref().map(Weak::upgrade) {
                    // The service is gone.
                    Some(None) => return,
                    other => other.flatten(),
                };
                // Closed (the service drains) or not, what waits on disk only is delivered
                // before the worker ends: a drain delivers every event accepted before it.
                let spilled = durable.filter(|_| is_on(&spilling));
                if let Some(outbox) = spilled {
                    from_disk = read_outbox(&outbox, &target, last_seq, &spilling);
                    from_disk.pop_front()
                } else if closed {
                    return;
                } else {
                    let next = tokio::select! {
                        biased;
                        () = abandoned(&mut shared.abandon) => break,
                        next = rx.recv() => next,
                    };
                    if next.is_none() {
                        closed = true;
                    }
                    next
                }
            }
        };
        let Some(queued) = next else { continue };
        shared.room_freed.notify_waiters();
        if queued.seq != 0 {
            if queued.seq <= last_seq {
                continue;
            }
            last_seq = queued.seq;
        }
        let done = tokio::select! {
            biased;
            () = abandoned(&mut shared.abandon) => false,
            () = deliver(&mut target, &queued, &counters, shared.outbox.as_ref()) => true,
        };
        if !done {
            abandon(&target, &counters, &queued, "was being delivered");
            break;
        }
        // The outbox has shrunk: writers waiting for room look again.
        shared.room_freed.notify_waiters();
    }
    rx.close();
    while let Ok(queued) = rx.try_recv() {
        abandon(&target, &counters, &queued, "was still queued");
    }
    for queued in from_disk {
        abandon(&target, &counters, &queued, "was still queued");
    }
}

fn is_on(spilling: &Mutex<bool>) -> bool {
    *spilling.lock().unwrap_or_else(|e| e.into_inner())
}

/// The next entries of the pair after `after`. When there are none, spilling ends, decided
/// under the outlet's lock so that no event committed meanwhile is left on disk only.
fn read_outbox(
    outbox: &Outbox,
    target: &Target,
    after: u64,
    spilling: &Mutex<bool>,
) -> std::collections::VecDeque<Queued> {
    let read = || match outbox
        .store()
        .outbox_after(&target.topic, &target.label, after, READ_AHEAD)
    {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(
                topic = %target.topic, handler = %target.label, kind = %target.kind, error = %e,
                "cannot read the outbox; its events stay there until the next start"
            );
            Vec::new()
        }
    };
    let mut entries = read();
    if entries.is_empty() {
        let mut on = spilling.lock().unwrap_or_else(|e| e.into_inner());
        entries = read();
        if entries.is_empty() {
            *on = false;
        }
    }
    entries
        .into_iter()
        .filter_map(|(seq, decoded)| match decoded {
            Ok(d) => {
                let waited = Timestamp::now().as_nanos() - d.queued_unix_nanos;
                let waited = Duration::from_nanos(u64::try_from(waited).unwrap_or(0));
                Some(Queued {
                    shared: SharedEvent::stored(d.event, Arc::from(d.key)),
                    queued: Instant::now()
                        .checked_sub(waited)
                        .unwrap_or_else(Instant::now),
                    seq,
                    attempts: d.attempts,
                    redelivery: outbox.is_redelivery(seq),
                })
            }
            Err(error) => {
                tracing::error!(
                    topic = %target.topic, handler = %target.label, kind = %target.kind, seq,
                    error, "removed an unreadable outbox entry; the event it held is lost"
                );
                outbox.finished(&target.topic, &target.label, seq);
                None
            }
        })
        .collect()
}

/// Counts and logs an event the shutdown deadline left undelivered. Every one is logged, with
/// its ID: this is the list an operator replays from. An event in the outbox is not lost: the
/// next start delivers it.
fn abandon(target: &Target, counters: &Counters, queued: &Queued, state: &str) {
    let event = &*queued.shared.event;
    if queued.seq != 0 {
        tracing::warn!(
            topic = %target.topic, handler = %target.label, kind = %target.kind,
            event = %event.state.id, level = %event.state.level,
            "not delivered yet: the event {state} when [alert] shutdown-timeout passed; it stays \
             in the outbox and the next start delivers it"
        );
        return;
    }
    counters.dropped();
    tracing::error!(
        topic = %target.topic, handler = %target.label, kind = %target.kind,
        event = %event.state.id, level = %event.state.level,
        "not delivered: the event {state} when [alert] shutdown-timeout passed"
    );
}

async fn deliver(
    target: &mut Target,
    queued: &Queued,
    counters: &Counters,
    outbox: Option<&Weak<Outbox>>,
) {
    attempt_all(target, queued, counters, outbox).await;
    if queued.seq != 0
        && let Some(outbox) = outbox.and_then(Weak::upgrade)
    {
        outbox.finished(&target.topic, &target.label, queued.seq);
    }
}

async fn attempt_all(
    target: &mut Target,
    queued: &Queued,
    counters: &Counters,
    outbox: Option<&Weak<Outbox>>,
) {
    let event = &*queued.shared.event;
    let id = event.state.id.as_str();
    if let Some(matcher) = target.matcher.as_mut() {
        match matcher.matches(&EventContext(event)) {
            Ok(true) => {}
            Ok(false) => {
                counters.filtered();
                return;
            }
            Err(e) => {
                counters.filtered();
                tracing::warn!(
                    topic = %target.topic, handler = %target.label, kind = %target.kind,
                    event = id, error = %e, "failed to evaluate match expression"
                );
                return;
            }
        }
    }
    if queued.redelivery {
        counters.redelivered();
        tracing::debug!(
            topic = %target.topic, handler = %target.label, kind = %target.kind,
            event = id, key = %queued.shared.key, "redelivering an event left by the last run"
        );
    }
    let started = Instant::now();
    let mut attempt = queued.attempts + 1;
    loop {
        let mut info =
            DeliveryInfo::new(Arc::clone(&queued.shared.key), attempt, queued.redelivery);
        if let Some(json) = &queued.shared.alert_json {
            info = info.with_alert_json(event, Arc::clone(json));
        }
        let call = klaxon_core::with_delivery(info, target.handler.handle(event));
        let error = match tokio::time::timeout(target.timeout, call).await {
            Ok(Ok(())) => {
                counters.delivered_after(queued.queued.elapsed());
                if attempt > 1 {
                    // The failures were logged as warnings: say that they ended well, so the
                    // log does not leave the event looking lost.
                    tracing::info!(
                        topic = %target.topic, handler = %target.label, kind = %target.kind,
                        event = id, attempt, "delivered after retrying"
                    );
                } else {
                    tracing::debug!(
                        topic = %target.topic, handler = %target.label, kind = %target.kind,
                        event = id, attempt, "delivered"
                    );
                }
                return;
            }
            Ok(Err(e)) => e,
            Err(_) => HandlerError::timed_out("delivery", target.timeout),
        };
        counters.attempt_failed(error.to_string());
        let delay = target.retry.delay_after(&error, attempt, fastrand::f64());
        let retry = target
            .retry
            .should_retry(&error, attempt, started.elapsed() + delay);
        if retry {
            counters.retried();
            if queued.seq != 0
                && let Some(outbox) = outbox.and_then(Weak::upgrade)
            {
                outbox.attempted(&target.topic, &target.label, queued.seq, attempt);
            }
        } else {
            counters.failed();
        }
        if let Some(suppressed) = counters.log.allow() {
            if retry {
                tracing::warn!(
                    topic = %target.topic, handler = %target.label, kind = %target.kind,
                    event = id, attempt, error = %error, retry_in = %GoDuration::from_std(delay),
                    suppressed, "delivery failed; retrying"
                );
            } else {
                tracing::error!(
                    topic = %target.topic, handler = %target.label, kind = %target.kind,
                    event = id, attempt, error = %error, retryable = error.is_retryable(),
                    suppressed, "delivery failed; giving up"
                );
            }
        }
        if !retry {
            return;
        }
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// What a `match` expression sees of an event.
struct EventContext<'a>(&'a Event);

impl MatchContext for EventContext<'_> {
    fn tag(&self, name: &str) -> Option<&str> {
        self.0.data.tags.get(name).map(String::as_str)
    }
    fn level(&self) -> i64 {
        self.0.state.level.as_i64()
    }
    fn changed(&self) -> bool {
        self.0.state.level != self.0.previous_level
    }
    fn name(&self) -> &str {
        &self.0.data.name
    }
    fn task_name(&self) -> &str {
        &self.0.data.task_name
    }
    fn alert_duration(&self) -> i64 {
        self.0.state.duration.as_nanos()
    }
}
