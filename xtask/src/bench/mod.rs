//! `cargo xtask bench [scenario...] [--quick]`: klaxond in release mode on loopback, driven by a
//! load generator in this crate, each figure next to a baseline measured in the same run on the
//! same machine. See docs/benchmarks.md.
//!
//! `cargo xtask` runs a debug build of this crate, and a debug load generator (and a debug
//! in-process parser for the ingest baseline) would be the bottleneck. So the debug xtask builds
//! klaxond and itself in release mode and runs the release xtask with `--prebuilt`.

mod api;
mod delivery;
mod exec;
mod foo;
mod http;
mod influxd;
mod ingest;
mod kafka;
mod procfs;
mod report;
mod server;
mod state;
mod tcp;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use report::{Machine, Report, ScenarioReport};

/// The scenarios, in the order a full run takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Ingest,
    Tcp,
    Exec,
    Foo,
    State,
    Api,
    Kafka,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Ingest,
        Scenario::Tcp,
        Scenario::Exec,
        Scenario::Foo,
        Scenario::State,
        Scenario::Api,
        Scenario::Kafka,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Ingest => "ingest",
            Scenario::Tcp => "tcp",
            Scenario::Exec => "exec",
            Scenario::Foo => "foo",
            Scenario::State => "state",
            Scenario::Api => "api",
            Scenario::Kafka => "kafka",
        }
    }

    /// The scenarios named on the command line, in the order given, each once; all of them when
    /// none is named.
    pub fn parse_list(names: &[String]) -> Result<Vec<Scenario>> {
        if names.is_empty() {
            return Ok(Scenario::ALL.to_vec());
        }
        let mut chosen = Vec::new();
        for name in names {
            let Some(scenario) = Scenario::ALL.into_iter().find(|s| s.name() == name) else {
                let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                bail!(
                    "unknown scenario {name:?}; choose from: {} (or name none to run them all)",
                    known.join(", ")
                );
            };
            if !chosen.contains(&scenario) {
                chosen.push(scenario);
            }
        }
        Ok(chosen)
    }
}

/// The arguments of `cargo xtask bench`.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct BenchArgs {
    /// The scenarios to run (default: all): ingest, tcp, exec, foo, state, api, kafka.
    pub scenarios: Vec<String>,
    /// Run each scenario briefly: a smoke test, as CI runs it. The figures are not meaningful.
    #[arg(long)]
    pub quick: bool,
    /// Internal: klaxond and this xtask are built in release mode already.
    #[arg(long, hide = true)]
    pub prebuilt: bool,
}

/// What every scenario gets.
#[derive(Debug)]
pub struct Ctx {
    pub klaxond: PathBuf,
    pub quick: bool,
    progress: Progress,
}

impl Ctx {
    /// Shows what is running now (on stderr).
    pub fn progress(&self, what: &str) {
        self.progress.show(what);
    }

    /// `full` in a full run, `quick` with `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// The length of a measured phase.
    pub fn phase(&self) -> Duration {
        self.pick(Duration::from_secs(5), Duration::from_millis(800))
    }
}

#[derive(Debug)]
struct Progress {
    tty: bool,
    prefix: std::sync::Mutex<String>,
}

impl Progress {
    fn set_prefix(&self, prefix: String) {
        *self.prefix.lock().unwrap_or_else(|e| e.into_inner()) = prefix;
    }

    fn show(&self, what: &str) {
        let prefix = self
            .prefix
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut err = std::io::stderr().lock();
        if self.tty {
            let line: String = format!("{prefix}{what}").chars().take(150).collect();
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{prefix}{what}");
        }
        let _ = err.flush();
    }

    fn done(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = writeln!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
    }
}

