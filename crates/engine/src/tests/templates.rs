//! Task templates and vars: tasks made from a template run it with their vars, follow it when it
//! changes (or refuse the change whole), and every bad input is named.

use klaxon_core::Registry;
use klaxon_tick::{TaskVar, TaskVars};

use super::open;
use crate::EngineConfig;
use crate::tasks::{TaskChange, TaskManager, TaskStatus, TemplateError, decode_vars};

fn manager(alerts: &crate::AlertService) -> TaskManager {
    TaskManager::open(
        alerts.clone(),
        alerts.store().clone(),
        Registry::linked().unwrap(),
        klaxon_pipeline::ServerInfo::default(),
    )
    .unwrap()
}

const TEMPLATE: &str = "var measurement string\nvar where_filter = lambda: TRUE\nvar crit lambda\nvar window duration\n\
    dbrp \"telegraf\".\"autogen\"\nstream|from().measurement(measurement).where(where_filter)\
    |window().period(window).every(window)|mean('usage_idle')|alert().crit(crit)";

fn vars(window: &str) -> TaskVars {
    decode_vars(&serde_json::json!({
        "measurement": {"type": "string", "value": "cpu"},
        "crit": {"type": "lambda", "value": "\"mean\" < 10"},
        "window": {"type": "duration", "value": window},
    }))
    .unwrap()
}

#[tokio::test]
async fn tasks_follow_their_template() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let tasks = manager(&alerts);
    let template = tasks.define_template("cpu_template", TEMPLATE).unwrap();
    assert_eq!(template.vars["window"]["type"], "duration");
    assert_eq!(template.vars["window"]["value"], serde_json::Value::Null);
    assert_eq!(template.vars["where_filter"]["value"], "TRUE");
    assert_eq!(
        template.edges[0],
        ("stream0".to_owned(), "from1".to_owned())
    );

    let info = tasks
        .define_with_vars(
            "cpu_alert",
            None,
            "cpu_template",
            vars("1m"),
            Vec::new(),
            TaskStatus::Enabled,
        )
        .unwrap();
    assert!(info.executing, "{}", info.error);
    assert_eq!(info.record.script, TEMPLATE);
    assert_eq!(info.dbrps[0].db, "telegraf");
    let stored = tasks.task_template("cpu_alert").unwrap();
    assert_eq!(stored.template_id, "cpu_template");
    assert_eq!(stored.vars["window"], TaskVar::Duration(60_000_000_000));

    // A changed template changes its task.
    let changed = TEMPLATE.replace("|mean('usage_idle')", "|max('usage_idle')");
    tasks
        .update_template("cpu_template", None, Some(&changed))
        .unwrap();
    assert_eq!(tasks.get("cpu_alert").unwrap().record.script, changed);
    // New vars through PATCH.
    tasks
        .update_with_vars("cpu_alert", TaskChange::default(), None, Some(vars("5m")))
        .unwrap();
    assert_eq!(
        tasks.task_template("cpu_alert").unwrap().vars["window"],
        TaskVar::Duration(300_000_000_000)
    );

    // A template change its task refuses (a var it lacks) changes nothing.
    let needs_more = format!("var extra int\n{changed}");
    let err = tasks
        .update_template("cpu_template", None, Some(&needs_more))
        .unwrap_err();
    assert!(
        matches!(&err, TemplateError::AssociatedTask { task, .. } if task == "cpu_alert"),
        "{err}"
    );
    assert!(
        err.to_string().contains("missing value for var \"extra\""),
        "{err}"
    );
    assert_eq!(tasks.template("cpu_template").unwrap().script, changed);
    assert_eq!(tasks.get("cpu_alert").unwrap().record.script, changed);

    // Renamed: the task follows the new ID.
    tasks
        .update_template("cpu_template", Some("cpu_v2"), None)
        .unwrap();
    assert!(matches!(
        tasks.template("cpu_template"),
        Err(TemplateError::NotFound(_))
    ));
    assert_eq!(
        tasks.task_template("cpu_alert").unwrap().template_id,
        "cpu_v2"
    );

    // Deleting the task forgets its vars; deleting the template leaves other tasks alone.
    tasks.delete("cpu_alert").unwrap();
    assert_eq!(
        tasks.task_template("cpu_alert").unwrap(),
        Default::default()
    );
    tasks.delete_template("cpu_v2").unwrap();
    assert!(tasks.templates(|_| true).unwrap().is_empty());
}

fn refuse<T>(result: Result<T, TemplateError>) -> String {
    match result {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn bad_templates_and_vars_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(dir.path(), EngineConfig::default());
    let tasks = manager(&alerts);
    assert_eq!(
        refuse(tasks.define_template("bad id", TEMPLATE)),
        "template ID \"bad id\" must contain only letters, numbers, '-', '_' and '.'"
    );
    assert_eq!(
        refuse(tasks.define_template("t", " ")),
        "must provide TICKscript"
    );
    assert!(
        refuse(tasks.define_template("t", "var x int\nstream|from().nope(x)"))
            .starts_with("invalid TICKscript: line 2, column 14: |from() has no property .nope()"),
    );
    tasks.define_template("t", TEMPLATE).unwrap();
    assert_eq!(
        refuse(tasks.define_template("t", TEMPLATE)),
        "template \"t\" already exists; change it with PATCH"
    );
    assert_eq!(
        refuse(tasks.define_with_vars(
            "a",
            None,
            "nope",
            TaskVars::new(),
            Vec::new(),
            TaskStatus::Disabled
        )),
        "no template exists with ID \"nope\""
    );
    assert_eq!(
        refuse(tasks.define_with_vars(
            "a",
            None,
            "t",
            TaskVars::new(),
            Vec::new(),
            TaskStatus::Disabled
        )),
        "invalid TICKscript: line 1, column 5: missing value for var \"measurement\"; give the task a string var named measurement"
    );
    let mut wrong = vars("1m");
    wrong.insert("window".into(), TaskVar::Int(60));
    assert_eq!(
        refuse(tasks.define_with_vars("a", None, "t", wrong, Vec::new(), TaskStatus::Disabled)),
        "invalid TICKscript: line 4, column 5: invalid type supplied for var \"window\": got int, the script declares a duration"
    );
    // Nothing of a refused task stays.
    assert!(tasks.get("a").is_none());
    assert_eq!(tasks.task_template("a").unwrap(), Default::default());
    let err = decode_vars(&serde_json::json!({"w": {"type": "duration", "value": "1 minute"}}))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid var \"w\": invalid duration \"1 minute\""),
        "{err}"
    );
    let err = decode_vars(&serde_json::json!({"w": {"type": "time", "value": 1}})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid var \"w\": unknown type \"time\"; the types are bool, int, float, string, regex, duration, lambda, list, star"
    );
}
