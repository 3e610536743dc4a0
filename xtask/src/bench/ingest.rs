//! Scenario 1, ingest: line protocol over `POST /write` in 5 000-point bodies on several
//! connections into one stream task over 10 000 series whose alert levels never trigger.
//! `/write` answers 204 only after every point of the body went through the tasks, so points
//! acknowledged are points processed. Baseline: the same bodies parsed in-process by the same
//! parser (`klaxon_pipeline::ingest::parse`) on one thread.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use klaxon_pipeline::ingest::{self, Precision};

use super::Ctx;
use super::http::Conn;
use super::influxd::Influxd;
use super::procfs::CpuMeter;
use super::report::{Measure, Row, ScenarioReport, Target};
use super::server::{Klaxond, write};

/// Distinct series (hosts).
pub const SERIES: usize = 10_000;
/// Points per `/write` body.
pub const BODY_POINTS: usize = 5_000;
/// Concurrent connections posting bodies.
pub const CONNECTIONS: usize = 4;
/// Rounds of bodies generated (each round covers every series once, at its own second).
const ROUNDS: usize = 4;

/// The task: a where filter that keeps every point, one alert group per host, and levels that
/// never trigger (usage_idle is always between 20 and 100).
pub const TASK: &str = "stream
    |from()
        .measurement('cpu')
        .where(lambda: \"usage_idle\" >= 0.0)
        .groupBy('host')
    |alert()
        .warn(lambda: \"usage_idle\" < 5.0)
        .crit(lambda: \"usage_idle\" < 1.0)
";

/// `ROUNDS * SERIES / BODY_POINTS` bodies of line protocol with second-precision timestamps, as
/// Telegraf writes them: two tags, three fields.
pub fn bodies() -> Vec<Vec<u8>> {
    let base = 1_700_000_000u64;
    let mut bodies = Vec::new();
    for round in 0..ROUNDS {
        for chunk in 0..SERIES / BODY_POINTS {
            let mut body = Vec::with_capacity(BODY_POINTS * 90);
            for i in chunk * BODY_POINTS..(chunk + 1) * BODY_POINTS {
                let idle = 20.0 + ((i * 7 + round * 13) % 800) as f64 / 10.0;
                body.extend_from_slice(
                    format!(
                        "cpu,host=host{i:05},region=region{} usage_idle={idle:.1},usage_user={:.1},usage_system={:.1} {}\n",
                        i % 8,
                        (100.0 - idle) * 0.7,
                        (100.0 - idle) * 0.3,
                        base + round as u64
                    )
                    .as_bytes(),
                );
            }
            bodies.push(body);
        }
    }
    bodies
}

/// How much was written and how long it took.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub points: u64,
    pub elapsed: Duration,
}

impl Load {
    pub fn rate(&self) -> Measure {
        Measure::rate(self.points, self.elapsed, "points/s")
    }
}

/// Posts `bodies` round-robin over `connections` connections until `duration` has passed; the
/// elapsed time runs to the last acknowledgement.
pub fn drive(
    addr: SocketAddr,
    bodies: &Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
) -> Result<Load> {
    let start = Instant::now();
    let points = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|c| {
                let bodies = Arc::clone(bodies);
                scope.spawn(move || -> Result<u64> {
                    let mut conn = Conn::open(addr)
                        .with_context(|| format!("cannot connect to klaxond at {addr}"))?;
                    let mut points = 0u64;
                    let mut i = c;
                    while start.elapsed() < duration {
                        write(&mut conn, &bodies[i % bodies.len()])?;
                        points += BODY_POINTS as u64;
                        i += connections;
                    }
                    Ok(points)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("writer thread panicked"))
            .sum::<Result<u64>>()
    })?;
    Ok(Load {
        points,
        elapsed: start.elapsed(),
    })
}

/// Parses `bodies` round-robin in this thread until `duration` has passed.
pub fn parse_in_process(bodies: &[Vec<u8>], duration: Duration) -> Result<Load> {
    let texts: Vec<&str> = bodies
        .iter()
        .map(|b| std::str::from_utf8(b))
        .collect::<Result<_, _>>()?;
    let now = klaxon_core::Timestamp::now();
    let start = Instant::now();
    let mut points = 0u64;
    let mut i = 0;
    while start.elapsed() < duration {
        let parsed = ingest::parse(
            texts[i % texts.len()],
            "bench",
            "autogen",
            Precision::Seconds,
            now,
        )?;
        points += black_box(parsed).len() as u64;
        i += 1;
    }
    Ok(Load {
        points,
        elapsed: start.elapsed(),
    })
}

/// Writes every body once to the server at `addr`, so that every group (or, in InfluxDB, every
/// series and shard) exists before a measurement.
pub fn warm_up(addr: SocketAddr, bodies: &[Vec<u8>]) -> Result<()> {
    let mut conn = Conn::open(addr)?;
    for body in bodies {
        write(&mut conn, body)?;
    }
    Ok(())
}

/// The task's point errors (`stats.task-stats.point-errors` of `GET /kapacitor/v1/tasks/<id>`).
pub fn point_errors(server: &Klaxond, task: &str) -> Result<u64> {
    let response = Conn::open(server.addr())?.get(&format!("/kapacitor/v1/tasks/{task}"))?;
    if response.status != 200 {
        bail!("GET /kapacitor/v1/tasks/{task}: {}", response.text());
    }
    let json: serde_json::Value = serde_json::from_slice(&response.body)?;
    json["stats"]["task-stats"]["point-errors"]
        .as_u64()
        .context("the task has no stats.task-stats.point-errors")
}

pub fn run(ctx: &Ctx) -> Result<ScenarioReport> {
    let bodies = Arc::new(bodies());
    let phase = ctx.pick(Duration::from_secs(10), Duration::from_secs(1));
    ctx.progress(&format!(
        "baseline: the same bodies parsed in-process, one thread, {phase:?}"
    ));
    let baseline = parse_in_process(&bodies, phase)?;

    ctx.progress("starting klaxond");
    let mut server = Klaxond::start(&ctx.klaxond, "ingest", "")?;
    server.define_task("ingest", TASK)?;
    ctx.progress("warm-up: every series once");
    warm_up(server.addr(), &bodies)?;
    ctx.progress(&format!(
        "{CONNECTIONS} connections posting {BODY_POINTS}-point bodies for {phase:?}"
    ));
    let cpu = CpuMeter::start(server.pid())?;
    let load = drive(server.addr(), &bodies, CONNECTIONS, phase)?;
    let used = cpu.stop()?;
    server.check_alive("during the ingest")?;
    let errors = point_errors(&server, "ingest")?;
    if errors != 0 {
        bail!("the ingest task reported {errors} point errors");
    }
    drop(server);
    let mut notes = vec![format!(
        "{} points in {:.2} s over {CONNECTIONS} connections, {SERIES} series, {BODY_POINTS}-point bodies",
        load.points,
        load.elapsed.as_secs_f64()
    )];
    let mut rows = vec![
        Row::new("points/s through /write and the task", load.rate())
            .baseline(
                baseline.rate(),
                "the same bodies parsed in-process by klaxon_pipeline::ingest::parse, one thread",
            )
            .target(Target::at_least(1_000_000.0)),
    ];
    match Influxd::binary() {
        Some(binary) => {
            let peer = influxdb_peer(ctx, &binary, &bodies, phase)?;
            notes.push(format!(
                "InfluxDB ({}): {} points in {:.2} s, same bodies, connections and generator",
                binary.display(),
                peer.points,
                peer.elapsed.as_secs_f64()
            ));
            rows.push(
                Row::new("points/s against InfluxDB 1.x's /write", load.rate())
                    .baseline(
                        peer.rate(),
                        "InfluxDB 1.x's own /write with the same bodies and generator, same run",
                    )
                    .target(Target::ratio_at_least(4.0)),
            );
        }
        None => notes.push(
            "influxd is not installed: no InfluxDB row (Debian's influxdb package has it)"
                .to_owned(),
        ),
    }
    Ok(ScenarioReport {
        rows,
        generator_cpu: Some(used.generator),
        server_cpu: Some(used.server),
        notes,
        ..ScenarioReport::default()
    })
}

/// InfluxDB's `/write` under the same load, after Klaxon's phase (one server at a time).
fn influxdb_peer(
    ctx: &Ctx,
    binary: &std::path::Path,
    bodies: &Arc<Vec<Vec<u8>>>,
    phase: Duration,
) -> Result<Load> {
    ctx.progress("peer: starting InfluxDB");
    let influxd = Influxd::start(binary)?;
    ctx.progress("peer: warm-up, every series once");
    warm_up(influxd.addr(), bodies)?;
    ctx.progress(&format!(
        "peer: {CONNECTIONS} connections posting the same bodies to InfluxDB for {phase:?}"
    ));
    drive(influxd.addr(), bodies, CONNECTIONS, phase)
}
