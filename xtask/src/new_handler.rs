//! `cargo xtask new-handler NAME`: a new handler crate from the templates, bundled into klaxond.
//!
//! Everything is checked before anything is written; files are created with create-new semantics
//! (an existing file is never overwritten), and if a step fails, what this run created is removed
//! and klaxond's files are restored.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::bundle;
use crate::names::HandlerName;

/// The files of a handler crate: where each goes, and its template.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/handler/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../templates/handler/lib.rs.tmpl"),
    ),
    (
        "src/config.rs",
        include_str!("../templates/handler/config.rs.tmpl"),
    ),
    (
        "src/handler.rs",
        include_str!("../templates/handler/handler.rs.tmpl"),
    ),
    (
        "src/tests.rs",
        include_str!("../templates/handler/tests.rs.tmpl"),
    ),
];

const KLAXOND_MANIFEST: &str = "crates/klaxond/Cargo.toml";
const KLAXOND_MAIN: &str = "crates/klaxond/src/main.rs";

/// What a successful run created and changed, as paths relative to the workspace root.
#[derive(Debug)]
pub struct Created {
    /// The names of the new handler.
    pub name: HandlerName,
    /// The files created, in order.
    pub files: Vec<PathBuf>,
    /// The files edited.
    pub edited: Vec<PathBuf>,
}

/// Creates handler `name` in the workspace at `root` and adds it to klaxond.
///
/// # Errors
///
/// When the name is refused (saying why) or a file cannot be written; nothing is left behind.
pub fn new_handler(root: &Path, name: &str) -> Result<Created> {
    let name = HandlerName::parse(name)?;
    check_workspace(root)?;
    check_unused(root, &name)?;

    let manifest = read(root, KLAXOND_MANIFEST)?;
    let main_rs = read(root, KLAXOND_MAIN)?;
    let new_manifest = bundle::add_dependency(&manifest, &name)
        .with_context(|| format!("cannot add {} to {KLAXOND_MANIFEST}", name.package))?;
    let new_main_rs = bundle::add_use_line(&main_rs, &name)
        .with_context(|| format!("cannot add {} to {KLAXOND_MAIN}", name.package))?;
    let files: Vec<(PathBuf, String)> = TEMPLATES
        .iter()
        .map(|(path, template)| (crate_dir(&name).join(path), render(template, &name)))
        .collect();

    let edits = [
        Edit {
            path: KLAXOND_MANIFEST,
            old: manifest,
            new: new_manifest,
        },
        Edit {
            path: KLAXOND_MAIN,
            old: main_rs,
            new: new_main_rs,
        },
    ];
    apply(root, &crate_dir(&name), &files, &edits)?;
    Ok(Created {
        name,
        files: files.into_iter().map(|(path, _)| path).collect(),
        edited: vec![KLAXOND_MANIFEST.into(), KLAXOND_MAIN.into()],
    })
}

/// The crate's directory, relative to the workspace root.
fn crate_dir(name: &HandlerName) -> PathBuf {
    Path::new("crates/handlers").join(&name.kind)
}

/// Substitutes the placeholders of a template.
pub fn render(template: &str, name: &HandlerName) -> String {
    template
        .replace("{{name}}", &name.kind)
        .replace("{{crate}}", &name.package)
        .replace("{{lib}}", &name.lib)
        .replace("{{Type}}", &name.type_prefix)
        .replace("{{property}}", &name.property)
}

/// Refuses a root that is not a Klaxon workspace, so that a wrong `--root` writes nothing.
fn check_workspace(root: &Path) -> Result<()> {
    for needed in [
        "Cargo.toml",
        "crates/handlers",
        KLAXOND_MANIFEST,
        KLAXOND_MAIN,
    ] {
        if !root.join(needed).exists() {
            bail!(
                "{} is not the Klaxon workspace: it has no {needed}; run the command inside the \
                 workspace or pass --root",
                root.display()
            );
        }
    }
    Ok(())
}

/// Refuses a name that is taken by a crate or a kind of the workspace. (Names the engine or the
/// alert node own are refused by [`HandlerName::parse`], with the registry's rules.)
fn check_unused(root: &Path, name: &HandlerName) -> Result<()> {
    let kind = &name.kind;
    let dir = crate_dir(name);
    if root.join(&dir).exists() {
        bail!(
            "refusing {kind:?}: {} already exists; choose another name, or remove the directory",
            dir.display()
        );
    }
    if let Some(file) = kinds_in(root)?
        .into_iter()
        .find_map(|(found, file)| (found == *kind).then_some(file))
    {
        bail!(
            "refusing {kind:?}: {} already registers the kind {kind:?}; choose another name",
            file.display()
        );
    }
    if let Some(manifest) = manifests(root)?
        .into_iter()
        .find(|manifest| package_name(root, manifest).as_deref() == Some(name.package.as_str()))
    {
        bail!(
            "refusing {kind:?}: {} already names its package {}; choose another name",
            manifest.display(),
            name.package
        );
    }
    Ok(())
}

