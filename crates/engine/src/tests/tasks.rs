//! Tasks: concurrent defines, and reads that compile nothing.

use klaxon_core::Registry;

use super::{TCP, open};
use crate::tasks::compile_count;
use crate::tasks::{Dbrp, TaskChange, TaskError, TaskManager, TaskStatus};
use crate::{AlertService, EngineConfig, EngineError, Limits, tasks};

fn manager(alerts: &AlertService) -> TaskManager {
    TaskManager::open(
        alerts.clone(),
        alerts.store().clone(),
        Registry::linked().unwrap(),
        klaxon_pipeline::ServerInfo::default(),
    )
    .unwrap()
}

/// (scripts read for their shape, pipelines compiled) on this thread since `before`.
fn compiled_since(before: (usize, usize)) -> (usize, usize) {
    let now = compile_count::get();
    (now.0 - before.0, now.1 - before.1)
}

// One thread (the current-thread runtime), as the compile counts are per thread.
#[tokio::test(flavor = "current_thread")]
async fn reads_compile_nothing_and_changes_compile_once() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let tasks = manager(&alerts);
    let script = format!(
        "dbrp \"telegraf\".\"autogen\"\nstream\n  |from().measurement('cpu')\n  \
         |alert().crit(lambda: \"v\" > 1).{TCP}('127.0.0.1:7777')\n"
    );

    let before = compile_count::get();
    let defined = tasks
        .define("cpu", &script, Vec::new(), TaskStatus::Enabled)
        .unwrap();
    assert_eq!(compiled_since(before), (1, 1), "define");
    let edge = |parent: &str, child: &str| (parent.to_owned(), child.to_owned());
    assert_eq!(
        defined.edges,
        [edge("stream0", "from1"), edge("from1", "alert2")]
    );
    let telegraf = Dbrp {
        db: "telegraf".into(),
        rp: "autogen".into(),
    };
    assert_eq!(defined.dbrps, [telegraf]);
    assert!(alerts.topic("main:cpu:alert2").is_some());

    let before = compile_count::get();
    assert_eq!(tasks.get("cpu").unwrap(), defined);
    assert_eq!(tasks.list(|_| true), std::slice::from_ref(&defined));
    assert_eq!(tasks.counts(), (1, 1));
    assert_eq!(tasks.stats().len(), 1);
    assert_eq!(tasks.http_output("cpu", "none").unwrap(), None);
    assert_eq!(compiled_since(before), (0, 0), "reads");

    let before = compile_count::get();
    let disabled = TaskChange {
        status: Some(TaskStatus::Disabled),
        ..TaskChange::default()
    };
    let updated = tasks.update("cpu", disabled).unwrap();
    assert_eq!(compiled_since(before), (1, 1), "update");
    assert_eq!(updated.edges, defined.edges);

    let before = compile_count::get();
    tasks.delete("cpu").unwrap();
    assert_eq!(compiled_since(before), (0, 0), "delete");
    // The stored alert-node IDs found the anonymous topic's states to delete.
    assert_eq!(alerts.stored_state("main:cpu:alert2", "cpu:nil"), None);
    assert!(tasks.get("cpu").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_defines_cannot_both_pass_the_duplicate_or_count_checks() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(
        dir.path(),
        EngineConfig {
            limits: Limits {
                max_tasks: 3,
                ..Limits::default()
            },
            ..EngineConfig::default()
        },
    );
    let tasks = manager(&alerts);
    let script = "stream|from().measurement('cpu')|alert().crit(lambda: \"v\" > 1)";
    let define_all = |ids: Vec<String>| {
        let handles: Vec<_> = ids
            .into_iter()
            .map(|id| {
                let tasks = tasks.clone();
                std::thread::spawn(move || {
                    tasks
                        .define(&id, script, Vec::new(), tasks::TaskStatus::Enabled)
                        .is_ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    };
    assert_eq!(define_all(vec!["same".to_owned(); 8]), 1);
    let distinct = (0..8).map(|i| format!("t{i}")).collect();
    assert_eq!(define_all(distinct), 2);
    assert_eq!(tasks.counts().0, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_errors_say_whose_fault_it_is_in_kapacitors_words() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let tasks = manager(&alerts);
    let define = |id: &str, script: &str, dbrps: Vec<Dbrp>| {
        tasks
            .define(id, script, dbrps, TaskStatus::Enabled)
            .unwrap_err()
    };
    let ok = "stream|from()|alert()";
    let err = define("a b", ok, Vec::new());
    assert!(matches!(err, TaskError::InvalidId(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "task ID \"a b\" must contain only letters, numbers, '-', '_' and '.'"
    );
    let err = define("t", "stream|nosuch()", Vec::new());
    assert!(matches!(err, TaskError::Invalid(_)), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("invalid TICKscript: line 1, column 7: "),
        "{err}"
    );
    let err = define("t", &format!("stream|from()|alert().{TCP}('')"), Vec::new());
    let TaskError::InvalidHandler { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(**source, EngineError::InvalidOptions(_)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("invalid TICKscript: line 1, column 22: {TCP}: ")),
        "{err}"
    );
    let telegraf = Dbrp {
        db: "telegraf".into(),
        rp: "autogen".into(),
    };
    let err = define(
        "t",
        &format!("dbrp \"telegraf\".\"autogen\"\n{ok}"),
        vec![telegraf],
    );
    assert!(matches!(err, TaskError::DbrpsTwice), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot specify dbrp in both implicitly and explicitly; use the dbrp statement or the \
         dbrps field, not both"
    );
    tasks
        .define("t", ok, Vec::new(), TaskStatus::Disabled)
        .unwrap();
    let err = define("t", ok, Vec::new());
    assert!(matches!(err, TaskError::AlreadyExists(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "task \"t\" already exists; change it with PATCH"
    );
    let err = tasks.update("u", TaskChange::default()).unwrap_err();
    assert!(matches!(err, TaskError::NotFound(_)), "{err:?}");
    assert_eq!(err.to_string(), "no task exists with ID \"u\"");
}
