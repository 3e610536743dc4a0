//! The ingest path in one process, for instruction counts: bodies shaped like `cargo xtask
//! bench ingest`'s (5 000 points each, two tags, three float fields, second timestamps, 10 000
//! hosts) checked and parsed as `/write` does, and with `task` also pushed through the bench's
//! task, as the engine does after a parse.
//!
//! Instructions per point, repeatable whatever the machine's load (setup excluded by the
//! toggles; divide the total by the points printed):
//!
//! ```text
//! cargo build --release -p klaxon-pipeline --example ingest_profile
//! valgrind --tool=callgrind --toggle-collect='ingest_profile::parse_pass' \
//!     target/release/examples/ingest_profile parse 2
//! valgrind --tool=callgrind --toggle-collect='ingest_profile::task_pass' \
//!     target/release/examples/ingest_profile task 2
//! ```

use std::hint::black_box;
use std::sync::Arc;

use klaxon_core::{Level, Registry, Timestamp};
use klaxon_pipeline::ingest::{self, Precision, Target};
use klaxon_pipeline::{AlertEmission, Context, Limits, Point, ServerInfo, Task};

const SERIES: usize = 10_000;
const BODY_POINTS: usize = 5_000;
const ROUNDS: usize = 4;
/// Points made at a time, as `/write` makes them.
const CHUNK_POINTS: usize = 10_000;

/// The bench's task: every point kept, one alert group per host, levels that never trigger.
const TASK: &str = "stream
    |from()
        .measurement('cpu')
        .where(lambda: \"usage_idle\" >= 0.0)
        .groupBy('host')
    |alert()
        .warn(lambda: \"usage_idle\" < 5.0)
        .crit(lambda: \"usage_idle\" < 1.0)
";

/// Counts what the task emits and the points it drops.
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
        0
    }
}

fn bodies() -> Vec<String> {
    let base = 1_700_000_000u64;
    let mut bodies = Vec::new();
    for round in 0..ROUNDS {
        for chunk in 0..SERIES / BODY_POINTS {
            let mut body = String::with_capacity(BODY_POINTS * 90);
            for i in chunk * BODY_POINTS..(chunk + 1) * BODY_POINTS {
                let idle = 20.0 + ((i * 7 + round * 13) % 800) as f64 / 10.0;
                body.push_str(&format!(
                    "cpu,host=host{i:05},region=region{} usage_idle={idle:.1},usage_user={:.1},usage_system={:.1} {}\n",
                    i % 8,
                    (100.0 - idle) * 0.7,
                    (100.0 - idle) * 0.3,
                    base + round as u64
                ));
            }
            bodies.push(body);
        }
    }
    bodies
}

fn target() -> Target {
    Target {
        database: Arc::from("bench"),
        retention_policy: Arc::from("autogen"),
        precision: Precision::Seconds,
        now: Timestamp::now(),
    }
}

/// Checks and parses every body as `/write` does, dropping the points.
#[inline(never)]
fn parse_pass(bodies: &[String], target: &Target, limits: &Limits) -> u64 {
    let mut points = 0;
    for body in bodies {
        ingest::parse_checked(body, target, limits, CHUNK_POINTS, |chunk: Vec<Point>| {
            points += black_box(chunk).len() as u64;
        })
        .expect("the bodies are valid");
    }
    points
}

/// [`parse_pass`], every point then going through `task`.
#[inline(never)]
fn task_pass(
    bodies: &[String],
    target: &Target,
    limits: &Limits,
    task: &mut Task,
    sink: &mut Sink,
) -> u64 {
    let mut points = 0;
    for body in bodies {
        ingest::parse_checked(body, target, limits, CHUNK_POINTS, |chunk: Vec<Point>| {
            points += chunk.len() as u64;
            for point in chunk {
                task.process_owned(point, sink);
            }
        })
        .expect("the bodies are valid");
    }
    points
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "parse".to_owned());
    let passes: usize = args
        .next()
        .map(|n| n.parse().expect("the number of passes is a number"))
        .unwrap_or(1);
    let bodies = bodies();
    let target = target();
    let limits = Limits::default();
    let points: u64 = match mode.as_str() {
        "parse" => (0..passes)
            .map(|_| parse_pass(&bodies, &target, &limits))
            .sum(),
        "task" => {
            let registry = Registry::linked().expect("the linked handler registry");
            let mut task = Task::compile("bench", TASK, &registry, &ServerInfo::default())
                .expect("the bench task compiles");
            let mut sink = Sink::default();
            // A first pass outside the measurement creates every group, as the bench's
            // warm-up does.
            for body in &bodies {
                for point in ingest::parse(body, "bench", "autogen", Precision::Seconds, target.now)
                    .expect("the bodies are valid")
                {
                    task.process(&point, &mut sink);
                }
            }
            let points = (0..passes)
                .map(|_| task_pass(&bodies, &target, &limits, &mut task, &mut sink))
                .sum();
            assert_eq!((sink.errors, sink.events), (0, 0));
            points
        }
        other => {
            eprintln!("unknown mode {other:?}; use parse or task");
            std::process::exit(2);
        }
    };
    println!("{points} points");
}
