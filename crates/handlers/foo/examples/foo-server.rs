//! Runs the demo Foo chat server and prints each message it receives as `room: message`.
//!
//! ```text
//! cargo run -p klaxon-handler-foo --features demo --example foo-server -- --listen 127.0.0.1:8088
//! ```
//!
//! Then point Klaxon at it with `[foo] enabled = true` and `url = "http://127.0.0.1:8088/"`.

use std::process::ExitCode;

use klaxon_handler_foo::demo::FooServer;

const USAGE: &str = "usage: foo-server [--listen ADDRESS]   (default 127.0.0.1:8088)";

#[tokio::main]
async fn main() -> ExitCode {
    let listen = match listen_address(std::env::args().skip(1)) {
        Ok(Some(listen)) => listen,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("foo-server: {err}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match FooServer::bind(listen.as_str()).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("foo-server: cannot listen on {listen}: {err}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("foo-server: listening on {}", server.url());
    let mut printed = 0;
    loop {
        let messages = server.wait_for_messages(printed + 1).await;
        for message in &messages[printed..] {
            println!("{message}");
        }
        printed = messages.len();
    }
}

/// The address from `--listen ADDRESS` or `--listen=ADDRESS`; `None` for `--help`.
fn listen_address(mut args: impl Iterator<Item = String>) -> Result<Option<String>, String> {
    let mut listen = "127.0.0.1:8088".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => {
                listen = args.next().ok_or("--listen needs an address")?;
            }
            _ => match arg.strip_prefix("--listen=") {
                Some(address) => listen = address.to_owned(),
                None => return Err(format!("unknown argument {arg:?}")),
            },
        }
    }
    Ok(Some(listen))
}
