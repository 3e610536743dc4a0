//! The topics API across a Kafka consumer group (`[[kafka-consumer]]`, docs/scale-out.md): on
//! any member, `GET /alerts/topics` and `GET /alerts/topics/{topic}/events` answer for the
//! whole group. The member asks every other member the same with `local=true` (forwarding the
//! request's `Authorization`), merges what they answer, and says who answered what: each event
//! is marked with the member whose state of it is the newest (the series' owner, or its last
//! owner), and a `cluster` object lists the members, their partitions, and any that did not
//! answer. `local=true` asks for this member's own view only.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use klaxon_core::{Level, Timestamp};
use serde_json::{Value, json};

use super::AppState;

/// How long a member waits for another's answer.
const PEER_TIMEOUT: Duration = Duration::from_secs(5);

/// This member and the others, as of its last rebalance.
pub(super) struct Cluster {
    own: String,
    members: Vec<klaxon_kafka::GroupMember>,
}

impl Cluster {
    /// The group this server is a member of, unless the request asks for `local`, there is no
    /// `[[kafka-consumer]]`, or its member has not joined yet.
    pub(super) fn of(state: &AppState, local: bool) -> Option<Cluster> {
        if local {
            return None;
        }
        let own = state.kafka.first()?.url.clone();
        let mut members: Vec<klaxon_kafka::GroupMember> = Vec::new();
        for m in state.kafka.iter() {
            for member in m.stats.members() {
                match members.iter_mut().find(|x| x.url == member.url) {
                    Some(known) => known.partitions.extend(member.partitions),
                    None => members.push(member),
                }
            }
        }
        (!members.is_empty()).then_some(Cluster { own, members })
    }

    /// Every other member's answer to `GET path` with `params` and `local=true`: its URL and
    /// its JSON, or why there is none.
    pub(super) async fn ask_others(
        &self,
        path: &str,
        params: &[(&str, String)],
        headers: &HeaderMap,
    ) -> Vec<(String, Result<Value, String>)> {
        let client = client();
        let mut params: Vec<(&str, String)> = params.to_vec();
        params.push(("local", "true".to_owned()));
        let asks = self.members.iter().filter(|m| m.url != self.own).map(|m| {
            let member = m.url.clone();
            let request = reqwest::Url::parse(&format!("{}{path}", m.url.trim_end_matches('/')))
                .map_err(|e| format!("member URL {:?}: {e}", m.url))
                .map(|mut url| {
                    url.query_pairs_mut()
                        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
                    let request = client.get(url).timeout(PEER_TIMEOUT);
                    match headers.get(AUTHORIZATION) {
                        Some(auth) => request.header(AUTHORIZATION, auth),
                        None => request,
                    }
                });
            async move {
                let answer = async {
                    let response = request?.send().await.map_err(|e| e.to_string())?;
                    let status = response.status();
                    if !status.is_success() {
                        return Err(format!("{member} answered {status}"));
                    }
                    response.json::<Value>().await.map_err(|e| e.to_string())
                }
                .await;
                (member, answer)
            }
        });
        let handles: Vec<_> = asks.map(tokio::spawn).collect();
        let mut answers = Vec::with_capacity(handles.len());
        for handle in handles {
            if let Ok(answer) = handle.await {
                answers.push(answer);
            }
        }
        answers
    }

    /// The `cluster` object: every member with its partitions, and the error of each that did
    /// not answer.
    pub(super) fn describe(&self, answers: &[(String, Result<Value, String>)]) -> Value {
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|m| {
                let mut member = json!({
                    "url": m.url,
                    "self": m.url == self.own,
                    "partitions": m.partitions.iter().map(|(t, p)| json!({"topic": t, "partition": p})).collect::<Vec<_>>(),
                });
                if let Some((_, Err(e))) = answers.iter().find(|(url, _)| *url == m.url) {
                    member["error"] = json!(e);
                }
                member
            })
            .collect();
        json!({ "members": members })
    }

    pub(super) fn own(&self) -> &str {
        &self.own
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        klaxon_http::Client::new(&klaxon_http::ClientOptions::default())
            .map(|c| c.http().clone())
            .unwrap_or_default()
    })
}

/// Merges members' event lists: one entry per event ID, the newest state (by its time), marked
/// with the member that holds it (`member`).
pub(super) fn merge_events(lists: Vec<(String, Vec<Value>)>) -> Vec<Value> {
    let mut by_id: BTreeMap<String, (Timestamp, Value)> = BTreeMap::new();
    for (member, events) in lists {
        for mut event in events {
            let Some(id) = event["id"].as_str().map(str::to_owned) else {
                continue;
            };
            let time = event["state"]["time"]
                .as_str()
                .and_then(|t| Timestamp::parse_rfc3339(t).ok())
                .unwrap_or(Timestamp::EPOCH);
            event["member"] = json!(member);
            match by_id.get(&id) {
                Some((held, _)) if *held >= time => {}
                _ => {
                    by_id.insert(id, (time, event));
                }
            }
        }
    }
    by_id.into_values().map(|(_, e)| e).collect()
}

/// The level of a topic from its merged events: the highest.
pub(super) fn level_of(events: &[Value]) -> Level {
    events
        .iter()
        .filter_map(|e| e["state"]["level"].as_str()?.parse::<Level>().ok())
        .max()
        .unwrap_or(Level::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, time: &str, level: &str) -> Value {
        json!({"id": id, "state": {"time": time, "level": level}})
    }

    #[test]
    fn the_newest_state_of_an_event_wins_and_names_its_member() {
        let merged = merge_events(vec![
            (
                "http://a".into(),
                vec![
                    event("x", "2026-01-01T00:00:01Z", "CRITICAL"),
                    event("y", "2026-01-01T00:00:03Z", "OK"),
                ],
            ),
            (
                "http://b".into(),
                vec![event("x", "2026-01-01T00:00:01.5Z", "OK")],
            ),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0]["id"], "x");
        assert_eq!(merged[0]["member"], "http://b");
        assert_eq!(merged[0]["state"]["level"], "OK");
        assert_eq!(merged[1]["member"], "http://a");
        assert_eq!(level_of(&merged), Level::Ok);
        assert_eq!(
            level_of(&[event("z", "2026-01-01T00:00:00Z", "WARNING")]),
            Level::Warning
        );
    }
}
