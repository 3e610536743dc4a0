//! Kapacitor's replay of `.srpl` files (`replay.go`): records of three lines (database,
//! retention policy, one point of line protocol with a timestamp in seconds), the first point
//! moved to 1971-01-01T00:00:00Z and every other keeping its offset from it.

use klaxon_e2e::Klaxond;

/// 1971-01-01T00:00:00Z in seconds: Kapacitor's replay clock starts there "so that we don't
/// get true negatives on Epoch 0 collisions".
const ZERO: i64 = 31_536_000;

/// One point of a replay file, rebased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub db: String,
    pub rp: String,
    /// The line of line protocol with its timestamp rebased.
    pub line: String,
}

/// Reads `text` and rebases its points.
pub fn parse(text: &str) -> Vec<Record> {
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len().is_multiple_of(3),
        "a replay file is records of three lines"
    );
    let mut first = None;
    lines
        .chunks(3)
        .map(|record| {
            let point = record[2].trim_end();
            let (head, time) = point
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("no timestamp in {point:?}"));
            let time: i64 = time
                .parse()
                .unwrap_or_else(|e| panic!("bad timestamp in {point:?}: {e}"));
            let start = *first.get_or_insert(time);
            Record {
                db: record[0].to_owned(),
                rp: record[1].to_owned(),
                line: format!("{head} {}", time - start + ZERO),
            }
        })
        .collect()
}

/// Writes the records in order, one request per run of records with the same database and
/// retention policy (klaxond processes a body's points in order, so this is the replay's
/// order).
pub fn write(server: &Klaxond, records: &[Record]) {
    let mut i = 0;
    while i < records.len() {
        let (db, rp) = (&records[i].db, &records[i].rp);
        let mut body = String::new();
        while i < records.len() && records[i].db == *db && records[i].rp == *rp {
            body.push_str(&records[i].line);
            body.push('\n');
            i += 1;
        }
        let response = server.send(
            "POST",
            &format!("/kapacitor/v1/write?db={db}&rp={rp}&precision=s"),
            &body,
        );
        let status = response.status().as_u16();
        assert_eq!(status, 204, "write refused: {:?}", response.text());
    }
}
