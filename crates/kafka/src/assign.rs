//! The consumer protocol's metadata (Kafka's `ConsumerProtocol`, version 0) and the range
//! assignor, which the group's leader runs for every member.

use std::collections::BTreeMap;

use crate::KafkaError;
use crate::wire::{Decoder, Encoder};

/// The assignor's name, as Kafka's clients spell it: members of other clients can share a group
/// with Klaxon as long as they offer it too.
pub(crate) const RANGE: &str = "range";

/// The topics a member reads, and its user data (a Klaxon member's API URL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub(crate) topics: Vec<String>,
    pub(crate) user_data: Vec<u8>,
}

impl Subscription {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.i16(0).count(self.topics.len());
        for topic in &self.topics {
            e.string(topic);
        }
        e.bytes(&self.user_data);
        e.0
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Subscription, KafkaError> {
        let mut d = Decoder::new(bytes, "consumer subscription");
        let _version = d.i16()?;
        let count = d.count()?;
        let mut topics = Vec::with_capacity(count);
        for _ in 0..count {
            topics.push(d.string()?);
        }
        // Version 0 ends here for some clients; user data is optional to read.
        let user_data = d.bytes().map(<[u8]>::to_vec).unwrap_or_default();
        Ok(Subscription { topics, user_data })
    }
}

/// The partitions of each topic one member owns in a generation, and the leader's user data
/// (from a Klaxon leader: every member's URL and partitions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub(crate) partitions: BTreeMap<String, Vec<i32>>,
    pub(crate) user_data: Vec<u8>,
}

impl Assignment {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::default();
        e.i16(0).count(self.partitions.len());
        for (topic, partitions) in &self.partitions {
            e.string(topic).count(partitions.len());
            for p in partitions {
                e.i32(*p);
            }
        }
        e.bytes(&self.user_data);
        e.0
    }

    /// An empty assignment is zero bytes (a member the leader gave nothing).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Assignment, KafkaError> {
        let mut assignment = Assignment::default();
        if bytes.is_empty() {
            return Ok(assignment);
        }
        let mut d = Decoder::new(bytes, "consumer assignment");
        let _version = d.i16()?;
        for _ in 0..d.count()? {
            let topic = d.string()?;
            let count = d.count()?;
            let mut partitions = Vec::with_capacity(count);
            for _ in 0..count {
                partitions.push(d.i32()?);
            }
            assignment.partitions.insert(topic, partitions);
        }
        assignment.user_data = d.bytes().map(<[u8]>::to_vec).unwrap_or_default();
        Ok(assignment)
    }

    /// Every (topic, partition), in order.
    pub(crate) fn pairs(&self) -> Vec<(String, i32)> {
        self.partitions
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect()
    }
}

/// Kafka's range assignment: for each topic, its members in member-ID order take consecutive
/// runs of its partitions, the first ones one more when they do not divide evenly.
pub(crate) fn range(
    members: &[(String, Subscription)],
    partitions_of: &BTreeMap<String, Vec<i32>>,
) -> Vec<(String, Assignment)> {
    let mut out: BTreeMap<&str, Assignment> = members
        .iter()
        .map(|(id, _)| (id.as_str(), Assignment::default()))
        .collect();
    for (topic, partitions) in partitions_of {
        let mut readers: Vec<&str> = members
            .iter()
            .filter(|(_, s)| s.topics.iter().any(|t| t == topic))
            .map(|(id, _)| id.as_str())
            .collect();
        readers.sort_unstable();
        if readers.is_empty() {
            continue;
        }
        let mut sorted = partitions.clone();
        sorted.sort_unstable();
        let (each, extra) = (sorted.len() / readers.len(), sorted.len() % readers.len());
        let mut next = 0;
        for (i, reader) in readers.iter().enumerate() {
            let take = each + usize::from(i < extra);
            if take > 0
                && let Some(a) = out.get_mut(reader)
            {
                a.partitions
                    .insert(topic.clone(), sorted[next..next + take].to_vec());
            }
            next += take;
        }
    }
    out.into_iter().map(|(id, a)| (id.to_owned(), a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> (String, Subscription) {
        (
            id.to_owned(),
            Subscription {
                topics: topics.iter().map(|t| (*t).to_owned()).collect(),
                user_data: Vec::new(),
            },
        )
    }

    #[test]
    fn range_gives_consecutive_runs_the_first_members_one_more() {
        let partitions = BTreeMap::from([("metrics".to_owned(), vec![5, 4, 3, 2, 1, 0, 6])]);
        let out = range(
            &[member("b", &["metrics"]), member("a", &["metrics"])],
            &partitions,
        );
        assert_eq!(out[0].0, "a");
        assert_eq!(out[0].1.partitions["metrics"], [0, 1, 2, 3]);
        assert_eq!(out[1].1.partitions["metrics"], [4, 5, 6]);
    }

    #[test]
    fn a_member_gets_nothing_of_a_topic_it_does_not_read_and_more_members_than_partitions_leave_some_idle()
     {
        let partitions = BTreeMap::from([("a".to_owned(), vec![0]), ("b".to_owned(), vec![0, 1])]);
        let out = range(
            &[
                member("m1", &["a", "b"]),
                member("m2", &["b"]),
                member("m3", &["a"]),
            ],
            &partitions,
        );
        let got: Vec<_> = out.iter().map(|(id, a)| (id.as_str(), a.pairs())).collect();
        assert_eq!(
            got,
            [
                ("m1", vec![("a".to_owned(), 0), ("b".to_owned(), 0)]),
                ("m2", vec![("b".to_owned(), 1)]),
                ("m3", vec![]),
            ]
        );
    }

    #[test]
    fn metadata_reads_back() {
        let s = Subscription {
            topics: vec!["x".into(), "y".into()],
            user_data: b"http://10.0.0.1:9092".to_vec(),
        };
        assert_eq!(Subscription::decode(&s.encode()).unwrap(), s);
        let a = Assignment {
            partitions: BTreeMap::from([("x".to_owned(), vec![0, 3])]),
            user_data: b"[]".to_vec(),
        };
        assert_eq!(Assignment::decode(&a.encode()).unwrap(), a);
        assert_eq!(Assignment::decode(&[]).unwrap(), Assignment::default());
        assert!(Assignment::decode(&[0, 0, 0]).is_err());
    }
}
