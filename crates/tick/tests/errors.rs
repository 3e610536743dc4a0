//! Errors for people: table of common mistakes with the exact message and position, snippets
//! with a caret, resolution errors, and the depth limit on hostile input.

use klaxon_tick::{
    Limits, MatchExpr, compile_lambda, compile_script, parse, parse_lambda, parse_with, resolve,
};

/// (script, expected `Display` of the parse error).
const PARSE_ERRORS: &[(&str, &str)] = &[
    // `=` instead of `==`.
    (
        "stream|alert().crit(lambda: \"host\" = 'a')",
        "line 1, column 36: '=' is not a comparison; use '==' to test equality",
    ),
    // Unterminated string, reference and regex.
    (
        "stream|alert().message('oops)",
        "line 1, column 24: unterminated string: missing closing ' (use '''triple quotes''' for text over several lines)",
    ),
    (
        "stream|alert().message('''oops)",
        "line 1, column 24: unterminated string: missing closing '''",
    ),
    (
        "stream|alert().crit(lambda: \"value > 1)",
        "line 1, column 29: unterminated reference: missing closing '\"'",
    ),
    (
        "stream|alert().crit(lambda: \"host\" =~ /web)",
        "line 1, column 39: unterminated regex: missing closing '/'",
    ),
    // Unknown escape.
    (
        "stream|alert().message('C:\\dir')",
        "line 1, column 27: unknown escape '\\d' in string; escapes are \\' \\\\ \\\" \\n \\t \\r (write \\\\ for a backslash, or use a '''triple-quoted''' string, which has no escapes)",
    ),
    (
        "stream|alert().message('\\d')",
        "line 1, column 25: unknown escape '\\d' in string; escapes are \\' \\\\ \\\" \\n \\t \\r (write \\\\ for a backslash, or use a '''triple-quoted''' string, which has no escapes)",
    ),
    // Lower-case logical operators and booleans, C-style operators.
    (
        "stream|alert().crit(lambda: \"a\" > 1 and \"b\" < 2)",
        "line 1, column 37: found 'and': logical operators are upper-case, use AND",
    ),
    (
        "stream|alert().crit(lambda: \"a\" > 1 or \"b\" < 2)",
        "line 1, column 37: found 'or': logical operators are upper-case, use OR",
    ),
    (
        "stream|alert().crit(lambda: \"a\" == true)",
        "line 1, column 36: found 'true': booleans are upper-case, use TRUE",
    ),
    (
        "stream|alert().crit(lambda: \"a\" > 1 || \"b\" < 2)",
        "line 1, column 37: found '||': the logical or is written OR",
    ),
    (
        "stream|alert().crit(lambda: \"a\" > 1 && \"b\" < 2)",
        "line 1, column 37: unexpected character '&'; the logical operators are AND and OR",
    ),
    // Structure.
    (
        "stream\n  |from()\n  |alert()\n    .crit(lambda: \"value\" > 10 .warn(lambda: TRUE)",
        "line 4, column 32: expected ')' after argument list, found '.'",
    ),
    (
        "stream|from(.measurement('cpu')",
        "line 1, column 13: expected an argument or ')', found '.'",
    ),
    (
        "stream|alert().crit(lambda: (\"a\" > 1)",
        "line 1, column 38: expected ')' after argument list, found end of input",
    ),
    (
        "stream|alert().crit(lambda: (\"a\" > 1 OR \"b\"",
        "line 1, column 44: expected ')' to close the '(' at line 1, column 29, found end of input",
    ),
    (
        "stream|alert().crit(lambda: abs(\"a\" \"b\"))",
        "line 1, column 37: expected ')' after argument list, found reference \"b\"",
    ),
    (
        "stream|alert.crit(lambda: TRUE)",
        "line 1, column 13: expected '(' after 'alert', found '.'",
    ),
    (
        "stream|'alert'()",
        "line 1, column 8: expected a node name after '|', found a string",
    ),
    (
        "stream|alert().(x)",
        "line 1, column 16: expected a property name after '.', found '('",
    ),
    (
        "stream|alert().crit(lambda : TRUE)",
        "line 1, column 28: unexpected character ':'; 'lambda:' must be written without a space before the colon",
    ),
    (
        "'cpu'|alert()",
        "line 1, column 1: expected a statement (var, dbrp or a pipeline such as stream|from()), found a string",
    ),
    (
        "var = 5",
        "line 1, column 5: expected a variable name after 'var', found '='",
    ),
    (
        "var x time",
        "line 1, column 7: invalid var type \"time\"; the types are bool, int, float, string, regex, duration, lambda, list, star",
    ),
    (
        "dbrp \"db\" \"rp\"",
        "line 1, column 11: expected '.' between database and retention policy (dbrp \"db\".\"rp\"), found reference \"rp\"",
    ),
    (
        "dbrp \"db\".'rp'",
        "line 1, column 11: expected the retention policy in double quotes (dbrp \"db\".\"rp\"), found a string",
    ),
    // Literals.
    (
        "stream|window().period(10min)",
        "line 1, column 26: invalid duration unit 'min'; units are u, µ, ms, s, m, h, d and w",
    ),
    (
        "stream|window().period(1.5s)",
        "line 1, column 24: a duration must be a whole number: '1.5s'; use a smaller unit",
    ),
    (
        "stream|alert().crit(lambda: \"a\" > 99999999999999999999)",
        "line 1, column 35: integer literal 99999999999999999999 is out of range",
    ),
    (
        "stream|alert().crit(lambda: \"host\" =~ /(/)",
        "line 1, column 39: invalid regex /(/: unclosed group",
    ),
    (
        "stream|alert().crit(lambda: \"a\" > lambda: 1)",
        "line 1, column 35: unexpected 'lambda:' inside an expression",
    ),
    (
        "stream|alert().crit(lambda: )",
        "line 1, column 29: expected an expression, found ')'",
    ),
    (
        "stream|from().groupBy(['a', 1])",
        "line 1, column 29: expected a string, a variable or '*' in the list, found number 1",
    ),
];

