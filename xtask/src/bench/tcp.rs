//! Scenario 2, tcp delivery: every point triggers an alert with an inline `.tcp()` handler to a
//! counting listener here. Figures: events per second, and the latency from the write to the
//! receipt at 1 000 events/s. Baseline: this process's own connect, write, close loop against
//! the same listener. The throughput is measured with durable delivery (the default) and
//! without (`[alert] durable-delivery = false`), in alternating pairs.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Ctx;
use super::delivery::{self, ALERT_CONFIG, ALERT_CONFIG_IN_MEMORY, Receiver};
use super::http::Conn;
use super::procfs::listen_overflows;
use super::report::{Measure, Row, ScenarioReport, Target, p50_p99};
use super::server::{Klaxond, write};

const MEASUREMENT: &str = "tcpbench";
/// The paced rate of the latency phase.
const PACED_PER_SECOND: u64 = 1000;
/// Points per write in the latency phase: a write every 10 ms, as a collector batching its
/// points sends them.
const PACED_BATCH: u64 = 10;
/// Connections the baseline has sent that the sink has not finished reading yet, at most.
const IN_FLIGHT: u64 = 64;

/// A TCP listener that reads each connection to its end and counts it, as the tcp handler's
/// receivers do. One thread, connections one after another, as the handler sends them; the
/// (seq, receipt time) of every payload is kept for the latency.
#[derive(Debug)]
pub struct TcpSink {
    addr: SocketAddr,
    receiver: Receiver,
    receipts: Arc<Mutex<Vec<(u64, Instant)>>>,
}

