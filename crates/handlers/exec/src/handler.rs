//! The exec handler: one process per alert, the alert JSON on its stdin, killed at the timeout.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use klaxon_core::{
    Event, Handler, HandlerError, Init, Invalid, Live, Service, TickShape, async_trait, sample_test,
};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

use crate::Config;
use crate::policy::Allowlist;

/// How much of a program's output an error message keeps; the rest is read and dropped.
const OUTPUT_LIMIT: usize = 64 * 1024;

/// The options of one exec handler.
///
/// ```json
/// {"prog": "/usr/bin/python", "args": ["sound-the-alarm.py"]}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// The program to run: a path, or a bare name looked up on the server's PATH. It is started
    /// directly, not through a shell. A path must name an executable file when the handler is
    /// defined.
    pub prog: String,
    /// The arguments passed to the program, each as one argument, unchanged.
    pub args: Vec<String>,
}

/// The `exec` handler kind: runs a program for each alert, with the alert JSON on its stdin.
///
/// ```
/// use klaxon_core::{Init, Service};
/// use klaxon_handler_exec::{Config, ExecService, Options};
///
/// let service = ExecService::new(Init::new(Config::default())).unwrap();
/// let options = Options { prog: "/bin/sh".into(), args: vec!["-c".into(), "cat".into()] };
/// assert!(service.handler(options).is_ok());
///
/// let missing = Options { prog: "/usr/bin/no-such-pager".into(), args: vec![] };
/// assert_eq!(
///     service.handler(missing).unwrap_err().to_string(),
///     "program \"/usr/bin/no-such-pager\" does not exist on the server; install it there or fix prog"
/// );
///
/// let err = service.handler(Options::default()).unwrap_err();
/// assert_eq!(err.to_string(), "prog must not be empty");
/// ```
#[derive(Debug)]
pub struct ExecService {
    config: Live<Config>,
    /// `allowed-programs` as the server started with it, compiled once. The config API cannot
    /// change it ([`Service::reconfigure`] refuses): whoever may change configuration at runtime
    /// must not be able to widen it.
    allowlist: Allowlist,
}

#[async_trait]
impl Service for ExecService {
    const KIND: &'static str = "exec";
    const DESCRIPTION: &'static str = "runs a program for each alert, with the alert JSON on stdin";
    const TICK: TickShape = TickShape::new("exec").args(&["prog"]).rest("args");
    type Config = Config;
    type Options = Options;
    type TestOptions = Options;

    fn new(init: Init<Config>) -> Result<Self, Invalid> {
        let allowlist = Allowlist::new(&init.config.get().allowed_programs)?;
        Ok(ExecService {
            config: init.config,
            allowlist,
        })
    }

    fn handler(&self, options: Options) -> Result<Arc<dyn Handler>, Invalid> {
        if options.prog.is_empty() {
            return Err(Invalid::new("prog must not be empty"));
        }
        let prog = self.allowlist.admit(&options.prog)?;
        check_program(&prog)?;
        Ok(Arc::new(ExecHandler {
            prog,
            args: options.args,
            config: self.config.clone(),
        }))
    }

    async fn test(&self, options: Options) -> Result<(), HandlerError> {
        sample_test(self, options, "test exec message").await
    }

    fn reconfigure(&self, config: &Config) -> Result<(), Invalid> {
        if config.allowed_programs != self.allowlist.patterns() {
            return Err(Invalid::new(
                "allowed-programs cannot change while the server runs: set it in the \
                 configuration file or KLAXON_EXEC_ALLOWED_PROGRAMS and restart klaxond",
            ));
        }
        Ok(())
    }
}

/// Refuses an absolute program that cannot run, when the handler is defined: otherwise it is
/// accepted and fails at every delivery. (A bare name is looked up on `PATH` when it runs, as
/// Kapacitor does, and is not checked.)
fn check_program(prog: &str) -> Result<(), Invalid> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::path::Path::new(prog);
    if !path.is_absolute() {
        return Ok(());
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Invalid::new(format!(
            "program {prog:?} does not exist on the server; install it there or fix prog"
        ))),
        Err(e) => Err(Invalid::new(format!(
            "program {prog:?} cannot be used: {e}"
        ))),
        Ok(m) if !m.is_file() => Err(Invalid::new(format!(
            "program {prog:?} is not a file; give the path of the program itself"
        ))),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(Invalid::new(format!(
            "program {prog:?} is not executable; make it so (chmod +x) or fix prog"
        ))),
        Ok(_) => Ok(()),
    }
}

/// Runs one program, with fixed arguments, per event.
#[derive(Debug)]
struct ExecHandler {
    prog: String,
    args: Vec<String>,
    config: Live<Config>,
}

#[async_trait]
impl Handler for ExecHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let timeout = self.config.get().timeout.to_std();
        // The alert JSON ends with exactly one newline, as Kapacitor writes it. As bytes: the
        // program's stdin needs no String, whose UTF-8 check would read the JSON once more.
        let mut input = Vec::with_capacity(2048);
        event.write_alert_json(&mut input);
        run(&self.prog, &self.args, &input, timeout).await
    }

    fn sends_alert_json(&self) -> bool {
        true
    }
}

