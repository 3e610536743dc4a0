//! Points received and rejected per (database, retention policy), for `/metrics` and
//! `/debug/vars`; and points received per (database, retention policy, measurement), Kapacitor's
//! "ingress" statistics that `klaxon stats ingress` shows.
//!
//! `db` and `rp` come from any client that may write, and each pair becomes a metric series
//! kept until the process ends: past [`MAX_DBRPS`] pairs, and for names longer than
//! [`super::write::MAX_NAME_LENGTH`], writes are counted under the pair [`OTHER`], so that
//! a client inventing names cannot grow memory or `/metrics` without bound.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The most (database, retention policy) pairs counted apart.
pub const MAX_DBRPS: usize = 1000;

/// The database and retention policy under which every pair past [`MAX_DBRPS`] is counted.
pub const OTHER: &str = "(other)";

/// The most (database, retention policy, measurement) triples counted apart; past it, and for
/// longer names, points are counted under the measurement [`OTHER`] of their pair.
pub const MAX_MEASUREMENTS: usize = 10_000;

/// The points of one write by measurement, counted as its chunks go through.
#[derive(Debug, Default)]
pub struct Measurements {
    counts: Vec<(String, u64)>,
}

impl Measurements {
    /// Counts `points`. Points of one measurement usually come together, so the last one is
    /// checked first and a write costs a comparison per point.
    pub fn count(&mut self, points: &[klaxon_pipeline::Point]) {
        for point in points {
            match self.counts.last_mut() {
                Some((name, n)) if *name == point.name => *n += 1,
                _ => match self.counts.iter_mut().find(|(name, _)| *name == point.name) {
                    Some((_, n)) => *n += 1,
                    None => self.counts.push((point.name.clone(), 1)),
                },
            }
        }
    }
}

/// The counters of one (database, retention policy).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngressCounts {
    /// Points parsed and handed to the tasks.
    pub received: u64,
    /// Lines of bodies refused whole (bad line protocol, too large, 503).
    pub rejected: u64,
}

/// Every (database, retention policy)'s counters since the process started.
#[derive(Debug, Default)]
pub struct Ingress {
    /// database → retention policy → counts: nested so a write finds its counters by `&str`
    /// without allocating.
    by_dbrp: Mutex<BTreeMap<String, BTreeMap<String, IngressCounts>>>,
    /// Points received by (database, retention policy, measurement).
    by_measurement: Mutex<BTreeMap<(String, String, String), u64>>,
}

impl Ingress {
    /// Counts `points` accepted into `db`.`rp`.
    pub fn received(&self, db: &str, rp: &str, points: usize) {
        self.update(db, rp, |c| c.received += points as u64);
    }

    /// Counts a refused body of `lines` lines for `db`.`rp`.
    pub fn rejected(&self, db: &str, rp: &str, lines: usize) {
        self.update(db, rp, |c| c.rejected += lines as u64);
    }

    fn update(&self, db: &str, rp: &str, f: impl FnOnce(&mut IngressCounts)) {
        let mut map = self.by_dbrp.lock().unwrap_or_else(|e| e.into_inner());
        let max = super::write::MAX_NAME_LENGTH;
        let known = map.get(db).is_some_and(|by_rp| by_rp.contains_key(rp));
        // One place is kept for the other bucket itself until it exists.
        let room = || {
            let other = map
                .get(OTHER)
                .is_some_and(|by_rp| by_rp.contains_key(OTHER));
            map.values().map(BTreeMap::len).sum::<usize>() + usize::from(!other) < MAX_DBRPS
        };
        let (db, rp) = if known || (db.len() <= max && rp.len() <= max && room()) {
            (db, rp)
        } else {
            (OTHER, OTHER)
        };
        if !map.contains_key(db) {
            map.insert(db.to_owned(), BTreeMap::new());
        }
        let by_rp = map.get_mut(db).expect("inserted above");
        if !by_rp.contains_key(rp) {
            by_rp.insert(rp.to_owned(), IngressCounts::default());
        }
        f(by_rp.get_mut(rp).expect("inserted above"));
    }

    /// Counts a write's points into `db`.`rp` by measurement.
    pub fn received_by_measurement(&self, db: &str, rp: &str, measurements: Measurements) {
        let max = super::write::MAX_NAME_LENGTH;
        let mut map = self
            .by_measurement
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (name, n) in measurements.counts {
            let key = (db.to_owned(), rp.to_owned(), name);
            let key = if map.contains_key(&key)
                || (map.len() < MAX_MEASUREMENTS
                    && [db, rp, key.2.as_str()].iter().all(|s| s.len() <= max))
            {
                key
            } else {
                (OTHER.to_owned(), OTHER.to_owned(), OTHER.to_owned())
            };
            *map.entry(key).or_default() += n;
        }
    }

    /// Points received by (database, retention policy, measurement), sorted.
    pub fn by_measurement(&self) -> Vec<((String, String, String), u64)> {
        let map = self
            .by_measurement
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, n)| (k.clone(), *n)).collect()
    }

    /// Every pair's counters, sorted.
    pub fn snapshot(&self) -> Vec<((String, String), IngressCounts)> {
        let map = self.by_dbrp.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .flat_map(|(db, by_rp)| {
                by_rp
                    .iter()
                    .map(move |(rp, counts)| ((db.clone(), rp.clone()), *counts))
            })
            .collect()
    }
}

/// The non-empty lines of a body, as the number of points it would have held.
pub fn count_lines(body: &[u8]) -> usize {
    body.split(|b| *b == b'\n')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_bounds_are_counted_as_other() {
        let ingress = Ingress::default();
        for i in 0..MAX_DBRPS + 10 {
            ingress.received(&format!("db{i}"), "autogen", 1);
        }
        ingress.received("db0", "autogen", 1);
        ingress.rejected(&"x".repeat(60_000), "autogen", 1);
        let snapshot = ingress.snapshot();
        // The pair that ran into the bound is the other bucket, counted once more for the long
        // name.
        assert_eq!(snapshot.len(), MAX_DBRPS);
        let other = snapshot
            .iter()
            .find(|((db, rp), _)| db == OTHER && rp == OTHER)
            .unwrap();
        assert_eq!(
            other.1,
            IngressCounts {
                received: 11,
                rejected: 1
            }
        );
        let db0 = snapshot.iter().find(|((db, _), _)| db == "db0").unwrap();
        assert_eq!(db0.1.received, 2);
    }

    #[test]
    fn points_are_counted_by_measurement() {
        let ingress = Ingress::default();
        let point = |name: &str| klaxon_pipeline::Point::new("db", "rp", name, 0);
        let mut measurements = Measurements::default();
        measurements.count(&[point("cpu"), point("cpu"), point("mem")]);
        measurements.count(&[point("cpu")]);
        ingress.received_by_measurement("telegraf", "autogen", measurements);
        let key = |m: &str| ("telegraf".to_owned(), "autogen".to_owned(), m.to_owned());
        assert_eq!(ingress.by_measurement(), [(key("cpu"), 3), (key("mem"), 1)]);
    }

    #[test]
    fn counts_add_up_per_dbrp() {
        let ingress = Ingress::default();
        ingress.received("telegraf", "autogen", 3);
        ingress.received("telegraf", "autogen", 2);
        ingress.rejected("telegraf", "autogen", count_lines(b"a v=1\n\n  \nb v=2"));
        ingress.received("other", "autogen", 1);
        let snapshot = ingress.snapshot();
        assert_eq!(snapshot.len(), 2);
        assert_eq!(
            snapshot[1].1,
            IngressCounts {
                received: 5,
                rejected: 2
            }
        );
    }
}
