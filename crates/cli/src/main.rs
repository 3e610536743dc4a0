//! `klaxon`, the command-line client for Klaxon (and Kapacitor) servers.
//!
//! Commands, arguments and output follow Kapacitor's `kapacitor` CLI (`cmd/kapacitor/main.go`),
//! including its single-dash long flags (`-url`, `-tick`), so commands from Kapacitor's
//! documentation work with only the program name changed. Errors print `Error: <message>` on
//! standard error; exit codes are 2 for usage, 3 for a failed command and 4 when the server
//! cannot be reached, as Kapacitor's.

mod client;
mod commands;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use client::{Client, ClientError, Trust};

const DEFAULT_URL: &str = "http://localhost:9092";

/// Command-line client for Klaxon, compatible with Kapacitor's `kapacitor` CLI.
///
/// Every long flag also takes Kapacitor's single dash: `klaxon -url http://host:9092 list tasks`.
#[derive(Debug, Parser)]
#[command(name = "klaxon", version, long_about = None)]
#[command(about = "Command-line client for Klaxon, compatible with Kapacitor's `kapacitor` CLI")]
#[command(
    after_help = "Commands from Kapacitor's documentation work with `klaxon` in place of \
`kapacitor`.\nSee 'klaxon help <command>' for a command's options."
)]
struct Args {
    /// The server URL, http(s)://host:port [env: KLAXON_URL, then KAPACITOR_URL] [default:
    /// http://localhost:9092]. Credentials: KLAXON_USERNAME and KLAXON_PASSWORD (or
    /// http://user:password@host:port, which other users can see in `ps`)
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,

    /// Do not verify the server's TLS certificate (insecure) [env: KLAXON_UNSAFE_SSL, then
    /// KAPACITOR_UNSAFE_SSL]
    #[arg(long = "skipVerify", global = true)]
    skip_verify: bool,

