//! The snmptrap handler through the real path: configuration and options decoded by the
//! registry, traps sent to a real trap receiver (Debian's snmptrapd, started by each test) and
//! read from its log: Kapacitor's TestServer_AlertHandlers and TestStream_AlertSNMPTrap cases,
//! its documented handler file, every data type, and the service test.

mod snmptrapd;

use std::sync::Arc;

use klaxon_core::testing::{assert_documented, assert_registered_and_builds};
use klaxon_core::{
    DynService, Event, EventData, EventState, FieldValue, Handler, Level, Service, Timestamp,
};
use serde_json::{Value, json};

use crate::SnmpTrapService;
use snmptrapd::Snmptrapd;

fn build(config: &Value) -> Result<Arc<dyn DynService>, String> {
    klaxon_core::testing::build::<SnmpTrapService>(config).map_err(|e| e.to_string())
}

fn service(config: &Value) -> Arc<dyn DynService> {
    build(config).unwrap_or_else(|e| panic!("the configuration is refused: {e}"))
}

fn handler(service: &dyn DynService, options: Value) -> Arc<dyn Handler> {
    service
        .handler(&options)
        .unwrap_or_else(|e| panic!("the options are refused: {e}"))
}

/// Kapacitor's test configuration, at a local snmptrapd.
fn enabled(daemon: &Snmptrapd) -> Value {
    json!({"enabled": true, "addr": daemon.addr, "community": "public", "retries": 2})
}

/// The event of Kapacitor's TestServer_AlertHandlers: `.id('id') .message('message')
/// .details('details') .crit(lambda: TRUE)` on the point `alert value=1 0`.
fn harness_event() -> Event {
    Event {
        topic: "test".to_owned(),
        state: EventState {
            id: "id".to_owned(),
            message: "message".to_owned(),
            details: "details".to_owned(),
            time: Timestamp::EPOCH,
            level: Level::Critical,
            ..EventState::default()
        },
        data: EventData {
            name: "alert".to_owned(),
            task_name: "testAlertHandlers".to_owned(),
            recoverable: true,
            ..EventData::default()
        },
        ..Event::default()
    }
}

/// The event of Kapacitor's TestStream_AlertSNMPTrap: serverA's count of 10, CRITICAL.
fn stream_event() -> Event {
    Event {
        topic: "main:TestStream_Alert:alert5".to_owned(),
        state: EventState {
            id: "kapacitor/cpu/serverA".to_owned(),
            message: "kapacitor/cpu/serverA is CRITICAL".to_owned(),
            details: "here/cpu".to_owned(),
            time: Timestamp::parse_rfc3339("1971-01-01T00:00:10Z").unwrap(),
            level: Level::Critical,
            ..EventState::default()
        },
        data: EventData {
            name: "cpu".to_owned(),
            task_name: "TestStream_Alert".to_owned(),
            group: "host=serverA".to_owned(),
            tags: [("host".to_owned(), "serverA".to_owned())].into(),
            fields: [("count".to_owned(), FieldValue::Float(10.0))].into(),
            recoverable: true,
            ..EventData::default()
        },
        ..Event::default()
    }
}

/// The bindings every Kapacitor trap starts with, then `data`.
fn bindings(trap_oid: &str, data: &[&str]) -> Vec<String> {
    let mut all = vec![
        ".1.3.6.1.2.1.1.3.0 = Timeticks: (1000) 0:00:10.00".to_owned(),
        format!(".1.3.6.1.6.3.1.1.4.1.0 = OID: .{trap_oid}"),
    ];
    all.extend(data.iter().map(|d| (*d).to_owned()));
    all
}

#[test]
fn is_registered_builds_from_its_sample_and_is_documented() {
    assert_registered_and_builds::<SnmpTrapService>(
        &json!({"enabled": true, "addr": "localhost:162", "community": "kapacitor", "retries": 1}),
        &json!({"trap-oid": "1.3.6.1.4.1.1",
                "data-list": [{"oid": "1.3.6.1.4.1.1.5", "type": "s", "value": "{{ .Level }}"}]}),
    );
    assert_documented::<SnmpTrapService>();
}

#[test]
fn defaults_are_kapacitors_and_the_community_is_secret() {
    let service = build(&Value::Null).expect("the defaults are valid");
    assert_eq!(
        service.config(),
        json!({"enabled": false, "addr": "localhost:162", "community": "kapacitor", "retries": 1})
    );
    assert_eq!(
        <crate::Config as klaxon_core::ServiceConfig>::SECRETS,
        ["community"]
    );
    assert_eq!(
        service.test_options(),
        json!({"trap-oid": "1.1.1.1",
               "data-list": [{"oid": "1.1.1.1.2", "type": "s", "value": "test snmptrap message"}]})
    );
}

