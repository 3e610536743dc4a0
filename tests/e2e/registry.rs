//! The linking rule: a handler crate registers only when the binary names it.

// Named: linked, so its kind registers.
use klaxon_fixture_handler as _;
// `klaxon-fixture-unlinked` is a dependency of this test too, but nothing names it.

#[test]
fn a_named_crate_registers_and_an_unnamed_one_does_not() {
    let registry = klaxon_core::Registry::linked().unwrap();
    assert!(
        registry.get("fixture").is_some(),
        "{}",
        registry.kind_list()
    );
    assert!(
        registry.get("unlinked-fixture").is_none(),
        "{}",
        registry.kind_list()
    );
}

#[test]
fn a_duplicate_kind_is_refused_loudly() {
    let registration = klaxon_core::Registry::linked()
        .unwrap()
        .get("fixture")
        .unwrap();
    let err = klaxon_core::Registry::from_registrations([registration, registration]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "handler kind \"fixture\" is registered twice, by klaxon-fixture-handler and \
         klaxon-fixture-handler; remove one from the server binary's dependencies"
    );
}

#[test]
fn a_server_linking_crates_that_claim_one_property_refuses_to_start_naming_them() {
    let bin = klaxon_e2e::workspace_binary("klaxon-fixture-collide", "klaxond-collide");
    let dir = tempfile::tempdir().unwrap();
    for args in [&["version"][..], &[]] {
        let output = std::process::Command::new(&bin)
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run the colliding server");
        assert!(!output.status.success(), "{args:?} started");
        let stderr = String::from_utf8_lossy(&output.stderr);
        for expected in [
            "TICKscript property .fixture() is claimed twice, by klaxon-fixture-collide (kind \
             \"collide\") and klaxon-fixture-handler (kind \"fixture\")",
            "klaxon-fixture-collide: TICKscript property \"message\" is the alert node's own \
             (.message()); a handler cannot claim it",
        ] {
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
        }
    }
}
