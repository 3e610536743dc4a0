//! `.inhibit(category, tags...)`: while a group of an inhibiting alert node is not OK, the events
//! of every alert node whose `.category()` is that category, and whose tags equal the group's on
//! the named tags, are dropped. Kapacitor's alert service keeps these inhibitors
//! (`alert/inhibit.go`); here they are shared by every task of a server through the
//! [`Inhibitors`] handle of its [`super::ServerInfo`], so that a deadman in one task silences the
//! CPU alerts of a dead host in another.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The inhibitors of a server, by category. Cheap to clone; clones share the inhibitors.
///
/// ```
/// use std::collections::BTreeMap;
/// use klaxon_pipeline::alert::Inhibitors;
/// let inhibitors = Inhibitors::default();
/// let host = BTreeMap::from([("host".to_owned(), "a".to_owned())]);
/// let inhibitor = inhibitors.add("system", BTreeMap::from([("host".to_owned(), "a".to_owned())]));
/// assert!(!inhibitors.is_inhibited("system", &host));
/// inhibitor.set(true);
/// assert!(inhibitors.is_inhibited("system", &host));
/// assert!(!inhibitors.is_inhibited("other", &host));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Inhibitors {
    inner: Arc<Lookup>,
}

#[derive(Debug, Default)]
struct Lookup {
    by_category: RwLock<HashMap<String, Vec<Arc<Inhibitor>>>>,
    next: AtomicU64,
}

/// One group's inhibitor: its category, the tag values that must be equal, and whether it is
/// active (the group is not OK).
#[derive(Debug)]
pub struct Inhibitor {
    id: u64,
    category: String,
    tags: BTreeMap<String, String>,
    active: AtomicBool,
}

impl Inhibitor {
    /// Turns it on (the group is not OK) or off.
    pub fn set(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    fn inhibits(&self, tags: &BTreeMap<String, String>) -> bool {
        self.active.load(Ordering::Relaxed)
            && self
                .tags
                .iter()
                .all(|(k, v)| tags.get(k).map_or(v.is_empty(), |t| t == v))
    }
}

impl PartialEq for Inhibitors {
    /// Handles are equal when they share their inhibitors.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Inhibitors {}

impl Inhibitors {
    /// Adds an inhibitor of `category` for events whose tags have these values; it starts off.
    pub fn add(&self, category: &str, tags: BTreeMap<String, String>) -> Arc<Inhibitor> {
        let inhibitor = Arc::new(Inhibitor {
            id: self.inner.next.fetch_add(1, Ordering::Relaxed),
            category: category.to_owned(),
            tags,
            active: AtomicBool::new(false),
        });
        self.write()
            .entry(category.to_owned())
            .or_default()
            .push(inhibitor.clone());
        inhibitor
    }

    /// Removes an inhibitor (its alert node stopped).
    pub fn remove(&self, inhibitor: &Inhibitor) {
        let mut by_category = self.write();
        if let Some(list) = by_category.get_mut(&inhibitor.category) {
            list.retain(|i| i.id != inhibitor.id);
            if list.is_empty() {
                by_category.remove(&inhibitor.category);
            }
        }
    }

    /// Whether an event of `category` with these tags is inhibited now.
    pub fn is_inhibited(&self, category: &str, tags: &BTreeMap<String, String>) -> bool {
        let by_category = self
            .inner
            .by_category
            .read()
            .unwrap_or_else(|e| e.into_inner());
        by_category
            .get(category)
            .is_some_and(|list| list.iter().any(|i| i.inhibits(tags)))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Vec<Arc<Inhibitor>>>> {
        self.inner
            .by_category
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }
}
