//! The files of a `|sideload()` source, loaded when its task starts, as Kapacitor's sideload
//! service loads a `file://` source: every file under the directory, by its path relative to
//! it; `.yml` and `.yaml` files read as YAML, `.json` as JSON, any other file as holding nothing.

use std::path::Path;

use klaxon_pipeline::SideloadFiles;
use serde_json::{Map, Value};

/// Reads every file under `dir`; an error names the file and what is wrong with it.
pub(super) fn load(dir: &str) -> Result<SideloadFiles, String> {
    let mut files = SideloadFiles::new();
    walk(Path::new(dir), Path::new(dir), &mut files)?;
    Ok(files)
}

fn walk(root: &Path, dir: &Path, files: &mut SideloadFiles) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read sideload directory {}: {e}", dir.display()))?;
    let mut paths: Vec<_> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read sideload directory {}: {e}", dir.display()))?;
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(root, &path, files)?;
            continue;
        }
        let relative = path
            .strip_prefix(root)
            .map_err(|_| format!("{} is outside {}", path.display(), root.display()))?;
        let key = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        files.insert(key, values(&path)?);
    }
    Ok(())
}

/// The values a file holds: a YAML or JSON object (a file of another type holds nothing).
fn values(path: &Path) -> Result<Map<String, Value>, String> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let read = || {
        std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read sideload file {}: {e}", path.display()))
    };
    let value: Value = match extension {
        "yml" | "yaml" => yaml_serde::from_str(&read()?)
            .map_err(|e| format!("sideload file {} is not YAML values: {e}", path.display()))?,
        "json" => serde_json::from_str(&read()?)
            .map_err(|e| format!("sideload file {} is not JSON values: {e}", path.display()))?,
        _ => return Ok(Map::new()),
    };
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(format!(
            "sideload file {} must hold keys and values, like `cpu_limit: 2`",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_load_by_relative_path_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir(dir.path().join("t0")).unwrap();
        std::fs::write(dir.path().join("t0/a.yml"), "f1: 2\nname: x\n").unwrap();
        std::fs::write(dir.path().join("b.json"), r#"{"f2": 3.5}"#).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "anything").unwrap();
        let root = dir.path().to_str().unwrap();
        let files = load(root).unwrap();
        assert_eq!(files["t0/a.yml"]["f1"], 2);
        assert_eq!(files["t0/a.yml"]["name"], "x");
        assert_eq!(files["b.json"]["f2"], 3.5);
        assert!(files["notes.txt"].is_empty());

        std::fs::write(dir.path().join("bad.json"), "[1, 2]").unwrap();
        let err = load(root).unwrap_err();
        assert!(err.contains("bad.json must hold keys and values"), "{err}");
        let err = load("/no/such/klaxon/dir").unwrap_err();
        assert!(
            err.starts_with("cannot read sideload directory /no/such/klaxon/dir"),
            "{err}"
        );
    }
}
