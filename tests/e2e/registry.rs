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
        "handler kind \"fixture\" is registered twice: two linked handler crates claim it; remove one \
         from the server binary's dependencies"
    );
}
