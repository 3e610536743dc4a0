//! Scenario 4, foo delivery: every point goes to the Foo handler (`.foo().room('bench')`), whose
//! `[foo] url` points at a fast HTTP server here that counts the posts and answers 200 at once.
//! Baseline: this process posting the same bodies to the same server over a keep-alive client.
//! Measured with durable delivery (the default) and without (`[alert] durable-delivery =
//! false`), in alternating pairs.

use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::Ctx;
use super::delivery::{self, ALERT_CONFIG, ALERT_CONFIG_IN_MEMORY, Receiver, Seen};
use super::http::{self, Conn};
use super::report::{Measure, Row, ScenarioReport};
use super::server::Klaxond;

const MEASUREMENT: &str = "foobench";

/// A stand-in for the Foo chat service: keep-alive HTTP/1.1, a thread per connection, every
/// post answered 200 at once.
fn foo_server() -> Result<Receiver> {
    Receiver::listen("the Foo server", |stream, seen| {
        let seen = Arc::clone(seen);
        std::thread::spawn(move || serve(stream, &seen));
    })
}

fn serve(stream: TcpStream, seen: &Seen) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Ok(Some(body)) = http::read_request(&mut reader) {
        seen.record(&body);
        if writer.write_all(http::OK_EMPTY).is_err() {
            return;
        }
    }
}

/// The baseline: one keep-alive connection posting `body` for `phase`.
fn post_loop(chat: &Receiver, body: &[u8], phase: Duration) -> Result<Measure> {
    let mut conn = Conn::open(chat.addr)?;
    let start = Instant::now();
    let mut posts = 0u64;
    while start.elapsed() < phase {
        let response = conn.request("POST", "/", body)?;
        if response.status != 200 {
            bail!("the Foo server answered {}", response.status);
        }
        posts += 1;
    }
    Ok(Measure::rate(posts, start.elapsed(), "events/s"))
}

pub fn run(ctx: &Ctx) -> Result<ScenarioReport> {
    let chat = foo_server()?;
    let foo_section = format!(
        "\n[foo]\nenabled = true\nurl = \"http://{}/\"\nroom = \"alerts\"\n",
        chat.addr
    );
    let task = delivery::task(MEASUREMENT, ".foo().room('bench')");
    ctx.progress("starting klaxond");
    let mut server = Klaxond::start(&ctx.klaxond, "foo", &format!("{ALERT_CONFIG}{foo_section}"))?;
    server.define_task("foo", &task)?;
    let count = || chat.seen.count();
    delivery::first_event(&mut server, MEASUREMENT, 0, &count)?;
    let body = chat.seen.sample();
    if delivery::message_seq(&body) != Some(0) {
        bail!(
            "the Foo server received {:?}, not the first alert's message",
            String::from_utf8_lossy(&body)
        );
    }

    let phase = ctx.phase();
    ctx.progress(&format!(
        "the baseline before each pair: posting {} bytes over one keep-alive connection for \
         {phase:?}",
        body.len()
    ));
    let config = format!("{ALERT_CONFIG_IN_MEMORY}{foo_section}");
    let in_memory = delivery::InMemory {
        label: "foo",
        config: &config,
        task: &task,
        measurement: MEASUREMENT,
    };
    let durability = delivery::durable_and_in_memory(
        ctx,
        &mut server,
        &in_memory,
        &mut |_| post_loop(&chat, &body, phase),
        &count,
    )?;
    let baseline = durability.baseline();
    const BASELINE: &str =
        "the generator posting the same body to the same server over one keep-alive connection";
    let mut rows = vec![
        Row::new("events/s delivered", durability.durable()).baseline(baseline.clone(), BASELINE),
    ];
    rows.extend(durability.rows(&baseline, BASELINE));
    Ok(ScenarioReport {
        rows,
        generator_cpu: Some(durability.used.generator),
        server_cpu: Some(durability.used.server),
        notes: vec![
            durability.note(),
            format!("body {}", String::from_utf8_lossy(&body)),
        ],
        ..ScenarioReport::default()
    })
}
