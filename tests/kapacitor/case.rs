//! A conformance case: one of Kapacitor's tests as a TOML file under `tests/kapacitor/cases/`,
//! with its TICKscript, the name of its replay data and its expected output, copied unchanged.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// One case file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Kapacitor's test name (`TestStream_Window`, or `TestStream_InfluxQL_Float/sum-0` for a
    /// subtest).
    pub kapacitor: String,
    /// The task's ID when Kapacitor's test names it otherwise than after itself (its
    /// `testStreamer(t, "TestStream_Alert", ...)` names the task after the data), as templates
    /// over `.TaskName` show.
    #[serde(default)]
    pub task: Option<String>,
    /// Why the case is not run: what Klaxon lacks. Absent: the case runs.
    #[serde(default)]
    pub skip: Option<String>,
    /// The replay data: `testdata/<data>.srpl`; also the `|httpOut()` name read, as Kapacitor's
    /// harness reads the output named after the data.
    #[serde(default)]
    pub data: Option<String>,
    /// How far Kapacitor moves its replay clock (kept for the record: Klaxon's nodes read point
    /// time, never a clock, so the whole file is replayed).
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "the record of Kapacitor's test; the whole file is replayed"
    )]
    pub duration: Option<String>,
    /// Kapacitor compares the httpOut series in any order.
    #[serde(default)]
    pub ignore_order: bool,
    /// The TICKscript. `{{ts.URL}}` stands for the case's HTTP receiver, as Kapacitor's test
    /// concatenates its test server's URL; `{{ts.Addr}}` for its TCP server's address;
    /// `{{tmp}}` for a temporary directory of the case (Kapacitor's `t.TempDir()`).
    #[serde(default)]
    pub script: String,
    /// klaxond configuration this case needs (a TOML snippet; `{{ts.URL}}` and `{{testdata}}`
    /// are substituted): the case then gets a klaxond of its own.
    #[serde(default)]
    pub config: Option<String>,
    /// The expected `|httpOut()` result, JSON.
    #[serde(default)]
    pub output: Option<String>,
    /// The alert data each request to the receiver must carry, in order (JSON each; fields left
    /// out have Go's zero value, as in Kapacitor's `alert.Data` literals).
    #[serde(default)]
    pub alerts: Vec<String>,
    /// How many requests the receiver must get (default: the number of `alerts` or `bodies`).
    #[serde(default)]
    pub requests: Option<usize>,
    /// Kapacitor blanks the alert data before comparing: only the other fields count.
    #[serde(default)]
    pub ignore_alert_data: bool,
    /// The bodies each request must carry, as JSON results (`|httpPost()`), in order.
    #[serde(default)]
    pub bodies: Vec<String>,
    /// The exact text bodies each request must carry, in order (row templates).
    #[serde(default)]
    pub raw_bodies: Vec<String>,
    /// The target (path and query) of each request, in order.
    #[serde(default)]
    pub targets: Vec<String>,
    /// A header every request must carry: `[name, value]`.
    #[serde(default)]
    pub header: Option<(String, String)>,
    /// The statuses the receiver answers with, in order (200 after them).
    #[serde(default)]
    pub statuses: Vec<u16>,
    /// Log files (`{{tmp}}/<file>` in the script) that must hold the `alerts`, one JSON a line,
    /// with this mode.
    #[serde(default)]
    pub logs: Vec<LogFile>,
    /// The exec runs expected, in any order. Each program named here stands for a recording
    /// program put in its place in the script, as Kapacitor's test puts a fake commander.
    #[serde(default)]
    pub commands: Vec<Command>,
    /// The requests a SaaS handler's test server records, in any order (Kapacitor's
    /// `compareListIgnoreOrder`): from the HTTP receiver, or the TCP server when the script or
    /// configuration names `{{ts.Addr}}`.
    #[serde(default)]
    pub received: Vec<Request>,
    /// The mails Kapacitor's SMTP test server (`smtptest`) must receive, in order; the
    /// configuration's `{{smtp.Host}}` and `{{smtp.Port}}` name the suite's SMTP server.
    #[serde(default)]
    pub mails: Vec<Mail>,
    /// The SNMP traps Kapacitor's `snmptraptest` server must receive, in any order; the
    /// configuration's `{{snmp.Addr}}` names the suite's trap receiver.
    #[serde(default)]
    pub traps: Vec<crate::snmp::Trap>,
    /// Kapacitor's test expects only that the replay runs without error
    /// (`testStreamerNoOutput` with nothing to compare): the task is still executing, with no
    /// error, after its data.
    #[serde(default)]
    pub survives: bool,
    /// Kapacitor's test compares the requests in order (`cmp.Equal`), not ignoring it.
    #[serde(default)]
    pub received_in_order: bool,
    /// The node statistics after the data (`testStreamerCardinality`'s `ExecutionStats`), JSON:
    /// node ID to its counters, compared with the task's `stats.node-stats`.
    #[serde(default)]
    pub node_stats: Option<String>,
    /// Points made at the wall clock instead of `data` (`testStreamerWithInputChannel`), and
    /// the requests they must cause.
    #[serde(default)]
    pub live: Option<crate::live::Live>,
    /// The case task's dbrps, `db.rp` each (default `dbname.rpname`, Kapacitor's `dbrps`).
    #[serde(default)]
    pub dbrps: Vec<String>,
    /// Tasks Kapacitor's test starts before the case's own (`TestStream_KapacitorLoopback`'s
    /// loop task), deleted with it.
    #[serde(default)]
    pub before: Vec<OtherTask>,
    /// Kapacitor's test expects the task to be refused when it starts: defining it must fail
    /// with an error containing this text.
    #[serde(default)]
    pub refused: Option<String>,
}

