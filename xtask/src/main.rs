//! `cargo xtask`: the project's own tooling, in Rust rather than shell scripts.
//!
//! - `cargo xtask ci` runs what CI runs (`.ci/run`): formatting, clippy with warnings denied, and
//!   the README's test command.
//! - `cargo xtask bench [scenario...] [--quick]` builds klaxond in release mode, runs it on
//!   loopback under the load generator in `bench/`, and prints each figure next to a baseline
//!   measured in the same run (see docs/benchmarks.md).
//! - `cargo xtask new-handler NAME` creates the handler crate `crates/handlers/NAME` from the
//!   templates in `xtask/templates/handler` and adds it to klaxond (see
//!   docs/writing-a-handler.md).

mod bench;
mod bundle;
mod names;
mod new_handler;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// Klaxon's project tooling.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Args {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run formatting, clippy and all tests, as CI does.
    Ci,
    /// Benchmark klaxond (release build) on loopback: ingest, delivery, memory, API latency.
    Bench(bench::BenchArgs),
    /// Create a handler crate in crates/handlers/NAME and bundle it into klaxond.
    NewHandler {
        /// The handler kind: lowercase letters, digits and '-', starting with a letter, such as
        /// "pager" or "pager-duty".
        name: String,
        /// The workspace to create it in. Default: the workspace this xtask was built from.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Task::Ci => ci(),
        Task::Bench(args) => bench::run(&args),
        Task::NewHandler { name, root } => {
            let root = root.unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .parent()
                    .expect("xtask/ is inside the workspace")
                    .to_path_buf()
            });
            new_handler::new_handler(&root, &name).map(|created| print_next_steps(&created))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_next_steps(created: &new_handler::Created) {
    let name = &created.name;
    for file in &created.files {
        println!("created {}", file.display());
    }
    for file in &created.edited {
        println!("edited  {}", file.display());
    }
    println!(
        "
The {kind} handler is a crate of its own, linked into klaxond. As generated, it appends each alert
as a line of JSON to a file. Next:

  1. Write what it does: src/handler.rs in crates/handlers/{kind} holds the options, the
     TICKscript form (.{property}()) and `impl Handler`; src/config.rs the [{kind}] section;
     src/lib.rs the documentation users read.
  2. Run its tests:      cargo test -p {package}
     and lint it:        cargo clippy -p {package} --all-targets -- -D warnings
  3. See it in a server: cargo run -p klaxond
     then, in another terminal: cargo run -p klaxon-cli -- list service-tests
  4. Commit the crate, crates/klaxond and Cargo.lock (the first build adds the crate to it).

The guide: docs/writing-a-handler.md",
        kind = name.kind,
        property = name.property,
        package = name.package,
    );
}

fn ci() -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(&["test", "--workspace", "--locked"])
}

fn cargo(args: &[&str]) -> Result<()> {
    eprintln!("==> cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(args)
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
