//! The outbox's live side: sequence numbers, what it holds (for its bound and `/metrics`), and
//! the thread that removes delivered entries from disk.
//!
//! Entries are written by the collect path with the states ([`crate::store::BatchWrite`]);
//! workers report outcomes here. The reported removals ride on the write path's next state
//! commit when writes keep coming, and one thread commits them in batches otherwise, so that a
//! delivery costs no disk sync of its own. A crash between a delivery and its removal makes a
//! redelivery, never a loss.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use klaxon_core::Timestamp;

use crate::log_limit::LogLimit;
use crate::store::{OutboxOp, Store, StoreError};

/// What the outbox holds, for `/metrics`.
///
/// ```
/// let stats = klaxon_engine::OutboxStats::default();
/// assert_eq!(stats.entries, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Whether delivery is durable (`[alert] durable-delivery`); all else is zero when not.
    pub enabled: bool,
    /// Entries waiting: one per (event, handler).
    pub entries: u64,
    /// Their size on disk (encoded values).
    pub bytes: u64,
    /// `[alert] outbox-max-bytes`.
    pub max_bytes: u64,
    /// How long the oldest entry has waited.
    pub oldest_age: Option<Duration>,
    /// Entries found at start, left by the previous run: each is delivered again (a redelivery).
    pub recovered: u64,
    /// Entries that did not decode at start and were removed.
    pub unreadable: u64,
}

/// One event's entries: one per handler, the same value each.
#[derive(Debug, Clone, Copy)]
struct Live {
    queued_unix_nanos: i64,
    bytes_each: u64,
    refs: u32,
}

#[derive(Debug, Default)]
struct Index {
    bytes: u64,
    entries: u64,
    by_seq: BTreeMap<u64, Live>,
}

enum Msg {
    /// Ops were reported into an empty [`Reported`].
    Wake,
    /// Answered once every op reported before it is committed (or given up on).
    Flush(mpsc::Sender<()>),
}

/// What the workers reported and no commit has carried yet.
#[derive(Debug, Default)]
struct Reported {
    ops: Vec<OutboxOp>,
}

/// The ops on their way to disk: whoever commits them (the write path or the removal thread)
/// takes them under `committing`, so that two commits never carry ops of the same entry out of
/// order.
#[derive(Debug, Default)]
struct Pending {
    reported: Mutex<Reported>,
    committing: Mutex<()>,
}

impl Pending {
    fn reported(&self) -> std::sync::MutexGuard<'_, Reported> {
        self.reported.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn committing(&self) -> std::sync::MutexGuard<'_, ()> {
        self.committing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// After a commit carried `ops`: each removed entry leaves the index.
    fn committed(&self, index: &Mutex<Index>, ops: &[OutboxOp]) {
        for op in ops {
            if let OutboxOp::Remove { seq, .. } = op {
                forget(index, *seq, 1);
            }
        }
    }

    /// After a commit failed: `ops` go back in front of what was reported meanwhile.
    fn put_back(&self, mut ops: Vec<OutboxOp>) {
        let mut reported = self.reported();
        ops.append(&mut reported.ops);
        reported.ops = ops;
    }
}

/// Ops taken for one commit, with the lock that keeps commits of ops in order.
pub(crate) struct OpsToCommit<'a> {
    pub ops: Vec<OutboxOp>,
    _committing: std::sync::MutexGuard<'a, ()>,
}

/// The outbox of one alert service.
#[derive(Debug)]
pub(crate) struct Outbox {
    max_bytes: u64,
    next_seq: AtomicU64,
    /// Entries below this sequence number were written by an earlier run.
    boot_seq: u64,
    recovered: u64,
    unreadable: u64,
    /// Shared with the removal thread, which forgets an entry once its removal is on disk.
    index: Arc<Mutex<Index>>,
    /// What the workers reported, shared with the removal thread.
    pending: Arc<Pending>,
    /// To the removal thread; taken when the outbox is dropped, which ends the thread.
    ops: Mutex<Option<mpsc::Sender<Msg>>>,
    remover: Mutex<Option<std::thread::JoinHandle<()>>>,
    store: Store,
}

