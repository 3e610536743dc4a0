//! Handler files and API bodies: YAML (and JSON as YAML) through `klaxon_server::load::parse_spec`,
//! JSON through the API's decoder, then the name checks every definition runs.
//! Seeds: crates/server/tests/corpus/handler_spec.
#![no_main]

use klaxon_engine::HandlerSpec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = serde_json::from_slice::<HandlerSpec>(data) {
        let _ = spec.check_names();
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = klaxon_server::load::parse_spec(text) {
        let _ = spec.check_names();
    }
});
