//! `[exec] allowed-programs`: which programs a handler definition may name.
//!
//! The check runs when a handler is defined (handler file, HTTP create, TICKscript `.exec()`,
//! service test), so a refused program never starts. A bare name is resolved on the server's
//! `PATH` at that moment and the resolved absolute path is what is checked and, later, run: the
//! allowlist speaks about files, and a later change to `PATH` cannot swap the program.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use klaxon_core::Invalid;

/// The compiled allowlist; empty means every program is allowed (Kapacitor's behaviour).
#[derive(Debug, Clone)]
pub(crate) struct Allowlist {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Allowlist {
    /// Compiles the patterns; each must be an absolute path or glob.
    pub(crate) fn new(patterns: &[String]) -> Result<Allowlist, Invalid> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            if !pattern.starts_with('/') {
                return Err(Invalid::new(format!(
                    "allowed-programs entry {pattern:?} is not an absolute path; write it like \
                     \"/usr/local/bin/*\""
                )));
            }
            // `*` must not cross a `/`, so "/opt/alerts/*" does not allow "/opt/alerts/x/y".
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| {
                    Invalid::new(format!(
                        "allowed-programs entry {pattern:?} is not a valid glob: {}",
                        e.kind()
                    ))
                })?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| Invalid::new(format!("allowed-programs: {e}")))?;
        Ok(Allowlist {
            patterns: patterns.to_vec(),
            set,
        })
    }

    /// The patterns, as configured.
    pub(crate) fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The program to run for `prog`: unchanged when every program is allowed, else its
    /// absolute, normalised path, provided that the allowlist matches it.
    pub(crate) fn admit(&self, prog: &str) -> Result<String, Invalid> {
        if self.patterns.is_empty() {
            return Ok(prog.to_owned());
        }
        let refuse = |resolved: Option<&Path>| {
            let shown = match resolved {
                Some(path) if path.as_os_str() != prog => {
                    format!("{prog:?} ({})", path.display())
                }
                _ => format!("{prog:?}"),
            };
            Invalid::new(format!(
                "program {shown} is not allowed by [exec] allowed-programs; allowed: {}",
                self.patterns.join(", ")
            ))
        };
        let Some(path) = resolve(prog) else {
            return Err(Invalid::new(format!(
                "program {prog:?} is not on the server's PATH, so [exec] allowed-programs cannot \
                 allow it; give its absolute path"
            )));
        };
        let path = normalise(&path);
        if !self.set.is_match(&path) {
            return Err(refuse(Some(&path)));
        }
        path.into_os_string()
            .into_string()
            .map_err(|_| refuse(None))
    }
}

/// The absolute path of `prog`: a bare name is looked up on `PATH` (the first executable file
/// wins, as the process spawn would do), a relative path is taken from the working directory.
fn resolve(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        return std::path::absolute(prog).ok();
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(prog))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Removes `.` and resolves `..` lexically, so that "/usr/local/bin/../../../bin/rm" cannot
/// match a pattern such as "/usr/local/bin/**".
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
