//! Go-style command-line flags: Kapacitor's tools take long flags with one dash (`-url`,
//! `-tick`, `-config`), so commands copied from Kapacitor's docs should work with only the
//! program name changed.

use std::ffi::OsString;

/// Rewrites `-name` and `-name=value` into `--name` and `--name=value` when `name` is one of the
/// `known` long flags; everything else, and everything after `--`, is left as it is.
///
/// ```
/// use std::ffi::OsString;
/// use klaxon_core::go_flags::rewrite;
///
/// let args = ["klaxon", "define", "cpu", "-tick", "cpu.tick", "-dbrp=db.rp", "-x"].map(OsString::from);
/// let out = rewrite(args, &["tick", "dbrp", "url"]);
/// assert_eq!(out, ["klaxon", "define", "cpu", "--tick", "cpu.tick", "--dbrp=db.rp", "-x"].map(OsString::from));
/// ```
pub fn rewrite(args: impl IntoIterator<Item = OsString>, known: &[&str]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut passthrough = false;
    for arg in args {
        if passthrough {
            out.push(arg);
            continue;
        }
        let rewritten = arg.to_str().and_then(|text| {
            if text == "--" {
                return None;
            }
            let body = text.strip_prefix('-').filter(|b| !b.starts_with('-'))?;
            let name = body.split_once('=').map_or(body, |(n, _)| n);
            (name.len() > 1 && known.contains(&name)).then(|| OsString::from(format!("-{text}")))
        });
        if arg == "--" {
            passthrough = true;
        }
        out.push(rewritten.unwrap_or(arg));
    }
    out
}
