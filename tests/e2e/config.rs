//! `klaxond config` and `--config`: what a real klaxond accepts and refuses at startup.

use klaxon_e2e::{Klaxond, run_klaxond};

#[test]
fn printed_default_config_is_accepted_as_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_klaxond(&["config"], dir.path());
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("bind-address = \"127.0.0.1:9092\""), "{text}");
    assert!(text.contains("data-dir = \"./klaxon-data\""), "{text}");
    let server = Klaxond::builder().verbatim_config(&text).start();
    assert_eq!(server.get("/kapacitor/v1/ping").status(), 204);
}

fn refused(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    std::fs::write(&path, config).unwrap();
    let output = run_klaxond(&["--config", path.to_str().unwrap()], dir.path());
    assert!(!output.status.success(), "klaxond accepted {config:?}");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn unknown_section_is_refused_by_name() {
    let err = refused("[nosuch]\nx = 1\n");
    assert!(
        err.contains("unknown section [nosuch]; known sections: "),
        "{err}"
    );
}

#[test]
fn misspelled_key_is_refused_by_name() {
    let err = refused("[http]\nbind-adress = \"127.0.0.1:0\"\n");
    assert!(
        err.contains(
            r#"[http]: unknown key "bind-adress", expected one of: allowed-hosts, auth-enabled, auth-failure-window, bind-address, body-timeout, enqueued-write-timeout, header-timeout, https-certificate, https-enabled, https-private-key, idle-timeout, max-auth-failures, max-body-size, max-concurrent-password-checks, max-concurrent-write-limit, max-connections, tokens, users"#
        ),
        "{err}"
    );
}

#[test]
fn bad_value_is_refused_naming_the_key() {
    let err = refused("[logging]\nlevel = \"loud\"\n");
    assert!(err.contains(r#"[logging] level "loud""#), "{err}");
    let err = refused("[http]\nbind-address = 9092\n");
    assert!(
        err.contains(r#"key "bind-address": invalid type: integer"#),
        "{err}"
    );
}

#[test]
fn go_style_single_dash_config_flag_works() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.toml");
    std::fs::write(&path, "[nosuch]\n").unwrap();
    let output = run_klaxond(&["-config", path.to_str().unwrap()], dir.path());
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.contains("unknown section [nosuch]"), "{err}");
}

#[test]
fn environment_overrides_reach_the_running_server() {
    let server = Klaxond::builder()
        .env("KLAXON_LOGGING_FORMAT", "json")
        .start();
    let log = server.log_text();
    assert!(
        log.lines()
            .any(|l| l.starts_with('{') && l.contains("klaxon listening")),
        "{log}"
    );
}
