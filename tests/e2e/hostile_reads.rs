//! Issue #25, hostile clients: reads too heavy for the server. Each test is the request a
//! script sends, against a real klaxond, with memory read from /proc.

use std::io::{BufRead, BufReader, Read};

use klaxon_e2e::Klaxond;
use serde_json::{Value, json};

/// A field of `/proc/<pid>/status` in kB: `VmRSS` (resident now) or `VmHWM` (the peak).
fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resets the process's peak resident size (`VmHWM`) to its resident size now.
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

/// Reads an events list line by line without keeping it: its events (one `"level"` line each,
/// at the events' depth), whether it opens and closes as a document, and its size in bytes.
fn read_events_list(response: impl Read) -> (usize, bool, u64) {
    let mut reader = BufReader::with_capacity(1 << 16, response);
    let (mut events, mut bytes) = (0, 0);
    let (mut first, mut last) = (Vec::new(), Vec::new());
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).unwrap();
        if n == 0 {
            break;
        }
        if bytes == 0 {
            first = line.clone();
        }
        bytes += n as u64;
        if line.starts_with(b"                \"level\": \"CRITICAL\"") {
            events += 1;
        }
        last.clone_from(&line);
    }
    (events, first == b"{\n" && last == b"}", bytes)
}

const ALERTS: usize = 200_000;

#[test]
fn three_readers_of_a_topic_of_200_000_alerts_cost_pages_not_copies() {
    let server = Klaxond::builder()
        .config("[http]\nmax-body-size = 30000000\n")
        .start();
    // Every host its own alert in topic `big`, each about a kilobyte shown.
    let details = "d".repeat(800);
    let (status, body) = server.define_task(
        "fanout",
        &format!(
            "stream|from().measurement('cpu').groupBy('host')\
             |alert().id('{{{{ index .Tags \"host\" }}}}').details('{details}')\
             .crit(lambda: TRUE).topic('big')"
        ),
        &[("telegraf", "autogen")],
    );
    assert_eq!(status, 200, "{body}");
    for chunk in 0..4 {
        let lines: String = (0..ALERTS / 4)
            .map(|i| format!("cpu,host=h{:06} v=1\n", chunk * ALERTS / 4 + i))
            .collect();
        let response = server.send("POST", "/write?db=telegraf", &lines);
        assert_eq!(response.status(), 204);
    }
    klaxon_e2e::wait_for("200 000 alerts in topic big", || {
        let topic: Value = server
            .get("/kapacitor/v1/alerts/topics/big")
            .json()
            .unwrap();
        topic["collected"].as_u64() == Some(ALERTS as u64)
    });

    let pid = server.pid();
    reset_peak(pid);
    let before_kb = proc_kb(pid, "VmHWM");
    let url = format!("{}/kapacitor/v1/alerts/topics/big/events", server.url());
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let response = klaxon_e2e::http_client().get(&url).send().unwrap();
                assert_eq!(response.status(), 200);
                read_events_list(response)
            })
        })
        .collect();
    // The API answers while the three lists are written.
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
    let mut answer_bytes = 0;
    for reader in readers {
        let (events, whole, bytes) = reader.join().unwrap();
        assert_eq!((events, whole), (ALERTS, true));
        answer_bytes = bytes;
    }
    let peak_rise_kb = proc_kb(pid, "VmHWM").saturating_sub(before_kb);
    println!(
        "3 readers of {ALERTS} events ({answer_bytes} bytes each): peak rose by {peak_rise_kb} kB"
    );
    // Built whole, each answer alone would take more than its size; written by pages, the three
    // together take a small part of one.
    assert!(answer_bytes > 200_000_000, "{answer_bytes}");
    assert!(
        peak_rise_kb * 1024 < answer_bytes / 4,
        "peak rose by {peak_rise_kb} kB for answers of {answer_bytes} bytes"
    );
    assert!(
        server.get("/kapacitor/v1/ping").status() == 204,
        "klaxond stopped answering"
    );
}

