//! Scenario 5, state memory: distinct series (1 000 000 in a full run) through an alert task with
//! `stateChangesOnly`, half of them CRITICAL. Figures: resident memory per series once settled
//! (VmRSS minus the idle VmRSS measured before the writes, over the series), and the time to
//! restart with that state persisted. Baseline of the restart: the first start of the same
//! server with an empty data dir.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Ctx;
use super::http::Conn;
use super::ingest;
use super::procfs::{CpuMeter, rss_bytes};
use super::report::{Measure, Row, ScenarioReport, Target};
use super::server::{Klaxond, write};

const TASK: &str = "stream
    |from()
        .measurement('state')
        .groupBy('host')
    |alert()
        .crit(lambda: \"value\" > 50)
        .stateChangesOnly()
        .topic('state')
";

const TOPIC: &str = "state";
const BODY_POINTS: usize = 5_000;

/// One body of `BODY_POINTS` series from `first`: even series CRITICAL (value 100), odd OK.
fn body(first: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(BODY_POINTS * 40);
    for i in first..first + BODY_POINTS {
        let value = if i % 2 == 0 { 100 } else { 0 };
        body.extend_from_slice(format!("state,host=h{i:07} value={value}\n").as_bytes());
    }
    body
}

/// VmRSS once it stops moving: samples every 250 ms until two in a row differ by under 0.5 %,
/// or 20 s have passed.
fn settled_rss(pid: u32) -> Result<u64> {
    let start = Instant::now();
    let mut last = rss_bytes(pid)?;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = rss_bytes(pid)?;
        if now.abs_diff(last) * 200 < last || start.elapsed() > Duration::from_secs(20) {
            return Ok(now);
        }
        last = now;
    }
}

/// `GET <path>` as JSON, or `None` on 404.
fn get_json(server: &Klaxond, path: &str) -> Result<Option<serde_json::Value>> {
    let response = Conn::open(server.addr())?.get(path)?;
    match response.status {
        200 => Ok(Some(
            serde_json::from_slice(&response.body)
                .with_context(|| format!("GET {path}: the answer is not JSON"))?,
        )),
        404 => Ok(None),
        status => bail!("GET {path}: {status} {}", response.text()),
    }
}

/// Checks that the topic is CRITICAL with `critical` events collected.
fn check_topic(server: &Klaxond, critical: usize) -> Result<()> {
    let topic = get_json(server, &format!("/kapacitor/v1/alerts/topics/{TOPIC}"))?
        .with_context(|| format!("topic {TOPIC} does not exist after the writes"))?;
    if topic["level"] != "CRITICAL" || topic["collected"] != critical {
        bail!(
            "topic {TOPIC} is {} with {} events collected; expected CRITICAL with {critical}",
            topic["level"],
            topic["collected"]
        );
    }
    Ok(())
}

/// The level of series `i`'s event in the topic, if it has one (the event ID is
/// `{{ .Name }}:{{ .Group }}`).
fn event_level(server: &Klaxond, i: usize) -> Result<Option<String>> {
    let path = format!("/kapacitor/v1/alerts/topics/{TOPIC}/events/state:host=h{i:07}");
    Ok(get_json(server, &path)?.map(|event| event["state"]["level"].to_string()))
}

/// Checks, after a restart, that the first and last CRITICAL series kept their state and that
/// an OK series has none.
fn check_restored(server: &Klaxond, series: usize) -> Result<()> {
    for i in [0, series - 2] {
        let level = event_level(server, i)?;
        if level.as_deref() != Some("\"CRITICAL\"") {
            bail!(
                "after the restart series h{i:07} has level {level:?} in topic {TOPIC}, not CRITICAL"
            );
        }
    }
    if let Some(level) = event_level(server, 1)? {
        bail!("after the restart the OK series h0000001 has an event of level {level}");
    }
    Ok(())
}

pub fn run(ctx: &Ctx) -> Result<ScenarioReport> {
    let series: usize = ctx.pick(1_000_000, 10_000);
    ctx.progress("starting klaxond with an empty data dir");
    let mut server = Klaxond::start(&ctx.klaxond, "state", "")?;
    // The first start's time is not the baseline: the binary may be cold. Restart once, empty.
    server.stop()?;
    let empty_start = server.spawn()?;
    server.define_task("state", TASK)?;
    let idle = settled_rss(server.pid())?;

    ctx.progress(&format!(
        "writing {series} series, half CRITICAL, {} connections",
        ingest::CONNECTIONS
    ));
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..series / BODY_POINTS)
            .map(|b| body(b * BODY_POINTS))
            .collect(),
    );
    let cpu = CpuMeter::start(server.pid())?;
    let start = Instant::now();
    let addr = server.addr();
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..ingest::CONNECTIONS)
            .map(|c| {
                let bodies = Arc::clone(&bodies);
                scope.spawn(move || -> Result<()> {
                    let mut conn = Conn::open(addr)?;
                    for body in bodies.iter().skip(c).step_by(ingest::CONNECTIONS) {
                        write(&mut conn, body)?;
                    }
                    Ok(())
                })
            })
            .collect();
        writers
            .into_iter()
            .try_for_each(|w| w.join().expect("writer thread panicked"))
    })?;
    let written = start.elapsed();
    let used = cpu.stop()?;
    server.check_alive("after the writes")?;
    ctx.progress("waiting for the resident memory to settle");
    let settled = settled_rss(server.pid())?;
    let critical = series / 2;
    check_topic(&server, critical)?;
    let per_series = settled.saturating_sub(idle) as f64 / series as f64;

    ctx.progress("restarting with the state persisted");
    let stop = server.stop()?;
    let restart = server.spawn()?;
    check_restored(&server, series)?;
    let rss_restarted = rss_bytes(server.pid())?;
    Ok(ScenarioReport {
        rows: vec![
            Row::new(
                format!("RSS per series, {series} series"),
                Measure::new(per_series, "bytes"),
            )
            .target(Target::below(300.0)),
            Row::new("restart to ping with the state", Measure::millis(restart)).baseline(
                Measure::millis(empty_start),
                "the same server starting with an empty data dir",
            ),
            Row::new(
                "series written per second",
                Measure::rate(series as u64, written, "series/s"),
            ),
        ],
        generator_cpu: Some(used.generator),
        server_cpu: Some(used.server),
        notes: vec![format!(
            "idle RSS {:.1} MiB, settled {:.1} MiB, {:.1} MiB after the restart; shutdown took {:.0} ms; {critical} CRITICAL events kept",
            idle as f64 / 1048576.0,
            settled as f64 / 1048576.0,
            rss_restarted as f64 / 1048576.0,
            stop.as_secs_f64() * 1e3
        )],
        ..ScenarioReport::default()
    })
}