/// Runs `cargo xtask bench`.
pub fn run(args: &BenchArgs) -> Result<()> {
    let scenarios = Scenario::parse_list(&args.scenarios)?;
    let progress = Progress {
        tty: std::io::stderr().is_terminal(),
        prefix: std::sync::Mutex::new(String::new()),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = workspace_root();
    let target = target_dir(&cargo, &root)?;
    let mut build_seconds = 0.0;
    if !args.prebuilt {
        let started = Instant::now();
        progress.show("building klaxond: cargo build --release -p klaxond");
        cargo_build(&cargo, &root, "klaxond")?;
        if cfg!(debug_assertions) {
            progress.show("building the load generator: cargo build --release -p xtask");
            cargo_build(&cargo, &root, "xtask")?;
            let built = started.elapsed().as_secs_f64();
            progress.done(&format!(
                "built klaxond and the load generator in {built:.0} s"
            ));
            let xtask = target.join("release").join("xtask");
            let status = Command::new(&xtask)
                .arg("bench")
                .args(&args.scenarios)
                .args(args.quick.then_some("--quick"))
                .arg("--prebuilt")
                .env("KLAXON_BENCH_BUILD_SECONDS", format!("{built:.1}"))
                .status()
                .with_context(|| format!("cannot run {}", xtask.display()))?;
            if !status.success() {
                bail!("the bench failed ({status})");
            }
            return Ok(());
        }
        build_seconds = started.elapsed().as_secs_f64();
    }
    if let Some(built) = std::env::var("KLAXON_BENCH_BUILD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        build_seconds = built;
    }

    let ctx = Ctx {
        klaxond: target.join("release").join("klaxond"),
        quick: args.quick,
        progress,
    };
    let mut command = String::from("cargo xtask bench");
    for name in &args.scenarios {
        command.push(' ');
        command.push_str(name);
    }
    if args.quick {
        command.push_str(" --quick");
    }
    let load_before = report::load_average();
    let mut reports = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        ctx.progress.set_prefix(format!(
            "[{}/{}] {}: ",
            i + 1,
            scenarios.len(),
            scenario.name()
        ));
        ctx.progress("starting");
        let started = Instant::now();
        let result = match scenario {
            Scenario::Ingest => ingest::run(&ctx),
            Scenario::Tcp => tcp::run(&ctx),
            Scenario::Exec => exec::run(&ctx),
            Scenario::Foo => foo::run(&ctx),
            Scenario::State => state::run(&ctx),
            Scenario::Api => api::run(&ctx),
            Scenario::Kafka => kafka::run(&ctx),
        };
        let seconds = started.elapsed().as_secs_f64();
        let report = match result {
            Ok(mut report) => {
                report.name = scenario.name();
                report.seconds = seconds;
                ctx.progress.done(&format!(
                    "[{}/{}] {} done in {seconds:.1} s",
                    i + 1,
                    scenarios.len(),
                    scenario.name()
                ));
                report
            }
            Err(e) => {
                ctx.progress.done(&format!(
                    "[{}/{}] {} FAILED: {e:#}",
                    i + 1,
                    scenarios.len(),
                    scenario.name()
                ));
                ScenarioReport {
                    name: scenario.name(),
                    seconds,
                    error: Some(format!("{e:#}")),
                    ..ScenarioReport::default()
                }
            }
        };
        reports.push(report);
    }
    let report = Report {
        command,
        date: jiff::Timestamp::now()
            .round(jiff::Unit::Second)?
            .to_string(),
        quick: args.quick,
        machine: Machine::read(),
        load_before,
        load_after: report::load_average(),
        build_seconds,
        scenarios: reports,
    };
    println!("\n{}", report.table());
    let path = target.join("bench").join("results.json");
    std::fs::create_dir_all(path.parent().expect("has a parent"))
        .with_context(|| format!("cannot create {}", path.display()))?;
    let text = serde_json::to_string_pretty(&report.to_json())? + "\n";
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("results: {}", path.display());
    let failed: Vec<&str> = report
        .scenarios
        .iter()
        .filter(|s| s.error.is_some())
        .map(|s| s.name)
        .collect();
    if !failed.is_empty() {
        bail!("scenarios failed: {}", failed.join(", "));
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is inside the workspace")
        .to_path_buf()
}

/// The target directory cargo uses for this workspace (it follows CARGO_TARGET_DIR and
/// .cargo/config.toml).
fn target_dir(cargo: &str, root: &Path) -> Result<PathBuf> {
    let output = Command::new(cargo)
        .current_dir(root)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {cargo} metadata"))?;
    if !output.status.success() {
        bail!("cargo metadata failed ({})", output.status);
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata gave no target_directory")
}

fn cargo_build(cargo: &str, root: &Path, package: &str) -> Result<()> {
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--quiet", "--release", "-p", package])
        .status()
        .with_context(|| format!("cannot run {cargo} build"))?;
    if !status.success() {
        bail!("cargo build --release -p {package} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scenarios_by_name_in_order_without_repeats_and_all_by_default() {
        assert_eq!(Scenario::parse_list(&[]).unwrap(), Scenario::ALL.to_vec());
        assert_eq!(
            Scenario::parse_list(&names(&["tcp", "ingest", "tcp"])).unwrap(),
            vec![Scenario::Tcp, Scenario::Ingest]
        );
        for scenario in Scenario::ALL {
            assert_eq!(
                Scenario::parse_list(&names(&[scenario.name()])).unwrap(),
                vec![scenario]
            );
        }
    }

    #[test]
    fn an_unknown_scenario_is_named_with_the_choices() {
        let err = Scenario::parse_list(&names(&["ingest", "ingets"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown scenario \"ingets\"; choose from: ingest, tcp, exec, foo, state, api, kafka \
             (or name none to run them all)"
        );
    }

    #[test]
    fn arguments_parse_scenarios_and_quick() {
        let cli = Cli::try_parse_from(["bench", "tcp", "--quick", "exec"]).unwrap();
        assert_eq!(
            cli.bench,
            BenchArgs {
                scenarios: names(&["tcp", "exec"]),
                quick: true,
                prebuilt: false,
            }
        );
        let err = Cli::try_parse_from(["bench", "--fast"]).unwrap_err();
        assert!(err.to_string().contains("--fast"), "{err}");
    }
}
