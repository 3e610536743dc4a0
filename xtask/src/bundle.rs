//! Adding a handler crate to klaxond's bundle: its manifest's `[dependencies]` and the sorted
//! `use` lines of its main.rs. Both edits are made on text and return the new text, so that the
//! caller can check everything before writing anything.

use anyhow::{Context, Result, bail};
use toml_edit::{DocumentMut, InlineTable, Item, Key, Value};

use crate::names::HandlerName;

/// The comment that opens the block of `use` lines in klaxond's main.rs.
pub const USE_BLOCK_MARKER: &str = "// The bundled handler crates, sorted.";

/// Adds `<package> = { path = "../handlers/<kind>" }` to the `[dependencies]` of klaxond's
/// manifest, before the first dependency that sorts after it, keeping comments and formatting.
///
/// # Errors
///
/// When the manifest does not parse, has no `[dependencies]` table, or already has the crate.
pub fn add_dependency(manifest: &str, name: &HandlerName) -> Result<String> {
    let mut doc: DocumentMut = manifest.parse().context("cannot parse it as TOML")?;
    let deps = doc
        .get_mut("dependencies")
        .and_then(Item::as_table_mut)
        .context("it has no [dependencies] table")?;
    if deps.contains_key(&name.package) {
        bail!("it already depends on {}", name.package);
    }
    // toml_edit appends new keys; to insert in order, take out the keys that sort after the new
    // one and put them back after it, each with its own formatting and comments.
    let after: Vec<String> = deps
        .iter()
        .map(|(key, _)| key.to_owned())
        .filter(|key| key.as_str() > name.package.as_str())
        .collect();
    let moved: Vec<(Key, Item)> = after
        .iter()
        .filter_map(|key| deps.remove_entry(key))
        .collect();
    let mut path = InlineTable::new();
    path.insert("path", Value::from(format!("../handlers/{}", name.kind)));
    deps.insert(&name.package, Item::Value(Value::InlineTable(path)));
    for (key, item) in moved {
        deps.insert_formatted(&key, item);
    }
    Ok(doc.to_string())
}

/// Adds `use <lib> as _;` to the sorted block of `use` lines under [`USE_BLOCK_MARKER`].
///
/// # Errors
///
/// When the marker is missing or the line is already there.
pub fn add_use_line(main_rs: &str, name: &HandlerName) -> Result<String> {
    let new_line = name.use_line();
    let lines: Vec<&str> = main_rs.lines().collect();
    let marker = lines
        .iter()
        .position(|line| line.trim() == USE_BLOCK_MARKER)
        .with_context(|| format!("it has no line {USE_BLOCK_MARKER:?} above the use lines"))?;
    let block_end = lines[marker + 1..]
        .iter()
        .position(|line| !is_use_as_underscore(line))
        .map_or(lines.len(), |offset| marker + 1 + offset);
    let block = &lines[marker + 1..block_end];
    if block.iter().any(|line| line.trim() == new_line) {
        bail!("it already has the line `{new_line}`");
    }
    let at = marker
        + 1
        + block
            .iter()
            .position(|line| used_crate(line) > name.lib.as_str())
            .unwrap_or(block.len());
    let mut out: Vec<&str> = lines[..at].to_vec();
    out.push(&new_line);
    out.extend(&lines[at..]);
    let mut text = out.join("\n");
    if main_rs.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

fn is_use_as_underscore(line: &str) -> bool {
    let line = line.trim();
    line.starts_with("use ") && line.ends_with(" as _;")
}

/// `klaxon_handler_tcp` from `use klaxon_handler_tcp as _;`.
fn used_crate(line: &str) -> &str {
    let line = line.trim();
    let line = line.strip_prefix("use ").unwrap_or(line);
    line.strip_suffix(" as _;").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"[package]
name = "klaxond"

[dependencies]
# The handlers.
klaxon-handler-exec = { path = "../handlers/exec" }
klaxon-handler-tcp = { path = "../handlers/tcp" }   # trailing comment
klaxon-server.workspace = true

[lints]
workspace = true
"#;

    const MAIN_RS: &str = "//! klaxond.
#![deny(unused_crate_dependencies)]

// The bundled handler crates, sorted.
use klaxon_handler_exec as _;
use klaxon_handler_tcp as _;

fn main() -> std::process::ExitCode {
    klaxon_server::main()
}
";

    fn name(kind: &str) -> HandlerName {
        HandlerName::parse(kind).unwrap()
    }

    #[test]
    fn the_dependency_goes_in_sorted_order_keeping_the_rest_as_written() {
        let edited = add_dependency(MANIFEST, &name("pager")).unwrap();
        let expected = MANIFEST.replace(
            "klaxon-handler-tcp =",
            "klaxon-handler-pager = { path = \"../handlers/pager\" }\nklaxon-handler-tcp =",
        );
        assert_eq!(edited, expected);

        let first = add_dependency(MANIFEST, &name("alpha")).unwrap();
        // A comment stays with the key it precedes.
        assert!(first.contains(
            "[dependencies]\nklaxon-handler-alpha = { path = \"../handlers/alpha\" }\n\
             # The handlers.\nklaxon-handler-exec"
        ));
        let last = add_dependency(MANIFEST, &name("zulu")).unwrap();
        assert!(last.contains(
            "klaxon-handler-zulu = { path = \"../handlers/zulu\" }\nklaxon-server.workspace"
        ));
    }

    #[test]
    fn a_dependency_already_there_or_no_dependencies_table_is_refused() {
        let err = add_dependency(MANIFEST, &name("tcp")).unwrap_err();
        assert_eq!(err.to_string(), "it already depends on klaxon-handler-tcp");
        let err = add_dependency("[package]\nname = \"x\"\n", &name("pager")).unwrap_err();
        assert_eq!(err.to_string(), "it has no [dependencies] table");
        assert!(add_dependency("[dependencies", &name("pager")).is_err());
    }

    #[test]
    fn the_use_line_goes_in_sorted_order_in_the_block() {
        let middle = add_use_line(MAIN_RS, &name("pager")).unwrap();
        assert_eq!(
            middle,
            MAIN_RS.replace(
                "use klaxon_handler_tcp",
                "use klaxon_handler_pager as _;\nuse klaxon_handler_tcp"
            )
        );
        let first = add_use_line(MAIN_RS, &name("alpha")).unwrap();
        assert!(first.contains("sorted.\nuse klaxon_handler_alpha as _;\nuse klaxon_handler_exec"));
        let last = add_use_line(MAIN_RS, &name("zulu")).unwrap();
        assert!(last.contains("use klaxon_handler_tcp as _;\nuse klaxon_handler_zulu as _;\n\nfn"));
        // A crate whose name extends another's sorts after it.
        let longer = add_use_line(MAIN_RS, &name("tcp-tls")).unwrap();
        assert!(longer.contains("use klaxon_handler_tcp as _;\nuse klaxon_handler_tcp_tls as _;"));
    }

    #[test]
    fn a_use_line_already_there_or_a_missing_marker_is_refused() {
        let err = add_use_line(MAIN_RS, &name("tcp")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it already has the line `use klaxon_handler_tcp as _;`"
        );
        let err = add_use_line("fn main() {}\n", &name("pager")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it has no line \"// The bundled handler crates, sorted.\" above the use lines"
        );
    }
}
