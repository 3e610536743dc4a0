//! TICKscript task definitions through `klaxon_pipeline::Task::compile_with`, as the tasks API
//! and `[load] dir` call it. Seeds: crates/pipeline/tests/corpus/tickscript.
#![no_main]

use klaxon_core::Registry;
use klaxon_fixture_handler as _;
use klaxon_pipeline::{Limits, ServerInfo, Task};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    let registry = Registry::linked().unwrap();
    let _ = Task::compile_with(
        "fuzz",
        script,
        &registry,
        &ServerInfo::default(),
        &Limits::default(),
    );
});
