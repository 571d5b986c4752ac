//! A bounded map whose entries expire, shared by the memory store and the memory cache.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::Hash;

use time::OffsetDateTime;

/// Entries with a deadline; expired entries are never returned. When full, a new key
/// displaces the expired entries first, then the one closest to its deadline.
///
/// Its `Debug` shows the number of entries only: the keys are session keys (or cache
/// keys that embed them) and the values session data, neither of which may reach a
/// log.
pub(crate) struct ExpiringMap<K, V> {
    entries: HashMap<K, (V, OffsetDateTime)>,
    /// Keys ordered by deadline, for purging and eviction.
    by_deadline: BTreeSet<(OffsetDateTime, K)>,
}

impl<K, V> fmt::Debug for ExpiringMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpiringMap")
            .field("len", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl<K, V> Default for ExpiringMap<K, V> {
    fn default() -> Self {
        ExpiringMap {
            entries: HashMap::new(),
            by_deadline: BTreeSet::new(),
        }
    }
}

impl<K: Hash + Eq + Ord + Clone, V> ExpiringMap<K, V> {
    /// Entries held, expired ones not yet purged included.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The value of `key` if its deadline is after `now`.
    pub(crate) fn live<Q>(&self, key: &Q, now: OffsetDateTime) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .get(key)
            .filter(|(_, deadline)| *deadline > now)
            .map(|(value, _)| value)
    }

    /// The value of `key` and its deadline, if the deadline is after `now`.
    pub(crate) fn live_entry<Q>(&self, key: &Q, now: OffsetDateTime) -> Option<(&V, OffsetDateTime)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entry(key).filter(|(_, deadline)| *deadline > now)
    }

    /// The value of `key` and its deadline, live or not (the memory store tells an
    /// expired record from a missing one).
    pub(crate) fn entry<Q>(&self, key: &Q) -> Option<(&V, OffsetDateTime)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .get(key)
            .map(|(value, deadline)| (value, *deadline))
    }

    /// Removes `key`, live or not.
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (key, (value, deadline)) = self.entries.remove_entry(key)?;
        self.by_deadline.remove(&(deadline, key));
        Some(value)
    }

    /// Removes up to `limit` expired entries, soonest first; returns how many.
    #[cfg(feature = "cache")]
    pub(crate) fn purge(&mut self, now: OffsetDateTime, limit: usize) -> u64 {
        self.purge_each(now, limit, |_, _| {})
    }

    /// As [`purge`](Self::purge), handing each removed entry to `removed` (the memory
    /// store keeps its account index in step).
    pub(crate) fn purge_each(
        &mut self,
        now: OffsetDateTime,
        limit: usize,
        mut removed: impl FnMut(K, V),
    ) -> u64 {
        let mut count = 0;
        while count < limit {
            match self.by_deadline.first() {
                Some((deadline, _)) if *deadline <= now => {
                    if let Some((_, key)) = self.by_deadline.pop_first() {
                        if let Some((value, _)) = self.entries.remove(&key) {
                            removed(key, value);
                        }
                    }
                    count += 1;
                }
                _ => break,
            }
        }
        count as u64
    }

    /// Inserts or replaces `key`. A new key in a map holding `cap` entries first
    /// displaces the expired ones, then the one closest to its deadline.
    #[cfg(feature = "cache")]
    pub(crate) fn insert(
        &mut self,
        key: K,
        value: V,
        deadline: OffsetDateTime,
        cap: usize,
        now: OffsetDateTime,
    ) {
        self.insert_each(key, value, deadline, cap, now, |_, _| {});
    }

    /// As [`insert`](Self::insert), handing each displaced entry to `displaced` (never
    /// the replaced value of `key` itself).
    pub(crate) fn insert_each(
        &mut self,
        key: K,
        value: V,
        deadline: OffsetDateTime,
        cap: usize,
        now: OffsetDateTime,
        mut displaced: impl FnMut(K, V),
    ) {
        if let Some((_, old_deadline)) = self.entries.get(&key) {
            self.by_deadline.remove(&(*old_deadline, key.clone()));
        } else if self.entries.len() >= cap {
            self.purge_each(now, usize::MAX, &mut displaced);
            if self.entries.len() >= cap {
                if let Some((_, soonest)) = self.by_deadline.first().cloned() {
                    if let Some(value) = self.remove(&soonest) {
                        displaced(soonest, value);
                    }
                }
            }
        }
        self.by_deadline.insert((deadline, key.clone()));
        self.entries.insert(key, (value, deadline));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    const NOW: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    /// `insert` without a report of what was displaced.
    fn put<V>(
        m: &mut ExpiringMap<String, V>,
        key: &str,
        value: V,
        deadline: OffsetDateTime,
        cap: usize,
        now: OffsetDateTime,
    ) {
        m.insert_each(key.to_owned(), value, deadline, cap, now, |_, _| {});
    }

    #[test]
    fn expired_entries_are_hidden_purged_and_displaced_first() {
        let mut m: ExpiringMap<String, u8> = ExpiringMap::default();
        put(&mut m, "old", 1, NOW + Duration::seconds(1), 2, NOW);
        put(&mut m, "live", 2, NOW + Duration::seconds(100), 2, NOW);
        let later = NOW + Duration::seconds(5);
        assert_eq!(m.live("old", later), None);
        assert_eq!(m.live("live", later), Some(&2));
        assert_eq!(
            m.live_entry("live", later),
            Some((&2, NOW + Duration::seconds(100)))
        );
        assert_eq!(m.live_entry("old", later), None);
        // An expired entry is still there to be told from a missing one.
        assert_eq!(m.entry("old"), Some((&1, NOW + Duration::seconds(1))));
        assert_eq!(m.entry("none"), None);
        // Full: the expired entry goes (and is reported), the live one stays.
        let mut displaced = Vec::new();
        m.insert_each(
            "new".into(),
            3,
            later + Duration::seconds(1),
            2,
            later,
            |k, v| displaced.push((k, v)),
        );
        assert_eq!(displaced, vec![("old".to_owned(), 1)]);
        assert_eq!(m.len(), 2);
        assert_eq!(m.live("live", later), Some(&2));
        // Full of live entries: the soonest deadline goes.
        let mut displaced = Vec::new();
        m.insert_each(
            "newest".into(),
            4,
            later + Duration::seconds(50),
            2,
            later,
            |k, v| displaced.push((k, v)),
        );
        assert_eq!(displaced, vec![("new".to_owned(), 3)]);
        assert_eq!(m.live("new", later), None);
        assert_eq!(m.live("newest", later), Some(&4));
        // Replacing a key never evicts.
        put(&mut m, "live", 5, later + Duration::seconds(60), 2, later);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m.purge_each(later + Duration::seconds(1000), usize::MAX, |_, _| {}),
            2
        );
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn debug_shows_neither_keys_nor_values() {
        let mut m: ExpiringMap<String, String> = ExpiringMap::default();
        put(
            &mut m,
            "site:session:secretkey123",
            "the-session-data".into(),
            NOW + Duration::seconds(1),
            10,
            NOW,
        );
        let shown = format!("{m:?} {m:#?}");
        assert!(shown.contains("len: 1"), "{shown}");
        for secret in ["secretkey123", "the-session-data"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
