//! The receiving ends of Kapacitor's alert-handler tests other than an HTTP server: its TCP
//! server (`alerttest.NewTCPServer`: one alert JSON per connection), log files
//! (`alerttest.NewLog`: alert JSON lines and the file's mode) and exec programs (Kapacitor's
//! test swaps in a fake commander that records the program, its arguments and its stdin; here
//! a real recording program stands at the path the script names).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use klaxon_e2e::{DEADLINE, TcpSink, wait_for};
use serde_json::Value;

use klaxon_http::testing::Received;

use crate::case::{Case, Command, Mail, Request};
use crate::compare;

/// Kapacitor's TCP server and the case's temporary directory, with the recording programs.
pub struct Sinks {
    pub tcp: Option<TcpSink>,
    pub smtp: Option<SmtpSink>,
    pub snmp: Option<crate::snmp::TrapSink>,
    pub dir: tempfile::TempDir,
}

impl Sinks {
    /// What `case` needs: a TCP server when its script names `{{ts.Addr}}`, a recording program
    /// for each program its commands name.
    pub fn start(case: &Case) -> Sinks {
        let tcp = (case.script.contains("{{ts.Addr}}")
            || case
                .config
                .as_deref()
                .is_some_and(|c| c.contains("{{ts.Addr}}")))
        .then(TcpSink::start);
        let dir = tempfile::tempdir().expect("a temporary directory for the case");
        let smtp = (!case.mails.is_empty()).then(SmtpSink::start);
        let snmp = (!case.traps.is_empty()).then(crate::snmp::TrapSink::start);
        let sinks = Sinks {
            tcp,
            smtp,
            snmp,
            dir,
        };
        std::fs::create_dir(sinks.runs()).expect("the exec runs directory");
        for (i, prog) in case.programs().into_iter().enumerate() {
            let path = sinks.recorder(i);
            // Each run writes into a directory of its own and renames it when complete, so a
            // run is read whole or not at all.
            let script = format!(
                "#!/bin/sh\nset -e\nd=$(mktemp -d '{runs}/.run.XXXXXX')\nprintf '%s' '{prog}' > \"$d/prog\"\n: > \"$d/args\"\nfor a in \"$@\"; do printf '%s\\0' \"$a\" >> \"$d/args\"; done\ncat > \"$d/stdin\"\nmv \"$d\" '{runs}/run.'\"${{d##*.}}\"\n",
                runs = sinks.runs().display(),
            );
            std::fs::write(&path, script).expect("write a recording program");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("make the recording program executable");
        }
        sinks
    }

    /// `text` with the placeholders of the case filled in and each program its commands name
    /// replaced by its recording program.
    pub fn substitute(&self, case: &Case, text: &str) -> String {
        let mut text = text.replace("{{tmp}}", &self.dir.path().display().to_string());
        if let Some(tcp) = &self.tcp {
            text = text.replace("{{ts.Addr}}", tcp.address());
        }
        if let Some(snmp) = &self.snmp {
            text = text.replace("{{snmp.Addr}}", &snmp.addr);
        }
        if let Some(smtp) = &self.smtp {
            text = text
                .replace("{{smtp.Host}}", "127.0.0.1")
                .replace("{{smtp.Port}}", &smtp.port.to_string());
        }
        for (i, prog) in case.programs().into_iter().enumerate() {
            text = text.replace(
                &format!("'{prog}'"),
                &format!("'{}'", self.recorder(i).display()),
            );
        }
        text
    }

    fn runs(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    fn recorder(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("prog{i}"))
    }

