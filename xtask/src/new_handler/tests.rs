//! new-handler on temporary copies of the workspace's relevant parts: what it creates, what it
//! refuses, and that a refusal or a failure leaves no trace.

use std::collections::BTreeMap;
use std::process::Command;

use tempfile::TempDir;

use super::*;

/// The real workspace this test was built from.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ is inside the workspace")
        .to_path_buf()
}

/// A temporary directory with the parts of the workspace new-handler reads: the root manifest,
/// crates/klaxond, the handler crates and the test fixtures (without any build output).
fn mini_workspace() -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let from = workspace();
    fs::copy(from.join("Cargo.toml"), dir.path().join("Cargo.toml")).expect("copy Cargo.toml");
    for sub in ["crates/klaxond", "crates/handlers", "tests/fixtures"] {
        copy_dir(&from.join(sub), &dir.path().join(sub));
    }
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create directory");
    for entry in fs::read_dir(from).expect("list directory") {
        let entry = entry.expect("directory entry");
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&source, &target);
            }
        } else {
            fs::copy(&source, &target).expect("copy file");
        }
    }
}

/// Every path under `root` with the contents of files, to compare before and after.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("list directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                found.insert(path.clone(), None);
                pending.push(path);
            } else {
                found.insert(path.clone(), Some(fs::read(&path).expect("read file")));
            }
        }
    }
    found
}

fn name(kind: &str) -> HandlerName {
    HandlerName::parse(kind).expect("a valid name")
}

#[test]
fn every_template_renders_without_placeholders_left() {
    for (path, template) in TEMPLATES {
        let rendered = render(template, &name("pager-duty"));
        assert!(!rendered.contains("{{"), "{path}: {rendered}");
        assert!(
            rendered.contains("pager-duty") || rendered.contains("PagerDuty"),
            "{path}"
        );
    }
}

