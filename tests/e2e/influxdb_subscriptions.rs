//! Subscriptions that klaxond manages on a real InfluxDB 1.x (Debian's `influxd`), as Kapacitor
//! does: started with an `[[influxdb]]` section, klaxond receives what is written to InfluxDB
//! with no `CREATE SUBSCRIPTION` typed by hand; databases and retention policies created later
//! get theirs at the next sync, excluded ones never do, and Klaxon's own subscriptions that no
//! longer match are dropped (and recreated right when they should exist). An InfluxDB that is
//! down at start is reported, and linked once it is up.
//!
//! Without `influxd` on PATH the tests are skipped loudly, except under CI.

use std::collections::BTreeMap;
use std::time::Instant;

use klaxon_e2e::influxd::Influxd;
use klaxon_e2e::{Klaxond, TcpSink, wait_for};
use serde_json::json;

/// A klaxond subscribed to `influxd`, syncing every second, `other.autogen` excluded.
fn klaxond_for(influxd_url: &str, extra: &str) -> Klaxond {
    Klaxond::builder()
        .config(&format!(
            "[[influxdb]]\nenabled = true\nname = \"local\"\nurls = [{influxd_url:?}]\n\
             kapacitor-hostname = \"127.0.0.1\"\nsubscriptions-sync-interval = \"1s\"\n\
             {extra}\n[influxdb.excluded-subscriptions]\nother = [\"autogen\"]\n"
        ))
        .start()
}

/// Every subscription on `influxd`: `(db, rp, name)` to `(mode, destinations)`.
fn subscriptions(influxd: &Influxd) -> BTreeMap<(String, String, String), (String, Vec<String>)> {
    let answer = influxd.query("SHOW SUBSCRIPTIONS");
    let mut found = BTreeMap::new();
    for series in answer["results"][0]["series"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let db = series["name"].as_str().unwrap_or_default();
        for row in series["values"].as_array().into_iter().flatten() {
            let text = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
            let destinations = row[3]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect();
            found.insert((db.to_owned(), text(0), text(1)), (text(2), destinations));
        }
    }
    found
}

fn key(db: &str, rp: &str, name: &str) -> (String, String, String) {
    (db.to_owned(), rp.to_owned(), name.to_owned())
}

/// Klaxon's subscription name: `kapacitor-<cluster ID>`, the ID from `/debug/vars`.
fn subscription_name(klaxond: &Klaxond) -> String {
    let vars: serde_json::Value = klaxond
        .get("/kapacitor/v1/debug/vars")
        .json()
        .expect("vars");
    let id = vars["cluster_id"]
        .as_str()
        .expect("cluster_id in /debug/vars");
    assert!(!id.is_empty(), "{vars}");
    format!("kapacitor-{id}")
}

