//! Every script from the seeds and from reference sections 6 and 7 parses and resolves, and the
//! resulting programs have the shape Kapacitor gives them.

use std::path::Path;

use klaxon_tick::{ArgValue, CompileOptions, compile_lambda, compile_script, parse, resolve};

fn script(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_script_parses_resolves_and_its_lambdas_compile() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let name = path.display();
        let ast = parse(&source).unwrap_or_else(|e| panic!("{name}:\n{}", e.snippet()));
        let program = resolve(&ast).unwrap_or_else(|e| panic!("{name}:\n{}", e.render(&source)));
        for node in &program.nodes {
            for arg in node
                .args
                .iter()
                .chain(node.properties.iter().flat_map(|p| &p.args))
            {
                if let ArgValue::Lambda(expr) = &arg.value {
                    compile_lambda(expr, &CompileOptions::default())
                        .unwrap_or_else(|e| panic!("{name}:\n{}", e.render(&source)));
                }
            }
        }
        count += 1;
    }
    assert_eq!(count, 13, "a script file was added or removed");
}

#[test]
fn node_ids_follow_creation_order() {
    let program = compile_script(&script("ref_7_3_exec_twice.tick")).unwrap();
    let ids: Vec<String> = program.nodes.iter().map(|n| n.id()).collect();
    assert_eq!(ids, ["stream0", "from1", "window2", "count3", "alert4"]);
    let parents: Vec<Option<usize>> = program.nodes.iter().map(|n| n.parent).collect();
    assert_eq!(parents, [None, Some(0), Some(1), Some(2), Some(3)]);
    let alert = &program.nodes[4];
    let props: Vec<(&str, usize)> = alert
        .properties
        .iter()
        .map(|p| (p.name.as_str(), p.args.len()))
        .collect();
    assert_eq!(
        props,
        [
            ("id", 1),
            ("details", 1),
            ("info", 1),
            ("warn", 1),
            ("crit", 1),
            ("exec", 3),
            ("exec", 1)
        ]
    );
    assert_eq!(alert.properties[5].arg(2).as_str().unwrap(), "arg2");
    assert_eq!(program.nodes[3].arg(0).as_str().unwrap(), "value");
    assert_eq!(
        program.nodes[2].properties[0].arg(0).as_duration().unwrap(),
        10_000_000_000
    );
}

#[test]
fn a_shared_variable_makes_a_tree() {
    let program = compile_script(&script("ref_7_6_7_8_state.tick")).unwrap();
    let ids: Vec<String> = program.nodes.iter().map(|n| n.id()).collect();
    assert_eq!(ids, ["stream0", "from1", "alert2", "alert3", "alert4"]);
    let children: Vec<usize> = program.children(1).map(|n| n.index).collect();
    assert_eq!(children, [2, 3, 4]);
    assert_eq!(
        program.nodes[4].properties[3].arg(1).as_float().unwrap(),
        0.5
    );
}

#[test]
fn reference_properties_keep_order_and_values() {
    let program = compile_script(&script("ref_6_2_properties.tick")).unwrap();
    assert_eq!(program.dbrps.len(), 1);
    assert_eq!(
        (program.dbrps[0].db.as_str(), program.dbrps[0].rp.as_str()),
        ("telegraf", "autogen")
    );
    let alert = &program.nodes[2];
    let names: Vec<&str> = alert.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names[names.len() - 9..],
        [
            "log",
            "mode",
            "post",
            "header",
            "captureResponse",
            "timeout",
            "skipSSLVerification",
            "post",
            "endpoint"
        ]
    );
    let mode = alert.properties.iter().find(|p| p.name == "mode").unwrap();
    assert_eq!(
        mode.arg(0).as_int().unwrap(),
        0o644,
        "a leading zero is octal, as in Kapacitor"
    );
    let from = &program.nodes[1];
    assert_eq!(from.properties[2].args.len(), 2);
    assert_eq!(
        alert
            .properties
            .iter()
            .find(|p| p.name == "stateChangesOnly")
            .unwrap()
            .arg(0)
            .as_duration()
            .unwrap(),
        300_000_000_000
    );
}