    /// Checks every sink the case declares.
    pub fn check(&self, case: &Case, collected: impl Fn() -> usize) -> Result<(), String> {
        if let Some(tcp) = &self.tcp
            && !case.alerts.is_empty()
        {
            check_count(collected(), case.alerts.len())?;
            let got = take("tcp: connection", case.alerts.len(), |left| {
                tcp.next_within(left)
            })?
            .iter()
            .map(|payload| first_json(payload).map_err(|e| format!("tcp: {e}")))
            .collect::<Result<Vec<Value>, String>>()?;
            match_ignoring_order("tcp", &case.alerts, &got)?;
        }
        for log in &case.logs {
            check_count(collected(), case.alerts.len())?;
            let path = self.dir.path().join(&log.file);
            check_log(&path, log.mode, &case.alerts).map_err(|e| format!("{}: {e}", log.file))?;
        }
        if let Some(smtp) = &self.smtp {
            check_mails(smtp, &case.mails)?;
        }
        if let Some(snmp) = &self.snmp {
            check_traps(snmp, &case.traps)?;
        }
        if !case.commands.is_empty() {
            for prog in case.programs() {
                let runs = case.commands.iter().filter(|c| c.prog == prog).count();
                check_count(collected(), runs)?;
            }
            self.check_commands(&case.commands)?;
        }
        Ok(())
    }

    /// The TCP server's payloads, as requests with a body only.
    pub fn tcp_requests(&self, count: usize) -> Result<Vec<Received>, String> {
        let tcp = self.tcp.as_ref().ok_or("the case has no TCP server")?;
        let payloads = take("tcp: connection", count, |left| tcp.next_within(left))?;
        Ok(payloads
            .into_iter()
            .map(|payload| Received {
                method: String::new(),
                target: String::new(),
                headers: Vec::new(),
                body: payload.into_bytes(),
                status: 0,
            })
            .collect())
    }

    /// Kapacitor's `compareListIgnoreOrder` of the commands run: the same number, and each
    /// expected one run (program, arguments and stdin bytes equal).
    fn check_commands(&self, expected: &[Command]) -> Result<(), String> {
        let mut got = Vec::new();
        wait_for("the exec programs' runs", || {
            got = std::fs::read_dir(self.runs())
                .map(|entries| {
                    entries
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| {
                            p.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.starts_with("run."))
                        })
                        .collect()
                })
                .unwrap_or_default();
            got.len() >= expected.len()
        });
        let runs: Vec<Command> = got.iter().map(|dir| read_run(dir)).collect();
        if runs.len() != expected.len() {
            return Err(format!(
                "exec: {} runs, expected {}: {runs:?}",
                runs.len(),
                expected.len()
            ));
        }
        for exp in expected {
            if !runs.iter().any(|run| run == exp) {
                return Err(format!("exec: no run of {exp:?}\ngot {runs:?}"));
            }
        }
        Ok(())
    }
}

/// Kapacitor's lists have as many entries as events reached the handler.
fn check_count(collected: usize, expected: usize) -> Result<(), String> {
    if collected == expected {
        Ok(())
    } else {
        Err(format!(
            "the task's alert nodes emitted {collected} events; Kapacitor's test expects {expected}"
        ))
    }
}

/// A recorded run of an exec program.
fn read_run(dir: &Path) -> Command {
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_default();
    let args = read("args");
    Command {
        prog: String::from_utf8_lossy(&read("prog")).into_owned(),
        args: args
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
        stdin: String::from_utf8_lossy(&read("stdin")).into_owned(),
    }
}

/// The first JSON value of `text`, as Go's `json.Decoder.Decode` reads one.
fn first_json(text: &str) -> Result<Value, String> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .next()
        .ok_or_else(|| format!("no JSON in {text:?}"))?
        .map_err(|e| format!("{e}: {text:?}"))
}

/// Every expected alert matches one received, and as many were received.
fn match_ignoring_order(what: &str, expected: &[String], got: &[Value]) -> Result<(), String> {
    if expected.len() != got.len() {
        return Err(format!(
            "{what}: {} alerts, expected {}",
            got.len(),
            expected.len()
        ));
    }
    for (i, exp) in expected.iter().enumerate() {
        let exp: Value = serde_json::from_str(exp)
            .map_err(|e| format!("alert {} of the case is not JSON: {e}", i + 1))?;
        let errors: Vec<String> = got
            .iter()
            .filter_map(|g| compare::alert_data(&exp, g, false).err())
            .collect();
        if errors.len() == got.len() {
            return Err(format!(
                "{what}: alert {} matches none received: {}",
                i + 1,
                errors.join("\n")
            ));
        }
    }
    Ok(())
}

