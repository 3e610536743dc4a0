//! Alert `.id()`, `.message()` and `.details()` templates through
//! `klaxon_pipeline::alert::Templates`, parsed and rendered as the alert node does.
//! Seeds: crates/pipeline/tests/corpus/template.
#![no_main]

use std::collections::BTreeMap;

use klaxon_core::{FieldValue, GoDuration, Level, Timestamp};
use klaxon_pipeline::alert::{TemplateInput, Templates};
use klaxon_pipeline::{Limits, ServerInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(templates) = Templates::new(Some(source), Some(source), Some(source)) else {
        return;
    };
    let tags = BTreeMap::from([("host".to_owned(), "serverA".to_owned())]);
    let fields = BTreeMap::from([("value".to_owned(), FieldValue::Float(1.5))]);
    let server = ServerInfo::default();
    let input = TemplateInput {
        name: "cpu",
        task_name: "fuzz",
        group: "nil",
        tags: &tags,
        fields: &fields,
        server: &server,
    };
    let Ok(id) = templates.id(&input) else {
        return;
    };
    assert!(id.len() <= Limits::MAX_TEMPLATE_OUTPUT);
    let (level, time, duration) = (Level::Critical, Timestamp::EPOCH, GoDuration::ZERO);
    if let Ok(message) = templates.message(&input, &id, level, time, duration) {
        assert!(message.len() <= Limits::MAX_TEMPLATE_OUTPUT);
        let _ = templates.details(&input, &id, level, time, duration, &message);
    }
});