#[test]
fn lexical_tour_values() {
    let program = compile_script(&script("lexical_tour.tick")).unwrap();
    assert_eq!(program.dbrps.len(), 2);
    assert_eq!(program.dbrps[1].rp, "other rp");
    let ids: Vec<String> = program.nodes.iter().map(|n| n.id()).collect();
    assert_eq!(
        ids,
        ["stream0", "from1", "window2", "myUDF3", "eval4", "alert5"]
    );
    assert!(program.nodes[3].is_udf);
    let from = &program.nodes[1];
    assert_eq!(from.properties[0].arg(0).as_str().unwrap(), "cpu");
    assert!(from.properties[1].arg(0).is_star());
    let window = &program.nodes[2];
    assert_eq!(
        window.properties[1].arg(0).as_duration().unwrap(),
        1_500_000_000
    );
    let alert = &program.nodes[5];
    let crit = alert.properties[0].arg(0).as_lambda().unwrap();
    assert_eq!(
        crit.to_string(),
        "\"usage_idle\" < 80 AND \"host\" =~ /^web-\\d+\\/x$/"
    );
    assert_eq!(alert.properties[3].arg(0).as_int().unwrap(), -1);
    assert_eq!(alert.properties[4].arg(1).as_float().unwrap(), 0.5);
    assert_eq!(
        alert.properties[5].arg(0).as_str().unwrap(),
        "a \"raw\" string with 'quotes' and \\backslashes"
    );
    assert_eq!(
        alert.properties[6].arg(0).as_str().unwrap(),
        "it's \\ a\ttab\nline"
    );
    // Kapacitor spreads a single list argument into the call's arguments.
    let list = &alert.properties[8];
    assert_eq!(list.args.len(), 2);
    assert_eq!(list.arg(1).as_str().unwrap(), "b");
}