/// Kapacitor's log check: the file's mode, then its alert JSON values equal the expected ones
/// in order.
fn check_log(path: &Path, mode: u32, expected: &[String]) -> Result<(), String> {
    let mut text = String::new();
    wait_for("the log file's lines", || {
        text = std::fs::read_to_string(path).unwrap_or_default();
        text.ends_with('\n') && text.lines().count() >= expected.len()
    });
    let got_mode = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode()
        & 0o7777;
    if got_mode != mode {
        return Err(format!("mode {got_mode:o}, expected {mode:o}"));
    }
    let got: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{e}: {text}"))?;
    if got.len() != expected.len() {
        return Err(format!(
            "{} alerts, expected {}: {text}",
            got.len(),
            expected.len()
        ));
    }
    for (i, (exp, got)) in expected.iter().zip(&got).enumerate() {
        let exp: Value = serde_json::from_str(exp)
            .map_err(|e| format!("alert {} of the case is not JSON: {e}", i + 1))?;
        compare::alert_data(&exp, got, false).map_err(|e| format!("alert {}: {e}", i + 1))?;
    }
    Ok(())
}

/// Kapacitor's `compareListIgnoreOrder` of the requests its test server recorded: as many as
/// expected, and each expected one among them.
pub fn match_requests(
    expected: &[Request],
    got: &[Received],
    in_order: bool,
) -> Result<(), String> {
    if expected.len() != got.len() {
        return Err(format!(
            "{} requests, expected {}: {:?}",
            got.len(),
            expected.len(),
            got.iter().map(Received::text).collect::<Vec<_>>()
        ));
    }
    for (i, exp) in expected.iter().enumerate() {
        let body: Value = serde_json::from_str(&exp.body)
            .map_err(|e| format!("request {} of the case is not JSON: {e}", i + 1))?;
        if in_order {
            match_request(exp, &body, &got[i]).map_err(|e| format!("request {}: {e}", i + 1))?;
            continue;
        }
        let mut errors = Vec::new();
        let found = got.iter().any(|g| match match_request(exp, &body, g) {
            Ok(()) => true,
            Err(e) => {
                errors.push(e);
                false
            }
        });
        if !found {
            return Err(format!(
                "request {} matches none received:\n{}",
                i + 1,
                errors.join("\n")
            ));
        }
    }
    Ok(())
}

fn match_request(exp: &Request, body: &Value, got: &Received) -> Result<(), String> {
    if let Some(url) = &exp.url
        && *url != got.target
    {
        return Err(format!("url {:?}, expected {url:?}", got.target));
    }
    for (name, value) in &exp.headers {
        let header = got.header(name).unwrap_or_default();
        if header != value {
            return Err(format!("header {name} {header:?}, expected {value:?}"));
        }
    }
    let text = got.text();
    let decoded = if exp.form {
        let mut fields = serde_json::Map::new();
        for (key, value) in reqwest::Url::parse(&format!("http://form/?{text}"))
            .map_err(|e| format!("{e}: {text}"))?
            .query_pairs()
        {
            fields
                .entry(key.into_owned())
                .or_insert(value.into_owned().into());
        }
        Value::Object(fields)
    } else {
        first_json(&text)?
    };
    let unlisted = match (body, &decoded) {
        (Value::Object(listed), Value::Object(got)) if exp.exact => {
            got.keys().any(|k| !listed.contains_key(k))
        }
        _ => false,
    };
    let same = !unlisted && compare::decoded_as(body, &decoded, &exp.maps);
    if same {
        Ok(())
    } else {
        Err(format!("body {text}, expected {body}"))
    }
}

