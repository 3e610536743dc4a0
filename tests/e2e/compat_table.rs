//! docs/compatibility.md, the table the README's compatibility claim links to, checked against a
//! real klaxond and the real `klaxon` CLI: every row says what the code has, and everything the
//! code has has a row. Each section of the document says how its rows are checked.

use std::collections::BTreeSet;

use klaxon_e2e::{Klaxond, http_client, workspace_root};
use serde_json::{Value, json};

/// One row of a table: Kapacitor's item (the first column's code span) and the status word
/// that starts the second column.
#[derive(Debug, Clone)]
struct Row {
    item: String,
    status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Yes,
    Partial,
    No,
    Klaxon,
}

impl Status {
    /// Whether the code has the item.
    fn present(self) -> bool {
        self != Status::No
    }
}

/// The rows of the section headed `## {heading}` of docs/compatibility.md.
fn table(heading: &str) -> Vec<Row> {
    let path = workspace_root().join("docs/compatibility.md");
    let text = std::fs::read_to_string(&path).expect("docs/compatibility.md");
    let start = format!("## {heading}\n");
    let section = text
        .split("\n## ")
        .map(|s| format!("## {s}"))
        .find(|s| s.starts_with(&start))
        .unwrap_or_else(|| panic!("no section {start:?} in {}", path.display()));
    let rows: Vec<Row> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| parse_row(line).unwrap_or_else(|e| panic!("{heading}: {e}: {line:?}")))
        .collect();
    assert!(!rows.is_empty(), "section {heading:?} has no rows");
    rows
}

fn parse_row(line: &str) -> Result<Row, String> {
    let rest = line.strip_prefix("| `").ok_or("no code span")?;
    let (item, rest) = rest.split_once('`').ok_or("an unclosed code span")?;
    let rest = rest
        .trim_start()
        .strip_prefix('|')
        .ok_or("the first column holds more than the code span")?;
    let word: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let status = match word.as_str() {
        "yes" => Status::Yes,
        "partial" => Status::Partial,
        "no" => Status::No,
        "klaxon" => Status::Klaxon,
        other => {
            return Err(format!(
                "status {other:?} is not yes, partial, no or klaxon"
            ));
        }
    };
    Ok(Row {
        item: item.to_owned(),
        status,
    })
}

/// The items of `rows` whose status says the code has them.
fn present(rows: &[Row]) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r.status.present())
        .map(|r| r.item.clone())
        .collect()
}

/// The list after `marker` in `text`, up to the end of its line: `a, b, c`.
fn list_after(text: &str, marker: &str) -> BTreeSet<String> {
    let (_, rest) = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {text:?}"));
    let line = rest.lines().next().unwrap_or_default();
    line.trim_end_matches(['"', ','])
        .split(", ")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `method path` with a JSON body: the status and the answer's text.
fn request(server: &Klaxond, method: &str, path: &str, body: &str) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let response = http_client()
        .request(method.clone(), format!("{}{path}", server.url()))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    // Streams (`/logs`) never end: only the head of an answer that is not an error is needed.
    if status < 400 {
        return (status, String::new());
    }
    (status, response.text().unwrap_or_default())
}

/// `POST /kapacitor/v1/tasks` of a stream task `probe` with `script`.
fn define_stream(server: &Klaxond, script: &str) -> (u16, String) {
    let body = json!({"id": "probe", "type": "stream", "script": script});
    request(server, "POST", "/kapacitor/v1/tasks", &body.to_string())
}

/// The differences between what the document claims and what the code has, as a message.
fn compare(what: &str, claimed: &BTreeSet<String>, real: &BTreeSet<String>) {
    let missing: Vec<_> = claimed.difference(real).collect();
    let unlisted: Vec<_> = real.difference(claimed).collect();
    assert!(
        missing.is_empty() && unlisted.is_empty(),
        "docs/compatibility.md, {what}: said to be there but not in the code: {missing:?}; \
         in the code but not said to be there: {unlisted:?}"
    );
}

