//! `|window()` + `|mean()` over 10 000 groups: how many points a second one task keeps up with.
//!
//! Each iteration writes one second of data (one point per host for 10 000 hosts) into
//! `stream|from().groupBy('host')|window().period(10s).every(10s)|mean('value')|alert()`, so every
//! tenth iteration closes 10 000 windows and runs the alert node on their means.
//!
//! Run with: `cargo bench -p klaxon-pipeline --bench window_mean -- --warm-up-time 1 --measurement-time 5`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use klaxon_core::{FieldValue, Level, Registry, Timestamp};
use klaxon_pipeline::{AlertEmission, Context, Point, ServerInfo, Task};

const GROUPS: usize = 10_000;
const SECOND: i64 = 1_000_000_000;

/// Counts what the task emits; restores nothing.
#[derive(Default)]
struct Sink {
    events: u64,
    errors: u64,
}

impl Context for Sink {
    fn emit(&mut self, _emission: AlertEmission) {
        self.events += 1;
    }

    fn restore(&mut self, _: &str, _: Option<&str>, _: &str) -> Option<(Level, Timestamp)> {
        None
    }

    fn point_error(&mut self, _: &str, _: String) {
        self.errors += 1;
    }
    fn post(&mut self, _: &str, _: klaxon_pipeline::PostRequest) -> u16 {
        panic!("the benchmarked task has no |httpPost()")
    }
}

fn window_mean(c: &mut Criterion) {
    let registry = Registry::linked().expect("the linked handler registry");
    let mut task = Task::compile(
        "bench",
        r#"stream
    |from().measurement('cpu').groupBy('host')
    |window().period(10s).every(10s)
    |mean('usage_idle')
    |alert().crit(lambda: "mean" < 10.0).stateChangesOnly()
"#,
        &registry,
        &ServerInfo::default(),
    )
    .expect("the benchmark script compiles");
    let mut points: Vec<Point> = (0..GROUPS)
        .map(|i| {
            Point::new("telegraf", "autogen", "cpu", 0)
                .tag("host", &format!("host-{i:05}"))
                .tag("cpu", "cpu-total")
                .field("usage_idle", FieldValue::Float((i % 100) as f64))
                .field("usage_user", FieldValue::Float(1.5))
        })
        .collect();
    let mut sink = Sink::default();
    let mut group = c.benchmark_group("window_mean");
    group.throughput(Throughput::Elements(GROUPS as u64));
    group.bench_function("10000 groups, one second of points", |b| {
        b.iter(|| {
            for p in &mut points {
                task.process(black_box(p), &mut sink);
                p.time = Timestamp::from_nanos(p.time.as_nanos() + SECOND);
            }
        })
    });
    group.finish();
    assert_eq!(sink.errors, 0);
    assert!(sink.events > 0, "windows closed and the alert node ran");
}

criterion_group!(benches, window_mean);
criterion_main!(benches);