/// An SMTP server like Kapacitor's `smtptest`: it answers every command, takes each message's
/// data (dot-unstuffed, lines ending in `\n` as Go's `textproto.DotReader` gives them), and
/// keeps the messages in the order received.
pub struct SmtpSink {
    port: u16,
    messages: std::sync::mpsc::Receiver<String>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an SMTP server");
        let port = listener.local_addr().expect("the SMTP address").port();
        let (tx, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _ = smtp_session(stream, &tx);
                });
            }
        });
        SmtpSink { port, messages }
    }
}

fn smtp_session(
    stream: std::net::TcpStream,
    tx: &std::sync::mpsc::Sender<String>,
) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    let mut writer = stream.try_clone()?;
    let mut reader = std::io::BufReader::new(stream);
    writer.write_all(b"220 127.0.0.1 ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.trim_end().to_ascii_uppercase();
        if verb.starts_with("DATA") {
            writer.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                let text = line.trim_end_matches(['\r', '\n']);
                if text == "." {
                    break;
                }
                data.push_str(text.strip_prefix('.').unwrap_or(text));
                data.push('\n');
            }
            let _ = tx.send(data);
            writer.write_all(b"250 ok\r\n")?;
        } else if verb.starts_with("QUIT") {
            writer.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            writer.write_all(b"250 ok\r\n")?;
        }
    }
}

/// Kapacitor's check: as many messages as expected, each (in order) with the expected body and
/// the headers the expectation lists.
fn check_mails(smtp: &SmtpSink, expected: &[Mail]) -> Result<(), String> {
    let messages = take("smtp: message", expected.len(), |left| {
        smtp.messages.recv_timeout(left).ok()
    })?;
    for (i, (exp, data)) in expected.iter().zip(&messages).enumerate() {
        let (head, body) = data.split_once("\n\n").unwrap_or((data.as_str(), ""));
        if body != exp.body {
            return Err(format!(
                "smtp: message {}: body {body:?}, expected {:?}",
                i + 1,
                exp.body
            ));
        }
        let headers = mail_headers(head);
        for (name, value) in &exp.headers {
            let got: Vec<&String> = headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v)
                .collect();
            if got != [value] {
                return Err(format!(
                    "smtp: message {}: header {name} {got:?}, expected {value:?}",
                    i + 1
                ));
            }
        }
    }
    if let Ok(extra) = smtp.messages.recv_timeout(std::time::Duration::ZERO) {
        return Err(format!("smtp: an unexpected message: {extra}"));
    }
    Ok(())
}

/// A message's headers as Go's `net/mail` reads them: continuation lines unfolded, names in
/// their canonical form (`Mime-Version`).
fn mail_headers(head: &str) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((canonical(name.trim()), value.trim().to_owned()));
        }
    }
    headers
}

/// `textproto.CanonicalMIMEHeaderKey`: each dash-separated word capitalized.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Kapacitor's `compareListIgnoreOrder` of the traps received.
fn check_traps(snmp: &crate::snmp::TrapSink, expected: &[crate::snmp::Trap]) -> Result<(), String> {
    let got = take("snmptrap: trap", expected.len(), |left| {
        snmp.next_within(left)
    })?
    .into_iter()
    .collect::<Result<Vec<_>, String>>()
    .map_err(|e| format!("snmptrap: {e}"))?;
    for exp in expected {
        if !got.contains(exp) {
            return Err(format!("snmptrap: no trap {exp:?}\ngot {got:?}"));
        }
    }
    Ok(())
}

/// `count` things from `next` (which waits up to the time it is given), within the suite's
/// deadline for them all.
pub fn take<T>(
    what: &str,
    count: usize,
    mut next: impl FnMut(std::time::Duration) -> Option<T>,
) -> Result<Vec<T>, String> {
    let deadline = Instant::now() + DEADLINE;
    let mut got = Vec::with_capacity(count);
    for i in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(item) = next(left) else {
            return Err(format!("{what} {} of {count} never came", i + 1));
        };
        got.push(item);
    }
    Ok(got)
}
