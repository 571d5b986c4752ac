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
    #[cfg(feature = "memory")]
    pub(crate) fn live_entry<Q>(&self, key: &Q, now: OffsetDateTime) -> Option<(&V, OffsetDateTime)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries
            .get(key)
            .filter(|(_, deadline)| *deadline > now)
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
    pub(crate) fn purge(&mut self, now: OffsetDateTime, limit: usize) -> u64 {
        let mut removed = 0;
        while removed < limit {
            match self.by_deadline.first() {
                Some((deadline, key)) if *deadline <= now => {
                    let key = key.clone();
                    self.remove(&key);
                    removed += 1;
                }
                _ => break,
            }
        }
        removed as u64
    }

    /// Inserts or replaces `key`. A new key in a map holding `cap` entries first
    /// displaces the expired ones, then the one closest to its deadline.
    pub(crate) fn insert(
        &mut self,
        key: K,
        value: V,
        deadline: OffsetDateTime,
        cap: usize,
        now: OffsetDateTime,
    ) {
        if let Some((_, old_deadline)) = self.entries.get(&key) {
            self.by_deadline.remove(&(*old_deadline, key.clone()));
        } else if self.entries.len() >= cap {
            self.purge(now, usize::MAX);
            if self.entries.len() >= cap {
                if let Some((_, soonest)) = self.by_deadline.first().cloned() {
                    self.remove(&soonest);
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

    #[test]
    fn expired_entries_are_hidden_purged_and_displaced_first() {
        let mut m: ExpiringMap<String, u8> = ExpiringMap::default();
        m.insert("old".into(), 1, NOW + Duration::seconds(1), 2, NOW);
        m.insert("live".into(), 2, NOW + Duration::seconds(100), 2, NOW);
        let later = NOW + Duration::seconds(5);
        assert_eq!(m.live("old", later), None);
        assert_eq!(m.live("live", later), Some(&2));
        #[cfg(feature = "memory")]
        {
            assert_eq!(
                m.live_entry("live", later),
                Some((&2, NOW + Duration::seconds(100)))
            );
            assert_eq!(m.live_entry("old", later), None);
        }
        // Full: the expired entry goes, the live one stays.
        m.insert("new".into(), 3, later + Duration::seconds(1), 2, later);
        assert_eq!(m.len(), 2);
        assert_eq!(m.live("live", later), Some(&2));
        // Full of live entries: the soonest deadline goes.
        m.insert("newest".into(), 4, later + Duration::seconds(50), 2, later);
        assert_eq!(m.live("new", later), None);
        assert_eq!(m.live("newest", later), Some(&4));
        // Replacing a key never evicts.
        m.insert("live".into(), 5, later + Duration::seconds(60), 2, later);
        assert_eq!(m.len(), 2);
        assert_eq!(m.purge(later + Duration::seconds(1000), usize::MAX), 2);
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn debug_shows_neither_keys_nor_values() {
        let mut m: ExpiringMap<String, String> = ExpiringMap::default();
        m.insert(
            "site:session:secretkey123".into(),
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
