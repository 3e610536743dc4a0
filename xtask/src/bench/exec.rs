//! Scenario 3, exec delivery: every point triggers `.exec()` of a tiny program that reads its
//! stdin (a shell script that `exec`s `cat`, appending the alert to a file, whose lines are the
//! count). Baseline: this process spawning the same program with the same stdin at the same
//! concurrency. Delivery per handler is ordered and sequential, so the scenario runs once with
//! one handler and once with several inline handlers on the task (several workers), which
//! shows the machine's ceiling.

use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Ctx;
use super::delivery::{self, ALERT_CONFIG};
use super::report::{Measure, Row, ScenarioReport, Target};
use super::server::Klaxond;

/// Counts the lines appended to a file, reading only what is new.
#[derive(Debug)]
struct LineCounter {
    path: PathBuf,
    state: Mutex<(u64, u64)>,
}

impl LineCounter {
    fn new(path: PathBuf) -> LineCounter {
        LineCounter {
            path,
            state: Mutex::new((0, 0)),
        }
    }

    fn count(&self) -> u64 {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (offset, lines) = &mut *state;
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return *lines;
        };
        if file.seek(SeekFrom::Start(*offset)).is_err() {
            return *lines;
        }
        let mut new = Vec::new();
        if file.read_to_end(&mut new).is_ok() {
            // Only whole lines count; a partial last line is read again next time.
            let whole = new.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            *lines += new[..whole].iter().filter(|b| **b == b'\n').count() as u64;
            *offset += whole as u64;
        }
        *lines
    }

    fn first_line(&self) -> Result<Vec<u8>> {
        let text = std::fs::read(&self.path)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let end = text
            .iter()
            .position(|b| *b == b'\n')
            .context("the exec program wrote no line")?;
        Ok(text[..=end].to_vec())
    }
}

/// Writes the program: a shell script that replaces itself with `cat`, appending stdin to `out`.
fn write_program(dir: &Path, name: &str, out: &Path) -> Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("#!/bin/sh\nexec cat >> '{}'\n", out.display()),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    let mut perms = std::fs::metadata(&path)?.permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms)?;
    Ok(path)
}

/// Runs `program` once with `stdin`, as the exec handler does: its own process group, stdout
/// and stderr captured.
fn spawn_once(program: &Path, stdin: &[u8]) -> Result<()> {
    let mut child = Command::new(program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run {}", program.display()))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "{} failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The baseline: `concurrency` threads each running the program in a loop for `phase`.
fn spawn_loop(
    program: &Path,
    stdin: &[u8],
    concurrency: usize,
    phase: Duration,
) -> Result<Measure> {
    let start = Instant::now();
    let runs = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..concurrency)
            .map(|_| {
                scope.spawn(|| -> Result<u64> {
                    let mut runs = 0;
                    while start.elapsed() < phase {
                        spawn_once(program, stdin)?;
                        runs += 1;
                    }
                    Ok(runs)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("spawning thread panicked"))
            .sum::<Result<u64>>()
    })?;
    Ok(Measure::rate(runs, start.elapsed(), "events/s"))
}

pub fn run(ctx: &Ctx) -> Result<ScenarioReport> {
    ctx.progress("starting klaxond");
    let mut server = Klaxond::start(&ctx.klaxond, "exec", ALERT_CONFIG)?;
    let phase = ctx.phase();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let (mut generator_cpu, mut server_cpu) = (0.0f64, 0.0f64);
    for handlers in ctx.pick([1usize, 4], [1, 2]) {
        let measurement = format!("exec{handlers}");
        let out = server.dir().join(format!("{measurement}.out"));
        let program = write_program(server.dir(), &format!("{measurement}.sh"), &out)?;
        let counter = LineCounter::new(out);
        let count = || counter.count();
        let calls = format!(".exec('{}')", program.display()).repeat(handlers);
        server.define_task(&measurement, &delivery::task(&measurement, &calls))?;
        ctx.progress(&format!("{handlers} handler(s): first event"));
        delivery::first_event(&mut server, &measurement, 0, &|| count() / handlers as u64)?;
        let stdin = counter.first_line()?;

        // Alternating rounds, medians of each side: the load of the shared machine drifts
        // within a minute, and a single pair put a day's ratios between 0.72 and 0.93.
        let rounds = ctx.pick(3, 1);
        let (mut baselines, mut rates, mut used, mut events) = (Vec::new(), Vec::new(), None, 0);
        for round in 1..=rounds {
            ctx.progress(&format!(
                "{handlers} handler(s), round {round}/{rounds}: baseline, spawning the program \
                 {handlers} at a time for {phase:?}"
            ));
            let baseline = spawn_loop(&program, &stdin, handlers, phase)?;
            let (rate, round_used, round_events) = delivery::matched_phase(
                ctx,
                &mut server,
                &measurement,
                &baseline,
                handlers as u64,
                &count,
            )?;
            baselines.push(baseline);
            rates.push(rate);
            used.get_or_insert(round_used);
            events = round_events;
        }
        let used = used.expect("at least one round");
        let baseline = delivery::median(baselines.iter());
        let rate = delivery::median(rates.iter());
        let rounds_note: Vec<String> = rates
            .iter()
            .zip(&baselines)
            .map(|(r, b)| delivery::fmt_pair(r, b))
            .collect();
        notes.push(format!(
            "{handlers} handler(s), klaxond / baseline events/s round by round: {}",
            rounds_note.join(", ")
        ));
        generator_cpu = generator_cpu.max(used.generator);
        server_cpu = server_cpu.max(used.server);
        notes.push(format!(
            "{handlers} handler(s): {events} events; klaxond used {:.0} % of a core, the generator {:.0} %",
            used.server,
            used.generator
        ));
        rows.push(
            Row::new(format!("events/s, {handlers} handler(s)"), rate)
                .baseline(
                    baseline,
                    format!("the generator spawning the same program with the same stdin, {handlers} at a time"),
                )
                .target(Target::ratio_at_least(0.85)),
        );
    }
    Ok(ScenarioReport {
        rows,
        generator_cpu: Some(generator_cpu),
        server_cpu: Some(server_cpu),
        notes,
        ..ScenarioReport::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_incrementally_and_only_when_whole() {
        let dir = super::super::server::TempDir::new("lines").unwrap();
        let path = dir.path().join("out");
        let counter = LineCounter::new(path.clone());
        assert_eq!(counter.count(), 0);
        std::fs::write(&path, "a\nb\npart").unwrap();
        assert_eq!(counter.count(), 2);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"ial\nc\n")
            .unwrap();
        assert_eq!(counter.count(), 4);
        assert_eq!(counter.first_line().unwrap(), b"a\n");
    }

    #[test]
    fn the_program_appends_its_stdin() {
        let dir = super::super::server::TempDir::new("prog").unwrap();
        let out = dir.path().join("out");
        let program = write_program(dir.path(), "p.sh", &out).unwrap();
        spawn_once(&program, b"{\"x\":1}\n").unwrap();
        spawn_once(&program, b"{\"x\":2}\n").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"{\"x\":1}\n{\"x\":2}\n");
    }
}
