//! Scenario 7, kafka: the ingest scenario's bodies produced to a six-partition topic of a real
//! Kafka-protocol broker (tansu, as the e2e tests use), consumed by one, two and three klaxonds
//! in a consumer group (`[[kafka-consumer]]`, docs/scale-out.md) with the ingest task. Figures:
//! points per second through the Kafka path for each group size (the baseline: the same bodies
//! over `/write` in the same run), the time for a joining member to get its share, and the time
//! from a SIGKILL to the dead member's partitions being read again. On two cores more members
//! cannot go faster; the figures say what the Kafka path costs and how quickly a group heals.
//! When tansu is not installed the scenario reports nothing but a note.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Ctx;
use super::http::Conn;
use super::ingest;
use super::report::{Measure, Row, ScenarioReport};
use super::server::{Klaxond, TempDir};

const TOPIC: &str = "metrics";
const PARTITIONS: i32 = 6;
/// How long a phase may take before the bench gives up.
const DEADLINE: Duration = Duration::from_secs(300);

/// The consumer section of a member of `group`.
fn consumer(broker: SocketAddr, group: &str) -> String {
    format!(
        "[[kafka-consumer]]\nbrokers = [\"{broker}\"]\ntopics = [\"{TOPIC}\"]\ngroup-id = \"{group}\"\n\
         database = \"bench\"\nprecision = \"s\"\nstart-from = \"earliest\"\n\
         heartbeat-interval = \"300ms\"\nsession-timeout = \"10s\"\nrebalance-timeout = \"5s\"\n"
    )
}

pub fn run(ctx: &Ctx) -> Result<ScenarioReport> {
    let Some(binary) = tansu_binary() else {
        return Ok(ScenarioReport {
            notes: vec![
                "tansu is not installed: no kafka rows (`cargo install tansu --features dynostore,libsql`, as .ci/run does)".to_owned(),
            ],
            ..ScenarioReport::default()
        });
    };
    let copies = ctx.pick(15, 1);
    let one_round = ingest::bodies();
    let bodies: Vec<Vec<u8>> = (0..copies)
        .flat_map(|_| one_round.iter().cloned())
        .collect();
    let points: u64 = bodies
        .iter()
        .map(|b| b.iter().filter(|c| **c == b'\n').count() as u64)
        .sum();

    ctx.progress("baseline: the same bodies over /write");
    let baseline = write_baseline(ctx, &one_round)?;

    ctx.progress("starting tansu and producing the bodies");
    let broker = Tansu::start(&binary)?;
    broker.create_topic(TOPIC, PARTITIONS)?;
    produce(broker.addr, &bodies)?;

    let mut rows = Vec::new();
    let mut notes = vec![format!(
        "{points} points in {} messages of {} points over {PARTITIONS} partitions; tansu {}",
        bodies.len(),
        ingest::BODY_POINTS,
        binary.display()
    )];
    let mut one_member = None;
    let mut members_left = Vec::new();
    for n in 1..=3usize {
        ctx.progress(&format!("{n} member(s) consuming {points} points"));
        let group = format!("bench{n}");
        let mut members = Vec::with_capacity(n);
        for i in 0..n {
            members.push(member(ctx, broker.addr, &group, i)?);
        }
        let started = Instant::now();
        for m in &mut members {
            m.spawn()?;
        }
        let joined = wait(
            || Ok(members.iter().any(|m| owned(m).is_ok_and(|o| o > 0))),
            "a member to own partitions",
        )?;
        let shared = wait(
            || {
                let owned: Result<Vec<usize>> = members.iter().map(owned).collect();
                Ok(owned?.iter().sum::<usize>() == PARTITIONS as usize && owned_evenly(&members)?)
            },
            "the partitions to be shared",
        )?;
        let done = wait(
            || {
                let consumed: Result<Vec<f64>> = members
                    .iter()
                    .map(|m| metric_sum(m, "klaxon_kafka_points_total"))
                    .collect();
                Ok(consumed?.iter().sum::<f64>() as u64 >= points)
            },
            "every point to be consumed",
        )?;
        let rate = Measure::rate(points, done - joined.min(done), "points/s");
        notes.push(format!(
            "{n} member(s): first join {:.2} s after start, partitions shared {:.2} s after start, all consumed {:.2} s after start",
            (joined - started).as_secs_f64(),
            (shared - started).as_secs_f64(),
            (done - started).as_secs_f64()
        ));
        let row = Row::new(
            format!("points/s through Kafka, {n} member(s)"),
            rate.clone(),
        );
        rows.push(match &one_member {
            None => row.baseline(
                baseline.clone(),
                "the same bodies over POST /write, 4 connections, same run",
            ),
            Some(one) => row.baseline(Measure::clone(one), "one member, same run"),
        });
        if n == 1 {
            one_member = Some(rate);
        }
        if n == 2 {
            rows.push(Row::new(
                "two members: from start until each owns its share",
                Measure::millis(shared - started),
            ));
            ctx.progress("SIGKILL of one of two members");
            let (mut dead, survivor) = (members.remove(0), members.remove(0));
            let killed = Instant::now();
            dead.kill();
            let served = wait(
                || Ok(owned(&survivor)? == PARTITIONS as usize),
                "the survivor to own every partition",
            )?;
            rows.push(Row::new(
                "SIGKILL of a member until its partitions are read again (session-timeout 10s)",
                Measure::millis(served - killed),
            ));
            members_left.push(survivor);
        }
        for mut m in members {
            m.stop()?;
        }
    }
    drop(members_left);
    Ok(ScenarioReport {
        rows,
        notes,
        ..ScenarioReport::default()
    })
}

