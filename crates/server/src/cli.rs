//! `klaxond`'s command line: run the server, print the configuration, print the version, hash
//! a password.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use klaxon_core::Registry;

use crate::config::{self, Config};
use crate::server::{Server, shutdown_signal};

/// Klaxon's alert server: Kapacitor-compatible alerting.
#[derive(Debug, Parser)]
#[command(name = "klaxond", version, about, long_about = None)]
struct Args {
    /// Configuration file (TOML). Without it the embedded defaults are used.
    #[arg(long, env = "KLAXON_CONFIG", global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Handler kinds to disable, comma-separated (such as exec,tcp), added to [server]
    /// disable-handlers: they are absent everywhere, inline TICKscript handlers included.
    #[arg(long, value_delimiter = ',', global = true, value_name = "KINDS")]
    disable_handlers: Vec<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Run,
    /// Print the configuration as TOML, with a comment on every key: the defaults, or the
    /// effective configuration when --config is given.
    Config,
    /// Print the version and the handler kinds this binary was built with.
    Version,
    /// Read a password or token (one line) from stdin and print its argon2 hash in PHC format,
    /// for `password` in [[http.users]] or `hash` in [[http.tokens]].
    HashPassword,
}

/// The entry point of every Klaxon server binary.
///
/// A server binary is its list of handler crates plus this call:
///
/// ```ignore
/// #![deny(unused_crate_dependencies)]
/// use klaxon_handler_tcp as _;
///
/// fn main() -> std::process::ExitCode {
///     klaxon_server::main()
/// }
/// ```
pub fn main() -> ExitCode {
    let known: Vec<String> = Args::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let args = Args::parse_from(klaxon_core::go_flags::rewrite(std::env::args_os(), &known));

    if let Some(Command::HashPassword) = args.command {
        return hash_password();
    }
    let registry = match Registry::linked() {
        Ok(registry) => registry,
        Err(e) => return fail(&e),
    };
    let mut config = match Config::load(args.config.as_deref(), std::env::vars(), &registry) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    let disabled = &mut config.server.server.disable_handlers;
    for kind in args.disable_handlers {
        let kind = kind.trim().to_owned();
        if !kind.is_empty() && !disabled.contains(&kind) {
            disabled.push(kind);
        }
    }
    if let Err(e) = config.check_disabled(&registry, "--disable-handlers") {
        return fail(&e);
    }
    match args.command.unwrap_or(Command::Run) {
        Command::Config => {
            print!("{}", config::render(&config, &registry));
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("klaxond {}", env!("CARGO_PKG_VERSION"));
            println!("kapacitor api {}", crate::http::KAPACITOR_COMPAT_VERSION);
            println!("handlers: {}", registry.kind_list());
            ExitCode::SUCCESS
        }
        Command::Run => run(config, registry),
        Command::HashPassword => hash_password(),
    }
}

/// `klaxond hash-password`: one line from stdin in, its PHC hash out.
fn hash_password() -> ExitCode {
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        return fail(&format!("cannot read the password from stdin: {e}"));
    }
    let password = line
        .strip_suffix('\n')
        .map_or(line.as_str(), |l| l.strip_suffix('\r').unwrap_or(l));
    if password.is_empty() {
        return fail(
            &"hash-password: the password on stdin is empty; pipe one line, such as `echo 's3cr3t' | klaxond hash-password`",
        );
    }
    match crate::http::auth::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("hash-password: {e}")),
    }
}

fn run(config: Config, registry: Registry) -> ExitCode {
    crate::logging::init(&config.server.logging);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async {
        let signal = shutdown_signal();
        match Server::new(config, registry).start().await {
            Ok(running) => {
                running.run_until(signal).await;
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        }
    })
}

fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("klaxond: {err}");
    ExitCode::FAILURE
}