#[test]
fn invalid_configurations_are_refused() {
    let cases = [
        (
            json!({"enabled": true, "addr": ""}),
            "must specify addr, the trap receiver as host:port, such as addr = \"localhost:162\"",
        ),
        (
            json!({"addr": "localhost"}),
            r#"addr "localhost" has no port; write it as host:port"#,
        ),
        (
            json!({"addr": "localhost:snmp"}),
            r#"addr "localhost:snmp" has no port from 1 to 65535; write it as host:port"#,
        ),
        (
            json!({"retries": -1}),
            r#"key "retries": invalid value: integer `-1`, expected u32"#,
        ),
        (
            json!({"adress": "h:1"}),
            r#"unknown key "adress", expected one of: addr, community, enabled, retries"#,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(
            build(&config).unwrap_err(),
            format!("snmptrap: {expected}"),
            "{config}"
        );
    }
}

#[test]
fn invalid_options_are_refused_where_they_are_defined() {
    let service = service(&Value::Null);
    let trap = |data: Value| json!({"trap-oid": "1.1.2", "data-list": [data]});
    let cases = [
        (
            json!({}),
            "you must supply a trap Oid, such as .snmpTrap('1.3.6.1.4.1.1') or trap-oid: 1.3.6.1.4.1.1".to_owned(),
        ),
        (
            json!({"trap-oid": "1.3.six"}),
            r#"trap-oid "1.3.six" is not an OID; write numbers from 0 to 4294967295 separated by dots, such as 1.3.6.1.4.1.1"#.to_owned(),
        ),
        (
            json!({"trap-oid": "3.1"}),
            r#"trap-oid "3.1" is not an OID; the first number is 0, 1 or 2, and the second below 40 unless the first is 2"#.to_owned(),
        ),
        (
            trap(json!({"oid": "1.1.2.1", "type": "q", "value": "x"})),
            r#"unsupported data type "q" for data entry "1.1.2.1"; use c (counter), i (integer), n (null), s (string) or t (time ticks)"#.to_owned(),
        ),
        (
            trap(json!({"oid": "1.1.2.1", "type": "x", "value": "ff"})),
            r#"data "1.1.2.1" has type "x" (hexadecimal string), which Kapacitor does not send; use c, i, n, s or t"#.to_owned(),
        ),
        (
            trap(json!({"oid": "1", "type": "s", "value": "x"})),
            r#"data "1" is not an OID; it needs from 2 to 128 numbers, such as 1.3.6.1.4.1.1"#.to_owned(),
        ),
        (
            trap(json!({"oid": "1.1.2.1", "type": "i", "value": "ten"})),
            r#"data "1.1.2.1": value "ten" is not a whole number"#.to_owned(),
        ),
        (
            trap(json!({"oid": "1.1.2.1", "type": "i", "value": "2147483648"})),
            r#"data "1.1.2.1": value "2147483648" is out of range for an integer (-2147483648 to 2147483647)"#.to_owned(),
        ),
        (
            trap(json!({"oid": "1.1.2.1", "type": "c", "value": "-1"})),
            r#"data "1.1.2.1": value "-1" is out of range for a counter (0 to 18446744073709551615)"#.to_owned(),
        ),
        (
            trap(json!({"oid": "1.1.2.1", "type": "s", "value": "{{ .Message"})),
            r#"data "1.1.2.1": value "{{ .Message": template: data:1:12: unclosed action"#.to_owned(),
        ),
        (
            trap(json!({"oid": "1.1.2.1", "type": "s", "value": "x", "kind": "s"})),
            r#"option "data-list": unknown field `kind`, expected one of `oid`, `type`, `value`"#.to_owned(),
        ),
        (
            json!({"trap-oid": "1.1.2", "data-list": ["1.1.2.1", "s"]}),
            r#"option "data-list": give each data as {oid, type, value}, or in TICKscript as .data(oid, type, value)"#.to_owned(),
        ),
        (
            json!({"trap-oid": "1.1.2", "data": []}),
            r#"unknown option "data", expected one of: data-list, trap-oid"#.to_owned(),
        ),
    ];
    for (options, expected) in cases {
        let refusal = match service.handler(&options) {
            Ok(_) => panic!("{options} is accepted"),
            Err(e) => e.to_string(),
        };
        assert_eq!(refusal, format!("snmptrap: {expected}"), "{options}");
    }
}