#[test]
fn the_node_table_is_what_the_pipeline_accepts() {
    let rows = table("Nodes");
    let server = Klaxond::start();
    let (status, answer) = define_stream(&server, "stream\n  |from()\n  |nosuch()\n");
    assert_eq!(status, 400, "{answer}");
    let real = list_after(&answer, "this server supports: ");
    assert!(real.contains("alert"), "{answer}");
    compare("Nodes", &present(&rows), &real);
    // A node of Kapacitor's that the document says is missing is refused, naming it (as an
    // unknown node, or with why it is not there: |queryFlux()).
    for row in rows.iter().filter(|r| r.status == Status::No).take(3) {
        let node = format!("|{}()", row.item);
        let (status, answer) = define_stream(&server, &format!("stream\n  |from()\n  {node}\n"));
        assert_eq!(status, 400, "{node}: {answer}");
        assert!(answer.contains(&node), "{node}: {answer}");
    }
}

#[test]
fn the_handler_kind_table_is_what_klaxond_bundles() {
    let rows = table("Handler kinds");
    let server = Klaxond::start();
    let (status, answer) = request(
        &server,
        "POST",
        "/kapacitor/v1/alerts/topics/probe/handlers",
        &json!({"id": "probe", "kind": "zabbix"}).to_string(),
    );
    // 500, as Kapacitor answers a handler it cannot create.
    assert!(status >= 400, "{status} {answer}");
    let real = list_after(&answer, "this server has: ");
    compare("Handler kinds", &present(&rows), &real);

    let vars: Value = server.get("/kapacitor/v1/debug/vars").json().unwrap();
    let bundled: BTreeSet<String> = vars["klaxon"]["handler_kinds"]
        .as_array()
        .expect("klaxon.handler_kinds")
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    assert!(!bundled.is_empty());
    let unlisted: Vec<_> = bundled.difference(&real).collect();
    assert!(
        unlisted.is_empty(),
        "debug/vars has kinds without a row: {unlisted:?}"
    );

    for row in rows.iter().filter(|r| r.status == Status::No) {
        let (status, answer) = request(
            &server,
            "POST",
            "/kapacitor/v1/alerts/topics/probe/handlers",
            &json!({"id": "probe", "kind": row.item}).to_string(),
        );
        assert!(status >= 400, "kind {}: {status} {answer}", row.item);
    }
}

#[test]
fn the_task_type_table_is_what_klaxond_accepts() {
    let rows = table("Task types");
    // A batch task needs an [[influxdb]] cluster to query; none answers here, which only the
    // task's runs would notice.
    let server = Klaxond::builder()
        .config(
            "[[influxdb]]\nenabled = true\nname = \"localhost\"\nurls = [\"http://127.0.0.1:9\"]\ndisable-subscriptions = true\n",
        )
        .start();
    let items: BTreeSet<_> = rows.iter().map(|r| r.item.as_str()).collect();
    assert_eq!(
        items,
        BTreeSet::from(["stream", "batch", "template"]),
        "the rows of Task types"
    );
    for row in &rows {
        let (status, answer) = match row.item.as_str() {
            "stream" => request(
                &server,
                "POST",
                "/kapacitor/v1/tasks",
                &json!({
                    "id": "s", "type": "stream", "dbrps": [{"db": "d", "rp": "r"}],
                    "script": "stream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"v\" > 1)\n",
                })
                .to_string(),
            ),
            "batch" => request(
                &server,
                "POST",
                "/kapacitor/v1/tasks",
                &json!({
                    "id": "b", "type": "batch", "dbrps": [{"db": "d", "rp": "r"}],
                    "script": "batch\n  |query('SELECT mean(v) FROM \"d\".\"r\".\"cpu\"')\n    .period(1m)\n    .every(1m)\n  |alert()\n    .crit(lambda: \"mean\" > 1)\n",
                })
                .to_string(),
            ),
            "template" => {
                let (status, answer) = request(
                    &server,
                    "POST",
                    "/kapacitor/v1/templates",
                    &json!({
                        "id": "t", "type": "stream",
                        "script": "var limit = 10\nstream\n  |from()\n    .measurement('cpu')\n  |alert()\n    .crit(lambda: \"v\" > limit)\n",
                    })
                    .to_string(),
                );
                if status != 200 {
                    (status, answer)
                } else {
                    request(
                        &server,
                        "POST",
                        "/kapacitor/v1/tasks",
                        &json!({
                            "id": "from_t", "template-id": "t",
                            "dbrps": [{"db": "d", "rp": "r"}],
                            "vars": {"limit": {"type": "int", "value": 5}},
                        })
                        .to_string(),
                    )
                }
            }
            other => unreachable!("{other}"),
        };
        assert_eq!(
            status == 200,
            row.status.present(),
            "docs/compatibility.md says {} tasks are {:?}, but defining one answered {status}: {answer}",
            row.item,
            row.status
        );
    }
}

