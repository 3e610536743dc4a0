//! `klaxon`, the command-line client for Klaxon (and Kapacitor) servers.
//!
//! Commands, arguments and output follow Kapacitor's `kapacitor` CLI, including its single-dash
//! long flags (`-url`, `-tick`), so commands from Kapacitor's documentation work with only the
//! program name changed. Errors print `Error: <message>` on standard error; exit codes are 2 for
//! usage, 3 for a server error and 4 when the server cannot be reached.

mod client;
mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use client::{Client, ClientError};

const DEFAULT_URL: &str = "http://localhost:9092";

/// Command-line client for Klaxon, compatible with Kapacitor's `kapacitor` CLI.
#[derive(Debug, Parser)]
#[command(name = "klaxon", version, about, long_about = None)]
struct Args {
    /// The server URL [env: KLAXON_URL, then KAPACITOR_URL] [default: http://localhost:9092]
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List things on the server.
    List {
        /// What to list.
        what: Listable,
        /// Glob patterns of names (all when none).
        patterns: Vec<String>,
    },
    /// Define a task, or change an existing one (reloading it if it is enabled).
    Define {
        /// The task ID.
        id: String,
        /// The TICKscript file.
        #[arg(long, value_name = "FILE")]
        tick: Option<std::path::PathBuf>,
        /// The task type: stream.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
        /// A database and retention policy, db.rp (repeatable).
        #[arg(long, value_name = "DB.RP")]
        dbrp: Vec<String>,
        /// Do not reload an enabled task.
        #[arg(long = "no-reload")]
        no_reload: bool,
    },
    /// Enable tasks.
    Enable {
        /// Task IDs or glob patterns.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Disable tasks.
    Disable {
        /// Task IDs or glob patterns.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Reload tasks (disable, then enable).
    Reload {
        /// Task IDs or glob patterns.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Show a task.
    Show {
        /// The task ID.
        id: String,
    },
    /// Define or replace a topic handler from a YAML or JSON file.
    #[command(name = "define-topic-handler")]
    DefineTopicHandler {
        /// The handler file: topic, id, kind, options and match.
        file: std::path::PathBuf,
    },
    /// Show a topic: its level, handlers and events.
    #[command(name = "show-topic")]
    ShowTopic {
        /// The topic ID.
        topic: String,
    },
    /// Show a topic handler.
    #[command(name = "show-topic-handler")]
    ShowTopicHandler {
        /// The topic ID.
        topic: String,
        /// The handler ID.
        id: String,
    },
    /// Delete things on the server.
    Delete {
        /// What to delete.
        what: Deletable,
        /// For topics: glob patterns of topic IDs. For topic-handlers: the topic, then glob
        /// patterns of handler IDs.
        #[arg(required = true)]
        args: Vec<String>,
    },
    /// Run service tests with their default options.
    #[command(name = "service-tests")]
    ServiceTests {
        /// Service names or glob patterns.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Listable {
    /// The services that have a test.
    #[value(name = "service-tests")]
    ServiceTests,
    /// Tasks: `list tasks [pattern...]`.
    Tasks,
    /// Topics: `list topics [pattern]`.
    Topics,
    /// Topic handlers: `list topic-handlers [topic-pattern] [handler-pattern...]`.
    #[value(name = "topic-handlers")]
    TopicHandlers,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Deletable {
    /// Tasks: `delete tasks PATTERN...`.
    Tasks,
    /// Topics: `delete topics PATTERN...`.
    Topics,
    /// Topic handlers: `delete topic-handlers TOPIC PATTERN...`.
    #[value(name = "topic-handlers")]
    TopicHandlers,
}

fn main() -> ExitCode {
    let known = long_flags(&Args::command());
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let args = Args::parse_from(klaxon_core::go_flags::rewrite(std::env::args_os(), &known));
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
    match runtime.block_on(dispatch(&url, args.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(url: &str, command: Command) -> Result<(), ClientError> {
    let client = Client::new(url)?;
    let mut out = std::io::stdout().lock();
    match command {
        Command::List {
            what: Listable::ServiceTests,
            patterns,
        } => commands::service_tests::list(&client, &patterns, &mut out).await,
        Command::List {
            what: Listable::Tasks,
            patterns,
        } => commands::tasks::list(&client, &patterns, &mut out).await,
        Command::Define {
            id,
            tick,
            kind,
            dbrp,
            no_reload,
        } => {
            commands::tasks::define(
                &client,
                &id,
                tick.as_deref(),
                kind.as_deref(),
                &dbrp,
                no_reload,
            )
            .await
        }
        Command::Enable { ids } => commands::tasks::change_status(&client, &ids, "enabled").await,
        Command::Disable { ids } => commands::tasks::change_status(&client, &ids, "disabled").await,
        Command::Reload { ids } => commands::tasks::change_status(&client, &ids, "reload").await,
        Command::Show { id } => commands::tasks::show(&client, &id, &mut out).await,
        Command::Delete {
            what: Deletable::Tasks,
            args,
        } => commands::tasks::delete(&client, &args).await,
        Command::List {
            what: Listable::Topics,
            patterns,
        } => commands::topics::list(&client, &patterns, &mut out).await,
        Command::List {
            what: Listable::TopicHandlers,
            patterns,
        } => commands::topic_handlers::list(&client, &patterns, &mut out).await,
        Command::DefineTopicHandler { file } => {
            commands::topic_handlers::define(&client, &file).await
        }
        Command::ShowTopic { topic } => commands::topics::show(&client, &topic, &mut out).await,
        Command::ShowTopicHandler { topic, id } => {
            commands::topic_handlers::show(&client, &topic, &id, &mut out).await
        }
        Command::Delete {
            what: Deletable::Topics,
            args,
        } => commands::topics::delete(&client, &args).await,
        Command::Delete {
            what: Deletable::TopicHandlers,
            args,
        } => match args.split_first() {
            Some((topic, patterns)) if !patterns.is_empty() => {
                commands::topic_handlers::delete(&client, topic, patterns).await
            }
            _ => Err(ClientError::Input(
                "delete topic-handlers needs the topic and at least one handler pattern: \
                 klaxon delete topic-handlers TOPIC PATTERN..."
                    .to_owned(),
            )),
        },
        Command::ServiceTests { names } => {
            commands::service_tests::run(&client, &names, &mut out).await
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