/// Every `const KIND: &'static str = "...";` in the handler crates and test fixtures, with the file
/// it is in (relative to the root). A text scan: it needs no build.
fn kinds_in(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    const DECLARATION: &str = "const KIND: &'static str = \"";
    let mut kinds = Vec::new();
    for parent in ["crates/handlers", "tests/fixtures"] {
        for crate_dir in subdirs(&root.join(parent))? {
            for file in rust_files(&crate_dir.join("src"))? {
                let text = fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                for (at, _) in text.match_indices(DECLARATION) {
                    let rest = &text[at + DECLARATION.len()..];
                    if let Some(end) = rest.find('"') {
                        let relative = file.strip_prefix(root).unwrap_or(&file).to_path_buf();
                        kinds.push((rest[..end].to_owned(), relative));
                    }
                }
            }
        }
    }
    Ok(kinds)
}

/// The manifests of the workspace's crates, relative to the root.
fn manifests(root: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for parent in ["crates", "crates/handlers", "examples", "tests/fixtures"] {
        for dir in subdirs(&root.join(parent))? {
            if dir.join("Cargo.toml").is_file() {
                let dir = dir.strip_prefix(root).unwrap_or(&dir).to_path_buf();
                found.push(dir.join("Cargo.toml"));
            }
        }
    }
    Ok(found)
}

fn package_name(root: &Path, manifest: &Path) -> Option<String> {
    let text = fs::read_to_string(root.join(manifest)).ok()?;
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    doc.get("package")?.get("name")?.as_str().map(str::to_owned)
}

/// The subdirectories of `dir`, sorted; none if `dir` does not exist.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for sub in subdirs(dir)? {
        files.extend(rust_files(&sub)?);
    }
    if dir.is_dir() {
        for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    Ok(files)
}

fn read(root: &Path, path: &str) -> Result<String> {
    fs::read_to_string(root.join(path)).with_context(|| format!("cannot read {path}"))
}

/// A change to an existing file: its path relative to the root, the text it was read with and its
/// new text.
#[derive(Debug)]
struct Edit {
    path: &'static str,
    old: String,
    new: String,
}

/// Creates `dir` (and `dir/src`) and the `files` in them, then makes the `edits`. If any step
/// fails, takes back the earlier ones and returns the error.
fn apply(root: &Path, dir: &Path, files: &[(PathBuf, String)], edits: &[Edit]) -> Result<()> {
    let mut undo = Undo::default();
    let done = create_all(root, dir, files, &mut undo).and_then(|()| {
        edits.iter().try_for_each(|edit| {
            undo.replaced.push((root.join(edit.path), edit.old.clone()));
            fs::write(root.join(edit.path), &edit.new)
                .with_context(|| format!("cannot write {}", edit.path))
        })
    });
    if done.is_err() {
        undo.run();
    }
    done.context("nothing was changed")
}

/// Creates the directories and files, never overwriting; records each in `undo` as soon as it
/// exists.
fn create_all(root: &Path, dir: &Path, files: &[(PathBuf, String)], undo: &mut Undo) -> Result<()> {
    for dir in [root.join(dir), root.join(dir).join("src")] {
        fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        undo.dirs.push(dir);
    }
    for (path, text) in files {
        let full = root.join(path);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&full)
            .with_context(|| format!("cannot create {}", path.display()))?;
        undo.files.push(full);
        file.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// What to take back if a later step fails: files and directories this run created, and the
/// original text of files it changed.
#[derive(Debug, Default)]
struct Undo {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    replaced: Vec<(PathBuf, String)>,
}

impl Undo {
    /// Restores what was replaced and removes what was created, newest first. Best effort: this
    /// runs after a failure, whose error is the one reported.
    fn run(self) {
        for (path, text) in self.replaced.iter().rev() {
            if fs::write(path, text).is_err() {
                eprintln!("warning: could not restore {}", path.display());
            }
        }
        for path in self.files.iter().rev() {
            let _ = fs::remove_file(path);
        }
        for path in self.dirs.iter().rev() {
            let _ = fs::remove_dir(path);
        }
    }
}

#[cfg(test)]
mod tests;
