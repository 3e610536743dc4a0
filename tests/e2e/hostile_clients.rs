//! Issue #25, hostile clients: each test is an attack written as the request a browser or a
//! script sends, against a real klaxond in its default configuration.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use klaxon_e2e::Klaxond;

/// Sends `request` as raw bytes and returns the status code and the whole answer.
fn raw(server: &Klaxond, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

/// A browser's cross-site form post (`<form enctype="text/plain" method="post">`) whose body
/// asks the exec service test to run `touch <marker>`.
fn form_post(host: &str, origin: Option<&str>, content_type: &str, body: &str) -> String {
    let origin = origin
        .map(|o| format!("Origin: {o}\r\n"))
        .unwrap_or_default();
    format!(
        "POST /kapacitor/v1/service-tests/exec HTTP/1.1\r\nHost: {host}\r\n{origin}\
         Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_cross_site_form_post_runs_nothing_and_changes_nothing() {
    let server = Klaxond::start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let body = format!(
        r#"{{"prog": "/usr/bin/touch", "args": [{:?}]}}"#,
        marker.display().to_string()
    );
    let local = server.addr().to_string();

    // The probe's request: every signal foreign. Then each signal alone, the others as the
    // server's own client would send them.
    let attacks = [
        (
            "evil.example:9092",
            Some("http://evil.example:9092"),
            "text/plain",
            403,
        ),
        ("evil.example:9092", None, "application/json", 403),
        (&local, Some("http://evil.example"), "application/json", 403),
        (&local, Some("null"), "application/json", 403),
        (&local, None, "text/plain", 415),
        (&local, None, "application/x-www-form-urlencoded", 415),
    ];
    for (host, origin, content_type, expected) in attacks {
        let (status, answer) = raw(&server, &form_post(host, origin, content_type, &body));
        assert_eq!(
            status, expected,
            "{host} {origin:?} {content_type}: {answer}"
        );
        assert!(
            answer.contains("X-Kapacitor-Version") || answer.contains("x-kapacitor-version"),
            "{answer}"
        );
    }
    // A rebinding page's task definition is refused too, and nothing was defined.
    let task = r#"{"id":"t","type":"stream","dbrps":[{"db":"d","rp":"r"}],"script":"stream|from()|alert().crit(lambda: TRUE)"}"#;
    let (status, _) = raw(
        &server,
        &format!(
            "POST /kapacitor/v1/tasks HTTP/1.1\r\nHost: rebind.evil.example:{}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{task}",
            server.addr().port(),
            task.len()
        ),
    );
    assert_eq!(status, 403);
    assert_eq!(server.get("/kapacitor/v1/tasks/t").status(), 404);

    // The same request from the server's own client runs: the guard is what stopped it.
    let (status, answer) = raw(&server, &form_post(&local, None, "application/json", &body));
    assert_eq!(status, 200, "{answer}");
    klaxon_e2e::wait_for("the allowed service test to run", || marker.exists());
    std::fs::remove_file(&marker).unwrap();

    let log = server.log_text();
    assert!(log.contains("request refused as cross-site"), "{log}");
    assert!(!Path::new(&marker).exists());
}

#[test]
fn names_in_allowed_hosts_and_ip_addresses_reach_the_api() {
    let server = Klaxond::builder()
        .config("[http]\nallowed-hosts = [\"alerts.example.com\", \".corp.example\"]\n")
        .start();
    for host in [
        "alerts.example.com:9092",
        "kapacitor.corp.example",
        "localhost",
        "127.0.0.1",
    ] {
        let (status, answer) = raw(
            &server,
            &format!(
                "GET /kapacitor/v1/ping HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            ),
        );
        assert_eq!(status, 204, "{host}: {answer}");
    }
    let (status, answer) = raw(
        &server,
        "GET /kapacitor/v1/tasks HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 403);
    assert!(
        answer.contains(r#"add \"other.example\" to [http] allowed-hosts"#),
        "{answer}"
    );
    // Writes from curl (form-urlencoded by default) and Telegraf (text/plain) are line protocol.
    for content_type in [
        "application/x-www-form-urlencoded",
        "text/plain; charset=utf-8",
    ] {
        let body = "cpu,host=a usage_idle=5 1714564800\n";
        let (status, answer) = raw(
            &server,
            &format!(
                "POST /write?db=telegraf&precision=s HTTP/1.1\r\nHost: alerts.example.com:9092\r\n\
                 Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        );
        assert_eq!(status, 204, "{content_type}: {answer}");
    }
}

/// A field of `/proc/<pid>/status` in kB: `VmRSS` (resident now) or `VmHWM` (the peak).
fn proc_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

#[test]
fn a_24_mb_write_of_tiny_points_keeps_peak_memory_under_8_times_the_body() {
    let server = Klaxond::start();
    // A task that sees every point, so the points go all the way through a pipeline.
    let (status, _) = (
        server
            .send(
                "POST",
                "/kapacitor/v1/tasks",
                r#"{"id":"all","type":"stream","dbrps":[{"db":"telegraf","rp":"autogen"}],"status":"enabled","script":"stream|from().measurement('c')|alert().crit(lambda: \"v\" > 100)"}"#,
            )
            .status(),
        (),
    );
    assert_eq!(status, 200);
    // The smallest legal points: four million of them in 24 MB, each of which used to carry its
    // own copies of db and rp, all made before the first was processed.
    const BODY: usize = 24_000_000;
    let body: Vec<u8> = b"c v=1\n".iter().copied().cycle().take(BODY).collect();
    let before = proc_kb(server.pid(), "VmHWM");
    let response = klaxon_e2e::client_builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
        .post(format!("{}/write?db=telegraf", server.url()))
        .body(body)
        .send()
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().unwrap());
    let peak = proc_kb(server.pid(), "VmHWM");
    eprintln!(
        "klaxond VmHWM {before} kB before, {peak} kB after a {BODY}-byte write of 4 000 000 points"
    );
    assert!(
        peak * 1024 < 8 * BODY as u64,
        "peak {peak} kB is not under 8 times the body"
    );
    let metrics = server.metrics();
    assert_eq!(
        metrics.value(
            "klaxon_points_received_total",
            &[("db", "telegraf"), ("rp", "autogen")]
        ),
        4_000_000.0
    );
    assert_eq!(
        metrics.value("klaxon_task_points_total", &[("task", "all")]),
        4_000_000.0
    );
}

#[test]
fn a_60_000_byte_db_is_refused_and_invented_names_do_not_grow_the_metrics() {
    let server = Klaxond::start();
    let long = "x".repeat(60_000);
    let body = "cpu v=1\n".repeat(100_000);
    for (query, parameter) in [
        (format!("db={long}"), "db"),
        (format!("db=d&rp={long}"), "rp"),
    ] {
        let response = server.send("POST", &format!("/write?{query}"), &body);
        assert_eq!(response.status(), 400);
        let text = response.text().unwrap();
        assert_eq!(
            text.trim_end(),
            format!(
                "{parameter} is 60000 bytes long; a {} name is at most 255 bytes, as in InfluxDB",
                if parameter == "db" {
                    "database"
                } else {
                    "retention policy"
                }
            )
        );
    }
    // A script inventing a database per write: the names past the bound share one series.
    for i in 0..1_100 {
        let response = server.send(
            "POST",
            &format!("/write?db=db{i}-{}", "y".repeat(200)),
            "cpu v=1\n",
        );
        assert_eq!(response.status(), 204);
    }
    let metrics = server.get("/metrics").text().unwrap();
    let series = metrics
        .lines()
        .filter(|l| l.starts_with("klaxon_points_received_total{"))
        .count();
    assert_eq!(
        series, 1_000,
        "one series per pair up to the bound, other included"
    );
    assert!(
        metrics.len() < 600_000,
        "{} bytes of metrics",
        metrics.len()
    );
    assert_eq!(
        server.metrics().value(
            "klaxon_points_received_total",
            &[("db", "(other)"), ("rp", "(other)")]
        ),
        101.0
    );
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
}

#[test]
fn writes_past_the_concurrency_bound_wait_then_get_503() {
    let server = Klaxond::builder()
        .config("[http]\nmax-concurrent-write-limit = 1\nenqueued-write-timeout = \"300ms\"\n")
        .start();
    // A sender that announces a body and sends half of it holds the only slot.
    let mut slow = TcpStream::connect(server.addr()).unwrap();
    slow.write_all(
        b"POST /write?db=d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 16\r\n\r\ncpu v=1\n",
    )
    .unwrap();
    klaxon_e2e::wait_for("the other write to be refused", || {
        let response = server.send("POST", "/write?db=d", "cpu v=2\n");
        if response.status() != 503 {
            return false;
        }
        assert_eq!(response.headers()["retry-after"], "1");
        let text = response.text().unwrap();
        assert!(text.contains("[http] max-concurrent-write-limit"), "{text}");
        true
    });
    // Once the slow body is complete the slot is free again.
    slow.write_all(b"cpu v=3\n").unwrap();
    let mut answer = [0u8; 12];
    slow.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 204");
    assert_eq!(
        server.send("POST", "/write?db=d", "cpu v=4\n").status(),
        204
    );
}

/// A hash of `secret` made by `klaxond hash-password`, with its real (costly) parameters.
fn hash_password(secret: &str) -> String {
    let mut child = std::process::Command::new(klaxon_e2e::klaxond_bin())
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// `/metrics` read as the admin user `ops` (password `s3cr3t`).
fn metrics_as_ops(server: &Klaxond) -> klaxon_e2e::Metrics {
    let response = klaxon_e2e::http_client()
        .get(format!("{}/metrics", server.url()))
        .basic_auth("ops", Some("s3cr3t"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    klaxon_e2e::Metrics::parse(&response.text().unwrap())
}

#[test]
fn fifty_connections_of_bad_credentials_for_ten_seconds_stay_under_300_mb() {
    let hash = hash_password("s3cr3t");
    // No failure budget to speak of: every request reaches a password check, so what holds
    // memory down is the bound on checks and their kept memory.
    let server = Klaxond::builder()
        .config(&format!(
            "[http]\nauth-enabled = true\nmax-auth-failures = 1000000\n\
             [[http.users]]\nname = \"ops\"\npassword = {hash:?}\npermission = \"admin\"\n"
        ))
        .start();
    let url = format!("{}/kapacitor/v1/tasks", server.url());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let attackers: Vec<_> = (0..50)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                // One keep-alive connection each, as a script with a session would.
                let client = klaxon_e2e::client_builder()
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_secs(120))
                    .build()
                    .unwrap();
                let mut statuses = Vec::new();
                let mut n = 0;
                while std::time::Instant::now() < deadline {
                    n += 1;
                    let status = client
                        .get(&url)
                        .basic_auth("ops", Some(format!("guess-{i}-{n}")))
                        .send()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    statuses.push(status);
                }
                statuses
            })
        })
        .collect();
    let statuses: Vec<u16> = attackers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let peak = proc_kb(server.pid(), "VmHWM");
    eprintln!(
        "klaxond VmHWM {peak} kB after {} bad logins on 50 connections in 10 s: {} 401, {} 503",
        statuses.len(),
        statuses.iter().filter(|s| **s == 401).count(),
        statuses.iter().filter(|s| **s == 503).count()
    );
    assert!(peak < 300 * 1024, "peak {peak} kB");
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    // Every failure is counted, by reason, and the right password still works.
    let metrics = metrics_as_ops(&server);
    let wrong = metrics.value("klaxon_auth_failures_total", &[("reason", "wrong")]);
    let busy = metrics.value_or_zero("klaxon_auth_failures_total", &[("reason", "busy")]);
    assert_eq!(
        (wrong + busy) as usize,
        statuses.len(),
        "{wrong} wrong, {busy} busy"
    );
    let log = server.log_text();
    assert!(log.contains("request refused by authentication"), "{log}");
    assert!(log.contains("reason=wrong"), "{log}");
    // Bounded: at most 10 lines per reason per 10 s, whatever the number of failures.
    let lines = log.matches("request refused by authentication").count();
    assert!(lines <= 60, "{lines} log lines");
}

/// A blocking request from the loopback address `from` (127.0.0.x), with basic auth.
fn request_from(server: &Klaxond, from: [u8; 4], auth: &str, path: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
        socket.connect(server.addr()).await.unwrap()
    });
    let mut stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    (status, answer)
}

/// `Basic` credentials.
fn basic(user: &str, password: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut out = String::from("Basic ");
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

#[test]
fn a_client_that_keeps_guessing_gets_429_and_other_clients_get_in() {
    let token_hash = hash_password("telegraf.0123456789abcdef");
    let server = Klaxond::builder()
        .config(&format!(
            "[http]\nauth-enabled = true\nmax-auth-failures = 5\n\
             [[http.users]]\nname = \"ops\"\n\
             password = \"$argon2id$v=19$m=8,t=1,p=1$c2FsdGFkbWluZQ$N8wmZmFto/vjClX7DkN6lrs2a6W/v4mc1EoidhcnKEs\"\n\
             permission = \"admin\"\n\
             [[http.tokens]]\nname = \"telegraf\"\nhash = {token_hash:?}\npermission = \"write\"\n"
        ))
        .start();
    let attacker = [127, 0, 0, 9];
    for n in 0..5 {
        let (status, answer) = request_from(
            &server,
            attacker,
            &basic("ops", &format!("guess{n}")),
            "/kapacitor/v1/tasks",
        );
        assert_eq!(status, 401, "{answer}");
    }
    // Over the budget: refused before any check, even with the right password.
    let (status, answer) = request_from(
        &server,
        attacker,
        &basic("ops", "guess5"),
        "/kapacitor/v1/tasks",
    );
    assert_eq!(status, 429, "{answer}");
    assert!(answer.contains("[http] max-auth-failures"), "{answer}");
    let retry_after: u64 = answer
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Another address is not held back by the attacker's failures; a token names its entry.
    let (status, answer) = request_from(
        &server,
        [127, 0, 0, 10],
        &basic("ops", "adm1n"),
        "/kapacitor/v1/tasks",
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = request_from(
        &server,
        [127, 0, 0, 11],
        "Bearer telegraf.0123456789abcdef",
        "/kapacitor/v1/ping",
    );
    assert_eq!(status, 204, "{answer}");
    let (status, answer) = request_from(
        &server,
        [127, 0, 0, 11],
        "Bearer telegraf.0123456789abcdef",
        "/kapacitor/v1/tasks",
    );
    assert_eq!(status, 200, "{answer}");
    let log = server.log_text();
    assert!(log.contains("reason=throttled"), "{log}");
    assert!(log.contains("peer=127.0.0.9"), "{log}");
}

/// Whether the server has closed `stream`: a read gives end of file or an error.
fn closed(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[test]
fn slowloris_and_idle_connections_are_closed() {
    let server = Klaxond::builder()
        .config("[http]\nheader-timeout = \"1s\"\nidle-timeout = \"3s\"\n")
        .start();
    // 100 connections that drip a header line every 200 ms, never finishing the head.
    let mut slow: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr()).unwrap();
            s.write_all(b"GET /kapacitor/v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            s
        })
        .collect();
    // 20 that connect and say nothing.
    let mut silent: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    let started = std::time::Instant::now();
    let mut open = slow.len();
    while open > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{open} slowloris connections still open"
        );
        open = 0;
        for s in &mut slow {
            // The attack's own pace, not a wait for the server.
            if s.write_all(b"X-Drip: 1\r\n").is_ok() && !closed(s) {
                open += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    klaxon_e2e::wait_for("the silent connections to be closed", || {
        silent.iter_mut().all(closed)
    });
    let metrics = server.metrics();
    let closed_for = |reason| {
        metrics.value(
            "klaxon_http_connections_closed_total",
            &[("reason", reason)],
        )
    };
    assert!(closed_for("header_timeout") >= 100.0);
    assert!(closed_for("idle_timeout") >= 20.0);
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
}

#[test]
fn at_the_connection_cap_the_idlest_connection_makes_room() {
    let server = Klaxond::builder()
        .config("[http]\nmax-connections = 20\n")
        .start();
    // Fill every slot with connections that never send a byte.
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    // Ping and an admin request still get through on new connections, which stay open, each
    // closing the idlest connection.
    let mut kept = Vec::new();
    for path in ["/kapacitor/v1/ping", "/kapacitor/v1/tasks"]
        .iter()
        .cycle()
        .take(6)
    {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).unwrap();
        assert!(
            status == *b"HTTP/1.1 204" || status == *b"HTTP/1.1 200",
            "{path}: {}",
            String::from_utf8_lossy(&status)
        );
        kept.push(stream);
    }
    klaxon_e2e::wait_for("the six idlest connections to be closed", || {
        idle.iter_mut().take(6).all(closed)
    });
    let metrics = server.metrics();
    assert!(
        metrics.value(
            "klaxon_http_connections_closed_total",
            &[("reason", "evicted")]
        ) >= 6.0
    );
    assert!(
        server
            .log_text()
            .contains("[http] max-connections reached: closed the connection idle the longest")
    );
}

#[test]
fn a_body_slower_than_the_body_timeout_gets_408() {
    let server = Klaxond::builder()
        .config("[http]\nbody-timeout = \"1s\"\n")
        .start();
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(
            b"POST /write?db=d HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\
              Connection: close\r\n\r\ncpu v=1\n",
        )
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("[http] body-timeout"), "{answer}");
    assert_eq!(
        server.metrics().value(
            "klaxon_http_connections_closed_total",
            &[("reason", "body_timeout")]
        ),
        1.0
    );
}

/// `strReplace(strReplace(...))` doubling `inner` at each level.
fn doubling(inner: &str, levels: usize) -> String {
    (0..levels).fold(inner.to_owned(), |s, _| {
        format!("strReplace({s}, 'x', 'xx', -1)")
    })
}

#[test]
fn template_lambda_and_regex_bombs_fail_with_an_error_and_klaxond_keeps_running() {
    let mut server = Klaxond::start();
    let dbrp = [("telegraf", "autogen")];
    // A template doubling a string 40 times through a variable: fails each event it renders.
    let template = r#"{{$s := "x"}}{{range 40}}{{$s = printf "%s%s" $s $s}}{{end}}{{len $s}}"#;
    let (status, body) = server.define_task(
        "template_bomb",
        &format!(
            "stream|from().measurement('cpu')|alert().crit(lambda: TRUE).message('{template}')"
        ),
        &dbrp,
    );
    assert_eq!(status, 200, "{body}");
    // The same doubling in a lambda over a tag: fails each point it sees.
    let (status, body) = server.define_task(
        "lambda_bomb",
        &format!(
            "stream|from().measurement('cpu')|where(lambda: strLength({}) > 0)",
            doubling("\"host\"", 40)
        ),
        &dbrp,
    );
    assert_eq!(status, 200, "{body}");
    // On constants it is folded where the task is defined: the definition fails.
    let (status, body) = server.define_task(
        "constant_bomb",
        &format!(
            "stream|from()|alert().crit(lambda: strLength({}) > 0)",
            doubling("'x'", 40)
        ),
        &dbrp,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("a string built by an expression is at most 1048576 bytes"),
        "{body}"
    );
    // 101 regexes in one script.
    let regexes = (0..101)
        .map(|i| format!("\"host\" =~ /^h{i}/"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let (status, body) = server.define_task(
        "regex_bomb",
        &format!("stream|from().where(lambda: {regexes})"),
        &dbrp,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("more than 100 regexes in one script"),
        "{body}"
    );
    // A task whose regex is within today's limit, and will not be after the restart below.
    let (status, body) = server.define_task(
        "regex_task",
        "stream|from().where(lambda: \"host\" =~ /x{100}y{100}/)",
        &dbrp,
    );
    assert_eq!(status, 200, "{body}");

    let write = |server: &Klaxond| {
        let response = server.send("POST", "/write?db=telegraf", "cpu,host=x v=1\n");
        assert_eq!(response.status(), 204);
    };
    let failing = |server: &Klaxond, task: &str| {
        server
            .metrics()
            .value_or_zero("klaxon_task_errors_total", &[("task", task)])
    };
    write(&server);
    klaxon_e2e::wait_for("both bombs to fail their event", || {
        failing(&server, "template_bomb") >= 1.0 && failing(&server, "lambda_bomb") >= 1.0
    });
    // The counters can be read before the log lines reach the test's reader: wait for them.
    server.wait_for_log("a string built by a template is at most 1048576 bytes");
    server.wait_for_log("a string built by an expression is at most 1048576 bytes");
    assert!(proc_kb(server.pid(), "VmHWM") < 300 * 1024);

    // After a restart the stored bombs load and fail again, one event at a time; a stored
    // task that no longer fits the limits loads with its error instead of stopping the start.
    let config = server.dir().join("klaxon.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[limits]\nmax-regex-size = 1000\n");
    std::fs::write(&config, text).unwrap();
    server.restart();
    let task = server
        .get("/kapacitor/v1/tasks/regex_task")
        .json::<serde_json::Value>()
        .unwrap();
    assert_eq!(task["executing"], false, "{task}");
    assert!(
        task["error"]
            .as_str()
            .unwrap()
            .contains("[limits] max-regex-size is 1000"),
        "{task}"
    );
    write(&server);
    klaxon_e2e::wait_for("the bombs to fail again after the restart", || {
        failing(&server, "template_bomb") >= 1.0 && failing(&server, "lambda_bomb") >= 1.0
    });
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
}
