//! Klaxon's subscriptions on InfluxDB, managed as Kapacitor manages its own
//! (services/influxdb/service.go, `linkSubscriptions`): at start and every
//! `subscriptions-sync-interval`, every database and retention policy of a cluster (less
//! `excluded-subscriptions`, and only those of `subscriptions` when it is given) gets the
//! subscription `kapacitor-<cluster or server ID>`, mode `ANY`, whose destination is this
//! server's `/write`; Klaxon's own subscriptions that no longer match (excluded since, or
//! pointing elsewhere) are dropped, and recreated when they should exist.
//!
//! Only subscriptions with Klaxon's name are touched: another Kapacitor's or a hand-made one are
//! left alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::{Client, Clusters, InfluxError};

/// InfluxDB's subscription mode for Klaxon's subscriptions: one destination, so `ANY` (as
/// Kapacitor always creates them).
const MODE: &str = "ANY";

/// The first wait between attempts to reach InfluxDB at start; it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The identity of this server, which names its subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionIds {
    /// The cluster ID (`subscription-mode = "cluster"`, the default).
    pub cluster_id: String,
    /// The server ID (`subscription-mode = "server"`).
    pub server_id: String,
}

/// Where this server receives writes: the host name InfluxDB sends to and the HTTP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// This server's host name, used when a cluster has no `kapacitor-hostname`.
    pub hostname: String,
    /// The port the HTTP API listens on, used when a cluster's `http-port` is 0.
    pub port: u16,
}

/// The subscription Klaxon wants on every database and retention policy of one cluster.
///
/// ```
/// use klaxon_influxdb::{ClusterConfig, Listener, SubscriptionIds, SubscriptionTarget};
/// let ids = SubscriptionIds { cluster_id: "c1".into(), server_id: "s1".into() };
/// let here = Listener { hostname: "alerts.example.com".into(), port: 9092 };
/// let target = SubscriptionTarget::new(&ClusterConfig::default(), &ids, &here);
/// assert_eq!(target.name, "kapacitor-c1");
/// assert_eq!(target.destination, "http://alerts.example.com:9092");
///
/// let mut config = ClusterConfig::default();
/// config.subscription_mode = "server".into();
/// config.subscription_protocol = "https".into();
/// config.kapacitor_hostname = "10.0.0.5".into();
/// config.http_port = 443;
/// let target = SubscriptionTarget::new(&config, &ids, &here);
/// assert_eq!(target.name, "kapacitor-s1");
/// assert_eq!(target.destination, "https://10.0.0.5:443");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionTarget {
    /// `kapacitor-<cluster ID>`, or `kapacitor-<server ID>` in `server` mode.
    pub name: String,
    /// `<subscription-protocol>://<host>:<port><subscription-path>`; InfluxDB appends `/write`.
    pub destination: String,
    /// The databases and retention policies to subscribe to; empty means all of them.
    subscriptions: BTreeSet<(String, String)>,
    /// Those never to subscribe to.
    excluded: BTreeSet<(String, String)>,
}

impl SubscriptionTarget {
    /// Kapacitor's name and destination for `config`: the host is `kapacitor-hostname` or else
    /// `listener.hostname` (`localhost` when that is unknown), the port `http-port` or else
    /// `listener.port`.
    pub fn new(
        config: &crate::ClusterConfig,
        ids: &SubscriptionIds,
        listener: &Listener,
    ) -> SubscriptionTarget {
        let id = if config.subscription_mode == "server" {
            &ids.server_id
        } else {
            &ids.cluster_id
        };
        let host = [&config.kapacitor_hostname, &listener.hostname]
            .into_iter()
            .find(|h| !h.is_empty())
            .map_or("localhost", String::as_str);
        let port = if config.http_port != 0 {
            config.http_port
        } else {
            listener.port
        };
        // An IPv6 literal needs brackets in a URL, as Go's net.JoinHostPort writes it.
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let pairs = |map: &std::collections::BTreeMap<String, Vec<String>>| {
            map.iter()
                .flat_map(|(db, rps)| rps.iter().map(move |rp| (db.clone(), rp.clone())))
                .collect::<BTreeSet<_>>()
        };
        SubscriptionTarget {
            name: format!("kapacitor-{id}"),
            destination: format!(
                "{}://{host}:{port}{}",
                config.subscription_protocol, config.subscription_path
            ),
            subscriptions: pairs(&config.subscriptions),
            excluded: pairs(&config.excluded_subscriptions),
        }
    }