/// Runs `prog` once: `input` on its stdin, its stdout and stderr captured together, its whole
/// process group killed if it outlives `timeout`.
async fn run(
    prog: &str,
    args: &[String],
    input: &[u8],
    timeout: Duration,
) -> Result<(), HandlerError> {
    let program = format!("exec {prog}");
    let (mut child, mut output_pipe) = spawn(prog, args, input)
        .map_err(|e| HandlerError::permanent(format!("{program}: cannot start: {e}")))?;
    let mut group = GroupKiller::of(&child);
    let mut output = Output::default();

    let talked = tokio::time::timeout(
        timeout,
        talk(&mut child, input, &mut output_pipe, &mut output),
    )
    .await;
    let Ok(exited) = talked else {
        group.kill();
        // The program cannot outlive SIGKILL; reap it so that it leaves no zombie.
        let _ = child.wait().await;
        return Err(HandlerError::timed_out(program, timeout));
    };
    let status = exited.map_err(|e| HandlerError::io(&program, &e))?;
    // The program has exited: whatever it started in the background may go on running.
    group.disarm();
    drain(output_pipe, &mut output);

    if status.success() {
        return Ok(());
    }
    let mut message = format!("{program}: {}", Termination(status));
    if !output.is_empty() {
        message.push_str(&format!(": {output}"));
    }
    Err(HandlerError::permanent(message))
}

/// What a pipe holds for certain before its reader reads: one page, even for a user past
/// `pipe-user-pages-soft`, whose new pipes get no more (pipe(7)).
const PIPE_HOLDS: usize = 4096;

/// Starts `prog` as the leader of a new process group, with `input` on its stdin and one shared
/// pipe for stdout and stderr (so that their lines stay in the order the program wrote them).
///
/// An input that a pipe surely holds is written into the stdin pipe before the program starts
/// and the pipe closed behind it: no write to wait for, and one descriptor fewer for the runtime
/// to watch (with four exec handlers those watches were a tenth of klaxond's CPU,
/// docs/benchmarks.md). A larger input gets a piped stdin, which `talk` feeds.
fn spawn(prog: &str, args: &[String], input: &[u8]) -> io::Result<(Child, pipe::Receiver)> {
    let (writer, reader) = pipe::pipe()?;
    let stdout = writer.into_blocking_fd()?;
    let stderr = stdout.try_clone()?;
    let stdin = if input.len() <= PIPE_HOLDS {
        let (program_end, mut our_end) = io::pipe()?;
        io::Write::write_all(&mut our_end, input)?;
        Stdio::from(program_end)
    } else {
        Stdio::piped()
    };
    // The `Command`, which holds our copies of the pipes' ends, is dropped at the end of this
    // statement, so the output reaches end-of-file once the program's processes close theirs.
    let child = Command::new(prog)
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()?;
    Ok((child, reader))
}

/// Writes `input` to the program's stdin when `spawn` left it piped, then closes it, while
/// collecting the program's output, until the program exits.
async fn talk(
    child: &mut Child,
    input: &[u8],
    output_pipe: &mut pipe::Receiver,
    output: &mut Output,
) -> io::Result<ExitStatus> {
    let stdin = child.stdin.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // A program may exit without reading its input; like Kapacitor, that is no error.
            let _ = stdin.write_all(input).await;
        }
    };
    tokio::pin!(feed);
    let (mut fed, mut output_closed) = (false, false);
    let mut buf = [0; 8192];
    loop {
        tokio::select! {
            status = child.wait() => return status,
            () = &mut feed, if !fed => fed = true,
            read = output_pipe.read(&mut buf), if !output_closed => match read? {
                0 => output_closed = true,
                n => output.push(&buf[..n]),
            },
        }
    }
}

/// Reads what the exited program left in the output pipe. Processes it started in the background
/// may hold the pipe open: their later output is not waited for.
fn drain(output_pipe: pipe::Receiver, output: &mut Output) {
    let Ok(fd) = output_pipe.into_nonblocking_fd() else {
        return;
    };
    let mut pipe = File::from(fd);
    let mut buf = [0; 8192];
    while !output.truncated {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => output.push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // `WouldBlock`: nothing more has been written so far.
            Err(_) => break,
        }
    }
}

/// Kills a program's process group (the program and everything it started that stayed in the
/// group) when told to or when dropped, unless disarmed once the program has exited.
///
/// Dropping matters when the engine abandons a delivery (its own timeout, shutdown): the future
/// running the program is dropped, and with it this guard.
struct GroupKiller(Option<Pid>);

impl GroupKiller {
    fn of(child: &Child) -> Self {
        // The program leads its own group, so the group id is its process id. The id is known
        // until the program is reaped, which only `talk` does.
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        GroupKiller(group)
    }

    fn kill(&mut self) {
        if let Some(group) = self.0.take() {
            // Fails only when no process of the group is left, which is the goal anyway.
            let _ = killpg(group, Signal::SIGKILL);
        }
    }

    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The program's combined stdout and stderr, the first [`OUTPUT_LIMIT`] bytes of it.
#[derive(Debug, Default)]
struct Output {
    kept: Vec<u8>,
    truncated: bool,
}

impl Output {
    fn push(&mut self, bytes: &[u8]) {
        let room = OUTPUT_LIMIT - self.kept.len();
        if bytes.len() > room {
            self.truncated = true;
        }
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn is_empty(&self) -> bool {
        self.kept.trim_ascii().is_empty()
    }
}

impl fmt::Display for Output {
    /// The output as text, without trailing whitespace, saying when it was cut.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", String::from_utf8_lossy(self.kept.trim_ascii_end()))?;
        if self.truncated {
            write!(f, " [output truncated to {} KiB]", OUTPUT_LIMIT / 1024)?;
        }
        Ok(())
    }
}

/// How a program ended: `exit status 3` (in Go's words, as Kapacitor logs it) or `killed by SIGTERM`.
struct Termination(ExitStatus);

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.code(), self.0.signal()) {
            (Some(code), _) => write!(f, "exit status {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(signal) => write!(f, "killed by {signal}"),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
            (None, None) => write!(f, "{}", self.0),
        }
    }
}
