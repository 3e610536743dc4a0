//! The conformance table in docs/kapacitor-differences.md, generated from the case files: every
//! Kapacitor test, passed or skipped with the reason. The suite fails when the table is not the
//! one the cases give; `KAPACITOR_TABLE=write` rewrites it.

use std::collections::BTreeMap;

use crate::case::Case;

const BEGIN: &str = "<!-- conformance table: generated from tests/kapacitor/cases by `cargo test -p klaxon-e2e --test kapacitor`; KAPACITOR_TABLE=write regenerates it -->";
const END: &str = "<!-- end of the conformance table -->";

/// The table's markdown, markers included.
pub fn render(cases: &[Case]) -> String {
    let passed = cases.iter().filter(|c| c.skip.is_none()).count();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for case in cases {
        if let Some(reason) = &case.skip {
            *reasons.entry(reason.as_str()).or_default() += 1;
        }
    }
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push_str("\n\n");
    out.push_str(&format!(
        "{} of Kapacitor's tests: {passed} passed, {} skipped.\n\n",
        cases.len(),
        cases.len() - passed
    ));
    if !reasons.is_empty() {
        out.push_str("| skipped because | tests |\n|---|---|\n");
        let mut by_count: Vec<(&str, usize)> = reasons.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (reason, count) in by_count {
            out.push_str(&format!("| {} | {count} |\n", cell(reason)));
        }
        out.push('\n');
    }
    out.push_str("| Kapacitor test | Klaxon |\n|---|---|\n");
    for case in cases {
        let result = match &case.skip {
            None => "passed".to_owned(),
            Some(reason) => format!("skipped: {}", cell(reason)),
        };
        out.push_str(&format!("| `{}` | {result} |\n", case.kapacitor));
    }
    out.push('\n');
    out.push_str(END);
    out
}

/// Checks (or with `KAPACITOR_TABLE=write`, rewrites) the table in the document.
pub fn check(cases: &[Case]) -> Result<(), String> {
    let path = klaxon_e2e::workspace_root().join("docs/kapacitor-differences.md");
    let doc =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let table = render(cases);
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!(
            "{} has no conformance table; run with KAPACITOR_TABLE=write after adding the markers",
            path.display()
        ));
    };
    let current = &doc[begin..end + END.len()];
    if current == table {
        return Ok(());
    }
    if std::env::var("KAPACITOR_TABLE").as_deref() == Ok("write") {
        let updated = format!("{}{table}{}", &doc[..begin], &doc[end + END.len()..]);
        std::fs::write(&path, updated).map_err(|e| format!("write {}: {e}", path.display()))?;
        return Ok(());
    }
    Err(format!(
        "the conformance table in {} is stale; run `KAPACITOR_TABLE=write cargo test -p klaxon-e2e --test kapacitor` and commit it",
        path.display()
    ))
}

/// Text for a table cell: a `|` (as in `|join()`) would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