    /// Whether `db`.`rp` should have Klaxon's subscription (Kapacitor's `shouldSubExist`).
    pub fn wants(&self, db: &str, rp: &str) -> bool {
        let key = (db.to_owned(), rp.to_owned());
        (self.subscriptions.is_empty() || self.subscriptions.contains(&key))
            && !self.excluded.contains(&key)
    }
}

/// What one sync did on a cluster, each as `(database, retention policy)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Subscriptions created.
    pub created: Vec<(String, String)>,
    /// Klaxon's subscriptions dropped (no longer wanted, or pointing elsewhere).
    pub dropped: Vec<(String, String)>,
    /// Klaxon's subscriptions that were already right.
    pub kept: usize,
}

/// One sync of `target`'s subscriptions on the cluster of `client`.
pub async fn sync_subscriptions(
    client: &Client,
    target: &SubscriptionTarget,
) -> Result<SyncReport, InfluxError> {
    let mut existing = BTreeSet::new();
    for db in first_column(&client.query(None, "SHOW DATABASES").await?) {
        let statement = format!("SHOW RETENTION POLICIES ON {}", quote_ident(&db));
        for rp in first_column(&client.query(None, &statement).await?) {
            existing.insert((db.clone(), rp));
        }
    }
    let mut report = SyncReport::default();
    let mut subscribed = BTreeSet::new();
    for results in client.query(None, "SHOW SUBSCRIPTIONS").await? {
        for series in results.series {
            let column = |name: &str| series.columns.iter().position(|c| c == name);
            let (Some(rp_at), Some(name_at)) = (column("retention_policy"), column("name")) else {
                continue;
            };
            let destinations_at = column("destinations");
            let mode_at = column("mode");
            for row in &series.values {
                let text = |at: usize| row.get(at).and_then(|v| v.as_str()).unwrap_or_default();
                if text(name_at) != target.name {
                    continue;
                }
                let rp = text(rp_at).to_owned();
                let destinations: Vec<&str> = destinations_at
                    .and_then(|at| row.get(at))
                    .and_then(|v| v.as_array())
                    .map(|d| d.iter().filter_map(|v| v.as_str()).collect())
                    .unwrap_or_default();
                let current = destinations == [target.destination.as_str()]
                    && mode_at.is_none_or(|at| text(at) == MODE);
                if current && target.wants(&series.name, &rp) {
                    report.kept += 1;
                    subscribed.insert((series.name.clone(), rp));
                    continue;
                }
                let statement = format!(
                    "DROP SUBSCRIPTION {} ON {}.{}",
                    quote_ident(&target.name),
                    quote_ident(&series.name),
                    quote_ident(&rp)
                );
                client.query(None, &statement).await?;
                tracing::info!(cluster = client.name(), database = %series.name,
                    retention_policy = %rp, name = %target.name, destinations = ?destinations,
                    "dropped a subscription that no longer matches");
                report.dropped.push((series.name.clone(), rp));
            }
        }
    }
    for (db, rp) in existing {
        if subscribed.contains(&(db.clone(), rp.clone())) || !target.wants(&db, &rp) {
            continue;
        }
        let statement = format!(
            "CREATE SUBSCRIPTION {} ON {}.{} DESTINATIONS {MODE} {}",
            quote_ident(&target.name),
            quote_ident(&db),
            quote_ident(&rp),
            quote_string(&target.destination)
        );
        client.query(None, &statement).await?;
        tracing::info!(cluster = client.name(), database = %db, retention_policy = %rp,
            name = %target.name, destination = %target.destination, "created a subscription");
        report.created.push((db, rp));
    }
    Ok(report)
}

