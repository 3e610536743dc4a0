//! Lambda semantics, table-driven: every operator and type pair, precedence, every function,
//! references, stateful functions (with Kapacitor's sigma test data) and match mode.

use klaxon_tick::{
    CompileOptions, Error, FieldValue, Lambda, MatchContext, MatchExpr, Point, Value,
};

/// 2024-02-29T13:45:30.25Z, a Thursday.
const TIME: i64 = 1_709_214_330_250_000_000;
const S: i64 = 1_000_000_000;

struct TestPoint {
    value: f64,
}

impl Point for TestPoint {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        Some(match name {
            "value" => FieldValue::Float(self.value),
            "count" => FieldValue::Int(42),
            "zero" => FieldValue::Int(0),
            "usage_idle" => FieldValue::Float(7.5),
            "state" => FieldValue::Str("running"),
            "flag" => FieldValue::Bool(true),
            "small" => FieldValue::UInt(5),
            "big" => FieldValue::UInt(u64::MAX),
            // A field shadows a tag of the same name.
            "shadowed" => FieldValue::Int(1),
            _ => return None,
        })
    }

    fn tag(&self, name: &str) -> Option<&str> {
        match name {
            "host" => Some("web-17"),
            "region" => Some("eu-west"),
            "shadowed" => Some("tag"),
            _ => None,
        }
    }

    fn time(&self) -> i64 {
        TIME
    }

    fn name(&self) -> &str {
        "cpu"
    }
}

const P: TestPoint = TestPoint { value: 93.4 };