#[test]
fn tickscript_is_kapacitors() {
    // TestStream_AlertSNMPTrap's first trap.
    let options = SnmpTrapService::TICK
        .build_options(
            &[json!("1.1.1")],
            &[
                ("data", vec![json!("1.1.1.2"), json!("c"), json!("1")]),
                (
                    "data",
                    vec![json!("1.1.1.2"), json!("s"), json!("SNMP ALERT")],
                ),
                (
                    "data",
                    vec![json!("1.1.1.2"), json!("s"), json!("{{.Message}}")],
                ),
            ],
        )
        .unwrap();
    assert_eq!(
        options,
        json!({"trap-oid": "1.1.1", "data-list": [
            "1.1.1.2", "c", "1", "1.1.1.2", "s", "SNMP ALERT", "1.1.1.2", "s", "{{.Message}}"]})
    );
    // The same handler as the handler file's data-list.
    handler(&*service(&Value::Null), options);
}

/// Kapacitor's TestServer_AlertHandlers "snmptrap" case, against snmptrapd.
#[tokio::test]
async fn kapacitors_alert_handler_case_reaches_snmptrapd() {
    let Some(daemon) = Snmptrapd::start() else {
        return;
    };
    let service = service(&enabled(&daemon));
    let h = handler(
        &*service,
        json!({"trap-oid": "1.1.2", "data-list": [
            {"oid": "1.1.2.1", "type": "s", "value": "{{.Message}}"},
            {"oid": "1.1.2.2", "type": "s", "value": "{{.Level}}"},
        ]}),
    );
    h.handle(&harness_event()).await.expect("sent");
    let traps = daemon.wait_for(1).await;
    assert_eq!(traps[0].pdu, "TRAP2, SNMP v2c, community public");
    assert_eq!(
        traps[0].bindings,
        bindings(
            "1.1.2",
            &[
                r#".1.1.2.1 = STRING: "message""#,
                r#".1.1.2.2 = STRING: "CRITICAL""#
            ]
        )
    );
}

/// Kapacitor's TestStream_AlertSNMPTrap: two `.snmpTrap()` of one alert node, every type.
#[tokio::test]
async fn kapacitors_stream_case_sends_every_type() {
    let Some(daemon) = Snmptrapd::start() else {
        return;
    };
    let service = service(&enabled(&daemon));
    let tick = SnmpTrapService::TICK;
    let first = tick
        .build_options(
            &[json!("1.1.1")],
            &[
                ("data", vec![json!("1.1.1.2"), json!("c"), json!("1")]),
                (
                    "data",
                    vec![json!("1.1.1.2"), json!("s"), json!("SNMP ALERT")],
                ),
                (
                    "data",
                    vec![json!("1.1.1.2"), json!("s"), json!("{{.Message}}")],
                ),
            ],
        )
        .unwrap();
    let second = tick
        .build_options(
            &[json!("1.1.2")],
            &[
                ("data", vec![json!("1.1.2.3"), json!("i"), json!("10")]),
                ("data", vec![json!("1.1.2.3"), json!("n"), json!("")]),
                ("data", vec![json!("1.1.2.3"), json!("t"), json!("20000")]),
                (
                    "data",
                    vec![json!("1.1.2.3"), json!("s"), json!("{{ .Details }}")],
                ),
            ],
        )
        .unwrap();
    handler(&*service, first)
        .handle(&stream_event())
        .await
        .expect("sent");
    handler(&*service, second)
        .handle(&stream_event())
        .await
        .expect("sent");
    let traps = daemon.wait_for(2).await;
    assert_eq!(
        traps[0].bindings,
        bindings(
            "1.1.1",
            &[
                ".1.1.1.2 = Counter64: 1",
                r#".1.1.1.2 = STRING: "SNMP ALERT""#,
                r#".1.1.1.2 = STRING: "kapacitor/cpu/serverA is CRITICAL""#,
            ]
        )
    );
    assert_eq!(
        traps[1].bindings,
        bindings(
            "1.1.2",
            &[
                ".1.1.2.3 = INTEGER: 10",
                ".1.1.2.3 = NULL",
                ".1.1.2.3 = Timeticks: (20000) 0:03:20.00",
                r#".1.1.2.3 = STRING: "here/cpu""#,
            ]
        )
    );
}