/// A task a case defines besides its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherTask {
    pub id: String,
    pub script: String,
    /// `db.rp` each.
    pub dbrps: Vec<String>,
}

/// `db.rp` as the pair the API takes.
pub fn dbrp(text: &str) -> (&str, &str) {
    text.split_once('.')
        .unwrap_or_else(|| panic!("a dbrp is db.rp, got {text:?}"))
}

/// One request as a Kapacitor test server records it: its URL, some headers, and its body
/// decoded into the server's Go struct.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `r.URL.String()`: the path and query. Not compared when absent (a TCP server has none).
    #[serde(default)]
    pub url: Option<String>,
    /// Headers the server records with `r.Header.Get` (`""`: absent).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The body as the struct decodes it, JSON with every field of the struct: a field the
    /// request leaves out or sends as `null` has its zero value, and keys the struct does not
    /// have are ignored, as Go's decoder does.
    pub body: String,
    /// Keys whose values are Go maps (`map[string]interface{}`), compared whole: a key more
    /// counts.
    #[serde(default)]
    pub maps: Vec<String>,
    /// The server's decoder keeps the keys its struct does not name (sensu's metadata,
    /// bigpanda's attributes): a key of the body that `body` does not list counts.
    #[serde(default)]
    pub exact: bool,
    /// The body is a form (`application/x-www-form-urlencoded`), read as the server's
    /// `url.ParseQuery` and `Get` do: `body` is an object of the first value of each key.
    #[serde(default)]
    pub form: bool,
}

/// A log file a case's `.log()` handler writes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    /// The file's name in the case's temporary directory.
    pub file: String,
    /// Its permissions (TOML's `0o644`).
    pub mode: u32,
}

/// A mail as Kapacitor's `smtptest.Message.Compare` checks it: the headers it lists (one value
/// each), and the body as sent (quoted-printable, lines ending in `\n`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    pub headers: std::collections::BTreeMap<String, String>,
    pub body: String,
}

/// One run of a program, as Kapacitor's `commandtest.Command` records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// The program as the script names it.
    pub prog: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The bytes written to its stdin.
    pub stdin: String,
}

/// The directory of this suite.
pub fn suite_dir() -> PathBuf {
    klaxon_e2e::workspace_root().join("tests/kapacitor")
}

/// Every case, sorted by Kapacitor's name.
pub fn load_all() -> Vec<Case> {
    let dir = suite_dir().join("cases");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| load(&p))
        .collect();
    cases.sort_by(|a, b| a.kapacitor.cmp(&b.kapacitor));
    cases
}

fn load(path: &Path) -> Case {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let case: Case =
        toml::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    assert_eq!(
        stem,
        case.file_stem(),
        "{} must be named after its Kapacitor test",
        path.display()
    );
    if case.skip.is_none() {
        assert!(
            case.output.is_some()
                || !case.alerts.is_empty()
                || case.requests.is_some()
                || !case.bodies.is_empty()
                || !case.raw_bodies.is_empty()
                || !case.commands.is_empty()
                || !case.received.is_empty()
                || case.survives
                || !case.mails.is_empty()
                || !case.traps.is_empty()
                || case.node_stats.is_some()
                || case.live.is_some()
                || case.refused.is_some(),
            "{} expects nothing",
            path.display()
        );
    }
    case
}

impl Case {
    /// The case file's name without `.toml`: the test name with `/` as `_`.
    pub fn file_stem(&self) -> String {
        self.kapacitor.replace('/', "_")
    }

    /// The task ID: the test name, with a subtest's `/` as `.` (task IDs allow no `/`).
    pub fn task_id(&self) -> String {
        if let Some(task) = &self.task {
            return task.clone();
        }
        self.kapacitor.replace('/', ".")
    }

    /// The programs its commands name, each once, in order of first mention.
    pub fn programs(&self) -> Vec<&str> {
        let mut programs: Vec<&str> = Vec::new();
        for command in &self.commands {
            if !programs.contains(&command.prog.as_str()) {
                programs.push(&command.prog);
            }
        }
        programs
    }

    /// Whether the case talks to an HTTP receiver.
    pub fn uses_receiver(&self) -> bool {
        let tcp = self.script.contains("{{ts.Addr}}")
            || self
                .config
                .as_deref()
                .is_some_and(|c| c.contains("{{ts.Addr}}"));
        if !tcp && !self.received.is_empty() {
            return true;
        }
        self.script.contains("{{ts.URL}}")
            || self
                .config
                .as_deref()
                .is_some_and(|c| c.contains("{{ts.URL}}"))
    }
}
