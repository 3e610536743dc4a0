//! Evaluating a comparison of a field with a constant does not allocate. (Its own test binary,
//! because the counting allocator is global.)

use std::alloc::System;

use klaxon_tick::{FieldValue, Lambda, MatchContext, MatchExpr, Point};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

struct P;

impl Point for P {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        match name {
            "usage_idle" => Some(FieldValue::Float(7.5)),
            "value" => Some(FieldValue::Float(93.4)),
            _ => None,
        }
    }
    fn tag(&self, name: &str) -> Option<&str> {
        (name == "host").then_some("web-17")
    }
    fn time(&self) -> i64 {
        0
    }
    fn name(&self) -> &str {
        "cpu"
    }
}

struct E;

impl MatchContext for E {
    fn tag(&self, name: &str) -> Option<&str> {
        (name == "host").then_some("serverA")
    }
    fn level(&self) -> i64 {
        3
    }
    fn changed(&self) -> bool {
        true
    }
    fn name(&self) -> &str {
        "cpu"
    }
    fn task_name(&self) -> &str {
        "t"
    }
    fn alert_duration(&self) -> i64 {
        0
    }
}

#[test]
fn evaluation_does_not_allocate() {
    let mut lambdas: Vec<Lambda> = [
        "\"usage_idle\" < 10",
        "\"host\" =~ /^web-\\d+$/ AND \"value\" > 90.0",
        "sigma(\"value\") > 3.0",
        "\"host\" == 'web-17' OR -\"value\" * 2.0 >= 1.0",
    ]
    .iter()
    .map(|src| Lambda::parse(src).unwrap())
    .collect();
    let mut matcher =
        MatchExpr::parse("\"host\" == 'serverA' AND level() >= WARNING AND changed()").unwrap();
    // Warm up (the regex engine builds its caches lazily on first use).
    for l in &mut lambdas {
        l.eval_bool(&P).unwrap();
    }
    matcher.matches(&E).unwrap();

    let region = Region::new(GLOBAL);
    let mut hits = 0;
    for _ in 0..1_000 {
        for l in &mut lambdas {
            hits += usize::from(l.eval_bool(&P).unwrap());
        }
        hits += usize::from(matcher.matches(&E).unwrap());
    }
    let stats = region.change();
    assert_eq!(hits, 4_000);
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
}
