//! Kapacitor's `kapacitor.conf` read as it is: every section and key Klaxon implements is used
//! (under Kapacitor's name, or mapped where Klaxon's differs), every one that Kapacitor has and
//! Klaxon does not implement yet is set aside and named in one startup warning, and a key that
//! neither has stays an error naming it, as in any Klaxon configuration.
//!
//! What Klaxon implements is read from its types (the server's sections and each linked handler
//! kind's section), so a section or key added to Klaxon is used from then on without an edit
//! here; this module lists only Kapacitor's side, read from `server/config.go` and each
//! service's `config.go`.

use std::collections::BTreeSet;

use klaxon_core::{Invalid, Registry};

use super::ServerSections;
use super::schema::Schema;

/// Kapacitor's top-level keys (`server/config.go`) besides its sections.
const TOP_LEVEL: &[&str] = &[
    "hostname",
    "data_dir",
    "skip-config-overrides",
    "default-retention-policy",
];

/// Kapacitor's sections and their keys, from `server/config.go` and each service's config.
const SECTIONS: &[(&str, &[&str])] = &[
    ("alert", &["persist-topics", "topic-buffer-length"]),
    (
        "auth",
        &[
            "enabled",
            "cache-expiration",
            "bcrypt-cost",
            "meta-addr",
            "meta-username",
            "meta-password",
            "meta-internal-shared-secret",
            "meta-use-tls",
            "meta-ca",
            "meta-cert",
            "meta-key",
            "meta-insecure-skip-verify",
        ],
    ),
    (
        "http",
        &[
            "bind-address",
            "auth-enabled",
            "log-enabled",
            "write-tracing",
            "pprof-enabled",
            "https-enabled",
            "https-certificate",
            "https-private-key",
            "shutdown-timeout",
            "shared-secret",
        ],
    ),
    ("replay", &["dir"]),
    ("storage", &["boltdb"]),
    ("task", &["dir", "snapshot-interval"]),
    (
        "fluxtask",
        &[
            "enabled",
            "task-run-influxdb",
            "task-run-bucket",
            "task-run-org",
            "task-run-orgid",
            "task-run-measurement",
            "secrets",
        ],
    ),
    ("load", &["enabled", "dir"]),
    // Read by Klaxon ([[influxdb]] clusters): listed so that nothing of it is set aside.
    ("influxdb", &[]),
    ("logging", &["file", "level"]),
    ("config-override", &["enabled"]),
    ("tls", &["ciphers", "min-version", "max-version"]),
    ("graphite", &[]),
    ("collectd", &[]),
    ("opentsdb", &[]),
    ("udp", &[]),
    (
        "alerta",
        &[
            "enabled",
            "url",
            "insecure-skip-verify",
            "token",
            "token-prefix",
            "environment",
            "origin",
            "timeout",
        ],
    ),
    (
        "bigpanda",
        &[
            "enabled",
            "global",
            "app-key",
            "token",
            "state-changes-only",
            "insecure-skip-verify",
            "url",
            "auto-attributes",
        ],
    ),
    (
        "discord",
        &[
            "enabled",
            "default",
            "workspace",
            "url",
            "timestamp",
            "username",
            "avatar-url",
            "embed-title",
            "global",
            "state-changes-only",
            "ssl-ca",
            "ssl-cert",
            "ssl-key",
            "insecure-skip-verify",
        ],
    ),
    (
        "hipchat",
        &[
            "enabled",
            "url",
            "token",
            "room",
            "global",
            "state-changes-only",
        ],
    ),
    (
        "kafka",
        &[
            "enabled",
            "id",
            "brokers",
            "timeout",
            "batch-size",
            "batch-timeout",
            "use-ssl",
            "ssl-ca",
            "ssl-cert",
            "ssl-key",
            "insecure-skip-verify",
            "sasl-username",
            "sasl-password",
            "sasl_extensions",
            "sasl-mechanism",
            "sasl-version",
            "sasl-gssapi-service-name",
            "sasl-gssapi-auth-type",
            "sasl-gssapi-disable-pafxfast",
            "sasl-gssapi-kerberos-config-path",
            "sasl-gssapi-key-tab-path",
            "sasl-gssapi-realm",
            "sasl-oauth-service",
            "sasl-oauth-client-id",
            "sasl-oauth-client-secret",
            "sasl-oauth-token-url",
            "sasl-oauth-scopes",
            "sasl-oauth-parameters",
            "sasl-oauth-token-expiry-margin",
            "sasl-access-token",
            "sasl-oauth-tenant-id",
        ],
    ),
    (
        "mqtt",
        &[
            "enabled",
            "name",
            "default",
            "url",
            "ssl-ca",
            "ssl-cert",
            "ssl-key",
            "insecure-skip-verify",
            "client-id",
            "username",
            "password",
        ],
    ),
    (
        "opsgenie",
        &[
            "enabled",
            "api-key",
            "teams",
            "recipients",
            "url",
            "recovery_url",
            "global",
        ],
    ),
    (
        "opsgenie2",
        &[
            "enabled",
            "api-key",
            "teams",
            "recipients",
            "url",
            "recovery_action",
            "global",
            "details",
        ],
    ),
    ("pagerduty", &["enabled", "url", "service-key", "global"]),
    ("pagerduty2", &["enabled", "url", "routing-key", "global"]),
    ("pushover", &["enabled", "token", "user-key", "url"]),
    (
        "httppost",
        &[
            "endpoint",
            "url",
            "headers",
            "basic-auth",
            "alert-template",
            "alert-template-file",
            "row-template",
            "row-template-file",
        ],
    ),
    (
        "smtp",
        &[
            "enabled",
            "host",
            "port",
            "username",
            "password",
            "no-verify",
            "global",
            "state-changes-only",
            "from",
            "to",
            "toTemplates",
            "idle-timeout",
        ],
    ),
    ("snmptrap", &["enabled", "addr", "community", "retries"]),
    ("sensu", &["enabled", "addr", "source", "handlers"]),
    (
        "servicenow",
        &[
            "enabled",
            "url",
            "source",
            "username",
            "password",
            "global",
            "state-changes-only",
        ],
    ),
    (
        "slack",
        &[
            "enabled",
            "default",
            "workspace",
            "url",
            "token",
            "channel",
            "username",
            "icon-emoji",
            "global",
            "state-changes-only",
            "ssl-ca",
            "ssl-cert",
            "ssl-key",
            "insecure-skip-verify",
        ],
    ),
    ("talk", &["enabled", "url", "author_name"]),
    (
        "teams",
        &["enabled", "channel-url", "global", "state-changes-only"],
    ),
    (
        "telegram",
        &[
            "enabled",
            "url",
            "token",
            "chat-id",
            "parse-mode",
            "disable-web-page-preview",
            "disable-notification",
            "global",
            "state-changes-only",
        ],
    ),
    (
        "victorops",
        &[
            "enabled",
            "api-key",
            "routing-key",
            "url",
            "global",
            "json-data",
        ],
    ),
    (
        "zenoss",
        &[
            "enabled",
            "url",
            "username",
            "password",
            "action",
            "method",
            "type",
            "tid",
            "collector",
            "severity-map",
            "global",
            "state-changes-only",
        ],
    ),
    ("scraper", &[]),
    ("azure", &[]),
    ("consul", &[]),
    ("dns", &[]),
    ("ec2", &[]),
    ("file-discovery", &[]),
    ("gce", &[]),
    ("marathon", &[]),
    ("nerve", &[]),
    ("serverset", &[]),
    ("static-discovery", &[]),
    ("triton", &[]),
    ("kubernetes", &[]),
    ("swarm", &[]),
    ("reporting", &["enabled", "url"]),
    (
        "stats",
        &[
            "enabled",
            "stats-interval",
            "database",
            "retention-policy",
            "timing-sample-rate",
            "timing-movavg-size",
        ],
    ),
    ("udf", &["functions"]),
    (
        "deadman",
        &["interval", "threshold", "id", "message", "global"],
    ),
    // Kapacitor's packaged kapacitor.conf writes `[static.labels]` under `[[static-discovery]]`,
    // which TOML reads as a table of its own, `static`; Kapacitor ignores it.
    ("static", &[]),
];