#[derive(Debug)]
enum Want {
    V(Value),
    Approx(f64),
    /// The compile error's text contains this.
    Compile(&'static str),
    /// The evaluation error's text contains this.
    Eval(&'static str),
}

use Want::{Approx, Compile, Eval, V};

fn int(i: i64) -> Want {
    V(Value::Int(i))
}
fn float(x: f64) -> Want {
    V(Value::Float(x))
}
fn string(s: &str) -> Want {
    V(Value::String(s.to_owned()))
}
fn boolean(b: bool) -> Want {
    V(Value::Bool(b))
}
fn dur(d: i64) -> Want {
    V(Value::Duration(d))
}

fn options() -> CompileOptions {
    CompileOptions {
        clock: || 1_000,
        ..CompileOptions::default()
    }
}

fn check(cases: Vec<(&str, Want)>) {
    let mut failures = Vec::new();
    for (src, want) in cases {
        let got = match Lambda::parse_with(src, &options()) {
            Err(e) => Err(("compile", e.to_string())),
            Ok(mut l) => l.eval(&P).map_err(|e| ("eval", e.to_string())),
        };
        let ok = match (&want, &got) {
            (V(w), Ok(g)) => w == g,
            (Approx(w), Ok(Value::Float(g))) => (w - g).abs() < 1e-12,
            (Compile(w), Err(("compile", g))) | (Eval(w), Err(("eval", g))) => g.contains(w),
            _ => false,
        };
        if !ok {
            failures.push(format!("{src}\n   got  {got:?}\n   want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn precedence_and_associativity() {
    check(vec![
        ("1 + 2 * 3", int(7)),
        ("(1 + 2) * 3", int(9)),
        ("10 - 2 - 3", int(5)),
        ("100 / 10 / 5", int(2)),
        ("2 * 3 % 4", int(2)),
        ("7 % 4 * 2", int(6)),
        ("TRUE OR FALSE AND FALSE", boolean(true)),
        ("(TRUE OR FALSE) AND FALSE", boolean(false)),
        ("1 < 2 == TRUE", boolean(true)),
        ("1 + 2 > 2", boolean(true)),
        ("'a' + 'b' == 'ab'", boolean(true)),
        ("-2 * 3", int(-6)),
        ("- -2", int(2)),
        ("!TRUE == FALSE", boolean(true)),
        ("!(1 > 2)", boolean(true)),
        (
            "\"value\" > 90 AND \"host\" == 'web-17' OR FALSE",
            boolean(true),
        ),
        ("3 - 1 + 1", int(3)),
    ]);
}

#[test]
fn int_and_float_arithmetic() {
    check(vec![
        ("7 + 2", int(9)),
        ("7 - 2", int(5)),
        ("7 * 2", int(14)),
        ("7 / 2", int(3)),
        ("-7 / 2", int(-3)),
        ("7 % 3", int(1)),
        ("-7 % 3", int(-1)),
        ("7.0 + 2.5", float(9.5)),
        ("7.0 - 2.5", float(4.5)),
        ("7.0 * 2.0", float(14.0)),
        ("7.0 / 2.0", float(3.5)),
        ("1.0 / 0.0", float(f64::INFINITY)),
        (
            "7.0 % 2.0",
            Compile("invalid type to binary operator: float % float (7.0 % 2.0)"),
        ),
        ("7 / 0", Compile("integer division by zero (7 / 0)")),
        (
            "\"count\" / \"zero\"",
            Eval("integer division by zero (\"count\" / \"zero\")"),
        ),
        ("\"count\" % \"zero\"", Eval("integer division by zero")),
        ("\"count\" + 1", int(43)),
        ("\"value\" * 2.0", Approx(186.8)),
        ("9223372036854775807 + 1", int(i64::MIN)),
    ]);
}

#[test]
fn int_and_float_mix_only_in_comparisons() {
    check(vec![
        (
            "1 + 1.5",
            Compile(
                "line 1, column 3: mismatched type to binary operator: int + float (1 + 1.5); use float() or int()",
            ),
        ),
        (
            "2.5 * 2",
            Compile("mismatched type to binary operator: float * int"),
        ),
        (
            "\"count\" + 1.5",
            Eval(
                "line 1, column 9: mismatched type to binary operator: int + float (\"count\" + 1.5); use float() or int()",
            ),
        ),
        (
            "\"value\" - 1",
            Eval("mismatched type to binary operator: float - int"),
        ),
        (
            "\"value\" % 2",
            Eval("mismatched type to binary operator: float % int"),
        ),
        ("1 < 1.5", boolean(true)),
        ("2.0 == 2", boolean(true)),
        ("2 != 2.0", boolean(false)),
        ("\"count\" == 42.0", boolean(true)),
        ("\"usage_idle\" < 10", boolean(true)),
        ("\"usage_idle\" >= 7.5", boolean(true)),
        ("\"usage_idle\" <= 7", boolean(false)),
        ("\"usage_idle\" > 7", boolean(true)),
        ("float(\"count\") + 1.5", float(43.5)),
        ("\"count\" + int(1.5)", int(43)),
    ]);
}

#[test]
fn strings() {
    check(vec![
        ("'a' + 'b'", string("ab")),
        ("\"state\" + '!'", string("running!")),
        ("'a' < 'b'", boolean(true)),
        ("'b' <= 'a'", boolean(false)),
        ("'b' > 'a'", boolean(true)),
        ("'a' >= 'a'", boolean(true)),
        ("'a' == 'a'", boolean(true)),
        ("'a' != 'a'", boolean(false)),
        ("\"host\" == 'web-17'", boolean(true)),
        (
            "'a' - 'b'",
            Compile("invalid type to binary operator: string - string"),
        ),
        (
            "'a' == 1",
            Compile("invalid type to binary operator: string == int"),
        ),
        (
            "'a' + 1",
            Compile("invalid type to binary operator: string + int"),
        ),
        (
            "\"state\" * 2",
            Eval("invalid type to binary operator: string * int"),
        ),
    ]);
}

#[test]
fn regex_match() {
    check(vec![
        ("\"host\" =~ /^web-\\d+$/", boolean(true)),
        ("\"host\" !~ /^web-\\d+$/", boolean(false)),
        ("\"region\" =~ /^us/", boolean(false)),
        ("'a/b' =~ /a\\/b/", boolean(true)),
        (
            "\"count\" =~ /4/",
            Eval("invalid type to binary operator: int =~ regex"),
        ),
        (
            "1 =~ /4/",
            Compile("invalid type to binary operator: int =~ regex"),
        ),
        (
            "\"host\" =~ 'web'",
            Compile("the right operand of =~ must be a regex literal"),
        ),
        (
            "\"host\" == /web/",
            Compile("a regex (/web/) can only be the right operand of =~ or !~"),
        ),
    ]);
}

#[test]
fn durations_and_time() {
    check(vec![
        ("1m + 30s", dur(90 * S)),
        ("1m - 30s", dur(30 * S)),
        ("2 * 1m", dur(120 * S)),
        ("1m * 2", dur(120 * S)),
        ("1m * 1.5", dur(90 * S)),
        ("1.5 * 1m", dur(90 * S)),
        ("1m / 2", dur(30 * S)),
        ("1m / 4.0", dur(15 * S)),
        ("1m / 0", Compile("integer division by zero")),
        ("-1m", dur(-60 * S)),
        ("1m > 30s", boolean(true)),
        ("1m == 60s", boolean(true)),
        ("1m != 60s", boolean(false)),
        ("1m <= 59s", boolean(false)),
        ("1000ms == 1s", boolean(true)),
        ("3ms == 3000 * 1u", boolean(true)),
        ("1w == 7d", boolean(true)),
        ("1d == 24h", boolean(true)),
        (
            "1m + 1",
            Compile("invalid type to binary operator: duration + int"),
        ),
        (
            "1m / 1m",
            Compile("invalid type to binary operator: duration / duration"),
        ),
        (
            "1m % 2",
            Compile("invalid type to binary operator: duration % int"),
        ),
        (
            "\"time\" > 0",
            Compile("invalid type to binary operator: time > int"),
        ),
        ("\"time\" - \"time\"", dur(0)),
        ("\"time\" + 1s > \"time\"", boolean(true)),
        ("\"time\" - 1h < \"time\"", boolean(true)),
        ("unixNano(\"time\" + 1s)", int(TIME + S)),
    ]);
}

#[test]
fn bools_and_short_circuit() {
    check(vec![
        ("TRUE == FALSE", boolean(false)),
        ("TRUE != FALSE", boolean(true)),
        ("TRUE AND \"flag\"", boolean(true)),
        ("FALSE OR \"flag\"", boolean(true)),
        ("TRUE AND FALSE", boolean(false)),
        ("FALSE OR FALSE", boolean(false)),
        (
            "TRUE < FALSE",
            Compile("invalid type to binary operator: bool < bool"),
        ),
        (
            "TRUE + TRUE",
            Compile("invalid type to binary operator: bool + bool"),
        ),
        (
            "1 AND TRUE",
            Compile("invalid type to binary operator: int AND bool"),
        ),
        (
            "\"value\" AND TRUE",
            Eval("invalid type to binary operator: float AND bool"),
        ),
        ("TRUE OR \"value\"", boolean(true)),
        (
            "FALSE OR \"value\"",
            Eval("invalid type to binary operator: bool OR float"),
        ),
        ("FALSE AND \"missing\" > 1", boolean(false)),
        ("TRUE OR \"missing\" > 1", boolean(true)),
        (
            "TRUE AND \"missing\" > 1",
            Eval("line 1, column 10: no field or tag exists for \"missing\""),
        ),
        ("\"count\" AND TRUE", Compile("")).with_eval_instead(),
    ]);
}

trait EvalInstead {
    fn with_eval_instead(self) -> Self;
}

impl EvalInstead for (&'static str, Want) {
    /// A reference's type is unknown until evaluation, so this fails there, not at compile.
    fn with_eval_instead(self) -> Self {
        (
            self.0,
            Eval("invalid type to binary operator: int AND bool"),
        )
    }
}

#[test]
fn unary() {
    check(vec![
        ("-\"value\"", float(-93.4)),
        ("-\"count\"", int(-42)),
        ("!\"flag\"", boolean(false)),
        (
            "-'a'",
            Compile("invalid type to unary operator: -string (-'a')"),
        ),
        ("!1", Compile("invalid type to unary operator: !int (!1)")),
        ("-TRUE", Compile("invalid type to unary operator: -bool")),
        (
            "-\"host\"",
            Eval("line 1, column 1: invalid type to unary operator: -string (-\"host\")"),
        ),
        ("!\"value\"", Eval("invalid type to unary operator: !float")),
    ]);
}

#[test]
fn references() {
    check(vec![
        ("\"value\"", float(93.4)),
        ("\"count\"", int(42)),
        ("\"state\"", string("running")),
        ("\"flag\"", boolean(true)),
        ("\"host\"", string("web-17")),
        ("\"shadowed\"", int(1)),
        ("\"small\"", int(5)),
        (
            "\"big\"",
            Eval("unsigned value 18446744073709551615 of \"big\" does not fit in an int"),
        ),
        ("\"time\"", V(Value::Time(TIME))),
        (
            "\"missing\"",
            Eval("line 1, column 1: no field or tag exists for \"missing\""),
        ),
        (
            "\"missing\" > 1",
            Eval("no field or tag exists for \"missing\""),
        ),
        ("isPresent(\"value\")", boolean(true)),
        ("isPresent(\"host\")", boolean(true)),
        ("isPresent(\"time\")", boolean(true)),
        ("isPresent(\"missing\")", boolean(false)),
        (
            "isPresent('value')",
            Compile("isPresent() takes a field or tag reference in double quotes"),
        ),
        (
            "isPresent(\"a\", \"b\")",
            Compile("isPresent() takes exactly 1 argument, got 2"),
        ),
        (
            "foo",
            Compile("unknown identifier \"foo\"; fields and tags are written in double quotes"),
        ),
        ("CRITICAL", Compile("unknown identifier \"CRITICAL\"")),
        ("*", Compile("'*' is not a value in a lambda expression")),
    ]);
}

#[test]
fn conversion_functions() {
    check(vec![
        ("bool('true')", boolean(true)),
        ("bool('F')", boolean(false)),
        ("bool(1)", boolean(true)),
        ("bool(0.0)", boolean(false)),
        ("bool(TRUE)", boolean(true)),
        ("bool(2)", Compile("bool(): cannot convert 2 to bool")),
        (
            "bool('yes')",
            Compile("cannot convert string \"yes\" to bool"),
        ),
        (
            "bool(\"state\")",
            Eval("bool(): cannot convert string \"running\" to bool (bool(\"state\"))"),
        ),
        ("int(3.9)", int(3)),
        ("int(-3.9)", int(-3)),
        ("int('12')", int(12)),
        ("int('-12')", int(-12)),
        ("int(TRUE)", int(1)),
        ("int(1s)", int(S)),
        ("int('x')", Compile("cannot convert string \"x\" to int")),
        ("float(2)", float(2.0)),
        ("float('1.5')", float(1.5)),
        ("float(FALSE)", float(0.0)),
        (
            "float(1s)",
            Compile("argument 1 of float() must be int, float, string or bool, found duration"),
        ),
        ("string(1.0)", string("1")),
        ("string(2.5)", string("2.5")),
        ("string(0.1)", string("0.1")),
        ("string(12)", string("12")),
        ("string(TRUE)", string("true")),
        ("string('s')", string("s")),
        ("string(90s)", string("90s")),
        ("string(5400s)", string("90m")),
        ("string(1500ms)", string("1500ms")),
        ("string(\"value\")", string("93.4")),
        ("duration(10s)", dur(10 * S)),
        ("duration(5, 1s)", dur(5 * S)),
        ("duration(1.5, 1s)", dur(1_500_000_000)),
        ("duration('1h30m')", dur(5400 * S)),
        (
            "duration('soon')",
            Compile("invalid duration string \"soon\""),
        ),
        ("duration(5)", Compile("an int or float value needs a unit")),
        (
            "duration(5, 2)",
            Compile("argument 2 of duration() must be duration, found int"),
        ),
        (
            "duration(TRUE)",
            Compile("argument 1 of duration() must be int, float, string or duration"),
        ),
    ]);
}

#[test]
fn math_functions() {
    check(vec![
        ("abs(-1.5)", float(1.5)),
        ("abs(-\"value\")", float(93.4)),
        (
            "abs(1)",
            Compile("argument 1 of abs() must be float, found int (1)"),
        ),
        (
            "abs(\"count\")",
            Eval(
                "abs(): argument 1 must be float, found int; convert with float() (abs(\"count\"))",
            ),
        ),
        ("abs()", Compile("abs() takes exactly 1 argument, got 0")),
        ("acos(1.0)", float(0.0)),
        ("acosh(1.0)", float(0.0)),
        ("asin(0.0)", float(0.0)),
        ("asinh(0.0)", float(0.0)),
        ("atan(0.0)", float(0.0)),
        ("atan2(0.0, 1.0)", float(0.0)),
        ("atanh(0.0)", float(0.0)),
        ("cbrt(27.0)", float(3.0)),
        ("ceil(1.2)", float(2.0)),
        ("cos(0.0)", float(1.0)),
        ("cosh(0.0)", float(1.0)),
        ("erf(0.0)", float(0.0)),
        ("erfc(0.0)", float(1.0)),
        ("exp(0.0)", float(1.0)),
        ("exp2(3.0)", float(8.0)),
        ("expm1(0.0)", float(0.0)),
        ("floor(1.8)", float(1.0)),
        ("gamma(5.0)", Approx(24.0)),
        ("hypot(3.0, 4.0)", float(5.0)),
        ("j0(0.0)", float(1.0)),
        ("j1(0.0)", float(0.0)),
        ("jn(0, 0.0)", float(1.0)),
        (
            "jn(0.5, 0.0)",
            Compile("argument 1 of jn() must be int, found float"),
        ),
        ("log(1.0)", float(0.0)),
        ("log10(100.0)", float(2.0)),
        ("log1p(0.0)", float(0.0)),
        ("log2(8.0)", float(3.0)),
        ("logb(8.0)", float(3.0)),
        ("max(1.0, 2.0)", float(2.0)),
        ("min(1.0, 2.0)", float(1.0)),
        ("mod(7.0, 3.0)", float(1.0)),
        ("mod(-7.0, 3.0)", float(-1.0)),
        ("pow(2.0, 10.0)", float(1024.0)),
        ("pow10(3)", float(1000.0)),
        ("sin(0.0)", float(0.0)),
        ("sinh(0.0)", float(0.0)),
        ("sqrt(16.0)", float(4.0)),
        ("tan(0.0)", float(0.0)),
        ("tanh(0.0)", float(0.0)),
        ("trunc(-1.7)", float(-1.0)),
        ("y0(1.0)", Approx(0.088_256_964_215_676_96)),
        ("y1(1.0)", Approx(-0.781_212_821_300_288_7)),
        ("yn(1, 1.0)", Approx(-0.781_212_821_300_288_7)),
    ]);
}

#[test]
fn string_functions() {
    check(vec![
        ("strContains('abc', 'b')", boolean(true)),
        ("strContainsAny('abc', 'xyzc')", boolean(true)),
        ("strContainsAny('abc', '')", boolean(false)),
        ("strCount('cheese', 'e')", int(3)),
        ("strCount('five', '')", int(5)),
        ("strHasPrefix(\"host\", 'web')", boolean(true)),
        ("strHasSuffix('abc', 'bc')", boolean(true)),
        ("strIndex('chicken', 'ken')", int(4)),
        ("strIndex('chicken', 'dmr')", int(-1)),
        ("strIndexAny('chicken', 'kmr')", int(4)),
        ("strLastIndex('go gopher', 'go')", int(3)),
        ("strLastIndexAny('go gopher', 'ordent')", int(8)),
        ("strLength('héllo')", int(6)),
        (
            "strReplace('oink oink oink', 'k', 'ky', 2)",
            string("oinky oinky oink"),
        ),
        (
            "strReplace('oink oink oink', 'oink', 'moo', -1)",
            string("moo moo moo"),
        ),
        (
            "strReplace('a', 'a', 'b', 1.0)",
            Compile("argument 4 of strReplace() must be int, found float"),
        ),
        ("strSubstring('abcdef', 1, 3)", string("bc")),
        ("strSubstring('abc', 0, 3)", string("abc")),
        (
            "strSubstring('abc', 2, 5)",
            Compile("stop index 5 is past the end of the string (length 3)"),
        ),
        (
            "strSubstring('abc', -1, 2)",
            Compile("found negative index: -1"),
        ),
        (
            "strSubstring('abc', 2, 1)",
            Compile("start index 2 is after stop index 1"),
        ),
        (
            "strSubstring('é', 0, 1)",
            Compile("do not fall on character boundaries"),
        ),
        ("strToLower('ABC')", string("abc")),
        ("strToUpper(\"host\")", string("WEB-17")),
        ("strTrim('xxhixx', 'x')", string("hi")),
        ("strTrimLeft('xxhixx', 'x')", string("hixx")),
        ("strTrimRight('xxhixx', 'x')", string("xxhi")),
        ("strTrimPrefix('prefix-x', 'prefix-')", string("x")),
        ("strTrimPrefix('x', 'prefix-')", string("x")),
        ("strTrimSuffix('x.log', '.log')", string("x")),
        ("strTrimSpace('  hi \\n')", string("hi")),
        (
            "strContains(1, 'a')",
            Compile("argument 1 of strContains() must be string, found int"),
        ),
        ("regexReplace(/(\\d+)/, 'a12b', '<$1>')", string("a<12>b")),
        (
            "regexReplace(/web-(?P<n>\\d+)/, \"host\", 'node ${n}')",
            string("node 17"),
        ),
        (
            "regexReplace('x', 'a', 'b')",
            Compile("the first argument of regexReplace() must be a regex literal"),
        ),
        (
            "regexReplace(/x/, 1, 'b')",
            Compile("argument 2 of regexReplace() must be string, found int"),
        ),
        (
            "regexReplace(/x/, \"count\", 'b')",
            Eval("regexReplace(): argument 2 must be string, found int"),
        ),
    ]);
}

#[test]
fn time_and_misc_functions() {
    check(vec![
        ("minute(\"time\")", int(45)),
        ("hour(\"time\")", int(13)),
        ("weekday(\"time\")", int(4)),
        ("day(\"time\")", int(29)),
        ("month(\"time\")", int(2)),
        ("year(\"time\")", int(2024)),
        ("unixNano(\"time\")", int(TIME)),
        (
            "hour(1)",
            Compile("argument 1 of hour() must be time, found int"),
        ),
        ("now()", V(Value::Time(1_000))),
        ("unixNano(now())", int(1_000)),
        ("humanBytes(1000)", string("1.0 kB")),
        ("humanBytes(82854982.0)", string("83 MB")),
        ("humanBytes(-1)", Compile("cannot format a negative size")),
        (
            "humanBytes('x')",
            Compile("argument 1 of humanBytes() must be int or float, found string"),
        ),
        ("if(TRUE, 1, 2)", int(1)),
        ("if(\"value\" > 90, 'hi', 'lo')", string("hi")),
        ("if(\"value\" < 90, 'hi', 'lo')", string("lo")),
        ("if(\"value\" > 90, \"count\", 0)", int(42)),
        ("if(FALSE, \"missing\", 0)", int(0)),
        (
            "if(TRUE, 1, 'a')",
            Compile("if() branches must have the same type, found int and string"),
        ),
        (
            "if(1, 2, 3)",
            Compile("argument 1 of if() must be bool, found int"),
        ),
        (
            "if(\"count\", 2, 3)",
            Eval("if(): argument 1 must be bool, found int"),
        ),
        (
            "if(TRUE, 1)",
            Compile("if() takes exactly 3 arguments, got 2"),
        ),
        (
            "nope(1)",
            Compile("line 1, column 1: unknown function nope()"),
        ),
        (
            "level()",
            Compile("level() is only available in topic-handler match expressions"),
        ),
        (
            "changed()",
            Compile("changed() is only available in topic-handler match expressions"),
        ),
        ("count(1)", Compile("count() takes no arguments, got 1")),
        (
            "sigma('x')",
            Compile("argument 1 of sigma() must be int or float, found string"),
        ),
        (
            "spread(\"state\")",
            Eval("spread(): argument 1 must be int or float, found string"),
        ),
    ]);
}

#[test]
fn values_display_go_style() {
    let mut l = Lambda::parse("1m + 30s").unwrap();
    assert_eq!(l.eval(&P).unwrap().to_string(), "1m30s");
    let mut l = Lambda::parse("\"value\" * 0.0 + 1.0").unwrap();
    assert_eq!(l.eval(&P).unwrap().to_string(), "1");
}

#[test]
fn eval_bool_requires_a_bool() {
    let mut l = Lambda::parse("\"value\"").unwrap();
    assert_eq!(
        l.eval_bool(&P).unwrap_err().to_string(),
        "line 1, column 1: expression must evaluate to a bool, got float (\"value\")"
    );
    let mut l = Lambda::parse("\"value\" > 90").unwrap();
    assert!(l.eval_bool(&P).unwrap());
}

/// serverA's values in Kapacitor's `TestStream_AlertSigma.srpl`.
const SIGMA_DATA: [f64; 12] = [
    97.1, 92.6, 95.6, 93.1, 92.6, 95.8, 92.7, 16.0, 93.4, 95.3, 96.4, 95.1,
];

#[test]
fn sigma_reproduces_kapacitor() {
    let mut sigma = Lambda::parse("sigma(\"value\")").unwrap();
    let results: Vec<f64> = SIGMA_DATA
        .iter()
        .map(|&value| match sigma.eval(&TestPoint { value }).unwrap() {
            Value::Float(x) => x,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(results[0], 0.0, "one value has no deviation");
    // Reference section 7 case 9: INFO at t=7 with sigma 2.469916402324427 (value 16), OK at
    // t=8 with sigma 0.3053477916297622 (value 93.4).
    assert_eq!(results[7], 2.469916402324427);
    assert_eq!(results[8], 0.3053477916297622);
    // The alert levels of that test: info > 2, warn > 3, crit > 3.5.
    let above_info: Vec<usize> = (0..results.len()).filter(|&i| results[i] > 2.0).collect();
    assert_eq!(above_info, [7]);
}

#[test]
fn sigma_of_constant_values_is_zero() {
    let mut sigma = Lambda::parse("sigma(\"count\")").unwrap();
    for _ in 0..3 {
        assert_eq!(sigma.eval(&P).unwrap(), Value::Float(0.0));
    }
}

#[test]
fn stateful_functions_keep_state_per_instance() {
    let mut count = Lambda::parse("count()").unwrap();
    let mut other = Lambda::parse("count()").unwrap();
    for i in 1..=3 {
        assert_eq!(count.eval(&P).unwrap(), Value::Int(i));
    }
    assert_eq!(other.eval(&P).unwrap(), Value::Int(1));

    // Two call sites in one expression have separate state.
    let mut two = Lambda::parse("count() + count() * 10").unwrap();
    assert_eq!(two.eval(&P).unwrap(), Value::Int(11));
    assert_eq!(two.eval(&P).unwrap(), Value::Int(22));

    let mut spread = Lambda::parse("spread(\"value\")").unwrap();
    let got: Vec<Value> = [5.0, 3.0, 9.0, 4.0]
        .iter()
        .map(|&value| spread.eval(&TestPoint { value }).unwrap())
        .collect();
    assert_eq!(
        got,
        [0.0, 2.0, 6.0, 6.0].map(Value::Float),
        "spread is max - min so far"
    );

    // Clone copies state; fresh() and reset() start over.
    let mut copy = count.clone();
    assert_eq!(copy.eval(&P).unwrap(), Value::Int(4));
    assert_eq!(count.fresh().eval(&P).unwrap(), Value::Int(1));
    count.reset();
    assert_eq!(count.eval(&P).unwrap(), Value::Int(1));

    // State is only advanced when the call is evaluated (short circuit skips it).
    let mut guarded = Lambda::parse("\"value\" > 100 AND count() > 0").unwrap();
    guarded.eval(&P).unwrap();
    let mut probe = Lambda::parse("count()").unwrap();
    assert_eq!(probe.eval(&P).unwrap(), Value::Int(1));
}

struct Event {
    host: Option<&'static str>,
    level: i64,
    changed: bool,
    duration: i64,
}

impl MatchContext for Event {
    fn tag(&self, name: &str) -> Option<&str> {
        match name {
            "host" => self.host,
            "cpu" => Some("cpu-total"),
            _ => None,
        }
    }
    fn level(&self) -> i64 {
        self.level
    }
    fn changed(&self) -> bool {
        self.changed
    }
    fn name(&self) -> &str {
        "cpu"
    }
    fn task_name(&self) -> &str {
        "cpu_alert"
    }
    fn alert_duration(&self) -> i64 {
        self.duration
    }
}

const EVENT: Event = Event {
    host: Some("serverA"),
    level: 3,
    changed: true,
    duration: 30 * S,
};

#[test]
fn match_mode() {
    let cases: Vec<(&str, &Event, Result<bool, &str>)> = vec![
        (
            "\"host\" == 'serverA' AND level() == CRITICAL",
            &EVENT,
            Ok(true),
        ),
        (
            "\"host\" == 'serverB' AND level() == CRITICAL",
            &EVENT,
            Ok(false),
        ),
        ("changed() == TRUE", &EVENT, Ok(true)),
        ("level() >= WARNING", &EVENT, Ok(true)),
        ("level() == OK OR level() == INFO", &EVENT, Ok(false)),
        ("WARNING == 2 AND INFO == 1 AND OK == 0", &EVENT, Ok(true)),
        ("alertDuration() < 1m", &EVENT, Ok(true)),
        (
            "alertDuration() < 1m",
            &Event {
                duration: 130 * S,
                ..EVENT
            },
            Ok(false),
        ),
        (
            "name() == 'cpu' AND taskName() == 'cpu_alert'",
            &EVENT,
            Ok(true),
        ),
        ("\"cpu\" =~ /total$/", &EVENT, Ok(true)),
        ("strHasPrefix(\"host\", 'server')", &EVENT, Ok(true)),
        (
            "isPresent(\"host\")",
            &Event {
                host: None,
                ..EVENT
            },
            Ok(false),
        ),
        (
            "\"host\" == 'serverA'",
            &Event {
                host: None,
                ..EVENT
            },
            Err("line 1, column 1: no tag exists for \"host\""),
        ),
        // Fields are invisible to match expressions: "value" is looked up as a tag.
        ("isPresent(\"value\")", &EVENT, Ok(false)),
        ("\"time\" == 'x'", &EVENT, Err("no tag exists for \"time\"")),
    ];
    for (src, event, want) in cases {
        let mut m = MatchExpr::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let got = m.matches(event).map_err(|e| e.to_string());
        match (&want, &got) {
            (Ok(w), Ok(g)) => assert_eq!(w, g, "{src}"),
            (Err(w), Err(g)) => assert!(g.contains(w), "{src}: {g}"),
            _ => panic!("{src}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn match_references_are_strings_so_numeric_comparisons_fail_early() {
    let err = MatchExpr::parse("\"host\" > 5").unwrap_err();
    assert!(matches!(err, Error::Compile(_)));
    assert_eq!(
        err.to_string(),
        "line 1, column 8: invalid type to binary operator: string > int (\"host\" > 5)"
    );
}

/// `rand()` is Kapacitor's: a non-negative int, below its argument when given one (0 for
/// `rand(0)`); each call site keeps its own generator.
#[test]
fn rand_gives_non_negative_ints_below_the_bound() {
    let mut unbounded = Lambda::parse_with("rand()", &options()).unwrap();
    let mut bounded = Lambda::parse_with("rand(10)", &options()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let Value::Int(n) = unbounded.eval(&P).unwrap() else {
            panic!("rand() is an int")
        };
        assert!(n >= 0);
        let Value::Int(n) = bounded.eval(&P).unwrap() else {
            panic!("rand(10) is an int")
        };
        assert!((0..10).contains(&n), "{n}");
        seen.insert(n);
    }
    assert!(seen.len() > 5, "rand(10) gave only {seen:?}");
    // An empty range gives 0, as Kapacitor's rand(0).
    let mut empty = Lambda::parse_with("rand(0)", &options()).unwrap();
    assert_eq!(empty.eval(&P).unwrap(), Value::Int(0));
    check(vec![
        ("rand('a')", Compile("rand")),
        ("rand(1, 2)", Compile("rand")),
        (
            "rand(0 - \"count\")",
            Eval("the bound must be a non-negative int, found -42"),
        ),
    ]);
}

/// `strReplace(strReplace(...))` doubling the string at each level: 2^40 bytes if unbounded.
fn doubling(inner: &str, levels: usize) -> String {
    (0..levels).fold(inner.to_owned(), |s, _| {
        format!("strReplace({s}, 'x', 'xx', -1)")
    })
}

#[test]
fn values_built_by_an_expression_are_bounded() {
    // On a tag, at every evaluation: the one point fails, naming the bound.
    let mut bomb = Lambda::parse(&doubling("\"state\"", 40)).unwrap();
    let mut on_x = Lambda::parse(&doubling("strReplace(\"state\", 'r', 'x', -1)", 40)).unwrap();
    let quiet = bomb.eval(&P);
    assert!(
        quiet.is_ok(),
        "no x in \"running\": nothing grows: {quiet:?}"
    );
    let err = on_x.eval(&P).map(|_| ()).unwrap_err().to_string();
    assert!(
        err.contains("a string built by an expression is at most 1048576 bytes"),
        "{err}"
    );
    // On constants, folded where the script is defined: the definition fails.
    let err = Lambda::parse(&doubling("'x'", 40)).unwrap_err().to_string();
    assert!(
        err.contains("strReplace(): it would build a string of 2097152 bytes"),
        "{err}"
    );
    let err = Lambda::parse(&format!("{} + 'y'", doubling("'x'", 20)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("+: it would build a string of"), "{err}");
    // regexReplace with a replacement that multiplies the input.
    let mut regex = Lambda::parse(&format!(
        "regexReplace(/./, {}, '{}')",
        doubling("strReplace(\"state\", 'r', 'x', -1)", 10),
        "y".repeat(2000)
    ))
    .unwrap();
    // Not unwrap_err: a value would be printed whole.
    let err = regex.eval(&P).map(|_| ()).unwrap_err().to_string();
    assert!(
        err.contains("regexReplace(): it would build a string of"),
        "{err}"
    );
    // Many strings each within the bound, but too many bytes in all for one evaluation.
    let big = doubling("strReplace(\"state\", 'r', 'x', -1)", 19);
    let sum = (0..40)
        .map(|_| format!("strLength({big})"))
        .collect::<Vec<_>>()
        .join(" + ");
    let err = Lambda::parse(&sum)
        .unwrap()
        .eval(&P)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("built more than 16777216 bytes of strings in one evaluation"),
        "{err}"
    );
}

#[test]
fn a_script_has_a_bounded_number_of_regexes() {
    let lambda = |n: usize| {
        (0..n)
            .map(|i| format!("\"state\" =~ /^r{i}.*/"))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let options = CompileOptions {
        limits: klaxon_tick::Limits {
            max_depth: 256,
            ..klaxon_tick::Limits::default()
        },
        ..CompileOptions::default()
    };
    assert!(Lambda::parse_with(&lambda(100), &options).is_ok());
    let err = Lambda::parse_with(&lambda(101), &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("more than 100 regexes in one script; each may compile to 1048576 bytes ([limits] max-regex-size)"),
        "{err}"
    );
}