/// The first column of every row of every series, as strings (`SHOW DATABASES`' names,
/// `SHOW RETENTION POLICIES`' names).
fn first_column(results: &[crate::QueryResult]) -> Vec<String> {
    results
        .iter()
        .flat_map(|r| &r.series)
        .flat_map(|s| &s.values)
        .filter_map(|row| row.first().and_then(|v| v.as_str()).map(str::to_owned))
        .collect()
}

/// An identifier for InfluxQL, quoted when it needs to be, as InfluxQL's `QuoteIdent` writes
/// it (so statements read as Kapacitor's: `CREATE DATABASE db`): bare when it is ASCII letters,
/// digits and `_`, not starting with a digit, and not a keyword.
///
/// ```
/// use klaxon_influxdb::quote_ident;
/// assert_eq!(quote_ident("telegraf"), "telegraf");
/// assert_eq!(quote_ident("name"), r#""name""#);
/// assert_eq!(quote_ident("1h"), r#""1h""#);
/// assert_eq!(quote_ident(""), r#""""#);
/// assert_eq!(quote_ident(r#"my "db""#), r#""my \"db\"""#);
/// ```
pub fn quote_ident(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !INFLUXQL_KEYWORDS.contains(&name.to_ascii_uppercase().as_str());
    if bare {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The words InfluxQL's lexer takes for keywords (and `AND`, `OR`, `IN`, `TRUE`, `FALSE`): an
/// identifier spelled as one must be quoted.
const INFLUXQL_KEYWORDS: &[&str] = &[
    "ALL",
    "ALTER",
    "ANALYZE",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "BEGIN",
    "BY",
    "CARDINALITY",
    "CREATE",
    "CONTINUOUS",
    "DATABASE",
    "DATABASES",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DESTINATIONS",
    "DIAGNOSTICS",
    "DISTINCT",
    "DROP",
    "DURATION",
    "END",
    "EVERY",
    "EXACT",
    "EXPLAIN",
    "FALSE",
    "FIELD",
    "FOR",
    "FROM",
    "GRANT",
    "GRANTS",
    "GROUP",
    "GROUPS",
    "IN",
    "INF",
    "INSERT",
    "INTO",
    "KEY",
    "KEYS",
    "KILL",
    "LIMIT",
    "MEASUREMENT",
    "MEASUREMENTS",
    "NAME",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "PASSWORD",
    "POLICY",
    "POLICIES",
    "PRIVILEGES",
    "QUERIES",
    "QUERY",
    "READ",
    "REPLICATION",
    "RESAMPLE",
    "RETENTION",
    "REVOKE",
    "SELECT",
    "SERIES",
    "SET",
    "SHOW",
    "SHARD",
    "SHARDS",
    "SLIMIT",
    "SOFFSET",
    "STATS",
    "SUBSCRIPTION",
    "SUBSCRIPTIONS",
    "TAG",
    "TO",
    "TRUE",
    "USER",
    "USERS",
    "VALUES",
    "WHERE",
    "WITH",
    "WRITE",
];

/// A string literal for InfluxQL.
fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// How many subscriptions Klaxon has, summed over its clusters as each last synced them:
/// Kapacitor's `num_subscriptions` in `/debug/vars`. Cheap to clone (clones share the count).
#[derive(Debug, Clone, Default)]
pub struct SubscriptionCount(Arc<Mutex<BTreeMap<String, usize>>>);

impl SubscriptionCount {
    /// The total over the clusters.
    pub fn total(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }

    fn set(&self, cluster: &str, count: usize) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(cluster.to_owned(), count);
    }
}

/// The background syncs of every cluster with subscriptions enabled; dropping it stops them.
#[derive(Debug, Default)]
pub struct SubscriptionManager {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    count: SubscriptionCount,
}

impl SubscriptionManager {
    /// Starts one sync loop per enabled cluster whose `disable-subscriptions` is false, on the
    /// current tokio runtime. Each first waits for InfluxDB (retrying until `startup-timeout`,
    /// then logging that it is unreachable and going on), then syncs at once and every
    /// `subscriptions-sync-interval`. Nothing here can stop the server from starting.
    pub fn start(
        clusters: &Clusters,
        ids: &SubscriptionIds,
        listener: &Listener,
    ) -> SubscriptionManager {
        let count = SubscriptionCount::default();
        let tasks = clusters
            .iter()
            .filter(|client| !client.config().disable_subscriptions)
            .map(|client| {
                let target = SubscriptionTarget::new(client.config(), ids, listener);
                tokio::spawn(run(client.clone(), target, count.clone()))
            })
            .collect();
        SubscriptionManager { tasks, count }
    }

    /// The number of Klaxon's subscriptions, kept current by the syncs.
    pub fn count(&self) -> SubscriptionCount {
        self.count.clone()
    }

    /// How many clusters have their subscriptions managed.
    pub fn clusters(&self) -> usize {
        self.tasks.len()
    }
}

impl Drop for SubscriptionManager {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn run(client: Client, target: SubscriptionTarget, count: SubscriptionCount) {
    let config = client.config();
    let interval = config.subscriptions_sync_interval.to_std();
    wait_for_influxdb(&client, config.startup_timeout.to_std()).await;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticks.tick().await;
        match sync_subscriptions(&client, &target).await {
            Ok(report) => {
                count.set(client.name(), report.kept + report.created.len());
                if failing || !report.created.is_empty() || !report.dropped.is_empty() {
                    tracing::info!(cluster = client.name(), name = %target.name,
                        created = report.created.len(), dropped = report.dropped.len(),
                        kept = report.kept, "subscriptions synced");
                }
                failing = false;
            }
            Err(e) => {
                // Logged once per outage, then again when it ends: a down InfluxDB must not
                // fill the log every interval.
                if !failing {
                    tracing::error!(cluster = client.name(), error = %e,
                        retry_every = %config.subscriptions_sync_interval,
                        "cannot sync subscriptions; retrying every sync interval");
                }
                failing = true;
            }
        }
    }
}

/// Pings `client` with a doubling backoff until it answers or `timeout` has passed; then logs
/// that InfluxDB is unreachable (Kapacitor refuses to start there; Klaxon goes on, and its
/// periodic syncs link the subscriptions once InfluxDB is up).
async fn wait_for_influxdb(client: &Client, timeout: Duration) {
    let started = tokio::time::Instant::now();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let error = match client.ping().await {
            Ok(()) => return,
            Err(e) => e,
        };
        if started.elapsed() >= timeout {
            tracing::error!(cluster = client.name(), error = %error,
                startup_timeout = ?timeout,
                "InfluxDB unreachable at start; subscriptions will be linked by a later sync");
            return;
        }
        tracing::warn!(cluster = client.name(), error = %error, "failed to connect to InfluxDB, retrying");
        tokio::time::sleep(backoff.min(timeout.saturating_sub(started.elapsed()))).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClusterConfig;

    fn target(config: &ClusterConfig) -> SubscriptionTarget {
        let ids = SubscriptionIds {
            cluster_id: "c".into(),
            server_id: "s".into(),
        };
        let listener = Listener {
            hostname: String::new(),
            port: 9092,
        };
        SubscriptionTarget::new(config, &ids, &listener)
    }

    #[test]
    fn wants_follows_subscriptions_and_exclusions() {
        let mut config = ClusterConfig::default();
        let all = target(&config);
        assert_eq!(all.destination, "http://localhost:9092");
        assert!(all.wants("telegraf", "autogen"));
        assert!(!all.wants("_kapacitor", "autogen"), "excluded by default");
        config
            .subscriptions
            .insert("telegraf".into(), vec!["autogen".into()]);
        config
            .excluded_subscriptions
            .insert("telegraf".into(), vec!["autogen".into()]);
        config
            .subscriptions
            .insert("app".into(), vec!["week".into()]);
        config.subscription_path = "/sub".into();
        config.kapacitor_hostname = "::1".into();
        let some = target(&config);
        assert_eq!(some.destination, "http://[::1]:9092/sub");
        assert!(!some.wants("telegraf", "autogen"), "exclusion wins");
        assert!(some.wants("app", "week"));
        assert!(!some.wants("app", "autogen"));
    }

    #[test]
    fn quotes_literals() {
        assert_eq!(quote_string(r"it's \ here"), r"'it\'s \\ here'");
    }
}
