//! A full disk under a real klaxond: its data dir is a small tmpfs the test mounts (`mount -t
//! tmpfs -o size=16m`; CI runs the tests as root in a container, where that is allowed), filled
//! with a file until the kernel answers ENOSPC. Writes then get 503 with a message that says
//! why, reads keep answering, and once the file is removed klaxond takes writes again without a
//! restart; a restart afterwards finds the database whole.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use klaxon_e2e::{Klaxond, TcpSink, wait_for};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a `size` tmpfs on a new directory under `parent`, or says why it cannot.
    fn mount(parent: &Path, size: &str) -> Result<Tmpfs, String> {
        let dir = parent.join("tmpfs");
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the killed klaxond may still hold the file for a moment.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a file of zeros in `dir` until the file system is full; returns its path and size.
fn fill(dir: &Path) -> (PathBuf, u64) {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("create the filler");
    let chunk = vec![0u8; 64 << 10];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("writing the filler: {e}"),
        }
    }
    // Smaller writes take what the chunks left.
    while file.write(&[0u8; 512]).is_ok_and(|n| n > 0) {
        written += 512;
    }
    (path, written)
}

/// A body of `n` points, each its own alert (a new host), from `first`.
fn body(first: u64, n: u64) -> String {
    (first..first + n)
        .map(|i| format!("d,host=h{i:07} n={i}i,pad=\"{}\"\n", "x".repeat(200)))
        .collect()
}

/// The events (one per host) of the task's topic.
fn topic_events(server: &Klaxond) -> usize {
    let topics: serde_json::Value = server.get("/kapacitor/v1/alerts/topics").json().unwrap();
    let id = topics["topics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .find(|id| id.contains(":full:"))
        .expect("the task's topic")
        .to_owned();
    let response = server.get(&format!("/kapacitor/v1/alerts/topics/{id}/events"));
    assert_eq!(response.status(), 200);
    let json: serde_json::Value = response.json().unwrap();
    json["events"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_without_a_restart() {
    let scratch = tempfile::tempdir().unwrap();
    let tmpfs = match Tmpfs::mount(scratch.path(), "16m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            // Only where mounting is not permitted (not root, no CAP_SYS_ADMIN).
            eprintln!("SKIPPED: cannot mount a tmpfs to fill: {why}");
            return;
        }
    };
    let data = tmpfs.0.join("data");
    let sink = TcpSink::start();
    let mut server = Klaxond::builder()
        .env("KLAXON_DATA_DIR", &data.display().to_string())
        .start();
    assert!(
        data.join("klaxon.db").exists(),
        "klaxond is not on the tmpfs"
    );
    let script = format!(
        "stream|from().measurement('d').groupBy('host')\
         |alert().message('{{{{ index .Fields \"n\" }}}}').crit(lambda: TRUE).tcp('{}')",
        sink.address()
    );
    let (status, answer) = server.define_task("full", &script, &[("db", "rp")]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        server
            .send("POST", "/write?db=db&rp=rp", &body(0, 10))
            .status(),
        204
    );
    for _ in 0..10 {
        sink.next();
    }

    let (filler, filled) = fill(&tmpfs.0);
    eprintln!("filled the tmpfs with {filled} bytes");

    // New alert states grow the database until a commit needs space there is not. While the
    // disk stays full each body is stored (204) or refused (503, for the sender to retry):
    // klaxond takes what it can still commit, and reads go on.
    let mut next = 10;
    let mut refused: Vec<String> = Vec::new();
    let mut messages = Vec::new();
    let start = Instant::now();
    while refused.len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{} writes refused with the disk full, after {next} points; log:\n{}",
            refused.len(),
            server.log_text()
        );
        let sent = body(next, 200);
        next += 200;
        let response = server.send("POST", "/write?db=db&rp=rp", &sent);
        match response.status().as_u16() {
            204 => {}
            503 => {
                let retry = response.headers()["retry-after"].to_str().unwrap();
                assert!(retry.parse::<u64>().unwrap() > 0, "Retry-After {retry}");
                messages.push(response.text().unwrap());
                refused.push(sent);
            }
            other => panic!("write answered {other}: {}", response.text().unwrap()),
        }
        if !refused.is_empty() {
            assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
            assert!(topic_events(&server) > 0);
            assert_eq!(server.get("/metrics").status(), 200);
        }
    }
    eprintln!(
        "{next} points written with the disk full, {} bodies refused:\n{}",
        refused.len(),
        messages.join("\n")
    );
    // Refused at admission (a commit failed before, and a probe still fails), or after
    // processing (the commit of this write's own points failed): either way the message says
    // why and the sender is told to retry.
    for message in &messages {
        assert!(
            message.contains("cannot store alert states and events")
                && message.contains("is the disk of data-dir full?")
                && (message.contains("nothing of this write was processed")
                    || message.contains("retry this write")),
            "{message}"
        );
    }
    assert!(
        messages
            .iter()
            .any(|m| m.contains("No space left on device")),
        "no message says what failed: {messages:?}"
    );

    // Space freed: the refused writes are taken, without a restart.
    std::fs::remove_file(&filler).unwrap();
    for sent in &refused {
        wait_for(
            "a refused write to be taken after the disk was freed",
            || server.send("POST", "/write?db=db&rp=rp", sent).status() == 204,
        );
    }
    server.wait_for_log("database reopened after an I/O failure");
    wait_for("the outbox to empty", || {
        server.metrics().value("klaxon_outbox_entries", &[]) == 0.0
    });
    let before = topic_events(&server);
    assert_eq!(before as u64, next, "a host's state is missing");
    // Every event reached the receiver (those of a refused write twice, as a retry makes).
    let mut delivered = std::collections::BTreeSet::new();
    while let Some(payload) = sink.next_within(Duration::from_secs(5)) {
        let alert: serde_json::Value = serde_json::from_str(payload.trim_end()).unwrap();
        delivered.insert(alert["message"].as_str().unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(delivered.len() as u64, next - 10, "events lost");

    // The database is whole: a restart reads every state back.
    server.restart();
    let after = topic_events(&server);
    assert_eq!(after, before, "states lost or added by the restart");
    assert_eq!(
        server
            .send("POST", "/write?db=db&rp=rp", &body(next, 1))
            .status(),
        204
    );
    drop(server);
    drop(tmpfs);
}
