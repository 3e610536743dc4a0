//! Engine tests through its public API, one file per concern: topics, handler specs, the
//! internal kinds, delivery, persistence and tasks. The helpers here are shared by them all.

mod delivery;
mod handover;
mod internal_kinds;
mod outbox;
mod persistence;
mod specs;
mod tasks;
mod templates;
mod topics;

use std::sync::Arc;
use std::time::Duration;

use klaxon_core::{Event, EventState, Handler, HandlerError, Level, Registry};
use tokio::sync::mpsc;

use crate::*;

/// The kind of the one real handler crate these tests link, named by its crate.
pub(super) const TCP: &str = <klaxon_handler_tcp::TcpService as klaxon_core::Service>::KIND;

pub(super) const DEADLINE: Duration = Duration::from_secs(30);

/// Records every event it receives.
#[derive(Debug)]
pub(super) struct Recorder(pub(super) mpsc::UnboundedSender<Event>);

#[klaxon_core::async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let _ = self.0.send(event.clone());
        Ok(())
    }
}

pub(super) fn recorder() -> (Arc<dyn Handler>, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(Recorder(tx)), rx)
}

pub(super) async fn next(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("an event within the deadline")
        .expect("channel open")
}

pub(super) fn services() -> Arc<Services> {
    let registry = Registry::linked().unwrap();
    Arc::new(Services::build(&Default::default(), &registry).unwrap())
}

pub(super) fn open(dir: &std::path::Path, config: EngineConfig) -> AlertService {
    // A service the test just dropped may still be alive for a moment on another runtime
    // thread (its silence watcher holds it during a tick), and with it the database's lock.
    let start = std::time::Instant::now();
    let store = loop {
        match Store::open(&dir.join("klaxon.db")) {
            Err(crate::StoreError::Open {
                reason: crate::OpenError::Locked,
                ..
            }) if start.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(10)),
            other => break other.unwrap(),
        }
    };
    AlertService::open(services(), store, config).unwrap()
}

pub(super) fn event(topic: &str, id: &str, level: Level) -> Event {
    Event {
        topic: topic.into(),
        state: EventState {
            id: id.into(),
            message: format!("{id} is {level}"),
            level,
            ..EventState::default()
        },
        ..Event::default()
    }
}

pub(super) fn spec(topic: &str, id: &str, kind: &str, options: serde_json::Value) -> HandlerSpec {
    HandlerSpec {
        id: id.into(),
        topic: topic.into(),
        kind: kind.into(),
        options,
        ..HandlerSpec::default()
    }
}