#[test]
fn klaxond_subscribes_itself_and_keeps_its_subscriptions_in_line() {
    if !Influxd::available() {
        return;
    }
    let started = Instant::now();
    let influxd = Influxd::start();
    influxd.query("CREATE DATABASE telegraf");
    influxd.query("CREATE DATABASE other");
    let sink = TcpSink::start();
    let klaxond = klaxond_for(influxd.url(), "");
    let name = subscription_name(&klaxond);
    let ours = (
        "ANY".to_owned(),
        vec![format!("http://127.0.0.1:{}", klaxond.addr().port())],
    );
    let (status, body) = klaxond.define_task(
        "cpu_alert",
        &format!(
            "dbrp \"telegraf\".\"autogen\"\nstream|from().measurement('cpu')\
             |alert().crit(lambda: \"usage_idle\" < 10).tcp('{}')",
            sink.address()
        ),
        &[],
    );
    assert_eq!(status, 200, "{body}");

    // Data flows with no subscription made by hand.
    let alert = crate::influxdb::write_until_alert(&influxd, &klaxond, &sink, "telegraf", started);
    assert_eq!(alert["level"], "CRITICAL", "{alert}");
    assert_eq!(
        alert["data"]["series"][0]["tags"],
        json!({"host": "serverA"})
    );
    eprintln!(
        "influxdb subscriptions: first alert through a managed subscription after {:?}",
        started.elapsed()
    );

    let subs = subscriptions(&influxd);
    assert_eq!(
        subs.get(&key("telegraf", "autogen", &name)),
        Some(&ours),
        "{subs:?}"
    );
    assert!(
        !subs.keys().any(|(db, _, _)| db == "other"),
        "other.autogen is excluded: {subs:?}"
    );
    assert!(
        !subs.keys().any(|(db, _, _)| db == "_internal"),
        "influxd's monitor is off in the tests, so no _internal: {subs:?}"
    );

    // Created later: a database and a retention policy get theirs at the next sync.
    influxd.query("CREATE DATABASE later");
    influxd.query("CREATE RETENTION POLICY week ON telegraf DURATION 7d REPLICATION 1");
    let synced = Instant::now();
    wait_for("subscriptions on later.autogen and telegraf.week", || {
        let subs = subscriptions(&influxd);
        subs.get(&key("later", "autogen", &name)) == Some(&ours)
            && subs.get(&key("telegraf", "week", &name)) == Some(&ours)
    });
    eprintln!(
        "influxdb subscriptions: new database subscribed {:?} after it was created (sync interval 1s)",
        synced.elapsed()
    );

    // Stale ones of Klaxon's name are dropped: on an excluded database, and pointing elsewhere
    // (then recreated right). Someone else's subscription is left alone.
    let elsewhere = "http://127.0.0.1:9";
    influxd.query(&format!(
        "CREATE SUBSCRIPTION \"{name}\" ON \"other\".\"autogen\" DESTINATIONS ANY '{elsewhere}'"
    ));
    influxd.query(&format!(
        "DROP SUBSCRIPTION \"{name}\" ON \"later\".\"autogen\""
    ));
    influxd.query(&format!(
        "CREATE SUBSCRIPTION \"{name}\" ON \"later\".\"autogen\" DESTINATIONS ALL '{elsewhere}'"
    ));
    influxd.query(&format!(
        "CREATE SUBSCRIPTION \"someone_else\" ON \"other\".\"autogen\" DESTINATIONS ANY '{elsewhere}'"
    ));
    wait_for("the stale subscriptions dropped or mended", || {
        let subs = subscriptions(&influxd);
        !subs.contains_key(&key("other", "autogen", &name))
            && subs.get(&key("later", "autogen", &name)) == Some(&ours)
    });
    let subs = subscriptions(&influxd);
    assert_eq!(
        subs.get(&key("other", "autogen", "someone_else")),
        Some(&("ANY".to_owned(), vec![elsewhere.to_owned()])),
        "{subs:?}"
    );
    let log = klaxond.log_text();
    assert!(
        log.contains("dropped a subscription that no longer matches"),
        "{log}"
    );
    // /debug/vars counts Klaxon's: telegraf.autogen, telegraf.week and later.autogen.
    wait_for("num_subscriptions 3 in /debug/vars", || {
        let vars: serde_json::Value = klaxond
            .get("/kapacitor/v1/debug/vars")
            .json()
            .expect("vars");
        vars["num_subscriptions"] == 3
    });
}

#[test]
fn an_influxdb_down_at_start_is_reported_and_subscribed_once_up() {
    if !Influxd::available() {
        return;
    }
    let mut influxd = Influxd::start();
    influxd.query("CREATE DATABASE telegraf");
    influxd.stop();
    let mut klaxond = klaxond_for(influxd.url(), "startup-timeout = \"1s\"\n");
    klaxond.wait_for_log("InfluxDB unreachable at start");
    // The server is up and serving all the while.
    assert_eq!(klaxond.get("/kapacitor/v1/ping").status(), 204);
    let name = subscription_name(&klaxond);

    let started = Instant::now();
    influxd.resume();
    let resumed = started.elapsed();
    wait_for("the subscription once influxd is back", || {
        subscriptions(&influxd).contains_key(&key("telegraf", "autogen", &name))
    });
    eprintln!(
        "influxdb back: influxd up in {resumed:?}, subscribed {:?} later (sync interval 1s)",
        started.elapsed() - resumed
    );
    klaxond.wait_for_log("subscriptions synced");
}

#[test]
fn disable_subscriptions_leaves_influxdb_alone() {
    if !Influxd::available() {
        return;
    }
    let influxd = Influxd::start();
    influxd.query("CREATE DATABASE telegraf");
    // A second cluster on the same influxd that is subscribed proves a sync happened, so the
    // absence of the first one's subscriptions is not just a sync not yet run.
    let klaxond = Klaxond::builder()
        .config(&format!(
            "[[influxdb]]\nenabled = true\nname = \"off\"\ndefault = true\nurls = [{url:?}]\n\
             disable-subscriptions = true\n\
             [[influxdb]]\nenabled = true\nname = \"on\"\nurls = [{url:?}]\n\
             subscription-mode = \"server\"\nsubscriptions-sync-interval = \"1s\"\n\
             [influxdb.subscriptions]\ntelegraf = [\"autogen\"]\n",
            url = influxd.url()
        ))
        .start();
    let vars: serde_json::Value = klaxond
        .get("/kapacitor/v1/debug/vars")
        .json()
        .expect("vars");
    let server_name = format!(
        "kapacitor-{}",
        vars["server_id"].as_str().expect("server_id")
    );
    wait_for("the server-mode subscription", || {
        subscriptions(&influxd).contains_key(&key("telegraf", "autogen", &server_name))
    });
    let subs = subscriptions(&influxd);
    assert_eq!(
        subs.len(),
        1,
        "only the \"on\" cluster subscribes: {subs:?}"
    );
}