#[test]
fn the_generated_code_is_rustfmt_clean_for_names_of_any_length() {
    let longest = "abcdefghij-klmnopqrst-uvwxyz-123";
    assert_eq!(longest.len(), klaxon_core::naming::MAX_KIND_LEN);
    for kind in ["a", "pager", "pager-duty", "s3", longest] {
        let dir = tempfile::tempdir().expect("temporary directory");
        fs::create_dir(dir.path().join("src")).expect("create src");
        for (path, template) in TEMPLATES {
            fs::write(dir.path().join(path), render(template, &name(kind))).expect("write");
        }
        let rustfmt = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".to_owned());
        let output = Command::new(rustfmt)
            .args(["--check", "--edition", "2024"])
            .arg(dir.path().join("src/lib.rs"))
            .output()
            .expect("run rustfmt (rustup component add rustfmt)");
        assert!(
            output.status.success(),
            "the code generated for {kind:?} is not formatted:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn creates_the_crate_from_the_templates_and_bundles_it_into_klaxond() {
    let root = mini_workspace();
    let root = root.path();
    let manifest = fs::read_to_string(root.join(KLAXOND_MANIFEST)).expect("read");
    let main_rs = fs::read_to_string(root.join(KLAXOND_MAIN)).expect("read");

    let created = new_handler(root, "pager").expect("created");

    let pager = name("pager");
    assert_eq!(created.name, pager);
    let expected: Vec<PathBuf> = TEMPLATES
        .iter()
        .map(|(path, _)| Path::new("crates/handlers/pager").join(path))
        .collect();
    assert_eq!(created.files, expected);
    for (path, template) in TEMPLATES {
        let text = fs::read_to_string(root.join("crates/handlers/pager").join(path)).expect("read");
        assert_eq!(text, render(template, &pager), "{path}");
    }
    assert_eq!(
        fs::read_to_string(root.join(KLAXOND_MANIFEST)).expect("read"),
        bundle::add_dependency(&manifest, &pager).expect("edit")
    );
    assert_eq!(
        fs::read_to_string(root.join(KLAXOND_MAIN)).expect("read"),
        bundle::add_use_line(&main_rs, &pager).expect("edit")
    );

    // The second time, the directory is there.
    let err = new_handler(root, "pager").expect_err("refused");
    assert_eq!(
        err.to_string(),
        "refusing \"pager\": crates/handlers/pager already exists; choose another name, or remove \
         the directory"
    );
}

#[test]
fn refusals_say_why_and_write_nothing() {
    let root = mini_workspace();
    let root = root.path();
    // A crate whose directory does not say its kind, and one whose package name is taken.
    fs::create_dir_all(root.join("crates/handlers/beeper/src")).expect("create");
    fs::write(
        root.join("crates/handlers/beeper/src/handler.rs"),
        "    const KIND: &'static str = \"pager\";\n",
    )
    .expect("write");
    fs::create_dir_all(root.join("examples/paging")).expect("create");
    fs::write(
        root.join("examples/paging/Cargo.toml"),
        "[package]\nname = \"klaxon-handler-paging\"\n",
    )
    .expect("write");
    let before = snapshot(root);

    let cases = [
        (
            "Pager",
            "refusing \"Pager\": handler kind \"Pager\" is not a valid name: use lowercase \
             letters, digits and '-', starting with a letter",
        ),
        (
            "tcp",
            "refusing \"tcp\": crates/handlers/tcp already exists; choose another name, or remove \
             the directory",
        ),
        (
            "pager",
            "refusing \"pager\": crates/handlers/beeper/src/handler.rs already registers the kind \
             \"pager\"; choose another name",
        ),
        (
            "fixture",
            "refusing \"fixture\": tests/fixtures/handler/src/lib.rs already registers the kind \
             \"fixture\"; choose another name",
        ),
        (
            "paging",
            "refusing \"paging\": examples/paging/Cargo.toml already names its package \
             klaxon-handler-paging; choose another name",
        ),
        (
            "publish",
            "refusing \"publish\": handler kind \"publish\" is reserved by the engine; rename the \
             handler",
        ),
        (
            "level-tag",
            "refusing \"level-tag\": TICKscript property \"levelTag\" is the alert node's own \
             (.levelTag()); a handler cannot claim it",
        ),
    ];
    for (kind, expected) in cases {
        let err = new_handler(root, kind).expect_err("refused");
        assert_eq!(format!("{err:#}"), expected);
        assert!(snapshot(root) == before, "{kind}: something was written");
    }
}

#[test]
fn a_klaxond_that_cannot_take_the_crate_refuses_before_writing() {
    let root = mini_workspace();
    let root = root.path();
    let manifest = root.join(KLAXOND_MANIFEST);
    let text = fs::read_to_string(&manifest).expect("read");
    let text = text.replace(
        "[dependencies]\n",
        "[dependencies]\nklaxon-handler-ghost = { path = \"../handlers/ghost\" }\n",
    );
    fs::write(&manifest, text).expect("write");
    let before = snapshot(root);

    let err = new_handler(root, "ghost").expect_err("refused");

    assert_eq!(
        format!("{err:#}"),
        "cannot add klaxon-handler-ghost to crates/klaxond/Cargo.toml: it already depends on \
         klaxon-handler-ghost"
    );
    assert!(snapshot(root) == before, "something was written");
}

#[test]
fn a_directory_that_is_not_the_workspace_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let err = new_handler(dir.path(), "pager").expect_err("refused");
    assert_eq!(
        err.to_string(),
        format!(
            "{} is not the Klaxon workspace: it has no Cargo.toml; run the command inside the \
             workspace or pass --root",
            dir.path().display()
        )
    );
    assert!(snapshot(dir.path()).is_empty());
}

#[test]
fn a_failure_midway_takes_back_what_was_done() {
    let root = mini_workspace();
    let root = root.path();
    let before = snapshot(root);
    let dir = Path::new("crates/handlers/pager");
    let file = |path: &str| (dir.join(path), "text\n".to_owned());
    let edit = |path: &'static str| Edit {
        path,
        old: fs::read_to_string(root.join(path)).expect("read"),
        new: "changed\n".to_owned(),
    };

    // The second file cannot be created: its directory does not exist.
    let files = [file("Cargo.toml"), file("src/missing/lib.rs")];
    let err = apply(root, dir, &files, &[edit(KLAXOND_MANIFEST)]).expect_err("fails");
    assert!(
        format!("{err:#}").starts_with("nothing was changed: cannot create "),
        "{err:#}"
    );
    assert!(snapshot(root) == before, "something was left behind");

    // The second edit cannot be written: its path is a directory.
    let files = [file("Cargo.toml"), file("src/lib.rs")];
    let mut blocked = edit(KLAXOND_MAIN);
    blocked.path = "crates/klaxond/src";
    let err = apply(root, dir, &files, &[edit(KLAXOND_MANIFEST), blocked]).expect_err("fails");
    assert_eq!(
        format!("{err:#}"),
        format!(
            "nothing was changed: cannot write crates/klaxond/src: {}",
            fs::write(root.join("crates/klaxond/src"), "").expect_err("a directory")
        )
    );
    assert!(snapshot(root) == before, "something was left behind");
}