impl TcpSink {
    pub fn bind() -> Result<TcpSink> {
        let receipts = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&receipts);
        let mut buffer = Vec::with_capacity(4096);
        let receiver = Receiver::listen("the tcp handler", move |mut stream, seen| {
            buffer.clear();
            if stream.read_to_end(&mut buffer).is_err() || buffer.is_empty() {
                return;
            }
            let received = Instant::now();
            if let Some(seq) = delivery::message_seq(&buffer) {
                shared
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((seq, received));
            }
            seen.record(&buffer);
            // Close with a reset once the sender has closed its side: the sender's socket then
            // skips TIME_WAIT. A connection per event, klaxond's and the baseline's alike,
            // otherwise leaves tens of thousands of local ports in TIME_WAIT, and connect()
            // slows down searching that range: the figures went bimodal (docs/benchmarks.md).
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        })?;
        Ok(TcpSink {
            addr: receiver.addr,
            receiver,
            receipts,
        })
    }

    pub fn count(&self) -> u64 {
        self.receiver.seen.count()
    }

    fn backlog(&self) -> i32 {
        self.receiver.backlog
    }

    fn take_receipts(&self) -> Vec<(u64, Instant)> {
        std::mem::take(&mut *self.receipts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn sample(&self) -> Vec<u8> {
        self.receiver.seen.sample()
    }
}

/// The baseline: connect, write `payload`, close, in a loop for `phase`; the rate counts what
/// the sink received.
fn connect_write_close(
    server: &mut Klaxond,
    sink: &TcpSink,
    payload: &[u8],
    phase: Duration,
) -> Result<Measure> {
    use std::io::Write;
    let before = sink.count();
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < phase {
        // Stay within the listen backlog: a full accept queue drops SYNs, and the kernel
        // retries them after a second, which would measure the backlog, not the loop.
        while sent.saturating_sub(sink.count().saturating_sub(before)) >= IN_FLIGHT {
            std::thread::yield_now();
        }
        let mut stream = TcpStream::connect(sink.addr)
            .with_context(|| format!("cannot connect to the sink at {}", sink.addr))?;
        stream.write_all(payload)?;
        drop(stream);
        sent += 1;
    }
    let done = delivery::wait_for_count(
        server,
        "the baseline's connections",
        before + sent,
        Duration::from_secs(30),
        &|| sink.count(),
    )?;
    Ok(Measure::rate(sent, done - start, "events/s"))
}

/// Writes `PACED_BATCH` points per request at `PACED_PER_SECOND` points a second for `phase`
/// and returns the latencies (start of the write to receipt of the payload) in milliseconds, and
/// the rate reached.
fn paced(
    server: &mut Klaxond,
    sink: &TcpSink,
    first_seq: u64,
    phase: Duration,
) -> Result<(Vec<f64>, f64)> {
    let writes = (PACED_PER_SECOND as f64 / PACED_BATCH as f64 * phase.as_secs_f64()) as u64;
    let n = writes * PACED_BATCH;
    let interval = Duration::from_secs(1) * PACED_BATCH as u32 / PACED_PER_SECOND as u32;
    sink.take_receipts();
    let before = sink.count();
    let mut conn = Conn::open(server.addr())?;
    let mut sent_at = Vec::with_capacity(writes as usize);
    let start = Instant::now();
    for i in 0..writes {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let seq = first_seq + i * PACED_BATCH;
        sent_at.push(Instant::now());
        write(
            &mut conn,
            &delivery::points(MEASUREMENT, seq..seq + PACED_BATCH),
        )?;
    }
    let sending = start.elapsed();
    delivery::wait_for_count(
        server,
        "the paced events",
        before + n,
        Duration::from_secs(60),
        &|| sink.count(),
    )?;
    let mut latencies = Vec::with_capacity(n as usize);
    for (seq, received) in sink.take_receipts() {
        let Some(sent) = seq
            .checked_sub(first_seq)
            .and_then(|i| sent_at.get((i / PACED_BATCH) as usize))
        else {
            bail!("the sink received seq {seq}, which the paced phase never sent");
        };
        latencies.push(received.saturating_duration_since(*sent).as_secs_f64() * 1e3);
    }
    Ok((latencies, n as f64 / sending.as_secs_f64()))
}

pub fn run(ctx: &Ctx) -> Result<ScenarioReport> {
    let sink = TcpSink::bind()?;
    let overflows_before = listen_overflows().ok();
    ctx.progress("starting klaxond");
    let mut server = Klaxond::start(&ctx.klaxond, "tcp", ALERT_CONFIG)?;
    let task = delivery::task(MEASUREMENT, &format!(".tcp('{}')", sink.addr));
    server.define_task("tcp", &task)?;
    let count = || sink.count();
    delivery::first_event(&mut server, MEASUREMENT, 0, &count)?;
    let payload = sink.sample();

    let phase = ctx.phase();
    ctx.progress(&format!(
        "the baseline before each pair: connect, write {} bytes, close, for {phase:?}",
        payload.len()
    ));
    let in_memory = delivery::InMemory {
        label: "tcp",
        config: ALERT_CONFIG_IN_MEMORY,
        task: &task,
        measurement: MEASUREMENT,
    };
    let durability = delivery::durable_and_in_memory(
        ctx,
        &mut server,
        &in_memory,
        &mut |server| connect_write_close(server, &sink, &payload, phase),
        &count,
    )?;
    let baseline = durability.baseline();

    let paced_phase = ctx.pick(Duration::from_secs(5), Duration::from_secs(1));
    ctx.progress(&format!(
        "latency: {PACED_PER_SECOND} events/s, {PACED_BATCH} points per write, for {paced_phase:?}"
    ));
    let (latencies, paced_rate) = paced(&mut server, &sink, durability.next_seq, paced_phase)?;
    let samples = latencies.len();
    let (p50, p99) = p50_p99(latencies, "tcp latency")?;
    const BASELINE: &str = "the generator's own connect, write, close loop to the same listener";
    let mut rows = vec![
        Row::new("events/s delivered", durability.durable())
            .baseline(baseline.clone(), BASELINE)
            .target(Target::ratio_at_least(0.9)),
    ];
    rows.extend(durability.rows(&baseline, BASELINE));
    rows.extend([
        Row::new(
            format!("write to receipt p50, {paced_rate:.0} of {PACED_PER_SECOND} events/s reached"),
            Measure::new(p50, "ms"),
        ),
        Row::new(
            format!("write to receipt p99, {paced_rate:.0} of {PACED_PER_SECOND} events/s reached"),
            Measure::new(p99, "ms"),
        )
        .target(Target::below(5.0)),
    ]);
    let mut notes = vec![
        durability.note(),
        format!("latency (durable) over {samples} events paced at {paced_rate:.0}/s"),
    ];
    // Machine-wide, so another program's overflows count too; any at all make a phase's figure
    // suspect (a dropped SYN costs its connection a second).
    if let (Some(before), Ok(after)) = (overflows_before, listen_overflows()) {
        notes.push(format!(
            "listen queue overflows on this machine during the scenario: {} (the sink's queue \
             holds {} connections)",
            after.saturating_sub(before),
            sink.backlog(),
        ));
    }
    Ok(ScenarioReport {
        rows,
        generator_cpu: Some(durability.used.generator),
        server_cpu: Some(durability.used.server),
        notes,
        ..ScenarioReport::default()
    })
}
