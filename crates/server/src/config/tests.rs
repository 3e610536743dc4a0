use klaxon_core::Registry;
// A handler kind that klaxond does not ship, so these tests see a `[fixture]` section discovered
// from the registry.
use klaxon_fixture_handler as _;

use super::*;

fn registry() -> Registry {
    Registry::linked().unwrap()
}

fn load_text(text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.toml");
    std::fs::write(&path, text).unwrap();
    Config::load(Some(&path), Vec::new(), &registry()).map_err(|e| {
        // Keep the assertions independent of the temporary path.
        e.to_string().replace(&path.display().to_string(), "FILE")
    })
}

#[test]
fn defaults_listen_on_loopback_on_kapacitors_port() {
    let config = Config::load(None, Vec::new(), &registry()).unwrap();
    assert_eq!(config.server.http.bind_address, "127.0.0.1:9092");
    assert_eq!(config.server.data_dir, PathBuf::from("./klaxon-data"));
    assert_eq!(config.server.logging.format, LogFormat::Text);
}

#[test]
fn unknown_section_is_named_with_the_known_ones() {
    let err = load_text("[nosuch]\nx = 1\n").unwrap_err();
    assert_eq!(
        err,
        "config file FILE: unknown section [nosuch]; known sections: alert, config-override, fixture, http, limits, load, logging, server (top-level keys: data-dir)"
    );
}

#[test]
fn unknown_key_is_named_with_the_known_ones() {
    let err = load_text("[http]\nbind-adress = \"127.0.0.1:1\"\n").unwrap_err();
    assert_eq!(
        err,
        r#"config file FILE: [http]: unknown key "bind-adress", expected one of: auth-enabled, bind-address, max-body-size, tokens, users"#
    );
    let err = load_text("[fixture]\npaht = \"x\"\n").unwrap_err();
    assert_eq!(
        err,
        r#"config file FILE: [fixture]: unknown key "paht", expected one of: enabled, path, timeout"#
    );
}

