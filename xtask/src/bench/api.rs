//! Scenario 6, the API under load: the latency of `GET /kapacitor/v1/alerts/topics` while the
//! ingest load of scenario 1 runs. Baseline: the same request against the same server, idle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::Ctx;
use super::http::Conn;
use super::ingest::{self, CONNECTIONS};
use super::procfs::CpuMeter;
use super::report::{Measure, Row, ScenarioReport, Target, p50_p99};
use super::server::Klaxond;

/// The pause between two API requests: a dashboard polling hard, not a second load.
const PAUSE: Duration = Duration::from_millis(10);

const PATH: &str = "/kapacitor/v1/alerts/topics";

/// Requests `PATH` on a new connection each time (as a CLI or a dashboard polling does) until
/// `stop` is set or `duration` has passed; returns the latencies in milliseconds.
fn poll(addr: SocketAddr, duration: Duration, stop: &AtomicBool) -> Result<Vec<f64>> {
    let start = Instant::now();
    let mut samples = Vec::new();
    while start.elapsed() < duration && !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        let response = Conn::open(addr)?.get(PATH)?;
        let took = sent.elapsed();
        if response.status != 200 {
            bail!(
                "GET {PATH} answered {}: {}",
                response.status,
                response.text()
            );
        }
        samples.push(took.as_secs_f64() * 1e3);
        std::thread::sleep(PAUSE);
    }
    Ok(samples)
}

pub fn run(ctx: &Ctx) -> Result<ScenarioReport> {
    let bodies = Arc::new(ingest::bodies());
    let phase = ctx.phase();
    ctx.progress("starting klaxond");
    let mut server = Klaxond::start(&ctx.klaxond, "api", "")?;
    server.define_task("ingest", ingest::TASK)?;
    ingest::warm_up(server.addr(), &bodies)?;
    let addr = server.addr();

    ctx.progress(&format!(
        "baseline: GET {PATH} on the idle server for {phase:?}"
    ));
    let idle = poll(addr, phase, &AtomicBool::new(false))?;
    let idle_count = idle.len();
    let (idle_p50, idle_p99) = p50_p99(idle, "idle API latency")?;

    ctx.progress(&format!(
        "GET {PATH} while {CONNECTIONS} connections post the ingest load, {phase:?}"
    ));
    let stop = AtomicBool::new(false);
    let cpu = CpuMeter::start(server.pid())?;
    let (loaded, load) = std::thread::scope(|scope| {
        let poller = scope.spawn(|| poll(addr, phase * 10, &stop));
        let load = ingest::drive(addr, &bodies, CONNECTIONS, phase);
        stop.store(true, Ordering::Relaxed);
        (poller.join().expect("poller thread panicked"), load)
    });
    let used = cpu.stop()?;
    let (loaded, load) = (loaded?, load?);
    server.check_alive("during the API scenario")?;
    let loaded_count = loaded.len();
    let (p50, p99) = p50_p99(loaded, "API latency under load")?;
    Ok(ScenarioReport {
        rows: vec![
            Row::new(
                format!("GET {PATH} p99 under ingest load"),
                Measure::new(p99, "ms"),
            )
            .baseline(
                Measure::new(idle_p99, "ms"),
                "p99 of the same request on the idle server",
            )
            .target(Target::below(50.0)),
            Row::new(
                format!("GET {PATH} p50 under ingest load"),
                Measure::new(p50, "ms"),
            )
            .baseline(
                Measure::new(idle_p50, "ms"),
                "p50 of the same request on the idle server",
            ),
            Row::new("ingest while polling", load.rate()),
        ],
        generator_cpu: Some(used.generator),
        server_cpu: Some(used.server),
        notes: vec![format!(
            "{loaded_count} requests under load, {idle_count} idle; a new connection per request, {} ms apart",
            PAUSE.as_millis()
        )],
        ..ScenarioReport::default()
    })
}
