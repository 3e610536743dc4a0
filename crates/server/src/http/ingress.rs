//! Points received and rejected per (database, retention policy), for `/metrics` and
//! `/debug/vars` (Kapacitor's "ingress" statistics).

use std::collections::BTreeMap;
use std::sync::Mutex;

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
        if !map.contains_key(db) {
            map.insert(db.to_owned(), BTreeMap::new());
        }
        let by_rp = map.get_mut(db).expect("inserted above");
        if !by_rp.contains_key(rp) {
            by_rp.insert(rp.to_owned(), IngressCounts::default());
        }
        f(by_rp.get_mut(rp).expect("inserted above"));
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