/// Runs each case through `run` and collects the mismatches with the expected message.
fn check<E: std::fmt::Display, T>(cases: &[(&str, &str)], run: impl Fn(&str) -> Result<T, E>) {
    let mut failures = Vec::new();
    for (source, want) in cases {
        match run(source) {
            Ok(_) => failures.push(format!("{source:?}: accepted, expected {want:?}")),
            Err(e) if e.to_string() != *want => failures.push(format!(
                "{source:?}:\n   got {:?}\n  want {want:?}",
                e.to_string()
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parse_errors_name_line_column_and_problem() {
    check(PARSE_ERRORS, parse);
}

#[test]
fn snippet_shows_the_line_and_a_caret() {
    let source =
        "stream\n  |from()\n  |alert()\n    .crit(lambda: \"value\" > 10 .warn(lambda: TRUE)";
    let err = parse(source).unwrap_err();
    let want = "line 4, column 32: expected ')' after argument list, found '.'\n  \
                |\n\
                4 |     .crit(lambda: \"value\" > 10 .warn(lambda: TRUE)\n  \
                |                                ^";
    assert_eq!(err.snippet().to_string(), want);
    assert_eq!(err.render(source), want);
}

#[test]
fn snippet_keeps_tabs_so_the_caret_lines_up() {
    let source = "stream\n\t|alert()\n\t\t.crit(\"x\" > 1)";
    let err = compile_script(source).unwrap_err();
    assert!(
        err.render(source)
            .ends_with("3 | \t\t.crit(\"x\" > 1)\n  | \t\t      ^"),
        "{}",
        err.render(source)
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let err = compile_script("stream|alert().message('µµµ').crit(\"x\" > 1)").unwrap_err();
    assert_eq!(err.span().column, 36);
    assert_eq!(err.span().start, 38);
}

/// Kapacitor's parser takes expressions outside `lambda:` and evaluates them once; one that
/// reads a field or tag is a forgotten `lambda:`.
const EXPRESSION_ERRORS: &[(&str, &str)] = &[
    (
        "stream|alert().crit(\"usage_idle\" < 10)",
        "line 1, column 21: missing 'lambda:' before the expression; write .crit(lambda: ...)",
    ),
    (
        "stream|eval(sigma(\"value\"))",
        "line 1, column 13: missing 'lambda:' before the expression; write |eval(lambda: ...)",
    ),
    (
        "var x = \"value\" > 10\nstream|alert()",
        "line 1, column 9: missing 'lambda:' before the expression; write var x = lambda: ...",
    ),
    (
        "stream|alert().crit(-'a')",
        "line 1, column 21: invalid type to unary operator: -string (-'a')",
    ),
    (
        "var name = 'cpu'\nstream|alert().id(name + 1)",
        "line 2, column 24: invalid type to binary operator: string + int ('cpu' + 1)",
    ),
    (
        "stream|alert().id(nope + 'x')",
        "line 1, column 19: undefined variable \"nope\" in lambda expression",
    ),
    (
        "stream|alert().id(now())",
        "line 1, column 19: now() is a time, which cannot be an argument",
    ),
];

#[test]
fn expressions_outside_lambda_errors() {
    check(EXPRESSION_ERRORS, compile_script);
}

#[test]
fn double_quotes_for_a_string_are_caught_with_a_hint() {
    let program = compile_script("stream|alert()\n  .message(\"hello\")").unwrap();
    let err = program.nodes[1].properties[0].arg(0).as_str().unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2, column 12: argument 1 of .message(): expected a string, found the reference \"hello\"; strings use single quotes: 'hello'"
    );
    let src = "stream|alert()\n  .message(\"hello\")";
    assert!(
        err.render(src)
            .ends_with("2 |   .message(\"hello\")\n  |            ^")
    );
}

#[test]
fn argument_accessors_name_the_argument() {
    let program =
        compile_script("stream|window().period('10s').every()|alert().crit(\"x\")").unwrap();
    let window = &program.nodes[1];
    assert_eq!(
        window.properties[0]
            .arg(0)
            .as_duration()
            .unwrap_err()
            .message,
        "argument 1 of .period(): expected a duration, found the string '10s'"
    );
    assert_eq!(
        window.properties[1]
            .arg(0)
            .as_duration()
            .unwrap_err()
            .message,
        "missing argument 1 of .every()"
    );
    assert_eq!(
        program.nodes[2].properties[0]
            .arg(0)
            .as_lambda()
            .unwrap_err()
            .message,
        "argument 1 of .crit(): expected a lambda expression, found the reference \"x\"; write lambda: followed by the expression"
    );
    assert_eq!(
        window.expect_args(1, 2).unwrap_err().message,
        "|window() takes 1 to 2 arguments, got 0"
    );
}

/// (script, expected resolve error).
const RESOLVE_ERRORS: &[(&str, &str)] = &[
    (
        "stream|from()\ndata|alert()",
        "line 2, column 1: undefined variable \"data\"",
    ),
    (
        "stream|window().period(p)",
        "line 1, column 24: undefined variable \"p\"",
    ),
    (
        "stream|alert().crit(lambda: \"value\" > threshold)",
        "line 1, column 39: undefined variable \"threshold\" in lambda expression",
    ),
    (
        "var x = 1\nvar x = 2\nstream",
        "line 2, column 5: variable \"x\" is already defined at line 1, column 5",
    ),
    (
        "var stream = 1",
        "line 1, column 5: cannot define a variable named stream",
    ),
    (
        "stream|from()\nbatch|query('q')",
        "line 2, column 1: a task is either stream or batch, but this script uses both (stream was first used at line 1, column 1)",
    ),
    (
        "var d = stream|from()\nstream|alert().topic(d)",
        "line 2, column 22: variable \"d\" holds the pipeline node from1, which cannot be used as an argument",
    ),
    (
        "var n = 'cpu'\nn|alert()",
        "line 2, column 1: variable \"n\" holds the string 'cpu', not a pipeline node",
    ),
    (
        "var l = ['a']\nstream|alert().crit(lambda: \"x\" == l)",
        "line 2, column 36: variable \"l\" holds a list, which cannot be used in a lambda expression",
    ),
    (
        "var x = 1",
        "line 1, column 1: the script defines no pipeline; start one with stream|from() or batch|query()",
    ),
];

#[test]
fn resolve_errors_have_positions() {
    let mut failures = Vec::new();
    for (source, want) in RESOLVE_ERRORS {
        let script = parse(source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
        match resolve(&script) {
            Ok(_) => failures.push(format!("{source:?}: resolved, expected {want:?}")),
            Err(e) if e.to_string() != *want => {
                failures.push(format!(
                    "{source:?}:\n   got {:?}\n  want {want:?}",
                    e.to_string()
                ));
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    let n = 100_000;
    let cases = [
        format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        format!("{}1", "-".repeat(n)),
        format!("{}TRUE", "!".repeat(n)),
        format!("{}1.0{}", "abs(".repeat(n), ")".repeat(n)),
        vec!["1"; n].join(" + "),
        vec!["TRUE"; n].join(" AND "),
        format!("{}1{}", "(1 + ".repeat(n), ")".repeat(n)),
    ];
    for expr in &cases {
        let err = parse_lambda(expr, &Limits::default()).unwrap_err();
        assert!(
            err.message
                .starts_with("expression is nested too deeply (more than 128 levels)"),
            "{}: {err}",
            &expr[..20]
        );
        let script = format!("stream|alert().crit(lambda: {expr})");
        assert!(parse(&script).is_err());
    }
}

#[test]
fn the_depth_limit_is_configurable_and_capped() {
    let expr = format!("{}1{}", "(".repeat(200), ")".repeat(200));
    assert!(parse_lambda(&expr, &Limits::default()).is_err());
    let generous = Limits {
        max_depth: 250,
        ..Limits::default()
    };
    assert!(parse_lambda(&expr, &generous).is_ok());
    let absurd = Limits {
        max_depth: usize::MAX,
        ..Limits::default()
    };
    let deeper = format!("{}1{}", "(".repeat(300), ")".repeat(300));
    let err = parse_lambda(&deeper, &absurd).unwrap_err();
    assert!(err.message.contains("more than 256 levels"), "{err}");
    // At the cap, parsing, compiling and evaluating still fit a test thread's stack (a
    // reference, so nothing is folded away at compile time).
    let at_cap = format!("{}\"x\"", "-".repeat(255));
    let e = parse_lambda(&at_cap, &absurd).unwrap();
    let options = klaxon_tick::CompileOptions {
        limits: absurd,
        ..Default::default()
    };
    let mut lambda = compile_lambda(&e, &options).unwrap();
    assert_eq!(lambda.eval(&X).unwrap(), klaxon_tick::Value::Int(-1));
}

struct X;

impl klaxon_tick::Point for X {
    fn field(&self, _: &str) -> Option<klaxon_tick::FieldValue<'_>> {
        Some(klaxon_tick::FieldValue::Int(1))
    }
    fn tag(&self, _: &str) -> Option<&str> {
        None
    }
    fn time(&self) -> i64 {
        0
    }
    fn name(&self) -> &str {
        "x"
    }
}

#[test]
fn regex_size_limit_rejects_pathological_patterns() {
    let limits = Limits {
        regex_size_limit: 10_000,
        ..Limits::default()
    };
    let err = parse_with(
        "stream|alert().crit(lambda: \"h\" =~ /a{1000}{1000}/)",
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1, column 36: invalid regex /a{1000}{1000}/: it compiles to more than 10000 bytes; [limits] max-regex-size is 10000"
    );
    assert!(
        parse_with(
            "stream|alert().crit(lambda: \"h\" =~ /^web-\\d+$/)",
            &limits
        )
        .is_ok()
    );
}

#[test]
fn each_limit_names_its_setting() {
    let limits = Limits {
        max_depth: 4,
        regex_size_limit: 10_000,
        max_script_size: 64,
    };
    let err = parse_with(&format!("stream|from(){}", " ".repeat(60)), &limits).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1, column 1: the TICKscript is 73 bytes; [limits] max-script-size is 64"
    );
    let err = parse_lambda("((((((1))))))", &limits).unwrap_err();
    assert_eq!(
        err.message,
        "expression is nested too deeply (more than 4 levels); [limits] max-expression-depth is 4"
    );
    // Substituting a variable deepens a lambda past what the parser saw.
    let source = "var a = lambda: 1 + 1 + 1 + 1\nstream|alert().crit(lambda: a > a)";
    let err = klaxon_tick::compile_script_with(source, &limits).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "expression is nested too deeply once variables are substituted (more than 4 levels); [limits] max-expression-depth is 4"
        ),
        "{err}"
    );
    assert!(klaxon_tick::compile_script_with(source, &Limits::default()).is_ok());
    // The compiler enforces the same limit on trees built without the parser's check.
    let deep = parse_lambda("- - - - - - \"x\"", &Limits::default()).unwrap();
    let options = klaxon_tick::CompileOptions {
        limits,
        ..Default::default()
    };
    let err = compile_lambda(&deep, &options).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("[limits] max-expression-depth is 4"),
        "{err}"
    );
}

#[test]
fn match_expression_errors() {
    for (source, want) in [
        (
            "level() = CRITICAL",
            "line 1, column 9: '=' is not a comparison; use '==' to test equality",
        ),
        (
            "\"host\" == 'a' and level() == CRITICAL",
            "line 1, column 15: found 'and': logical operators are upper-case, use AND",
        ),
        (
            "\"host\" == \"a\" AND lvl() > 1",
            "line 1, column 19: unknown function lvl()",
        ),
        (
            "level() == critical",
            "line 1, column 12: unknown identifier \"critical\"; match expressions know the levels OK, INFO, WARNING and CRITICAL, and tags are written in double quotes",
        ),
        (
            "level()",
            "line 1, column 1: expression must be a bool, but it is a int (level())",
        ),
        (
            "level(1) > 1",
            "line 1, column 1: level() takes no arguments, got 1",
        ),
        (
            "\"host\" == 'a' )",
            "line 1, column 15: expected end of expression, found ')'",
        ),
    ] {
        let err = MatchExpr::parse(source).unwrap_err();
        assert_eq!(err.to_string(), want, "{source}");
    }
}
