//! The workspace's written invariants, checked by `cargo test` (rust-analyzer's tidy tests):
//! docs/architecture.md states them, these tests keep them true.

use std::fs;
use std::path::{Path, PathBuf};

/// The workspace root (xtask's parent directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// Every `.rs` file under `dir` (relative to the root), skipping build output.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root().join(dir)];
    while let Some(next) = pending.pop() {
        let Ok(entries) = fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "corpus" {
                    pending.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The kinds the handler crates register: the `const KIND` of each crate under crates/handlers.
fn handler_kinds() -> Vec<String> {
    let mut kinds = Vec::new();
    for file in rust_files("crates/handlers") {
        for line in read(&file).lines() {
            let Some(rest) = line.trim().strip_prefix("const KIND: &'static str = \"") else {
                continue;
            };
            if let Some((kind, _)) = rest.split_once('"') {
                kinds.push(kind.to_owned());
            }
        }
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The code of a file that ships: without its `#[cfg(test)]` module (by convention the last item
/// of a file) and without comment lines.
fn shipped_code(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .map(|(i, line)| (i + 1, line))
}

/// Kinds that are also ordinary words elsewhere: (file, kind, why it is not the kind there).
const NOT_KINDS: &[(&str, &str, &str)] = &[
    (
        "crates/tick/src/lambda/functions.rs",
        "log",
        "the lambda function log(), the natural logarithm",
    ),
    (
        "crates/pipeline/src/log.rs",
        "log",
        "the |log() node, which logs points in klaxond's log",
    ),
    (
        "crates/pipeline/src/task.rs",
        "log",
        "the |log() node's name among the pipeline's nodes",
    ),
];

/// Files that describe Kapacitor's own surface, where its handler sections are Kapacitor's names
/// rather than this server's kinds: (file, why).
const KAPACITOR_CATALOGUES: &[(&str, &str)] = &[(
    "crates/server/src/config/kapacitor.rs",
    "kapacitor.conf's sections, so that one is read whatever handler crates a binary links",
)];

#[test]
fn only_handler_crates_spell_handler_kinds() {
    let kinds = handler_kinds();
    assert!(
        kinds.iter().any(|k| k == "tcp") && kinds.iter().any(|k| k == "exec"),
        "the scan finds the handler crates' kinds: {kinds:?}"
    );
    let crates = [
        "crates/core/src",
        "crates/tick/src",
        "crates/pipeline/src",
        "crates/engine/src",
        "crates/server/src",
        "crates/klaxond/src",
        "crates/cli/src",
    ];
    let mut found = Vec::new();
    for file in crates.iter().flat_map(|dir| rust_files(dir)) {
        if file.file_name().is_some_and(|n| n == "tests.rs")
            || file.components().any(|c| c.as_os_str() == "tests")
        {
            continue;
        }
        if KAPACITOR_CATALOGUES
            .iter()
            .any(|(path, _)| relative(&file) == *path)
        {
            continue;
        }
        let text = read(&file);
        for (number, line) in shipped_code(&text) {
            for kind in &kinds {
                let excepted = NOT_KINDS
                    .iter()
                    .any(|(path, word, _)| *word == kind && relative(&file) == *path);
                if !excepted && line.contains(&format!("\"{kind}\"")) {
                    found.push(format!("{}:{number}: {}", relative(&file), line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "handler kinds spelled outside handler crates (name them through the registry):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_module_starts_with_a_doc_comment() {
    let dirs = ["crates", "xtask/src", "tests", "examples"];
    let missing: Vec<String> = dirs
        .iter()
        .flat_map(|dir| rust_files(dir))
        .filter(|file| !read(file).starts_with("//!"))
        .map(|file| relative(&file))
        .collect();
    assert!(
        missing.is_empty(),
        "files whose first line is not a `//!` doc comment saying what the module is:\n{}",
        missing.join("\n")
    );
}
