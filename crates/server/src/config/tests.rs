//! Loading the configuration: defaults, file, environment, and the errors that name the key.

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
    assert_eq!(*config.server.data_dir, PathBuf::from("./klaxon-data"));
    assert_eq!(config.server.logging.format, LogFormat::Text);
}

#[test]
fn unknown_section_is_named_with_the_known_ones() {
    let err = load_text("[nosuch]\nx = 1\n").unwrap_err();
    assert_eq!(
        err,
        "config file FILE: unknown section [nosuch]; known sections: alert, config-override, deadman, fixture, fixture-list, http, influxdb, kafka-consumer, limits, load, logging, server (top-level keys: data-dir)"
    );
}

#[test]
fn unknown_key_is_named_with_the_known_ones() {
    // [config-override], whose one key stays put, rather than [http], which grows.
    let err = load_text("[config-override]\nenabeld = true\n").unwrap_err();
    assert_eq!(
        err,
        r#"config file FILE: [config-override]: unknown key "enabeld", expected one of: enabled"#
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
    assert_eq!(*config.server.data_dir, PathBuf::from("/tmp/kd"));
    assert_eq!(
        config.handler_section("fixture", &registry())["enabled"],
        Value::Bool(true)
    );
}

#[test]
fn environment_errors_name_the_variable() {
    let env = vec![("KLAXON_CONFIG_OVERRIDE_ENABELD".to_owned(), "x".to_owned())];
    let err = Config::load(None, env, &registry())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "environment: KLAXON_CONFIG_OVERRIDE_ENABELD names no key of [config-override]; its variables are: KLAXON_CONFIG_OVERRIDE_ENABLED"
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
    // The entries' comments say "argon2"; the hash itself must not appear.
    assert!(!text.contains(hash), "{text}");
    assert_eq!(text.matches(render::REDACTED).count(), 2, "{text}");
    assert!(text.contains("name = \"ops\""), "{text}");
}

/// A hash with cheap argon2 parameters, which `Config::load` accepts.
const FAST_HASH: &str =
    "$argon2id$v=19$m=8,t=1,p=1$c2FsdHJlYWRlcg$zRjBhFBCmOzvt5hhOuMtAFxbt2X5lkFW+d3i7WaNFQs";

#[test]
fn a_printed_config_with_users_and_tokens_loads_back_to_the_same_configuration() {
    // `[[users]]` was printed for `[[http.users]]`, and the keys after it landed in the entry.
    let registry = registry();
    let config = load_text(&format!(
        "data-dir = \"/tmp/kd\"\n[http]\nauth-enabled = true\nallowed-hosts = [\"a.example\"]\n\
         [[http.users]]\nname = \"ops\"\npassword = \"{FAST_HASH}\"\npermission = \"admin\"\n\
         [[http.users]]\nname = \"dev\"\npassword = \"{FAST_HASH}\"\npermission = \"read\"\n\
         [[http.tokens]]\nname = \"ci\"\nhash = \"{FAST_HASH}\"\npermission = \"write\"\n\
         [alert]\nretry-attempts = 3\n"
    ))
    .unwrap();
    let text = render(&config, &registry);
    let table: toml::Table = text.parse().expect("valid TOML");
    let reloaded = Config::from_table(table, &registry).unwrap();
    // Everything but the hashes, which are printed redacted.
    let mut expected = config.server.clone();
    for user in &mut expected.http.users {
        user.password = render::REDACTED.to_owned();
    }
    for token in &mut expected.http.tokens {
        token.hash = render::REDACTED.to_owned();
    }
    assert_eq!(reloaded.server, expected, "{text}");
    assert_eq!(
        reloaded.to_json(&registry),
        expected_json(&expected, &config)
    );
    // Each entry under its full name, its keys commented; [http]'s own keys all come before.
    assert_eq!(text.matches("\n[[http.users]]\n# The user name").count(), 2);
    assert_eq!(text.matches("\n[[http.tokens]]\n# A name").count(), 1);
    let first_entry = text.find("[[http.users]]").unwrap();
    assert!(
        text.find("allowed-hosts = ").unwrap() < first_entry,
        "{text}"
    );
}

/// `config` as JSON with its server sections replaced by `server`.
fn expected_json(server: &ServerSections, config: &Config) -> Value {
    let with = Config {
        server: server.clone(),
        handlers: config.handlers.clone(),
        ..Config::default()
    };
    with.to_json(&registry())
}

#[test]
fn the_alert_defaults_are_the_engines() {
    let engine = klaxon_engine::EngineConfig::default();
    assert_eq!(AlertConfig::default().engine(), engine);
    assert_eq!(ServerSections::default().engine(), engine);
}

#[test]
fn the_known_keys_are_the_fields_of_server_sections() {
    let keys = ServerSections::keys();
    let defaults = serde_json::to_value(ServerSections::default()).unwrap();
    let fields = defaults.as_object().unwrap();
    for (field, value) in fields {
        assert!(keys.contains(field), "{field}");
        assert_eq!(
            keys.sections().any(|s| s == field),
            // A list of tables ([[influxdb]], [[kafka-consumer]]) is a section too.
            value.is_object() || field == "influxdb" || field == "kafka-consumer",
            "{field}"
        );
    }
    assert_eq!(
        keys.sections().count() + keys.top_level().len(),
        fields.len()
    );
}

/// Sections types are read by their type alone: one with a section the server does not have
/// decodes, lists, refuses and renders it with no code of its own. This is what adding a field to
/// [`ServerSections`] gets.
mod a_new_section_is_one_field {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::super::decode::{SectionKeys, decode};
    use super::super::{DataDir, HttpConfig};

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Sections {
        /// Where the data goes.
        data_dir: DataDir,
        /// The HTTP API.
        http: HttpConfig,
        /// A section the server does not have.
        extra: Extra,
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Extra {
        /// How many.
        size: u32,
        /// Whether it is on.
        on: bool,
    }

    fn decoded(given: serde_json::Value) -> Result<Sections, String> {
        let keys = SectionKeys::of::<Sections>();
        decode(given.as_object().unwrap(), &keys).map_err(|e| e.to_string())
    }

    #[test]
    fn it_is_known_decoded_and_refused_by_its_type() {
        let keys = SectionKeys::of::<Sections>();
        assert_eq!(keys.sections().collect::<Vec<_>>(), ["extra", "http"]);
        assert_eq!(keys.top_level(), ["data-dir"]);
        let sections = decoded(json!({"extra": {"size": 3}})).unwrap();
        assert_eq!(sections.extra, Extra { size: 3, on: false });
        assert_eq!(sections.http, HttpConfig::default());
        assert_eq!(
            decoded(json!({"extra": {"sise": 3}})).unwrap_err(),
            r#"[extra]: unknown key "sise", expected one of: on, size"#
        );
        assert_eq!(
            decoded(json!({"extra": 5})).unwrap_err(),
            "[extra] must be a table"
        );
        assert_eq!(
            decoded(json!({"extra": {"size": "x"}})).unwrap_err(),
            r#"[extra]: key "size": invalid type: string "x", expected u32"#
        );
    }

    #[test]
    fn it_is_rendered_with_its_comments() {
        let mut out = String::new();
        super::super::render::write_sections(&mut out, &Sections::default());
        assert!(
            out.contains(
                "\n# A section the server does not have.\n[extra]\n# How many.\nsize = 0\n"
            ),
            "{out}"
        );
    }
}

const TWO_TARGETS: &str = "[[fixture-list]]\nname = \"a\"\npath = \"/tmp/a\"\ntoken = \"s3cr3t\"\n\n[[fixture-list]]\nname = \"b\"\npath = \"/tmp/b\"\n";

#[test]
fn a_list_section_loads_from_a_file_with_each_element_in_its_defaults() {
    let config = load_text(TWO_TARGETS).unwrap();
    let section = config.handler_section("fixture-list", &registry());
    assert_eq!(
        section,
        serde_json::json!([
            {"name": "a", "path": "/tmp/a", "token": "s3cr3t"},
            {"name": "b", "path": "/tmp/b"},
        ])
    );
    let err = load_text("[fixture-list]\nname = 3\n").unwrap_err();
    assert!(
        err.contains("[fixture-list]: element 1: key \"name\": invalid type"),
        "{err}"
    );
    let err =
        load_text("[[fixture-list]]\nname = \"a\"\n[[fixture-list]]\nname = \"a\"\n").unwrap_err();
    assert!(err.contains("name \"a\" appears twice"), "{err}");
    let err = load_text("fixture-list = 3\n").unwrap_err();
    assert!(
        err.contains("[fixture-list] must be a list of tables ([[fixture-list]])"),
        "{err}"
    );
}

#[test]
fn an_element_of_a_list_section_is_set_from_the_environment_by_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("klaxon.toml");
    std::fs::write(&path, TWO_TARGETS).unwrap();
    let env = vec![(
        "KLAXON_FIXTURE_LIST_1_PATH".to_owned(),
        "/tmp/other".to_owned(),
    )];
    let config = Config::load(Some(&path), env, &registry()).unwrap();
    assert_eq!(
        config.handler_section("fixture-list", &registry())[1]["path"],
        "/tmp/other"
    );
    for (name, expected) in [
        (
            "KLAXON_FIXTURE_LIST_2_PATH",
            "names element 2 of [[fixture-list]], which has 2",
        ),
        (
            "KLAXON_FIXTURE_LIST_0_PAHT",
            "names no key of [[fixture-list]]; its variables are: KLAXON_FIXTURE_LIST_0_NAME, KLAXON_FIXTURE_LIST_0_PATH, KLAXON_FIXTURE_LIST_0_TOKEN",
        ),
    ] {
        let env = vec![(name.to_owned(), "x".to_owned())];
        let err = Config::load(Some(&path), env, &registry())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{name}: {err}");
    }
}

#[test]
fn a_printed_list_section_redacts_its_secrets_and_loads_back() {
    let config = load_text(TWO_TARGETS).unwrap();
    let text = render(&config, &registry());
    assert!(
        text.contains("[[fixture-list]]\n# The element's name.\nname = \"a\"\n"),
        "{text}"
    );

    assert!(text.contains("name = \"a\"\n"), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    let reloaded = load_text(&text).unwrap();
    let section = reloaded.handler_section("fixture-list", &registry());
    assert_eq!(section[0]["token"], render::REDACTED);
    assert_eq!(section[1]["path"], "/tmp/b");
}

#[test]
fn influxdb_clusters_are_a_list_section_with_kapacitors_defaults() {
    let config = load_text(
        "[[influxdb]]\nname = \"a\"\nurls = [\"http://127.0.0.1:8086\"]\n\
         [influxdb.excluded-subscriptions]\n_internal = [\"monitor\"]\n\
         [[influxdb]]\nname = \"b\"\ndefault = true\n",
    )
    .unwrap();
    let clusters = &config.server.influxdb;
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[0].urls, ["http://127.0.0.1:8086"]);
    assert_eq!(clusters[0].excluded_subscriptions["_internal"], ["monitor"]);
    assert_eq!(clusters[1].urls, ["http://localhost:8086"]);
    assert_eq!(clusters[1].subscription_protocol, "http");
    assert_eq!(
        load_text("[[influxdb]]\nname = \"a\"\nurl = \"x\"\n").unwrap_err(),
        "config file FILE: [[influxdb]]: unknown key \"url\", expected one of: compression, default, disable-subscriptions, enabled, excluded-subscriptions, http-port, http-shared-secret, insecure-skip-verify, kapacitor-hostname, name, password, ssl-ca, ssl-cert, ssl-key, startup-timeout, subscription-mode, subscription-path, subscription-protocol, subscriptions, subscriptions-sync-interval, timeout, token, udp-bind, udp-buffer, udp-read-buffer, urls, username"
    );
    let err = load_text("[[influxdb]]\nname = \"a\"\n[[influxdb]]\nname = \"a\"\n").unwrap_err();
    assert!(
        err.contains("two [[influxdb]] sections have this name"),
        "{err}"
    );
    let err = load_text("[[influxdb]]\nsubscription-protocol = \"udp\"\n").unwrap_err();
    assert!(
        err.contains("subscription-protocol \"udp\" is not available"),
        "{err}"
    );
}
