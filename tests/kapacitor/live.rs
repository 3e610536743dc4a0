//! Kapacitor's tests that feed points made at the wall clock instead of replaying a file
//! (`testStreamerWithInputChannel`, the `|barrier()` tests): `cpu value=<random float>` one
//! second apart from a start before now, written to `dbname`.`rpname`, and the requests the
//! test's HTTP server must get.
//!
//! Where Kapacitor's test sleeps and then counts what its server got, the port waits for each
//! expected request (within the suite's deadline), then checks that no other came: the same
//! expectation without a race against the clock.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use klaxon_e2e::{DEADLINE, Klaxond};
use klaxon_http::testing::Receiver;
use serde::Deserialize;
use serde_json::{Value, json};

/// A case's wall-clock data and the requests it must cause.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Live {
    /// How many points (Kapacitor's `testValues`).
    pub points: usize,
    /// The first point's time, in seconds before now (`clock.Zero()`).
    pub start_before_now: u64,
    /// The requests, in order: each the series of points `[from, to)` (`testValues[6:20]`), or
    /// `[]` when Kapacitor's server only counts the request.
    pub requests: Vec<Vec<usize>>,
    /// Kapacitor writes the same points again after its wait: once the requests came, they
    /// are written again and must cause no other.
    #[serde(default)]
    pub replay: bool,
}

/// One point: its time (ns) and value.
type Sample = (i64, f64);

/// Writes the points, waits for the requests, compares them, and checks there are no more.
pub fn check(live: &Live, server: &Klaxond, receiver: &Receiver) -> Result<(), String> {
    let samples = samples(live);
    write(server, &samples);
    let deadline = Instant::now() + DEADLINE;
    for (i, expected) in live.requests.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(request) = receiver.next_within(left) else {
            return Err(format!(
                "request {} of {} never came",
                i + 1,
                live.requests.len()
            ));
        };
        let body = request.text();
        let got: Value =
            serde_json::from_str(&body).map_err(|e| format!("request {}: {e}: {body}", i + 1))?;
        if let [from, to] = expected[..] {
            let rows: Vec<Value> = samples[from..to]
                .iter()
                .map(|(time, value)| {
                    json!([
                        klaxon_core::Timestamp::from_nanos(*time).to_rfc3339_nano(),
                        value
                    ])
                })
                .collect();
            let expected = json!({"series": [
                {"name": "cpu", "columns": ["time", "value"], "values": rows}
            ]});
            // Through the same text parser as the body: serde_json (without its
            // `float_roundtrip` feature) may read a 17-digit float one unit in the last place
            // off, the same way for both.
            let expected: Value =
                serde_json::from_str(&expected.to_string()).map_err(|e| e.to_string())?;
            crate::compare::results(&expected, &got, false)
                .map_err(|e| format!("request {}: {e}", i + 1))?;
        }
    }
    if live.replay {
        write(server, &samples);
    }
    if let Some(extra) = receiver.next_within(Duration::ZERO) {
        return Err(format!(
            "an unexpected request: {} {}",
            extra.target,
            extra.text()
        ));
    }
    Ok(())
}

/// The points: one second apart from `start_before_now` seconds ago, with random values in
/// [0, 1) as Go's `rand.Float64()`.
fn samples(live: &Live) -> Vec<Sample> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos() as i64;
    let start = now - live.start_before_now as i64 * 1_000_000_000;
    // xorshift64*, seeded by the clock: the values only need to differ.
    let mut state = (now as u64) | 1;
    (0..live.points)
        .map(|i| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
            (
                start + i as i64 * 1_000_000_000,
                bits as f64 / (1u64 << 53) as f64,
            )
        })
        .collect()
}

fn write(server: &Klaxond, samples: &[Sample]) {
    let body: String = samples
        .iter()
        .map(|(time, value)| format!("cpu value={value} {time}\n"))
        .collect();
    let response = server.send(
        "POST",
        "/kapacitor/v1/write?db=dbname&rp=rpname&precision=ns",
        &body,
    );
    let status = response.status().as_u16();
    assert_eq!(status, 204, "write refused: {:?}", response.text());
}