/// Kapacitor's documented handler file, with its `value: 50` (a YAML number, which Kapacitor
/// itself refuses) and its `.Fields` counter; and its documented `{{ index .Field "value" }}`,
/// which has no such field, refused at the alert.
#[tokio::test]
async fn kapacitors_documented_data_list() {
    let Some(daemon) = Snmptrapd::start() else {
        return;
    };
    let service = service(&enabled(&daemon));
    let h = handler(
        &*service,
        json!({"trap-oid": "1.3.6.1.4.1.1", "data-list": [
            {"oid": "1.3.6.1.4.1.1.5", "type": "s", "value": "{{ .Level }}"},
            {"oid": "1.3.6.1.4.1.1.6", "type": "i", "value": 50},
            {"oid": "1.3.6.1.4.1.1.7", "type": "c", "value": "{{ index .Fields \"num_requests\" }}"},
            {"oid": "1.3.6.1.4.1.1.8", "type": "s", "value": "{{ .Message }}"},
        ]}),
    );
    let mut event = stream_event();
    event
        .data
        .fields
        .insert("num_requests".to_owned(), FieldValue::Int(1234));
    h.handle(&event).await.expect("sent");
    let traps = daemon.wait_for(1).await;
    assert_eq!(
        traps[0].bindings,
        bindings(
            "1.3.6.1.4.1.1",
            &[
                r#".1.3.6.1.4.1.1.5 = STRING: "CRITICAL""#,
                ".1.3.6.1.4.1.1.6 = INTEGER: 50",
                ".1.3.6.1.4.1.1.7 = Counter64: 1234",
                r#".1.3.6.1.4.1.1.8 = STRING: "kapacitor/cpu/serverA is CRITICAL""#,
            ]
        )
    );

    let field = handler(
        &*service,
        json!({"trap-oid": "1.3.6.1.2.1.1", "data-list": [
            {"oid": "1.3.6.1.2.1.1.7", "type": "i", "value": "{{ index .Field \"value\" }}"}]}),
    );
    let err = field.handle(&event).await.expect_err("no .Field");
    assert!(!err.is_retryable());
    assert!(
        err.message().starts_with(
            r#"data "1.3.6.1.2.1.1.7": value template "{{ index .Field \"value\" }}": "#
        ),
        "{err}"
    );
    // A template whose value is not a number of its type fails the alert, naming the data.
    let text = handler(
        &*service,
        json!({"trap-oid": "1.1.2", "data-list": [
            {"oid": "1.1.2.1", "type": "t", "value": "{{ .Message }}"}]}),
    );
    let err = text.handle(&event).await.expect_err("not time ticks");
    assert_eq!(
        err.message(),
        r#"data "1.1.2.1": value "kapacitor/cpu/serverA is CRITICAL" is not a whole number"#
    );
    assert_eq!(daemon.traps().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn the_community_is_the_configured_one_and_changes_apply() {
    let Some(daemon) = Snmptrapd::start() else {
        return;
    };
    let service = service(&json!({"enabled": true, "addr": daemon.addr}));
    let h = handler(&*service, json!({"trap-oid": "1.1.2"}));
    h.handle(&harness_event()).await.expect("sent");
    service
        .update(&json!({"enabled": true, "addr": daemon.addr, "community": "ops"}))
        .expect("valid");
    h.handle(&harness_event()).await.expect("sent");
    let traps = daemon.wait_for(2).await;
    assert_eq!(traps[0].pdu, "TRAP2, SNMP v2c, community kapacitor");
    assert_eq!(traps[1].pdu, "TRAP2, SNMP v2c, community ops");
    assert_eq!(traps[1].bindings, bindings("1.1.2", &[]));
}

#[tokio::test]
async fn the_service_test_sends_kapacitors_test_trap() {
    let Some(daemon) = Snmptrapd::start() else {
        return;
    };
    let service = service(&enabled(&daemon));
    service.test(&Value::Null).await.expect("the test passes");
    // The test's values are sent as written, templates or not.
    service
        .test(&json!({"trap-oid": "1.1.3", "data-list": [
            {"oid": "1.1.3.1", "type": "s", "value": "{{ .Message }}"}]}))
        .await
        .expect("the test passes");
    let traps = daemon.wait_for(2).await;
    assert_eq!(
        traps[0].bindings,
        bindings(
            "1.1.1.1",
            &[r#".1.1.1.1.2 = STRING: "test snmptrap message""#]
        )
    );
    assert_eq!(
        traps[1].bindings,
        bindings("1.1.3", &[r#".1.1.3.1 = STRING: "{{ .Message }}""#])
    );
}

#[tokio::test]
async fn a_disabled_service_sends_nothing() {
    let service = service(&Value::Null);
    let h = handler(&*service, json!({"trap-oid": "1.1.2"}));
    let err = h.handle(&harness_event()).await.expect_err("disabled");
    assert!(!err.is_retryable());
    assert_eq!(err.message(), "service is not enabled");
    let err = service.test(&Value::Null).await.unwrap_err();
    assert_eq!(err.to_string(), "service is not enabled");
}

#[tokio::test]
async fn an_address_that_does_not_resolve_is_retryable() {
    let service = service(&json!({"enabled": true, "addr": "no-such-host.invalid:162"}));
    let h = handler(&*service, json!({"trap-oid": "1.1.2"}));
    let err = h.handle(&harness_event()).await.expect_err("unresolvable");
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.message()
            .starts_with("resolve no-such-host.invalid:162")
            || err
                .message()
                .starts_with("send the trap to no-such-host.invalid:162"),
        "{err}"
    );
}