/// Kapacitor's keys of section `name`, if Kapacitor has the section.
fn kapacitor_keys(name: &str) -> Option<&'static [&'static str]> {
    SECTIONS
        .iter()
        .find(|(section, _)| *section == name)
        .map(|(_, keys)| *keys)
}

/// What Kapacitor's configuration has that Klaxon does not implement yet: set aside when the
/// file is read and named in one warning when the server starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unimplemented {
    /// Sections and keys in use (a section without `enabled = false`, every key).
    pub in_use: BTreeSet<String>,
    /// Sections the file disables (`enabled = false` in each element).
    pub disabled: BTreeSet<String>,
}

impl Unimplemented {
    /// Whether nothing was set aside.
    pub fn is_empty(&self) -> bool {
        self.in_use.is_empty() && self.disabled.is_empty()
    }

    /// The one warning: what is ignored, those in use first.
    pub fn warning(&self) -> String {
        let mut parts = Vec::new();
        if !self.in_use.is_empty() {
            parts.push(format!(
                "ignored: {}",
                self.in_use.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !self.disabled.is_empty() {
            parts.push(format!(
                "ignored, disabled in the file: {}",
                self.disabled.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        format!(
            "the configuration has Kapacitor settings that Klaxon does not implement yet; {} \
             (docs/migrating.md says what to use instead)",
            parts.join("; ")
        )
    }
}

/// Takes out of `table` what Kapacitor has and Klaxon does not implement, and maps Kapacitor's
/// spellings to Klaxon's (`data_dir` to `data-dir`; `[load] enabled = false` to an empty
/// `dir`). What neither has is left for the decoder to refuse with the known keys listed.
pub fn translate(table: &mut toml::Table, registry: &Registry) -> Result<Unimplemented, Invalid> {
    let mut out = Unimplemented::default();
    let klaxon = ServerSections::keys();
    if let Some(dir) = table.remove("data_dir") {
        if table.contains_key("data-dir") {
            return Err(Invalid::new(
                "both data_dir (Kapacitor's spelling) and data-dir are set; keep one",
            ));
        }
        table.insert("data-dir".to_owned(), dir);
    }
    let names: Vec<String> = table.keys().cloned().collect();
    for name in names {
        let implemented = klaxon.contains(&name) || registry.by_section(&name).is_some();
        if !implemented {
            if TOP_LEVEL.contains(&name.as_str()) {
                table.remove(&name);
                out.in_use.insert(name);
            } else if kapacitor_keys(&name).is_some()
                && let Some(value) = table.remove(&name)
            {
                let shown = match value {
                    toml::Value::Array(_) => format!("[[{name}]]"),
                    _ => format!("[{name}]"),
                };
                if disabled(&value) {
                    out.disabled.insert(shown);
                } else {
                    out.in_use.insert(shown);
                }
            }
            continue;
        }
        let Some(kapacitor) = kapacitor_keys(&name) else {
            continue;
        };
        let known = klaxon_keys(&name, registry);
        let Some(section) = table.get_mut(&name) else {
            continue;
        };
        if name == "load" && !known.iter().any(|k| k == "enabled") {
            map_load(section);
        }
        let elements: Vec<&mut toml::Table> = match section {
            toml::Value::Table(t) => vec![t],
            toml::Value::Array(list) => list.iter_mut().filter_map(|v| v.as_table_mut()).collect(),
            _ => Vec::new(),
        };
        for element in elements {
            let keys: Vec<String> = element.keys().cloned().collect();
            for key in keys {
                if !known.contains(&key) && kapacitor.contains(&key.as_str()) {
                    element.remove(&key);
                    out.in_use.insert(format!("[{name}] {key}"));
                }
            }
        }
    }
    Ok(out)
}

/// Whether a section is disabled: `enabled = false` in it, or in every element of a list.
fn disabled(value: &toml::Value) -> bool {
    let off = |v: &toml::Value| v.get("enabled").and_then(toml::Value::as_bool) == Some(false);
    match value {
        toml::Value::Table(_) => off(value),
        toml::Value::Array(list) => !list.is_empty() && list.iter().all(off),
        _ => false,
    }
}

/// Kapacitor's `[load] enabled = false` is Klaxon's empty `dir`.
fn map_load(section: &mut toml::Value) {
    let Some(table) = section.as_table_mut() else {
        return;
    };
    if let Some(enabled) = table.remove("enabled")
        && enabled.as_bool() == Some(false)
    {
        table.insert("dir".to_owned(), toml::Value::String(String::new()));
    }
}

/// The keys Klaxon's section `name` has: a server section's, or a handler section's (an
/// element's, for a list section).
fn klaxon_keys(name: &str, registry: &Registry) -> Vec<String> {
    let server = ServerSections::keys();
    if let Some(keys) = server.section_keys(name) {
        return keys.to_vec();
    }
    let Some(registration) = registry.by_section(name) else {
        return Vec::new();
    };
    let schema = registration.config_schema();
    let root = Schema::new(&schema);
    let element = root.items().unwrap_or(root);
    element
        .property_names()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(text: &str) -> (toml::Table, Result<Unimplemented, Invalid>) {
        let registry = Registry::linked().unwrap();
        let mut table: toml::Table = text.parse().unwrap();
        let result = translate(&mut table, &registry);
        (table, result)
    }

    #[test]
    fn kapacitors_spellings_are_mapped() {
        let (table, result) = translated(
            "data_dir = \"/var/lib/kapacitor\"\nhostname = \"localhost\"\n\
             [load]\nenabled = false\ndir = \"/etc/kapacitor/load\"\n",
        );
        assert_eq!(table["data-dir"].as_str(), Some("/var/lib/kapacitor"));
        assert_eq!(table["load"]["dir"].as_str(), Some(""));
        assert!(table["load"].get("enabled").is_none());
        assert_eq!(
            result.unwrap().in_use,
            BTreeSet::from(["hostname".to_owned()])
        );
        let (_, result) = translated("data_dir = \"a\"\ndata-dir = \"b\"\n");
        assert!(result.is_err());
    }

    #[test]
    fn what_klaxon_lacks_is_set_aside_and_named() {
        let (table, result) = translated(
            "[http]\nbind-address = \":9092\"\nlog-enabled = true\n\
             [replay]\ndir = \"/var/lib/kapacitor/replay\"\n\
             [kubernetes]\nenabled = false\n\
             [[swarm]]\nenabled = true\nid = \"s\"\n\
             [[scraper]]\nenabled = false\n",
        );
        let result = result.unwrap();
        assert!(table["http"].get("log-enabled").is_none());
        assert_eq!(table["http"]["bind-address"].as_str(), Some(":9092"));
        assert!(!table.contains_key("replay") && !table.contains_key("swarm"));
        assert_eq!(
            result.in_use,
            BTreeSet::from([
                "[[swarm]]".to_owned(),
                "[http] log-enabled".to_owned(),
                "[replay]".to_owned()
            ])
        );
        assert_eq!(
            result.disabled,
            BTreeSet::from(["[[scraper]]".to_owned(), "[kubernetes]".to_owned()])
        );
        assert!(result.warning().starts_with(
            "the configuration has Kapacitor settings that Klaxon does not implement yet; \
             ignored: [[swarm]], [http] log-enabled, [replay]; ignored, disabled in the file: \
             [[scraper]], [kubernetes]"
        ));
    }

    #[test]
    fn what_neither_has_is_left_for_the_decoder() {
        let (table, result) =
            translated("[htp]\nbind-address = \"x\"\n[http]\nbind-adress = \"x\"\n");
        assert!(result.unwrap().is_empty());
        assert!(table.contains_key("htp"));
        assert!(table["http"].get("bind-adress").is_some());
    }
}