impl Drop for Outbox {
    /// Commits what the workers reported and ends the removal thread, which releases its handle
    /// on the database (so that it can be opened again in the same process).
    fn drop(&mut self) {
        drop(self.ops.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(thread) = self
            .remover
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Wake => f.write_str("Wake"),
            Msg::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl Outbox {
    /// Reads what the last run left (dropping and reporting what does not decode) and starts
    /// the removal thread.
    pub fn open(store: &Store, max_bytes: u64) -> Result<Outbox, StoreError> {
        let scan = store.outbox_scan()?;
        for (topic, handler, seq, error) in &scan.unreadable {
            tracing::error!(
                topic,
                handler,
                seq,
                error,
                "removed an unreadable outbox entry at start; the event it held is lost"
            );
        }
        let mut index = Index::default();
        let mut max_seq = 0;
        for entry in &scan.entries {
            max_seq = max_seq.max(entry.seq);
            index.bytes += entry.bytes;
            index.entries += 1;
            let live = index.by_seq.entry(entry.seq).or_insert(Live {
                queued_unix_nanos: entry.queued_unix_nanos,
                bytes_each: entry.bytes,
                refs: 0,
            });
            live.refs += 1;
        }
        let recovered = index.entries;
        if recovered > 0 {
            tracing::info!(
                entries = recovered,
                bytes = index.bytes,
                "outbox: events the last run left undelivered are delivered again"
            );
        }
        let index = Arc::new(Mutex::new(index));
        let pending = Arc::new(Pending::default());
        let (tx, rx) = mpsc::channel();
        let db = store.clone();
        let removed = Arc::clone(&index);
        let reported = Arc::clone(&pending);
        let remover = std::thread::Builder::new()
            .name("klaxon-outbox".into())
            .spawn(move || remove_loop(&db, &rx, &removed, &reported))
            .map_err(|e| store.io_error("outbox thread", e))?;
        Ok(Outbox {
            max_bytes,
            next_seq: AtomicU64::new(max_seq + 1),
            boot_seq: max_seq + 1,
            recovered,
            unreadable: scan.unreadable.len() as u64,
            index,
            pending,
            ops: Mutex::new(Some(tx)),
            remover: Mutex::new(Some(remover)),
            store: store.clone(),
        })
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A new sequence number; call it under the commit lock, so that numbers follow commits.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether an entry numbered `seq` was left by an earlier run (it may have been delivered
    /// before the crash).
    pub fn is_redelivery(&self, seq: u64) -> bool {
        seq < self.boot_seq
    }

    /// Whether the outbox is under `[alert] outbox-max-bytes`.
    pub fn has_room(&self) -> bool {
        self.lock().bytes < self.max_bytes
    }

    /// An event's `refs` entries of `bytes_each` were committed.
    pub fn added(&self, seq: u64, bytes_each: u64, refs: u32, queued_unix_nanos: i64) {
        let mut index = self.lock();
        index.bytes += bytes_each * u64::from(refs);
        index.entries += u64::from(refs);
        index.by_seq.insert(
            seq,
            Live {
                queued_unix_nanos,
                bytes_each,
                refs,
            },
        );
    }

    /// One entry's delivery is over (delivered, filtered or failed for good): it leaves the
    /// outbox, and its size and count once the removal is on disk (so that an empty outbox in
    /// `/metrics` means nothing is left to redeliver).
    pub fn finished(&self, topic: &str, label: &str, seq: u64) {
        self.report(OutboxOp::Remove {
            topic: topic.to_owned(),
            label: label.to_owned(),
            seq,
        });
    }

    /// An attempt failed and another will be made: recorded, so that a restart continues the
    /// count.
    pub fn attempted(&self, topic: &str, label: &str, seq: u64, attempts: u32) {
        self.report(OutboxOp::Attempts {
            topic: topic.to_owned(),
            label: label.to_owned(),
            seq,
            attempts,
        });
    }

    /// The ops reported so far, for a commit the caller is about to make (the write path's);
    /// hand them back with [`Outbox::carried`] once it is over.
    pub(crate) fn take_for_commit(&self) -> OpsToCommit<'_> {
        let committing = self.pending.committing();
        let ops = std::mem::take(&mut self.pending.reported().ops);
        OpsToCommit {
            ops,
            _committing: committing,
        }
    }

    /// The commit that took `taken` is over: on disk, or failed (the ops are then committed
    /// later).
    pub(crate) fn carried(&self, taken: OpsToCommit<'_>, on_disk: bool) {
        if on_disk {
            self.pending.committed(&self.index, &taken.ops);
        } else if !taken.ops.is_empty() {
            self.pending.put_back(taken.ops);
            self.send(Msg::Wake);
        }
    }

    fn report(&self, op: OutboxOp) {
        let was_empty = {
            let mut reported = self.pending.reported();
            reported.ops.push(op);
            reported.ops.len() == 1
        };
        if was_empty {
            self.send(Msg::Wake);
        }
    }

    /// Removes the entries of a deleted topic (or of one of its handlers).
    pub fn delete(&self, topic: &str, label: Option<&str>) -> Result<(), StoreError> {
        for (seq, _) in self.store.delete_outbox(topic, label)? {
            forget(&self.index, seq, 1);
        }
        Ok(())
    }

    /// Waits until every removal reported so far is on disk (at shutdown), up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::channel();
        self.send(Msg::Flush(tx));
        rx.recv_timeout(timeout).is_ok()
    }

    /// What the outbox holds now.
    pub fn stats(&self) -> OutboxStats {
        let index = self.lock();
        let oldest_age = index.by_seq.values().next().map(|live| {
            let waited = Timestamp::now().as_nanos() - live.queued_unix_nanos;
            Duration::from_nanos(u64::try_from(waited).unwrap_or(0))
        });
        OutboxStats {
            enabled: true,
            entries: index.entries,
            bytes: index.bytes,
            max_bytes: self.max_bytes,
            oldest_age,
            recovered: self.recovered,
            unreadable: self.unreadable,
        }
    }

    fn send(&self, msg: Msg) {
        let ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ops) = ops.as_ref() {
            // The thread ends only when the sender is dropped, with the outbox.
            let _ = ops.send(msg);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `refs` entries of event `seq` left the outbox.
fn forget(index: &Mutex<Index>, seq: u64, refs: u32) {
    let mut index = index.lock().unwrap_or_else(|e| e.into_inner());
    let Some(live) = index.by_seq.get_mut(&seq) else {
        return;
    };
    let gone = refs.min(live.refs);
    live.refs -= gone;
    let (bytes, last) = (live.bytes_each * u64::from(gone), live.refs == 0);
    if last {
        index.by_seq.remove(&seq);
    }
    index.bytes = index.bytes.saturating_sub(bytes);
    index.entries = index.entries.saturating_sub(u64::from(gone));
}

/// The least time between two commits of reported ops while they keep coming: each commit
/// syncs the disk and holds redb's one writer, which the write path's state commits wait for,
/// so back-to-back removal commits slowed the alert path (docs/benchmarks.md). While writes
/// keep coming, their state commits carry the ops and this thread finds nothing left.
const MIN_GAP: Duration = Duration::from_millis(50);

/// Commits what the workers report when no state commit has carried it within [`MIN_GAP`], as
/// many ops per transaction as have gathered: the faster deliveries come, the fewer disk syncs
/// each costs. A failed commit (a full disk) is retried, with the ops that follow, once a
/// second until it passes.
fn remove_loop(store: &Store, rx: &mpsc::Receiver<Msg>, index: &Mutex<Index>, pending: &Pending) {
    let log = LogLimit::default();
    let mut waiting: Vec<mpsc::Sender<()>> = Vec::new();
    let mut retrying = false;
    let mut last_commit: Option<Instant> = None;
    loop {
        let msg = if retrying {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(msg) => Some(msg),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // The outbox is gone: one last try, then the next start redelivers the rest.
                    let _ = store.outbox_apply(&pending.reported().ops);
                    return;
                }
            }
        } else {
            match rx.recv() {
                Ok(msg) => Some(msg),
                Err(_) => {
                    let _ = store.outbox_apply(&pending.reported().ops);
                    return;
                }
            }
        };
        let mut flush = false;
        for msg in msg
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
            if let Msg::Flush(done) = msg {
                waiting.push(done);
                flush = true;
            }
        }
        // Ops coming fast: let them gather (or ride on a state commit), unless a flush waits.
        // Only this thread's own commits count: a removal after a quiet spell goes to disk at
        // once, so that a handler rebuilt right after a delivery (a task redefined) does not
        // find the delivered event still in the outbox and send it again.
        if let (false, Some(last)) = (flush, last_commit) {
            let wait = MIN_GAP.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        let committing = pending.committing();
        let ops = std::mem::take(&mut pending.reported().ops);
        retrying = false;
        if !ops.is_empty() {
            match store.outbox_apply(&ops) {
                Ok(()) => {
                    last_commit = Some(Instant::now());
                    pending.committed(index, &ops);
                }
                Err(e) => {
                    if let Some(suppressed) = log.allow() {
                        tracing::error!(
                            error = %e, entries = ops.len(), suppressed,
                            "cannot remove delivered events from the outbox; retrying (they \
                             would be delivered again after a restart)"
                        );
                    }
                    pending.put_back(ops);
                    retrying = true;
                }
            }
        }
        drop(committing);
        if !retrying {
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

impl Store {
    /// A failure of the database's own machinery (a thread that cannot start...).
    fn io_error(&self, what: &'static str, e: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path().to_owned(),
            what: what.into(),
            source: Box::new(e),
        }
    }
}
