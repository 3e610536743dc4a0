//! What the delivery scenarios (tcp, exec, foo) share: a task where every point triggers an
//! alert whose message is the point's `seq` field, points written in batches, and waiting for a
//! receiver to count the events.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::http::Conn;
use super::procfs::{CpuMeter, CpuUse};
use super::report::{Measure, Row, Target, fmt_number};
use super::server::{Klaxond, write};

/// The `[alert]` section of the delivery scenarios: a queue long enough that writing a whole
/// phase at once drops nothing, so the figure is the delivery rate, not the queue's length.
pub const ALERT_CONFIG: &str = "[alert]\ntopic-buffer-length = 500000\n";

/// [`ALERT_CONFIG`] with durable delivery off (`[alert] durable-delivery = false`): events wait
/// in memory only, as Kapacitor's do. The comparison server of [`durable_and_in_memory`].
pub const ALERT_CONFIG_IN_MEMORY: &str =
    "[alert]\ntopic-buffer-length = 500000\ndurable-delivery = false\n";

/// Points per `/write` body when writing events.
const BODY_POINTS: u64 = 500;

/// A stream task on `measurement` whose every point is CRITICAL, with message `<seq>`, and
/// `handlers` (TICKscript property calls such as `.tcp('127.0.0.1:7777')`).
pub fn task(measurement: &str, handlers: &str) -> String {
    format!(
        "stream
    |from()
        .measurement('{measurement}')
    |alert()
        .crit(lambda: \"seq\" >= 0)
        .message('{{{{ index .Fields \"seq\" }}}}')
        {handlers}
"
    )
}

/// Line protocol for the points `seqs` of `measurement`, one line each.
pub fn points(measurement: &str, seqs: std::ops::Range<u64>) -> Vec<u8> {
    let mut body = Vec::with_capacity((seqs.end - seqs.start) as usize * 40);
    for seq in seqs {
        body.extend_from_slice(format!("{measurement},host=bench seq={seq}i\n").as_bytes());
    }
    body
}

/// The `seq` an alert's message carries: the digits after `"message":"` in the alert JSON or
/// a Foo post.
pub fn message_seq(payload: &[u8]) -> Option<u64> {
    let key = b"\"message\":\"";
    let at = payload.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = payload[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&payload[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// What a receiver in the generator has seen: how many payloads, and the first one.
#[derive(Debug, Default)]
pub struct Seen {
    count: AtomicU64,
    stop: AtomicBool,
    sample: Mutex<Vec<u8>>,
}

impl Seen {
    /// Counts `payload`, and keeps it if it is the first.
    pub fn record(&self, payload: &[u8]) {
        {
            let mut sample = self.sample.lock().unwrap_or_else(|e| e.into_inner());
            if sample.is_empty() {
                sample.extend_from_slice(payload);
            }
        }
        self.count.fetch_add(1, Ordering::Release);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    pub fn sample(&self) -> Vec<u8> {
        self.sample
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A listener on an ephemeral loopback port whose accept loop hands each connection to
/// `on_connection`, until the receiver is dropped.
#[derive(Debug)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    /// The accept queue's length asked for.
    pub backlog: i32,
}

impl Receiver {
    pub fn listen(
        what: &str,
        mut on_connection: impl FnMut(TcpStream, &Arc<Seen>) + Send + 'static,
    ) -> Result<Receiver> {
        let (listener, backlog) = listen_loopback().with_context(|| {
            format!("cannot listen on 127.0.0.1 (an ephemeral port) for {what}")
        })?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Seen::default());
        let shared = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    on_connection(stream, &shared);
                }
            }
        });
        Ok(Receiver {
            addr,
            seen,
            backlog,
        })
    }
}

/// A listener on an ephemeral loopback port with the kernel's largest accept queue
/// (`net.core.somaxconn`), as Go's `net.Listen` makes, where std's `TcpListener` asks for 128.
/// A sender that opens a connection per event runs ahead of a receiver reading them one by one;
/// once the queue is full the kernel drops the next SYN and the sender's kernel sends it again
/// only after a second. With 128 a single such stall halved a tcp phase's rate, so the figures
/// measured the queue, not klaxond (docs/benchmarks.md, tcp).
fn listen_loopback() -> std::io::Result<(TcpListener, i32)> {
    use socket2::{Domain, Socket, Type};
    let backlog = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096);
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.listen(backlog)?;
    Ok((socket.into(), backlog))
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.seen.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// How many events a server phase sends: what the baseline managed in `phase`, within bounds.
pub fn events_for(baseline_per_second: f64, phase: Duration, min: u64, max: u64) -> u64 {
    ((baseline_per_second * phase.as_secs_f64()) as u64).clamp(min, max)
}

/// Waits until `count()` reaches `target`; returns when it did. `what` and the server's log
/// name the problem if it never does.
pub fn wait_for_count(
    server: &mut Klaxond,
    what: &str,
    target: u64,
    deadline: Duration,
    count: &dyn Fn() -> u64,
) -> Result<Instant> {
    let start = Instant::now();
    loop {
        let now = Instant::now();
        let seen = count();
        if seen >= target {
            return Ok(now);
        }
        server.check_alive(&format!("while delivering {what}"))?;
        if start.elapsed() > deadline {
            let log = server.log_text();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            bail!(
                "{what}: {seen} of {target} arrived within {deadline:?}; klaxond's last log lines:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// The server's delivery rate: `points` points of `measurement` (seq from `first_seq`) written
/// as fast as klaxond takes them, each giving `per_point` events, timed from the first write to
/// the moment `count()` has grown by all of them.
pub struct ServerPhase<'a> {
    pub measurement: &'a str,
    pub first_seq: u64,
    pub points: u64,
    pub per_point: u64,
    pub deadline: Duration,
}

impl ServerPhase<'_> {
    pub fn run(&self, server: &mut Klaxond, count: &dyn Fn() -> u64) -> Result<(Measure, CpuUse)> {
        let before = count();
        let events = self.points * self.per_point;
        let cpu = CpuMeter::start(server.pid())?;
        let start = Instant::now();
        let mut conn = Conn::open(server.addr())?;
        let mut seq = self.first_seq;
        let end = self.first_seq + self.points;
        while seq < end {
            let next = (seq + BODY_POINTS).min(end);
            write(&mut conn, &points(self.measurement, seq..next))?;
            seq = next;
        }
        let done = wait_for_count(
            server,
            &format!("{events} events"),
            before + events,
            self.deadline,
            count,
        )?;
        let used = cpu.stop()?;
        Ok((Measure::rate(events, done - start, "events/s"), used))
    }
}

/// The server phase matched to a baseline: as many events as the baseline delivered in `phase`
/// (within bounds), `per_point` events to a point. Returns the rate, the CPU used and the
/// number of events.
pub fn matched_phase(
    ctx: &super::Ctx,
    server: &mut Klaxond,
    measurement: &str,
    baseline: &Measure,
    per_point: u64,
    count: &dyn Fn() -> u64,
) -> Result<(Measure, CpuUse, u64)> {
    let phase = ctx.phase();
    // Capped: where klaxond is far slower than its baseline, a phase sized by the baseline alone
    // would run for minutes.
    let events = events_for(baseline.value, phase, 20, ctx.pick(20_000, 1_000));
    let points = (events / per_point).max(1);
    ctx.progress(&format!("klaxond delivering {} events", points * per_point));
    let (rate, used) = ServerPhase {
        measurement,
        first_seq: 1,
        points,
        per_point,
        deadline: phase * 60 + Duration::from_secs(30),
    }
    .run(server, count)?;
    Ok((rate, used, points * per_point))
}

/// The cost of durable delivery: the same server phase on a klaxond with the outbox (the
/// default) and on one with `[alert] durable-delivery = false`, in alternating pairs, so that a
/// change in the load of the shared machine weighs on both sides alike.
#[derive(Debug)]
pub struct Durability {
    /// Each pair's rates: (durable, in memory).
    pub pairs: Vec<(Measure, Measure)>,
    /// The baseline measured before each pair.
    pub baselines: Vec<Measure>,
    /// The CPU of the first durable phase.
    pub used: CpuUse,
    /// Events per phase.
    pub events: u64,
    /// The first seq no phase used.
    pub next_seq: u64,
}

impl Durability {
    /// The median baseline, of the runs before each pair.
    pub fn baseline(&self) -> Measure {
        median(self.baselines.iter())
    }

    /// The median durable rate.
    pub fn durable(&self) -> Measure {
        median(self.pairs.iter().map(|(d, _)| d))
    }

    /// The median in-memory rate.
    pub fn in_memory(&self) -> Measure {
        median(self.pairs.iter().map(|(_, m)| m))
    }

    /// The rows every delivery scenario reports after its main one: the in-memory rate against
    /// `baseline`, and the durable rate against the in-memory one (target: within 20 %).
    pub fn rows(&self, baseline: &Measure, baseline_what: &str) -> Vec<Row> {
        vec![
            Row::new(
                "events/s delivered, [alert] durable-delivery = false (in memory)",
                self.in_memory(),
            )
            .baseline(baseline.clone(), baseline_what),
            Row::new(
                "events/s delivered, durable (the outbox) against in memory",
                self.durable(),
            )
            .baseline(
                self.in_memory(),
                format!(
                    "the same phase with [alert] durable-delivery = false; medians of {} \
                     alternating pairs",
                    self.pairs.len()
                ),
            )
            .target(Target::ratio_at_least(0.8)),
        ]
    }

    /// Each pair's figures, for the notes.
    pub fn note(&self) -> String {
        let pairs: Vec<String> = self.pairs.iter().map(|(d, m)| fmt_pair(d, m)).collect();
        let baselines: Vec<String> = self.baselines.iter().map(|b| fmt_number(b.value)).collect();
        format!(
            "durable / in-memory events/s, {} events a phase, pair by pair: {}; baseline before \
             each pair: {}",
            self.events,
            pairs.join(", "),
            baselines.join(", ")
        )
    }
}

/// `a / b (a÷b)`, as the notes show a pair of rates.
pub fn fmt_pair(a: &Measure, b: &Measure) -> String {
    format!(
        "{} / {} ({:.2})",
        fmt_number(a.value),
        fmt_number(b.value),
        a.value / b.value.max(1e-9)
    )
}

/// The median of `measures`: the mean of the middle two for an even count.
pub fn median<'a>(measures: impl Iterator<Item = &'a Measure>) -> Measure {
    let mut values: Vec<&Measure> = measures.collect();
    values.sort_by(|a, b| a.value.total_cmp(&b.value));
    match values.len() {
        0 => Measure::new(0.0, "events/s"),
        n if n % 2 == 1 => values[n / 2].clone(),
        n => Measure::new(
            (values[n / 2 - 1].value + values[n / 2].value) / 2.0,
            values[n / 2].unit,
        ),
    }
}

/// The in-memory side of [`durable_and_in_memory`]: a second klaxond with `config` (which sets
/// `[alert] durable-delivery = false`) running the same task, `label` naming it.
pub struct InMemory<'a> {
    pub label: &'a str,
    pub config: &'a str,
    pub task: &'a str,
    pub measurement: &'a str,
}

/// Runs [`Durability`]'s pairs: `durable` and a klaxond started from `in_memory` run the same
/// task, delivering to the same receiver, whose count is `count()`; `baseline` runs before every
/// pair, so that the baseline too is a median of runs spread over the scenario (the shared
/// machine's load drifts within a minute, and one baseline run put the ratios of a day's runs
/// between 0.73 and 0.97). Each phase sends as many events as the first baseline delivered in a
/// phase (within bounds), seqs from 1. The in-memory server is stopped at the end.
pub fn durable_and_in_memory(
    ctx: &super::Ctx,
    durable: &mut Klaxond,
    in_memory: &InMemory<'_>,
    baseline: &mut dyn FnMut(&mut Klaxond) -> Result<Measure>,
    count: &dyn Fn() -> u64,
) -> Result<Durability> {
    let rounds = ctx.pick(3, 1);
    ctx.progress(&format!("pair 1/{rounds}: the baseline"));
    let first_baseline = baseline(durable)?;
    ctx.progress("starting klaxond with [alert] durable-delivery = false");
    let measurement = in_memory.measurement;
    let mut other = Klaxond::start(
        &ctx.klaxond,
        &format!("{}-in-memory", in_memory.label),
        in_memory.config,
    )?;
    other.define_task(in_memory.label, in_memory.task)?;
    first_event(&mut other, measurement, 0, count)?;
    let in_memory = &mut other;
    let phase = ctx.phase();
    let events = events_for(first_baseline.value, phase, 20, ctx.pick(20_000, 1_000));
    let mut seq = 1;
    let mut pairs = Vec::with_capacity(rounds);
    let mut baselines = vec![first_baseline];
    let mut first_used = None;
    for round in 1..=rounds {
        if round > 1 {
            ctx.progress(&format!("pair {round}/{rounds}: the baseline"));
            baselines.push(baseline(durable)?);
        }
        let mut rates = Vec::with_capacity(2);
        for (server, which) in [(&mut *durable, "durable"), (&mut *in_memory, "in memory")] {
            ctx.progress(&format!(
                "pair {round}/{rounds}: klaxond ({which}) delivering {events} events"
            ));
            let (rate, used) = ServerPhase {
                measurement,
                first_seq: seq,
                points: events,
                per_point: 1,
                deadline: phase * 60 + Duration::from_secs(30),
            }
            .run(server, count)?;
            seq += events;
            first_used.get_or_insert(used);
            rates.push(rate);
        }
        let in_memory_rate = rates.pop().expect("two phases");
        let durable_rate = rates.pop().expect("two phases");
        pairs.push((durable_rate, in_memory_rate));
    }
    Ok(Durability {
        pairs,
        baselines,
        used: first_used.expect("at least one round"),
        events,
        next_seq: seq,
    })
}

/// Writes one point (`seq`) and waits for its event, whose payload `sample()` then returns.
pub fn first_event(
    server: &mut Klaxond,
    measurement: &str,
    seq: u64,
    count: &dyn Fn() -> u64,
) -> Result<()> {
    let before = count();
    write(
        &mut Conn::open(server.addr())?,
        &points(measurement, seq..seq + 1),
    )?;
    wait_for_count(
        server,
        "the first event",
        before + 1,
        Duration::from_secs(30),
        count,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seq_is_read_back_from_the_message() {
        assert_eq!(
            message_seq(br#"{"id":"x:nil","message":"12345","details":""}"#),
            Some(12345)
        );
        assert_eq!(message_seq(br#"{"room":"r","message":"7"}"#), Some(7));
        assert_eq!(message_seq(br#"{"message":"high"}"#), None);
        assert_eq!(message_seq(b"no json"), None);
    }

    #[test]
    fn points_and_task_carry_the_seq() {
        assert_eq!(
            points("m", 3..5),
            b"m,host=bench seq=3i\nm,host=bench seq=4i\n".to_vec()
        );
        let task = task("m", ".tcp('127.0.0.1:1')");
        assert!(
            task.contains(".message('{{ index .Fields \"seq\" }}')"),
            "{task}"
        );
        assert!(task.contains(".measurement('m')"), "{task}");
        assert!(task.trim_end().ends_with(".tcp('127.0.0.1:1')"), "{task}");
    }

    #[test]
    fn phases_are_sized_from_the_baseline_within_bounds() {
        assert_eq!(
            events_for(1000.0, Duration::from_secs(3), 10, 100_000),
            3000
        );
        assert_eq!(events_for(1.0, Duration::from_secs(3), 10, 100_000), 10);
        assert_eq!(
            events_for(1e9, Duration::from_secs(3), 10, 100_000),
            100_000
        );
    }
}
