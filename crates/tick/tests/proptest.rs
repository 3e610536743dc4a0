//! Arbitrary strings and arbitrary token sequences never make the parser, the resolver, the
//! compiler or the evaluator panic. Case counts are bounded to keep CI fast.

use klaxon_tick::{
    ArgValue, CompileOptions, FieldValue, Lambda, Limits, MatchContext, MatchExpr, Point,
    compile_lambda, parse, parse_lambda, resolve,
};
use proptest::prelude::*;

struct P;

impl Point for P {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        match name {
            "f" => Some(FieldValue::Float(1.5)),
            "i" => Some(FieldValue::Int(-3)),
            "z" => Some(FieldValue::Int(0)),
            "s" => Some(FieldValue::Str("web-1")),
            "b" => Some(FieldValue::Bool(true)),
            "u" => Some(FieldValue::UInt(u64::MAX)),
            _ => None,
        }
    }
    fn tag(&self, name: &str) -> Option<&str> {
        (name == "host").then_some("web-1")
    }
    fn time(&self) -> i64 {
        -1
    }
    fn name(&self) -> &str {
        "m"
    }
}

impl MatchContext for P {
    fn tag(&self, name: &str) -> Option<&str> {
        (name == "host").then_some("web-1")
    }
    fn level(&self) -> i64 {
        2
    }
    fn changed(&self) -> bool {
        false
    }
    fn name(&self) -> &str {
        "m"
    }
    fn task_name(&self) -> &str {
        "t"
    }
    fn alert_duration(&self) -> i64 {
        i64::MAX
    }
}

const TOKENS: &[&str] = &[
    "stream",
    "batch",
    "var",
    "x",
    "y",
    "dbrp",
    "=",
    "|",
    ".",
    "@",
    "(",
    ")",
    "[",
    "]",
    ",",
    "from",
    "alert",
    "crit",
    "lambda:",
    "\"f\"",
    "\"i\"",
    "\"z\"",
    "\"s\"",
    "\"b\"",
    "\"u\"",
    "\"host\"",
    "\"time\"",
    "\"missing\"",
    "'str'",
    "'''raw'''",
    "''",
    "0",
    "1",
    "-1",
    "07",
    "9223372036854775807",
    "1.5",
    ".5",
    "0.0",
    "10s",
    "1m",
    "3u",
    "1w",
    "TRUE",
    "FALSE",
    "AND",
    "OR",
    "and",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=~",
    "!~",
    "+",
    "-",
    "*",
    "/",
    "%",
    "!",
    "/^w/",
    "sigma",
    "count",
    "spread",
    "if",
    "isPresent",
    "abs",
    "int",
    "float",
    "string",
    "duration",
    "bool",
    "strSubstring",
    "strReplace",
    "regexReplace",
    "humanBytes",
    "now",
    "unixNano",
    "hour",
    "pow10",
    "jn",
    "max",
    "level",
    "changed",
    "alertDuration",
    "CRITICAL",
    "OK",
    "// c\n",
    "\n",
    "'",
    "\"",
    "\\",
    ":",
    "µ",
    "é",
];

fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TOKENS), any::<bool>()), 0..40).prop_map(|ts| {
        let mut s = String::new();
        for (t, space) in ts {
            s.push_str(t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

/// Runs everything downstream of the parser on whatever parsed.
fn exercise(source: &str) {
    let program = parse(source).ok().and_then(|script| resolve(&script).ok());
    for node in program.iter().flat_map(|p| &p.nodes) {
        for arg in node
            .args
            .iter()
            .chain(node.properties.iter().flat_map(|p| &p.args))
        {
            if let ArgValue::Lambda(expr) = &arg.value
                && let Ok(mut l) = compile_lambda(expr, &CompileOptions::default())
            {
                let _ = l.eval(&P);
                let _ = l.eval(&P);
            }
        }
    }
    if let Ok(expr) = parse_lambda(source, &Limits::default()) {
        let _ = expr.to_string();
        if let Ok(mut l) = compile_lambda(&expr, &CompileOptions::default()) {
            let _ = l.eval(&P);
            let _ = l.eval_bool(&P);
        }
    }
    if let Ok(mut m) = MatchExpr::parse(source) {
        let _ = m.matches(&P);
    }
    let _ = Lambda::parse(source);
}

const LEAVES: &[&str] = &[
    "\"f\"",
    "\"i\"",
    "\"z\"",
    "\"s\"",
    "\"b\"",
    "\"u\"",
    "\"host\"",
    "\"time\"",
    "\"missing\"",
    "'web'",
    "''",
    "0",
    "-1",
    "7",
    "9223372036854775807",
    "1.5",
    "0.0",
    "-0.5",
    "10s",
    "-1m",
    "TRUE",
    "FALSE",
    "/^w/",
    "CRITICAL",
    "now()",
    "count()",
    "level()",
];

const OPS: &[&str] = &[
    "AND", "OR", "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "+", "-", "*", "/", "%",
];

const FUNCS: &[&str] = &[
    "sigma",
    "spread",
    "if",
    "isPresent",
    "abs",
    "int",
    "float",
    "string",
    "duration",
    "bool",
    "strSubstring",
    "strReplace",
    "strCount",
    "regexReplace",
    "humanBytes",
    "unixNano",
    "hour",
    "pow10",
    "jn",
    "max",
    "strLength",
    "changed",
    "alertDuration",
    "sqrt",
    "log",
];

/// Well-formed expressions, so that compilation and evaluation get exercised, not just errors.
fn expressions() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(LEAVES).prop_map(str::to_owned);
    leaf.prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            (inner.clone(), prop::sample::select(OPS), inner.clone())
                .prop_map(|(l, op, r)| format!("({l} {op} {r})")),
            (prop::sample::select(&["-", "!"][..]), inner.clone())
                .prop_map(|(op, e)| format!("{op}{e}")),
            (
                prop::sample::select(FUNCS),
                prop::collection::vec(inner, 0..4)
            )
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(source in "\\PC{0,80}") {
        exercise(&source);
    }

    #[test]
    fn arbitrary_token_sequences_never_panic(source in tokens()) {
        exercise(&source);
    }

    #[test]
    fn token_sequences_inside_a_lambda_never_panic(body in tokens()) {
        exercise(&format!("stream|from()|alert().crit(lambda: {body})"));
        exercise(&body);
    }

    /// The printed form of a parsed expression parses back to the same tree shape.
    #[test]
    fn display_round_trips(body in tokens()) {
        if let Ok(expr) = parse_lambda(&body, &Limits::default()) {
            let printed = expr.to_string();
            let again = parse_lambda(&printed, &Limits::default())
                .unwrap_or_else(|e| panic!("{printed:?} does not parse: {e}"));
            prop_assert_eq!(printed, again.to_string());
        }
    }

    #[test]
    fn well_formed_expressions_never_panic(expr in expressions()) {
        exercise(&expr);
        exercise(&format!("stream|eval(lambda: {expr})"));
    }
}