#[test]
fn event_lists_keep_their_shape_and_filter_and_refuse_unknown_topics() {
    let server = Klaxond::builder()
        .config("[alert]\ntest-events = true\n")
        .start();
    let post = |id: &str, level: &str| {
        let response = server.send(
            "POST",
            "/kapacitor/v1/alerts/topics/t/events",
            &json!({"id": id, "level": level, "message": format!("{id} is {level}"),
                    "time": "2026-12-03T19:00:00Z"})
            .to_string(),
        );
        assert_eq!(response.status(), 200);
    };
    post("b", "WARNING");
    post("a", "CRITICAL");
    post("c", "OK");
    let text = server
        .get("/kapacitor/v1/alerts/topics/t/events?min-level=WARNING")
        .text()
        .unwrap();
    let event = |id: &str, level: &str| {
        format!(
            "        {{\n            \"link\": {{\n                \"rel\": \"self\",\n                \
             \"href\": \"/kapacitor/v1/alerts/topics/t/events/{id}\"\n            }},\n            \
             \"id\": \"{id}\",\n            \"state\": {{\n                \"message\": \"{id} is \
             {level}\",\n                \"details\": \"\",\n                \"time\": \
             \"2026-12-03T19:00:00Z\",\n                \"duration\": \"0s\",\n                \
             \"level\": \"{level}\"\n            }}\n        }}"
        )
    };
    assert_eq!(
        text,
        format!(
            "{{\n    \"link\": {{\n        \"rel\": \"self\",\n        \"href\": \
             \"/kapacitor/v1/alerts/topics/t/events\"\n    }},\n    \"topic\": \"t\",\n    \
             \"events\": [\n{},\n{}\n    ]\n}}",
            event("a", "CRITICAL"),
            event("b", "WARNING")
        )
    );
    let none = server
        .get("/kapacitor/v1/alerts/topics/t/events?min-level=CRITICAL&x=1")
        .json::<Value>()
        .unwrap();
    assert_eq!(none["events"].as_array().unwrap().len(), 1, "{none}");
    // Kapacitor's answer for an unknown topic, before any of the list is written.
    let response = server.get("/kapacitor/v1/alerts/topics/nosuch/events");
    assert_eq!(response.status(), 500);
    let error: Value = response.json().unwrap();
    assert_eq!(
        error["error"],
        "failed to get topic events: unknown topic \"nosuch\""
    );
    let response = server.get("/kapacitor/v1/alerts/topics/t/events?min-level=LOUD");
    assert_eq!(response.status(), 400);
    assert_eq!(
        server
            .send("DELETE", "/kapacitor/v1/alerts/topics/t", "")
            .status(),
        204
    );
    let gone = server.get("/kapacitor/v1/alerts/topics/t/events");
    assert_eq!(gone.status(), 500);
}

#[test]
fn the_task_list_is_paged_by_offset_and_limit_as_kapacitor() {
    let server = Klaxond::start();
    for i in 0..25 {
        let (status, body) = server.define_task(
            &format!("t{i:02}"),
            "stream|from().measurement('cpu')",
            &[("telegraf", "autogen")],
        );
        assert_eq!(status, 200, "{body}");
    }
    let ids = |query: &str| -> Vec<String> {
        let list: Value = server
            .get(&format!("/kapacitor/v1/tasks{query}"))
            .json()
            .unwrap();
        list["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let names = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("t{i:02}")).collect()
    };
    assert_eq!(ids(""), names(0..25));
    assert_eq!(ids("?offset=3&limit=12"), names(3..15));
    assert_eq!(ids("?offset=20&limit=12"), names(20..25));
    assert_eq!(ids("?pattern=t1*&offset=2&limit=3"), names(12..15));
    assert_eq!(ids("?offset=25"), Vec::<String>::new());
    let text = server
        .get("/kapacitor/v1/tasks?pattern=nosuch")
        .text()
        .unwrap();
    assert_eq!(text, "{\n    \"tasks\": []\n}");
    let one: Value = server
        .get("/kapacitor/v1/tasks?pattern=t07")
        .json()
        .unwrap();
    let shown: Value = server.get("/kapacitor/v1/tasks/t07").json().unwrap();
    assert_eq!(one["tasks"], json!([shown]));
    let bad = server.get("/kapacitor/v1/tasks?offset=x");
    assert_eq!(bad.status(), 400);
}