/// A member of `group`, its task defined, stopped: started by the caller, so that members of
/// a phase start together and no point goes through before its task exists.
fn member(ctx: &Ctx, broker: SocketAddr, group: &str, i: usize) -> Result<Klaxond> {
    let mut server = Klaxond::start(&ctx.klaxond, &format!("kafka-{group}-{i}"), "")?;
    server.define_task("ingest", ingest::TASK)?;
    server.stop()?;
    let config = server.dir().join("klaxon.toml");
    let mut text = std::fs::read_to_string(&config)?;
    text.push_str(&consumer(broker, group));
    std::fs::write(&config, text)?;
    Ok(server)
}

/// `/write` of the ingest bodies for a few seconds, as the ingest scenario measures it.
fn write_baseline(ctx: &Ctx, bodies: &[Vec<u8>]) -> Result<Measure> {
    let mut server = Klaxond::start(&ctx.klaxond, "kafka-write", "")?;
    server.define_task("ingest", ingest::TASK)?;
    let bodies = Arc::new(bodies.to_vec());
    ingest::warm_up(server.addr(), &bodies)?;
    let load = ingest::drive(server.addr(), &bodies, ingest::CONNECTIONS, ctx.phase())?;
    server.stop()?;
    Ok(load.rate())
}

/// The partitions `server` owns now (its lag gauges).
fn owned(server: &Klaxond) -> Result<usize> {
    Ok(metrics(server)?
        .lines()
        .filter(|l| l.starts_with("klaxon_kafka_lag_messages{"))
        .count())
}

fn owned_evenly(members: &[Klaxond]) -> Result<bool> {
    let owned: Vec<usize> = members.iter().map(owned).collect::<Result<_>>()?;
    let (min, max) = (owned.iter().min(), owned.iter().max());
    Ok(min.zip(max).is_some_and(|(a, b)| b - a <= 1))
}

fn metric_sum(server: &Klaxond, name: &str) -> Result<f64> {
    Ok(metrics(server)?
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

fn metrics(server: &Klaxond) -> Result<String> {
    let response = Conn::open(server.addr())?.get("/metrics")?;
    if response.status != 200 {
        bail!("GET /metrics: {}", response.text());
    }
    Ok(response.text())
}

/// Polls `condition` every 20 ms until it holds; returns when it did.
fn wait(mut condition: impl FnMut() -> Result<bool>, what: &str) -> Result<Instant> {
    let started = Instant::now();
    loop {
        if condition()? {
            return Ok(Instant::now());
        }
        if started.elapsed() > DEADLINE {
            bail!("waited {DEADLINE:?} for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Produces `bodies` round-robin over the partitions, each body one message.
fn produce(broker: SocketAddr, bodies: &[Vec<u8>]) -> Result<()> {
    use rskafka::client::ClientBuilder;
    use rskafka::client::partition::{Compression, UnknownTopicHandling};
    use rskafka::record::Record;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = ClientBuilder::new(vec![broker.to_string()]).build().await?;
        let mut partitions = Vec::new();
        for p in 0..PARTITIONS {
            partitions.push(
                client
                    .partition_client(TOPIC, p, UnknownTopicHandling::Retry)
                    .await?,
            );
        }
        let mut batches: Vec<Vec<Record>> = vec![Vec::new(); partitions.len()];
        for (i, body) in bodies.iter().enumerate() {
            batches[i % partitions.len()].push(Record {
                key: None,
                value: Some(body.clone()),
                headers: BTreeMap::new(),
                timestamp: chrono::Utc::now(),
            });
        }
        for (partition, records) in partitions.iter().zip(batches) {
            for record in records {
                partition
                    .produce(vec![record], Compression::NoCompression)
                    .await?;
            }
        }
        anyhow::Ok(())
    })
}

fn tansu_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("tansu"))
        .find(|candidate| candidate.is_file())
}

/// A tansu broker keeping its data in memory, on a loopback port; stopped when dropped.
struct Tansu {
    child: Child,
    binary: PathBuf,
    addr: SocketAddr,
    _dir: TempDir,
}

impl Tansu {
    fn start(binary: &std::path::Path) -> Result<Tansu> {
        let dir = TempDir::new("tansu")?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let url = format!("tcp://{addr}");
        let child = Command::new(binary)
            .current_dir(dir.path())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let tansu = Tansu {
            child,
            binary: binary.to_path_buf(),
            addr,
            _dir: dir,
        };
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("tansu did not listen on {addr} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(tansu)
    }

    fn create_topic(&self, topic: &str, partitions: i32) -> Result<()> {
        let status = Command::new(&self.binary)
            .args([
                "topic",
                "create",
                "--broker",
                &format!("tcp://{}", self.addr),
            ])
            .args(["--partitions", &partitions.to_string(), topic])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("tansu topic create {topic} failed ({status})");
        }
        Ok(())
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