#[test]
fn bad_values_name_the_key() {
    let err = load_text("[http]\nbind-address = 9092\n").unwrap_err();
    assert_eq!(
        err,
        r#"config file FILE: [http]: key "bind-address": invalid type: integer `9092`, expected a string"#
    );
    let err = load_text("[http]\nbind-address = \"localhost\"\n").unwrap_err();
    assert!(
        err.contains(r#"bind-address "localhost" is not host:port"#),
        "{err}"
    );
    let err = load_text("[fixture]\ntimeout = \"soon\"\n").unwrap_err();
    assert!(
        err.starts_with(r#"config file FILE: [fixture]: key "timeout": invalid duration "soon""#),
        "{err}"
    );
    let err = load_text("[logging]\nformat = \"xml\"\n").unwrap_err();
    assert!(err.contains(r#"key "format""#), "{err}");
}

#[test]
fn handler_validation_runs_at_load() {
    let err = load_text("[fixture]\nenabled = true\n").unwrap_err();
    assert_eq!(
        err,
        "config file FILE: [fixture]: must specify the fixture path"
    );
}

#[test]
fn invalid_toml_is_reported_with_its_position() {
    let err = load_text("[http\n").unwrap_err();
    assert!(err.starts_with("config file FILE: invalid TOML: "), "{err}");
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn missing_file_says_so() {
    let err = Config::load(
        Some(Path::new("/nonexistent/k.toml")),
        Vec::new(),
        &registry(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot read it"), "{err}");
}

#[test]
fn environment_overrides_file_and_defaults() {
    let env = vec![
        (
            "KLAXON_HTTP_BIND_ADDRESS".to_owned(),
            "127.0.0.1:1234".to_owned(),
        ),
        ("KLAXON_DATA_DIR".to_owned(), "/tmp/kd".to_owned()),
        ("KLAXON_FIXTURE_ENABLED".to_owned(), "true".to_owned()),
        ("KLAXON_FIXTURE_PATH".to_owned(), "/tmp/x".to_owned()),
        ("KLAXON_URL".to_owned(), "ignored: the CLI's".to_owned()),
        ("PATH".to_owned(), "/bin".to_owned()),
    ];
    let config = Config::load(None, env, &registry()).unwrap();
    assert_eq!(config.server.http.bind_address, "127.0.0.1:1234");
    assert_eq!(config.server.data_dir, PathBuf::from("/tmp/kd"));
    assert_eq!(
        config.handler_section("fixture", &registry())["enabled"],
        Value::Bool(true)
    );
}

#[test]
fn environment_errors_name_the_variable() {
    let env = vec![("KLAXON_HTTP_BIND_ADRESS".to_owned(), "x".to_owned())];
    let err = Config::load(None, env, &registry())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "environment: KLAXON_HTTP_BIND_ADRESS names no key of [http]; its variables are: KLAXON_HTTP_AUTH_ENABLED, KLAXON_HTTP_BIND_ADDRESS, KLAXON_HTTP_MAX_BODY_SIZE, KLAXON_HTTP_TOKENS, KLAXON_HTTP_USERS"
    );
    let env = vec![("KLAXON_FIXTURE_ENABLED".to_owned(), "perhaps".to_owned())];
    let err = Config::load(None, env, &registry())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        r#"environment: KLAXON_FIXTURE_ENABLED="perhaps": expected true or false"#
    );
}

#[test]
fn rendered_config_is_valid_toml_that_loads_back_to_the_same_values() {
    let registry = registry();
    let config = Config::load(None, Vec::new(), &registry).unwrap();
    let text = render(&config, &registry);
    let table: toml::Table = text.parse().expect("valid TOML");
    let reloaded = Config::from_table(table, &registry).unwrap();
    assert_eq!(reloaded.server, config.server);
    assert_eq!(reloaded.to_json(&registry), config.to_json(&registry));
    assert!(
        text.contains("[fixture]\n# Whether the service test may run.\nenabled = false\n"),
        "{text}"
    );
}

#[test]
fn every_rendered_key_has_a_comment() {
    let registry = registry();
    let text = render(&Config::default(), &registry);
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let is_key = !line.starts_with('#') && !line.starts_with('[') && line.contains(" = ");
        if is_key {
            assert!(
                i > 0 && lines[i - 1].starts_with('#'),
                "key without a comment: {line}\n{text}"
            );
        }
    }
}

#[test]
fn the_config_corpus_gets_an_answer_for_every_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/config");
    let results = klaxon_core::testing::replay_corpus(&dir, |bytes| {
        // Through a file, as --config reads it.
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("klaxon.toml");
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
        Config::load(Some(&path), Vec::new(), &registry())
            .map(|c| format!("max-tasks {}", c.server.limits.max_tasks))
            .map_err(|e| e.to_string())
    });
    let result = |name: &str| klaxon_core::testing::corpus_result(&results, name).clone();
    assert_eq!(result("defaults.toml"), Ok("max-tasks 10".to_owned()));
    assert!(
        result("zero_limits.toml")
            .unwrap_err()
            .contains("[limits] max-line-length must be at least 1")
    );
    assert!(result("bad_hash.toml").is_err());
}

#[test]
fn rendering_redacts_password_and_token_hashes() {
    let hash =
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHJlYWRlcg$zRjBhFBCmOzvt5hhOuMtAFxbt2X5lkFW+d3i7WaNFQs";
    let config = load_text(&format!(
        "[http]\nauth-enabled = true\n[[http.users]]\nname = \"ops\"\npassword = \"{hash}\"\npermission = \"admin\"\n[[http.tokens]]\nname = \"ci\"\nhash = \"{hash}\"\npermission = \"write\"\n"
    ))
    .unwrap();
    let text = render(&config, &registry());
    assert!(!text.contains("argon2"), "{text}");
    assert_eq!(text.matches(render::REDACTED).count(), 2, "{text}");
    assert!(text.contains("name = \"ops\""), "{text}");
}
