//! Topic-handler `match` expressions through `klaxon_tick::MatchExpr::parse_with`, then
//! evaluated against an event. Seeds: crates/pipeline/tests/corpus/match.
#![no_main]

use klaxon_tick::{CompileOptions, MatchContext, MatchExpr};
use libfuzzer_sys::fuzz_target;

struct Event;

impl MatchContext for Event {
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
        "fuzz"
    }
    fn alert_duration(&self) -> i64 {
        i64::MAX
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mut expr) = MatchExpr::parse_with(source, &CompileOptions::default()) {
        let _ = expr.matches(&Event);
        let _ = expr.matches(&Event);
    }
});
