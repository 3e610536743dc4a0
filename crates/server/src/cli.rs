//! `klaxond`'s command line: run the server, print the configuration (Klaxon's own, or the
//! equivalent of a Kapacitor `kapacitor.conf`), print the version, hash a password. Kapacitor's
//! `kapacitord run` flags work too, single dash included (`-config`, `-pidfile`, `-log-file`,
//! `-log-level`, `-disable-handlers`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args as ClapArgs, CommandFactory, Parser, Subcommand};
use klaxon_core::Registry;

use crate::config::{self, Config};
use crate::server::{Server, shutdown_signal};

/// Klaxon's alert server, compatible with InfluxData's Kapacitor.
///
/// Without a command, it runs the server. It reads a Klaxon configuration (klaxon.toml) or
/// Kapacitor's kapacitor.conf as it is.
#[derive(Debug, Parser)]
#[command(name = "klaxond", version)]
#[command(about = "Klaxon's alert server, compatible with InfluxData's Kapacitor")]
#[command(
    after_help = "Examples:\n  klaxond                                   run with the \
built-in defaults\n  klaxond --config /etc/kapacitor/kapacitor.conf\n  klaxond config > \
klaxon.toml                print every key with its default\n  klaxond config --from-kapacitor \
kapacitor.conf\n  klaxond hash-password                     hash a password for [[http.users]]"
)]
struct Args {
    #[command(flatten)]
    run: RunArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

/// What running the server (or printing its configuration) reads.
#[derive(Debug, Clone, Default, ClapArgs)]
struct RunArgs {
    /// Configuration file: Klaxon's TOML, or Kapacitor's kapacitor.conf as it is. Without it the
    /// built-in defaults are used.
    #[arg(long, env = "KLAXON_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Handler kinds to disable, comma-separated (such as exec,tcp), added to [server]
    /// disable-handlers: they are absent everywhere, inline TICKscript handlers included.
    #[arg(long, value_delimiter = ',', value_name = "KINDS")]
    disable_handlers: Vec<String>,

    /// Write the process ID to this file (its directory is created), as kapacitord's -pidfile.
    #[arg(long, value_name = "FILE")]
    pidfile: Option<PathBuf>,

    /// Write the log to this file instead of [logging] file, as kapacitord's -log-file.
    #[arg(long = "log-file", value_name = "FILE")]
    log_file: Option<String>,

