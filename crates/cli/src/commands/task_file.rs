//! The files `define` reads beside the TICKscript: `-vars FILE` (a task's vars as JSON) and
//! `-file FILE` (a template task in YAML or JSON: `id`, `template-id`, `dbrps`, `vars`), as
//! Kapacitor's CLI reads them.

use std::path::Path;

use serde_json::{Map, Value};

use crate::client::ClientError;
use crate::render;

/// Reads `path` whole; the error names the flag it was given to.
fn read(path: &Path, flag: &str) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(|e| {
        ClientError::Input(format!(
            "failed to open file {}: {e}; check the {flag} path",
            path.display()
        ))
    })
}

/// A parse error at its line and column, with the source line and a caret.
fn at_line(message: String, path: &Path, text: &str, line: usize, column: usize) -> ClientError {
    ClientError::Input(render::at(
        &message,
        &path.display().to_string(),
        text,
        line,
        column,
    ))
}

/// `-vars FILE`: a JSON object of vars (`{"name": {"type": "string", "value": "cpu"}}`), or a
/// task vars document that has them under `vars`, as Kapacitor accepts both.
pub fn read_vars(path: &Path) -> Result<Map<String, Value>, ClientError> {
    let text = read(path, "-vars")?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        at_line(
            format!("invalid JSON in file {}: {e}", path.display()),
            path,
            &text,
            e.line(),
            e.column(),
        )
    })?;
    let Value::Object(map) = value else {
        return Err(ClientError::Input(format!(
            "invalid vars file {}: expected a JSON object of vars, such as \
             {{\"measurement\": {{\"type\": \"string\", \"value\": \"cpu\"}}}}",
            path.display()
        )));
    };
    let is_var = |v: &Value| v.get("type").is_some();
    if !map.values().all(is_var)
        && let Some(Value::Object(vars)) = map.get("vars")
    {
        return Ok(vars.clone());
    }
    Ok(map)
}

/// What a `-file` task file says: each key only when the file has it.
#[derive(Debug, Default, PartialEq)]
pub struct TaskFile {
    /// `id`, which must be the command line's task ID when given.
    pub id: Option<String>,
    /// `template-id`.
    pub template_id: Option<String>,
    /// `dbrps`, as `{"db", "rp"}` objects.
    pub dbrps: Option<Vec<Value>>,
    /// `vars`.
    pub vars: Option<Map<String, Value>>,
}

/// `-file FILE`: a template task in YAML (`.yaml`, `.yml`) or JSON (`.json`).
pub fn read_task_file(path: &Path) -> Result<TaskFile, ClientError> {
    let name = path.display().to_string();
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(extension, "yaml" | "yml" | "json") {
        return Err(ClientError::Input(format!(
            "bad file extension of {name}: a task file is YAML (.yaml, .yml) or JSON (.json)"
        )));
    }
    let text = read(path, "-file")?;
    let value: Value = if extension == "json" {
        serde_json::from_str(&text).map_err(|e| {
            at_line(
                format!("failed to unmarshal json task vars file {name:?}: {e}"),
                path,
                &text,
                e.line(),
                e.column(),
            )
        })?
    } else {
        yaml_serde::from_str(&text).map_err(|e| {
            let message = format!("failed to unmarshal yaml task vars file {name:?}: {e}");
            match e.location() {
                Some(at) => at_line(message, path, &text, at.line(), at.column()),
                None => ClientError::Input(message),
            }
        })?
    };
    let Value::Object(mut map) = value else {
        return Err(ClientError::Input(format!(
            "invalid task file {name}: expected a mapping with template-id, dbrps and vars, \
             such as:\n  template-id: my_template\n  dbrps:\n    - db: telegraf\n      \
             rp: autogen\n  vars:\n    measurement:\n      type: string\n      value: cpu"
        )));
    };
    let bad = |key: &str, why: &str| {
        let message = format!("invalid task file {name}: {key} {why}");
        ClientError::Input(match render::find_key(&text, key, None) {
            Some((line, column)) => render::at(&message, &name, &text, line, column),
            None => format!("{message}\n --> {name}"),
        })
    };
    if let Some(unknown) = map
        .keys()
        .find(|k| !["id", "template-id", "dbrps", "vars"].contains(&k.as_str()))
    {
        return Err(bad(
            unknown,
            "is not a key of a task file; the keys are id, template-id, dbrps and vars",
        ));
    }
    let mut string = |key: &str| match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(key, "must be a string")),
    };
    let id = string("id")?;
    let template_id = string("template-id")?;
    let dbrps = match map.remove("dbrps") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let ok = items.iter().all(|d| {
                d.get("db").is_some_and(Value::is_string)
                    && d.get("rp").is_some_and(Value::is_string)
            });
            if !ok {
                return Err(bad(
                    "dbrps",
                    "must be a list of db and rp pairs, such as - {db: telegraf, rp: autogen}",
                ));
            }
            Some(items)
        }
        Some(_) => {
            return Err(bad(
                "dbrps",
                "must be a list of db and rp pairs, such as - {db: telegraf, rp: autogen}",
            ));
        }
    };
    let vars = match map.remove("vars") {
        None | Some(Value::Null) => None,
        Some(Value::Object(vars)) => Some(vars),
        Some(_) => {
            return Err(bad(
                "vars",
                "must be a mapping of var names to type and value",
            ));
        }
    };
    Ok(TaskFile {
        id,
        template_id,
        dbrps,
        vars,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn vars_files_are_read_in_both_of_kapacitors_shapes() {
        let (_d, plain) = write(
            "v.json",
            r#"{"measurement": {"type": "string", "value": "cpu"}}"#,
        );
        let (_e, wrapped) = write(
            "w.json",
            r#"{"vars": {"measurement": {"type": "string", "value": "cpu"}}}"#,
        );
        assert_eq!(read_vars(&plain).unwrap(), read_vars(&wrapped).unwrap());
        let (_f, broken) = write("b.json", "{\n  \"x\": {\"type\": }\n}");
        let err = read_vars(&broken).unwrap_err().to_string();
        assert!(err.contains(" --> "), "{err}");
        assert!(err.contains("2 |   \"x\": {\"type\": }"), "{err}");
    }

    #[test]
    fn task_files_are_read_from_yaml_and_checked() {
        let (_d, yaml) = write(
            "t.yaml",
            "id: cpu\ntemplate-id: tpl\ndbrps:\n  - db: telegraf\n    rp: autogen\nvars:\n  \
             crit:\n    type: float\n    value: 90\n",
        );
        let file = read_task_file(&yaml).unwrap();
        assert_eq!(file.id.as_deref(), Some("cpu"));
        assert_eq!(file.template_id.as_deref(), Some("tpl"));
        assert_eq!(
            file.dbrps.unwrap(),
            [serde_json::json!({"db": "telegraf", "rp": "autogen"})]
        );
        assert_eq!(file.vars.unwrap()["crit"]["value"], 90);
        let (_e, typo) = write("t.yml", "template-id: tpl\ndbrp: []\n");
        let err = read_task_file(&typo).unwrap_err().to_string();
        assert!(err.starts_with("invalid task file "), "{err}");
        assert!(err.contains("dbrp is not a key of a task file"), "{err}");
        assert!(err.contains(":2:1\n"), "{err}");
        let (_f, text) = write("t.txt", "");
        assert!(read_task_file(&text).is_err());
    }
}