/// Chronograf's threshold rule (Kapacitor's pipeline/json_test.go, "chronograf threshold rule"):
/// expressions outside `lambda:` in vars, and list vars spread into variadic properties.
#[test]
fn chronograf_threshold_rule_resolves_as_kapacitor_reads_it() {
    let program = compile_script(
        "var db = 'telegraf'
var rp = 'autogen'
var measurement = 'cpu'
var groupBy = ['host']
var whereFilter = lambda: TRUE
var name = 'Ruley McRuleface'
var idVar = name + ':{{.Group}}'
var message = ' {{.ID}} is  {{.Level}}'
var crit = 90
var period = 5m
var every = period / 5
var data = stream
    |from()
        .database(db)
        .retentionPolicy(rp)
        .measurement(measurement)
        .groupBy(groupBy)
        .where(whereFilter)
    |eval(lambda: \"usage_system\")
        .as('value')
var trigger = data
    |alert()
        .crit(lambda: \"value\" > crit)
        .message(message)
        .id(idVar)
        .history(-crit + 100 * 2)
        .stateChangesOnly(every + 1s)
",
    )
    .unwrap();
    let from = &program.nodes[1];
    let group_by = &from.properties[3];
    assert_eq!(
        (group_by.name.as_str(), group_by.args.len()),
        ("groupBy", 1)
    );
    assert_eq!(group_by.arg(0).as_str().unwrap(), "host");
    let alert = &program.nodes[3];
    assert_eq!(
        alert.properties[2].arg(0).as_str().unwrap(),
        "Ruley McRuleface:{{.Group}}"
    );
    assert_eq!(alert.properties[3].arg(0).as_int().unwrap(), 110);
    assert_eq!(
        alert.properties[4].arg(0).as_duration().unwrap(),
        61_000_000_000
    );
    assert_eq!(
        program.vars["idVar"].value,
        Some(klaxon_tick::TaskVar::String(
            "Ruley McRuleface:{{.Group}}".into()
        ))
    );
    assert!(!program.vars.contains_key("data"));
}

#[test]
fn spans_point_at_the_source() {
    let source = script("ref_7_9_sigma.tick");
    let program = compile_script(&source).unwrap();
    let eval = &program.nodes[2];
    assert_eq!((eval.span.line, eval.span.column), (5, 2));
    assert_eq!(
        &source[eval.span.start..eval.span.end],
        "|eval(lambda: sigma(\"value\"))"
    );
    let lambda = eval.arg(0).get().unwrap();
    assert_eq!((lambda.span.line, lambda.span.column), (5, 8));
    let ArgValue::Lambda(expr) = &lambda.value else {
        panic!()
    };
    assert_eq!((expr.span.line, expr.span.column), (5, 16));
    let info = &program.nodes[3].properties[1];
    assert_eq!((info.span.line, info.span.column), (10, 3));
    assert_eq!(
        &source[info.span.start..info.span.end],
        ".info(lambda: \"sigma\" > 2.0)"
    );
}

/// Template vars: each typed declaration needs a var of its type; a var the script does not
/// declare is refused, naming those it does.
#[test]
fn task_vars_fill_typed_declarations_and_replace_values() {
    use klaxon_tick::{Limits, TaskVar, TaskVars, parse, resolve_with_vars};
    let script = parse(
        "var m string\nvar crit = 90\nvar tags = ['host']\nvar match lambda\nstream|from().measurement(m).groupBy(tags).where(match)|alert().crit(lambda: \"v\" > crit)",
    )
    .unwrap();
    let vars = TaskVars::from([
        ("m".to_owned(), TaskVar::String("cpu".into())),
        ("crit".to_owned(), TaskVar::Int(80)),
        (
            "tags".to_owned(),
            TaskVar::List(vec![
                TaskVar::String("dc".into()),
                TaskVar::String("host".into()),
            ]),
        ),
        (
            "match".to_owned(),
            TaskVar::Lambda("\"cpu\" == 'cpu-total'".into()),
        ),
    ]);
    let program = resolve_with_vars(&script, &Limits::default(), &vars).unwrap();
    let from = &program.nodes[1];
    assert_eq!(from.properties[0].arg(0).as_str().unwrap(), "cpu");
    assert_eq!(from.properties[1].args.len(), 2);
    assert_eq!(
        from.properties[2].arg(0).as_lambda().unwrap().to_string(),
        "\"cpu\" == 'cpu-total'"
    );
    let crit = program.nodes[2].properties[0].arg(0).as_lambda().unwrap();
    assert_eq!(crit.to_string(), "\"v\" > 80");

    let mut extra = vars.clone();
    extra.insert("nope".into(), TaskVar::Int(1));
    let err = resolve_with_vars(&script, &Limits::default(), &extra).unwrap_err();
    assert_eq!(
        err.message,
        "var \"nope\" is not declared in the script; it declares: crit, m, match, tags"
    );
    let mut bad = vars;
    bad.insert("match".into(), TaskVar::Lambda("\"cpu\" ==".into()));
    let err = resolve_with_vars(&script, &Limits::default(), &bad).unwrap_err();
    assert!(
        err.message
            .starts_with("var \"match\": invalid lambda expression"),
        "{}",
        err.message
    );
}

/// Vars written into the script compile to the same program as resolving with them, for every
/// type; a template's missing vars take placeholders.
#[test]
fn applied_vars_compile_like_resolved_vars() {
    use klaxon_tick::{Limits, TaskVar, TaskVars, apply_vars, parse, resolve_with_vars};
    let source = "var b bool\nvar i int\nvar f float\nvar s string\nvar r regex\nvar d duration\nvar l lambda\nvar list list\nvar star star\nvar keep = 'kept'\nstream|from().groupBy(list).where(lambda: \"host\" =~ r AND l AND b)|alert().id(s).history(i).flapping(f, f).stateChangesOnly(d).message(keep)";
    let vars = TaskVars::from([
        ("b".to_owned(), TaskVar::Bool(true)),
        ("i".to_owned(), TaskVar::Int(-3)),
        ("f".to_owned(), TaskVar::Float(0.5)),
        (
            "s".to_owned(),
            TaskVar::String("a 'quoted' \\ id\n".to_owned()),
        ),
        ("r".to_owned(), TaskVar::Regex("^web/\\d+$".to_owned())),
        ("d".to_owned(), TaskVar::Duration(1_500_000_001)),
        ("l".to_owned(), TaskVar::Lambda("\"v\" > 1".to_owned())),
        (
            "list".to_owned(),
            TaskVar::List(vec![
                TaskVar::String("host".into()),
                TaskVar::String("dc".into()),
            ]),
        ),
        ("star".to_owned(), TaskVar::Star),
    ]);
    let limits = Limits::default();
    let applied = apply_vars(source, &vars, &limits, false).unwrap();
    let from_text = klaxon_tick::compile_script(&applied).unwrap();
    let resolved = resolve_with_vars(&parse(source).unwrap(), &limits, &vars).unwrap();
    let args = |p: &klaxon_tick::Program| -> Vec<String> {
        p.nodes
            .iter()
            .flat_map(|n| &n.properties)
            .flat_map(|p| &p.args)
            .map(|a| match &a.value {
                klaxon_tick::ArgValue::Lambda(e) => e.to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(args(&from_text), args(&resolved));
    let template = apply_vars(source, &TaskVars::new(), &limits, true).unwrap();
    assert!(
        template.starts_with("var b = FALSE\nvar i = 1\n"),
        "{template}"
    );
    let err = apply_vars(source, &TaskVars::new(), &limits, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1, column 5: missing value for var \"b\"; give the task a bool var named b"
    );
}