    /// The log level instead of [logging] level (debug, info, warn or error), as kapacitord's
    /// -log-level.
    #[arg(long = "log-level", value_name = "LEVEL")]
    log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default), as `kapacitord run`.
    Run(RunArgs),
    /// Print the configuration as TOML with a comment on every key: the defaults, the effective
    /// configuration with --config, or with --from-kapacitor the klaxon.toml equivalent to a
    /// kapacitor.conf.
    Config {
        #[command(flatten)]
        run: RunArgs,
        /// A Kapacitor configuration file to translate; what Klaxon does not implement is listed
        /// at the top.
        #[arg(long = "from-kapacitor", value_name = "FILE")]
        from_kapacitor: Option<PathBuf>,
    },
    /// Print the version and the handler kinds this binary was built with.
    Version,
    /// Hash a password or token for `password` in [[http.users]] or `hash` in [[http.tokens]]:
    /// asked for on a terminal (not shown, typed twice), else read as one line from stdin.
    #[command(name = "hash-password")]
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
    let known = long_flags(&Args::command());
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let args = Args::parse_from(klaxon_core::go_flags::rewrite(std::env::args_os(), &known));
    let command = args.command.unwrap_or(Command::Run(RunArgs::default()));
    match command {
        Command::HashPassword => hash_password(),
        Command::Version => match Registry::linked() {
            Ok(registry) => {
                println!("klaxond {}", env!("CARGO_PKG_VERSION"));
                println!("kapacitor api {}", crate::http::KAPACITOR_COMPAT_VERSION);
                println!("handlers: {}", registry.kind_list());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Config {
            run,
            from_kapacitor,
        } => {
            let run = merge(args.run, run);
            let from = from_kapacitor.is_some();
            let run = RunArgs {
                config: from_kapacitor.or(run.config),
                ..run
            };
            match configure(&run) {
                Ok((config, registry)) => {
                    if from {
                        print!("{}", translation_notes(&config));
                        print!("{}", config::render_with_secrets(&config, &registry));
                    } else {
                        print!("{}", config::render(&config, &registry));
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Run(run) => {
            let run = merge(args.run, run);
            match configure(&run) {
                Ok((config, registry)) => self::run(config, registry, run.pidfile.as_deref()),
                Err(e) => fail(&e),
            }
        }
    }
}

/// The flags given before the command and after it, the later winning.
fn merge(before: RunArgs, after: RunArgs) -> RunArgs {
    let mut disable_handlers = before.disable_handlers;
    disable_handlers.extend(after.disable_handlers);
    RunArgs {
        config: after.config.or(before.config),
        disable_handlers,
        pidfile: after.pidfile.or(before.pidfile),
        log_file: after.log_file.or(before.log_file),
        log_level: after.log_level.or(before.log_level),
    }
}

/// The configuration (file, environment, then these flags) and the handler kinds.
fn configure(run: &RunArgs) -> Result<(Config, Registry), String> {
    let registry = Registry::linked().map_err(|e| e.to_string())?;
    let mut config = Config::load(run.config.as_deref(), std::env::vars(), &registry)
        .map_err(|e| e.to_string())?;
    let disabled = &mut config.server.server.disable_handlers;
    for kind in &run.disable_handlers {
        let kind = kind.trim().to_owned();
        if !kind.is_empty() && !disabled.contains(&kind) {
            disabled.push(kind);
        }
    }
    config
        .check_disabled(&registry, "--disable-handlers")
        .map_err(|e| e.to_string())?;
    if let Some(file) = &run.log_file {
        config.server.logging.file = file.clone();
    }
    if let Some(level) = &run.log_level {
        crate::logging::check_level(level).map_err(|e| format!("-log-level: {e}"))?;
        config.server.logging.level = level.to_ascii_lowercase();
    }
    Ok((config, registry))
}

/// The comment `config --from-kapacitor` prints before the translated configuration.
fn translation_notes(config: &Config) -> String {
    let mut out = String::from(
        "# Translated from a Kapacitor configuration by `klaxond config --from-kapacitor`.\n\
         # It has the passwords and tokens of that file: keep it as private as the file.\n",
    );
    let unimplemented = &config.unimplemented;
    if unimplemented.is_empty() {
        out.push_str("# Klaxon implements everything it sets.\n");
        return out;
    }
    out.push_str("# Left out, as Klaxon does not implement them yet:\n");
    for item in &unimplemented.in_use {
        out.push_str(&format!("#   {item}\n"));
    }
    for item in &unimplemented.disabled {
        out.push_str(&format!("#   {item} (disabled in the file)\n"));
    }
    out
}

/// `klaxond hash-password`: the password asked for on a terminal (without echo, twice), or one
/// line of stdin; its PHC hash out.
fn hash_password() -> ExitCode {
    let password = if std::io::stdin().is_terminal() {
        match ask_twice() {
            Ok(password) => password,
            Err(e) => return fail(&e),
        }
    } else {
        let mut line = String::new();
        if let Err(e) = std::io::stdin().read_line(&mut line) {
            return fail(&format!("cannot read the password from stdin: {e}"));
        }
        line.strip_suffix('\n')
            .map_or(line.as_str(), |l| l.strip_suffix('\r').unwrap_or(l))
            .to_owned()
    };
    if password.is_empty() {
        return fail(
            &"hash-password: the password is empty; type one, or pipe one line, such as \
              `echo 's3cr3t' | klaxond hash-password`",
        );
    }
    match crate::password::hash_password(&password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("hash-password: {e}")),
    }
}

/// Asks for the password on the terminal without showing it, then again to confirm.
fn ask_twice() -> Result<String, String> {
    let first = ask_hidden("Password: ")?;
    let second = ask_hidden("Confirm password: ")?;
    if first != second {
        return Err("hash-password: the two passwords differ; run it again".to_owned());
    }
    Ok(first)
}

/// One line from the terminal, its echo off while it is typed.
fn ask_hidden(prompt: &str) -> Result<String, String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let mut stderr = std::io::stderr();
    let original = tcgetattr(&stdin).map_err(|e| format!("cannot read the terminal: {e}"))?;
    let mut quiet = original.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    // Echo off before the prompt shows: what is typed as soon as it appears is not echoed.
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet)
        .map_err(|e| format!("cannot turn off the terminal's echo: {e}"))?;
    let _ = write!(stderr, "{prompt}");
    let _ = stderr.flush();
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &original);
    read.map_err(|e| format!("cannot read the password: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn run(config: Config, registry: Registry, pidfile: Option<&Path>) -> ExitCode {
    if let Err(e) = crate::logging::init(&config.server.logging) {
        return fail(&e);
    }
    if !config.unimplemented.is_empty() {
        tracing::warn!("{}", config.unimplemented.warning());
    }
    let _pidfile = match pidfile.map(PidFile::write).transpose() {
        Ok(pidfile) => pidfile,
        Err(e) => return fail(&e),
    };
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

/// `-pidfile`: the process ID written at start, the file removed at exit.
struct PidFile(PathBuf);

impl PidFile {
    fn write(path: &Path) -> Result<PidFile, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("-pidfile {}: mkdir: {e}", path.display()))?;
        }
        std::fs::write(path, std::process::id().to_string())
            .map_err(|e| format!("-pidfile {}: {e}", path.display()))?;
        Ok(PidFile(path.to_owned()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every long flag of the command tree, for the Go-style `-flag` rewrite.
fn long_flags(command: &clap::Command) -> Vec<String> {
    let mut names: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect();
    for sub in command.get_subcommands() {
        names.extend(long_flags(sub));
    }
    names
}

fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("klaxond: {err}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn help_says_what_klaxond_is_and_hash_password_lists_no_server_flags() {
        let mut command = Args::command();
        let help = command.render_help().to_string();
        assert!(
            help.starts_with("Klaxon's alert server, compatible with InfluxData's Kapacitor"),
            "{help}"
        );
        let hash = command
            .find_subcommand_mut("hash-password")
            .unwrap()
            .render_help()
            .to_string();
        assert!(!hash.contains("--config"), "{hash}");
        assert!(!hash.contains("--disable-handlers"), "{hash}");
    }
}