/// The route of a row, `METHOD /path`, with each `<placeholder>` a name that does not exist.
fn route(item: &str) -> (String, String) {
    let (method, path) = item
        .split_once(' ')
        .unwrap_or_else(|| panic!("{item:?} is not METHOD /path"));
    let mut concrete = String::new();
    let mut rest = path;
    while let Some((before, after)) = rest.split_once('<') {
        concrete.push_str(before);
        concrete.push_str("nosuch");
        rest = after.split_once('>').map_or("", |(_, a)| a);
    }
    concrete.push_str(rest);
    (method.to_owned(), concrete)
}

#[test]
fn the_api_table_is_the_servers_routes() {
    let rows = table("HTTP API");
    let server = Klaxond::start();
    let mut wrong = Vec::new();
    for row in &rows {
        let (method, path) = route(&row.item);
        let (status, answer) = request(&server, &method, &path, "{}");
        // The router's fallbacks: an unknown path, or a method the path does not have.
        let unrouted = status == 405
            || (status == 404
                && serde_json::from_str::<Value>(&answer)
                    .is_ok_and(|v| v["error"] == "Not Found" && v["message"] == "Not Found"));
        if unrouted == row.status.present() {
            wrong.push(format!(
                "{} is {:?} in the table, but {method} {path} answered {status} {answer}",
                row.item, row.status
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/compatibility.md, HTTP API:\n{}",
        wrong.join("\n")
    );
}

/// The subcommands `klaxon help` lists.
fn cli_commands(server: &Klaxond) -> BTreeSet<String> {
    let help = server.cli_ok(&["help"]);
    let (_, commands) = help.split_once("Commands:\n").expect("a Commands: list");
    commands
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_cli_table_is_klaxons_commands() {
    let rows = table("CLI commands");
    let server = Klaxond::start();
    let real = cli_commands(&server);
    assert!(real.contains("define"), "{real:?}");
    let claimed: BTreeSet<String> = rows
        .iter()
        .map(|r| r.item.split_whitespace().next().unwrap().to_owned())
        .collect();
    compare(
        "CLI commands (every row, as klaxon help lists them all)",
        &claimed,
        &real,
    );
    // A command that is there but whose feature is not: it fails, and says so.
    for row in rows.iter().filter(|r| r.status == Status::No) {
        let args: Vec<&str> = row.item.split_whitespace().collect();
        let output = server.cli(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(3),
            "klaxon {}: a `no` row must fail: {output:?}",
            row.item
        );
        assert!(
            stderr.starts_with("Error: "),
            "klaxon {}: {stderr}",
            row.item
        );
    }
}

#[test]
fn rows_parse_and_a_wrong_status_is_refused() {
    let row = parse_row("| `join` | no: not yet |").unwrap();
    assert_eq!((row.item.as_str(), row.status), ("join", Status::No));
    let row = parse_row("| `GET /x/<id>` | partial: some |").unwrap();
    assert_eq!(row.status, Status::Partial);
    assert_eq!(route(&row.item), ("GET".into(), "/x/nosuch".into()));
    assert!(parse_row("| `x` | maybe |").is_err());
    assert!(parse_row("| `x` extra | yes |").is_err());
}
