//! A local SMTP server for the crate's tests, in the manner of Kapacitor's `smtptest`: it greets,
//! answers `250` to what a client says (or a scripted answer), takes messages, and records every
//! command and message it receives, per connection. Optionally it offers `AUTH PLAIN LOGIN` and
//! checks the credentials. (STARTTLS is tested against a real server in the end-to-end tests.)

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server received over one connection: a command line, or a whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Received {
    /// A command line, without its CRLF (`MAIL FROM:<a@example.com>`).
    Command(usize, String),
    /// The data of a message, dot-unstuffed, with its CRLFs, without the final `.` line.
    Message(usize, String),
}

/// A scripted answer: to the first command starting with `prefix`, answer `reply`.
#[derive(Debug, Clone)]
pub(crate) struct Script {
    prefix: String,
    reply: String,
}

impl Script {
    pub(crate) fn answer(prefix: &str, reply: &str) -> Script {
        Script {
            prefix: prefix.to_owned(),
            reply: reply.to_owned(),
        }
    }
}

pub(crate) struct StandIn {
    port: u16,
    received: Mutex<mpsc::Receiver<Received>>,
}

impl StandIn {
    /// A server offering no extension, as Kapacitor's `smtptest`.
    pub(crate) fn start(script: Vec<Script>) -> StandIn {
        StandIn::serve(script, None)
    }

    /// A server offering `AUTH PLAIN LOGIN` and accepting only `user` with `password`.
    pub(crate) fn with_auth(user: &str, password: &str) -> StandIn {
        StandIn::serve(Vec::new(), Some((user.to_owned(), password.to_owned())))
    }

    fn serve(script: Vec<Script>, auth: Option<(String, String)>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let (sender, received) = mpsc::channel();
        let script = Arc::new(Mutex::new(script));
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let (sender, script, auth) = (sender.clone(), script.clone(), auth.clone());
                std::thread::spawn(move || {
                    let _ = session(n, stream, &sender, &script, auth.as_ref());
                });
            }
        });
        StandIn {
            port,
            received: Mutex::new(received),
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The next thing received, waiting up to a generous bound.
    pub(crate) fn next(&self) -> Received {
        self.next_within(Duration::from_secs(30))
            .expect("the SMTP stand-in received nothing")
    }

    pub(crate) fn next_within(&self, timeout: Duration) -> Option<Received> {
        self.received.lock().unwrap().recv_timeout(timeout).ok()
    }

    /// The next message, with the commands before it.
    pub(crate) fn next_message(&self) -> (Vec<(usize, String)>, usize, String) {
        let mut commands = Vec::new();
        loop {
            match self.next() {
                Received::Command(n, line) => commands.push((n, line)),
                Received::Message(n, data) => return (commands, n, data),
            }
        }
    }
}

fn session(
    n: usize,
    stream: TcpStream,
    sender: &mpsc::Sender<Received>,
    script: &Mutex<Vec<Script>>,
    auth: Option<&(String, String)>,
) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut reply = |text: &str| writer.write_all(format!("{text}\r\n").as_bytes());
    reply("220 hello")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']).to_owned();
        let _ = sender.send(Received::Command(n, command.clone()));
        let verb = command.to_ascii_uppercase();
        let scripted = {
            let mut script = script.lock().unwrap();
            let found = script.iter().position(|s| verb.starts_with(&s.prefix));
            found.map(|i| script.remove(i).reply)
        };
        if let Some(answer) = scripted {
            reply(&answer)?;
            continue;
        }
        if verb.starts_with("EHLO") {
            if auth.is_some() {
                reply("250-hello")?;
                reply("250 AUTH PLAIN LOGIN")?;
            } else {
                reply("250 Ok")?;
            }
        } else if verb.starts_with("AUTH PLAIN") {
            let (user, password) = auth.expect("AUTH is offered only with credentials");
            let expected = plain_response(user, password);
            let given = command.split_whitespace().nth(2).unwrap_or_default();
            reply(if given == expected {
                "235 2.7.0 Authentication successful"
            } else {
                "535 5.7.8 Authentication credentials invalid"
            })?;
        } else if verb.starts_with("DATA") {
            reply("354 Go ahead")?;
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let _ = sender.send(Received::Message(n, data));
            reply("250 Ok")?;
        } else if verb.starts_with("QUIT") {
            reply("221 Goodbye")?;
            return Ok(());
        } else {
            reply("250 Ok")?;
        }
    }
}

/// `AUTH PLAIN`'s initial response: base64 of NUL user NUL password.
fn plain_response(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}