    /// A PEM file of CA certificates to trust for an https:// server, beside the system's
    /// [env: KLAXON_CACERT]
    #[arg(long, global = true, value_name = "FILE")]
    cacert: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record the result of a query or a snapshot of the current stream data.
    #[command(subcommand)]
    Record(commands::recordings::Record),
    /// Create or update a task; an enabled task is reloaded unless -no-reload.
    #[command(after_help = "Define a task the first time with all the flags:\n\n  \
        klaxon define my_task -tick path/to/TICKscript -type stream -dbrp mydb.myrp\n\n\
        Later, change one property by giving only that option (an absent option is left \
        unmodified):\n\n  klaxon define my_task -tick path/to/TICKscript\n  \
        klaxon define my_task -dbrp mydb.myrp -dbrp otherdb.default\n\n\
        Give every -dbrp you want when you change them.")]
    Define {
        /// The task ID.
        id: String,
        /// Path to the TICKscript.
        #[arg(long, value_name = "FILE")]
        tick: Option<PathBuf>,
        /// The task type, stream or batch; without it, the script's.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// A database and retention policy pair of the form "db"."rp"; the quotes are
        /// optional. Repeatable.
        #[arg(long, value_name = "DB.RP")]
        dbrp: Vec<String>,
        /// The template the task is made from (with its vars from -vars).
        #[arg(long, value_name = "TEMPLATE_ID")]
        template: Option<String>,
        /// A JSON file of the task's vars: {"name": {"type": "string", "value": "cpu"}}.
        #[arg(long, value_name = "FILE")]
        vars: Option<PathBuf>,
        /// A YAML or JSON template task file (template-id, dbrps, vars; its id, if given,
        /// must be the task ID).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Do not reload the task even if it is enabled.
        #[arg(long = "no-reload")]
        no_reload: bool,
    },
    /// Create or update a template; the tasks made from it follow it.
    #[command(
        name = "define-template",
        after_help = "Define a template the first time with all the flags:\n\n  \
        klaxon define-template my_template -tick path/to/TICKscript -type stream\n\n\
        Later, change one property by giving only that option:\n\n  \
        klaxon define-template my_template -tick path/to/TICKscript"
    )]
    DefineTemplate {
        /// The template ID.
        id: String,
        /// Path to the TICKscript.
        #[arg(long, value_name = "FILE")]
        tick: Option<PathBuf>,
        /// The template type, stream or batch; without it, the script's.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
    },
    /// Create or update an alert handler for a topic, from a YAML or JSON file.
    #[command(name = "define-topic-handler")]
    DefineTopicHandler {
        /// The handler file: topic, id, kind, options and match.
        file: PathBuf,
    },
    /// Replay a recording to a task (prints the replay ID).
    Replay(commands::recordings::ReplayArgs),
    /// Replay data against a task without recording it.
    #[command(name = "replay-live", subcommand)]
    ReplayLive(commands::recordings::ReplayLive),
    /// Watch a task's log lines, its alert events among them, as they happen (Ctrl-C stops).
    #[command(after_help = "Examples:\n  klaxon watch cpu_alert\n  \
        klaxon watch cpu_alert node=alert2\n  klaxon watch cpu          (a topic: the events \
        collected into it)")]
    Watch {
        /// The task ID; a topic's ID when no task has it.
        id: String,
        /// More key=value filters on the log lines.
        tags: Vec<String>,
    },
    /// Follow the server's log lines that match key=value filters (Ctrl-C stops).
    #[command(
        after_help = "Examples:\n  klaxon logs lvl=error\n  klaxon logs lvl=info+\n  \
        klaxon logs task=cpu_alert"
    )]
    Logs {
        /// key=value filters; lvl=info+ means info and above.
        tags: Vec<String>,
    },
    /// Enable and start tasks with live data.
    Enable {
        /// Task IDs or glob patterns (such as *_alert).
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Stop tasks.
    Disable {
        /// Task IDs or glob patterns.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reload tasks with their current definition (disable, then enable).
    Reload {
        /// Task IDs or glob patterns.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Publish a task definition to another server (not implemented, in Kapacitor either).
    Push {
        /// Ignored.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Delete tasks, recordings, replays, topics or topic handlers.
    Delete {
        /// What to delete.
        what: commands::Deletable,
        /// IDs or glob patterns. For topic-handlers: the topic, then handler IDs or patterns.
        #[arg(required = true)]
        args: Vec<String>,
    },
    /// List tasks, recordings, replays, topics, topic handlers or service tests.
    #[command(
        after_help = "Listing handlers takes the topic (or a pattern) before the handler \
        patterns:\n  klaxon list topic-handlers system email*"
    )]
    List {
        /// What to list.
        what: commands::Listable,
        /// IDs or glob patterns (everything when none).
        patterns: Vec<String>,
    },
    /// Show a task: its definition, status, and its graph with each node's counters.
    Show {
        /// Show the task as a running replay sees it.
        #[arg(long, value_name = "REPLAY_ID")]
        replay: Option<String>,
        /// The task ID.
        id: String,
    },
    /// Show a template: its script, its vars with their defaults, and its graph.
    #[command(name = "show-template")]
    ShowTemplate {
        /// The template ID.
        id: String,
    },
    /// Show a topic handler.
    #[command(name = "show-topic-handler")]
    ShowTopicHandler {
        /// The topic ID.
        topic: String,
        /// The handler ID.
        id: String,
    },
    /// Show a topic: its level, handlers and events.
    #[command(name = "show-topic")]
    ShowTopic {
        /// The topic ID.
        topic: String,
    },
    /// Flux tasks (not supported by Klaxon).
    Flux {
        /// Ignored.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Back up the server's database to a file, while it runs.
    #[command(
        after_help = "To restore, stop klaxond and replace data-dir/klaxon.db with the \
        backup file."
    )]
    Backup {
        /// The file to write.
        file: PathBuf,
    },
    /// Set the server's log level while it runs.
    Level {
        /// debug, info, warn or error (Kapacitor has debug, info and error).
        level: String,
    },
    /// Display statistics about the server.
    Stats {
        /// general: a summary; ingress: points received by database, retention policy and
        /// measurement.
        category: StatsCategory,
    },
    /// Silence alerts (add, list, expire): Klaxon's own, Kapacitor has none.
    #[command(subcommand)]
    Silence(commands::silences::Silence),
    /// Print this client's version.
    Version,
    /// Print the server's debug vars (statistics) as JSON.
    Vars,
    /// Test services: list them with 'klaxon list service-tests'.
    #[command(name = "service-tests")]
    ServiceTests {
        /// Test options as a JSON object, for every test named (such as
        /// '{"address":"127.0.0.1:7777"}'); without it each test runs with its defaults.
        #[arg(long, value_name = "JSON")]
        options: Option<String>,
        /// Service names or glob patterns.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// `stats general|ingress`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatsCategory {
    /// Summary statistics.
    General,
    /// Points received by database, retention policy and measurement.
    Ingress,
}

fn main() -> ExitCode {
    let known = long_flags(&Args::command());
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let args = Args::parse_from(klaxon_core::go_flags::rewrite(std::env::args_os(), &known));
    // `version` needs no server, as in Kapacitor.
    if let Command::Version = args.command {
        println!(
            "Klaxon {} (Kapacitor CLI compatible, API {})",
            env!("CARGO_PKG_VERSION"),
            commands::KAPACITOR_API
        );
        return ExitCode::SUCCESS;
    }
    let url = args
        .url
        .clone()
        .or_else(|| std::env::var("KLAXON_URL").ok())
        .or_else(|| std::env::var("KAPACITOR_URL").ok())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let trust = match trust(&args) {
        Ok(trust) => trust,
        Err(e) => {
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(&url, &trust, args.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `-skipVerify` and `-cacert`, with their environment variables. As in Kapacitor, the flag can
/// only turn skipping on, and an unreadable boolean in the environment is an error.
fn trust(args: &Args) -> Result<Trust, String> {
    let mut skip_verify = args.skip_verify;
    for name in ["KLAXON_UNSAFE_SSL", "KAPACITOR_UNSAFE_SSL"] {
        if let Ok(value) = std::env::var(name) {
            let parsed = match value.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
                "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => false,
                _ => {
                    return Err(format!(
                        "{name}={value:?} is not a boolean; use true or false"
                    ));
                }
            };
            skip_verify |= parsed;
            break;
        }
    }
    let ca_file = args
        .cacert
        .clone()
        .or_else(|| std::env::var_os("KLAXON_CACERT").map(Into::into));
    Ok(Trust {
        skip_verify,
        ca_file,
    })
}

async fn dispatch(url: &str, trust: &Trust, command: Command) -> Result<(), ClientError> {
    use commands::{
        Deletable, Listable, recordings, server, tasks, templates, topic_handlers, topics,
    };
    let client = Client::new(url, trust)?;
    let mut out = std::io::stdout().lock();
    match command {
        Command::Record(record) => recordings::record(&client, record, &mut out).await,
        Command::Define {
            id,
            tick,
            kind,
            dbrp,
            template,
            vars,
            file,
            no_reload,
        } => {
            let definition = tasks::Definition {
                tick,
                kind,
                dbrps: dbrp,
                template,
                vars,
                file,
                no_reload,
            };
            tasks::define(&client, &id, &definition).await
        }
        Command::DefineTemplate { id, tick, kind } => {
            templates::define(&client, &id, tick.as_ref(), kind.as_deref()).await
        }
        Command::DefineTopicHandler { file } => topic_handlers::define(&client, &file).await,
        Command::Replay(replay) => recordings::replay(&client, replay, &mut out).await,
        Command::ReplayLive(replay) => recordings::replay_live(&client, replay, &mut out).await,
        Command::Watch { id, tags } => commands::logs::watch(&client, &id, &tags, &mut out).await,
        Command::Logs { tags } => commands::logs::follow(&client, &tags, &mut out).await,
        Command::Enable { ids } => tasks::change_status(&client, &ids, tasks::Action::Enable).await,
        Command::Disable { ids } => {
            tasks::change_status(&client, &ids, tasks::Action::Disable).await
        }
        Command::Reload { ids } => tasks::change_status(&client, &ids, tasks::Action::Reload).await,
        Command::Push { .. } => Err(ClientError::Input(
            "push is not implemented (it is not in Kapacitor either); copy a task with \
             'klaxon show' on one server and 'klaxon define' on the other"
                .to_owned(),
        )),
        Command::Delete { what, args } => match what {
            Deletable::Tasks => tasks::delete(&client, &args).await,
            Deletable::Templates => templates::delete(&client, &args).await,
            Deletable::Recordings | Deletable::Replays => {
                recordings::delete(&client, what, &args).await
            }
            Deletable::Topics => topics::delete(&client, &args).await,
            Deletable::TopicHandlers => match args.split_first() {
                Some((topic, patterns)) if !patterns.is_empty() => {
                    topic_handlers::delete(&client, topic, patterns).await
                }
                _ => Err(ClientError::Usage(
                    "delete topic-handlers needs the topic, then handler IDs or patterns: \
                     klaxon delete topic-handlers TOPIC PATTERN..."
                        .to_owned(),
                )),
            },
        },
        Command::List { what, patterns } => match what {
            Listable::Tasks => tasks::list(&client, &patterns, &mut out).await,
            Listable::Templates => templates::list(&client, &patterns, &mut out).await,
            Listable::Recordings | Listable::Replays => {
                recordings::list(&client, what, &patterns, &mut out).await
            }
            Listable::Topics => topics::list(&client, &patterns, &mut out).await,
            Listable::TopicHandlers => topic_handlers::list(&client, &patterns, &mut out).await,
            Listable::ServiceTests => {
                commands::service_tests::list(&client, &patterns, &mut out).await
            }
        },
        Command::Show { replay, id } => {
            tasks::show(&client, &id, replay.as_deref(), &mut out).await
        }
        Command::ShowTemplate { id } => templates::show(&client, &id, &mut out).await,
        Command::ShowTopicHandler { topic, id } => {
            topic_handlers::show(&client, &topic, &id, &mut out).await
        }
        Command::ShowTopic { topic } => topics::show(&client, &topic, &mut out).await,
        Command::Flux { .. } => Err(ClientError::Input(
            "flux tasks are not supported by Klaxon; write the task in TICKscript".to_owned(),
        )),
        Command::Backup { file } => server::backup(&client, &file).await,
        Command::Level { level } => server::level(&client, &level).await,
        Command::Stats { category } => match category {
            StatsCategory::General => server::stats_general(&client, &mut out).await,
            StatsCategory::Ingress => server::stats_ingress(&client, &mut out).await,
        },
        Command::Silence(silence) => commands::silences::run(&client, silence, &mut out).await,
        Command::Version => Ok(()),
        Command::Vars => server::vars(&client, &mut out).await,
        Command::ServiceTests { options, names } => {
            commands::service_tests::run(&client, &names, options.as_deref(), &mut out).await
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Args::command().debug_assert();
    }
}
