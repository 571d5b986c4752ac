//! The in-process cache: Django's local-memory cache (`LocMemCache`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use session_api::{Clock, Result, SystemClock, Version};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{restamp, stored_version, Cache, Replaced, Stamp, Touched};
use crate::expiring::ExpiringMap;

/// The sorted sets of [`Cache::index_add`]: members and their scores, per index, each
/// set due at its highest score (when its last member is), so every index write
/// purges some dead sets and an account never seen again does not keep one.
type Indexes = ExpiringMap<String, HashMap<String, i64>>;

/// Default bound on the number of entries of a [`MemoryCache`].
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// How many expired entries one write removes at most, so a write never stalls on a
/// mass expiry; every write removes up to this many, so the cache keeps up.
const PURGE_PER_WRITE: usize = 64;

/// An in-process cache with per-entry time to live, safe under concurrent use.
///
/// Like Django's local-memory cache it lives in one process: several processes (or
/// machines) each have their own, so a session saved by one is unknown to the others.
/// Use it for tests, development and single-process sites.
///
/// Expiry follows the cache's [`Clock`]: an expired entry is never returned; every
/// write removes expired entries (a bounded number per write); when the cache is full,
/// a new entry displaces the expired ones, then the one closest to expiry. Eviction of
/// a live entry logs its user out.
///
/// ```
/// # async fn demo() -> session_api::Result<()> {
/// use std::time::Duration;
/// use session_stores::cache::{Cache, MemoryCache, Stamp};
/// let cache = MemoryCache::new().max_entries(10_000);
/// let now = Stamp::at(time::OffsetDateTime::now_utc())?;
/// assert!(cache.add("k", b"v", Duration::from_secs(60), &now).await?);
/// assert!(!cache.add("k", b"w", Duration::from_secs(60), &now).await?);
/// assert_eq!(cache.get("k").await?.as_deref(), Some(&b"v"[..]));
/// # Ok(()) }
/// ```
pub struct MemoryCache {
    inner: Mutex<ExpiringMap<String, Vec<u8>>>,
    /// The account indexes, apart from the entries: their members die with their
    /// scores, so they need no time to live of their own.
    indexes: Mutex<Indexes>,
    clock: Arc<dyn Clock>,
    max_entries: usize,
}

impl MemoryCache {
    /// A cache bounded to [`DEFAULT_MAX_ENTRIES`], on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A cache on `clock` (the store's clock; a `ManualClock` in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryCache {
            inner: Mutex::default(),
            indexes: Mutex::default(),
            clock,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }

    /// Sets the bound on the number of entries (at least 1).
    #[must_use]
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max.max(1);
        self
    }

    /// How many entries are held, expired ones not yet removed included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, ExpiringMap<String, Vec<u8>>> {
        // The maps are consistent after every statement, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_indexes(&self) -> MutexGuard<'_, Indexes> {
        self.indexes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deadline(&self, now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
        now.checked_add(time::Duration::try_from(ttl).unwrap_or(time::Duration::MAX))
            .unwrap_or(PrimitiveDateTime::MAX.assume_utc())
    }

    /// Runs a write under the lock after removing some expired entries.
    fn with_write<T>(
        &self,
        f: impl FnOnce(&mut ExpiringMap<String, Vec<u8>>, OffsetDateTime) -> T,
    ) -> T {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.purge(now, PURGE_PER_WRITE);
        f(&mut inner, now)
    }

    fn write(
        &self,
        map: &mut ExpiringMap<String, Vec<u8>>,
        key: &str,
        value: &[u8],
        ttl: Duration,
        now: OffsetDateTime,
    ) {
        map.insert(
            key.to_owned(),
            value.to_vec(),
            self.deadline(now, ttl),
            self.max_entries,
            now,
        );
    }
}

impl fmt::Debug for MemoryCache {
    /// The bound and the number of entries: never a key or a value (they are
    /// session keys and session data).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.len())
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Every operation is a short critical section and runs inline.
#[async_trait]
impl Cache for MemoryCache {
    async fn add(&self, key: &str, value: &[u8], ttl: Duration, stamp: &Stamp) -> Result<bool> {
        Ok(self.with_write(|inner, now| {
            if inner
                .live(key, now)
                .is_some_and(|old| !Stamp::expired(old, stamp))
            {
                return false;
            }
            self.write(inner, key, value, ttl, now);
            true
        }))
    }

    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        stamp: Option<&Stamp>,
    ) -> Result<Replaced> {
        Ok(self.with_write(|inner, now| match inner.live(key, now) {
            None => Replaced::Absent,
            Some(old) if stamp.is_some_and(|stamp| Stamp::expired(old, stamp)) => {
                inner.remove(key);
                Replaced::Expired
            }
            Some(_) => {
                self.write(inner, key, value, ttl, now);
                Replaced::Stored
            }
        }))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        self.with_write(|inner, now| self.write(inner, key, value, ttl, now));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let now = self.clock.now();
        Ok(self.lock().live(key, now).cloned())
    }

    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        let now = self.clock.now();
        Ok(self.lock().live_entry(key, now).map(|(value, deadline)| {
            let left = Duration::try_from(deadline - now).unwrap_or(Duration::ZERO);
            (value.clone(), Some(left))
        }))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }

    async fn compare_and_set(
        &self,
        key: &str,
        expected: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        Ok(self.with_write(|inner, now| {
            if inner.live(key, now).map(Vec::as_slice) != Some(expected) {
                return false;
            }
            self.write(inner, key, value, ttl, now);
            true
        }))
    }

    async fn replace_if_version(
        &self,
        key: &str,
        expected: Version,
        value: &[u8],
        ttl: Duration,
        stamp: &Stamp,
    ) -> Result<Replaced> {
        Ok(self.with_write(|inner, now| match inner.live(key, now) {
            None => Replaced::Absent,
            Some(old) if Stamp::expired(old, stamp) => {
                inner.remove(key);
                Replaced::Expired
            }
            Some(old) if stored_version(old) != expected => Replaced::Conflict,
            Some(_) => {
                self.write(inner, key, value, ttl, now);
                Replaced::Stored
            }
        }))
    }

    async fn touch(
        &self,
        key: &str,
        expires: &Stamp,
        ttl: Duration,
        stamp: &Stamp,
        want_value: bool,
    ) -> Result<Touched> {
        Ok(self.with_write(|inner, now| {
            let Some(old) = inner.live(key, now) else {
                return Touched::Absent;
            };
            if Stamp::expired(old, stamp) {
                inner.remove(key);
                return Touched::Expired;
            }
            let mut value = old.clone();
            // Unstamped (Django's) values keep their bytes, so their version: as on
            // Redis, the exception to V3 that `CacheStore::atouch` documents.
            restamp(&mut value, expires);
            self.write(inner, key, &value, ttl, now);
            Touched::Stored(want_value.then_some(value))
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let live = inner.live(key, now).is_some();
        Ok(inner.remove(key).filter(|_| live))
    }

    async fn index_add(
        &self,
        index: &str,
        member: &str,
        score: i64,
        _ttl: Duration,
        now: i64,
    ) -> Result<()> {
        let mut indexes = self.lock_indexes();
        // The scores are the caller's clock (the store's), not necessarily this
        // cache's: dead sets are judged by the `now` it gives.
        indexes.purge(score_time(now), PURGE_PER_WRITE);
        let mut members = indexes.remove(index).unwrap_or_default();
        members.retain(|_, s| *s > now);
        members.insert(member.to_owned(), score);
        keep_index(&mut indexes, index, members);
        Ok(())
    }

    async fn index_members(&self, index: &str, now: i64) -> Result<Vec<String>> {
        let mut indexes = self.lock_indexes();
        let Some(mut members) = indexes.remove(index) else {
            return Ok(Vec::new());
        };
        members.retain(|_, s| *s > now);
        let mut listed: Vec<(i64, String)> = members.iter().map(|(m, s)| (*s, m.clone())).collect();
        keep_index(&mut indexes, index, members);
        listed.sort_unstable();
        Ok(listed.into_iter().map(|(_, m)| m).collect())
    }

    async fn index_remove(&self, index: &str, members: &[String]) -> Result<()> {
        let mut indexes = self.lock_indexes();
        if let Some(mut set) = indexes.remove(index) {
            for member in members {
                set.remove(member);
            }
            keep_index(&mut indexes, index, set);
        }
        Ok(())
    }
}

/// Puts the set `members` back under `index`, due at its highest score; an empty set
/// is dropped.
fn keep_index(indexes: &mut Indexes, index: &str, members: HashMap<String, i64>) {
    let Some(last) = members.values().copied().max() else {
        return;
    };
    let due = score_time(last);
    indexes.insert(index.to_owned(), members, due, usize::MAX, due);
}

/// An index score (Unix milliseconds) as a time, saturating.
fn score_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(if ms < 0 {
        PrimitiveDateTime::MIN.assume_utc()
    } else {
        PrimitiveDateTime::MAX.assume_utc()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use session_api::ManualClock;
    use time::macros::datetime;

    const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    fn cache() -> (MemoryCache, ManualClock) {
        let clock = ManualClock::new(START);
        (MemoryCache::with_clock(Arc::new(clock.clone())), clock)
    }

    fn stamp(at: OffsetDateTime) -> Stamp {
        Stamp::at(at).unwrap()
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn add_replace_set_get_delete() {
        let (c, _) = cache();
        let now = stamp(START);
        assert!(c.add("k", b"1", MINUTE, &now).await.unwrap());
        assert!(!c.add("k", b"2", MINUTE, &now).await.unwrap());
        assert_eq!(
            c.replace("k", b"3", MINUTE, Some(&now)).await.unwrap(),
            Replaced::Stored
        );
        assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"3"[..]));
        assert_eq!(
            c.replace("other", b"x", MINUTE, Some(&now)).await.unwrap(),
            Replaced::Absent
        );
        assert_eq!(c.get("other").await.unwrap(), None);
        c.set("other", b"y", MINUTE).await.unwrap();
        assert_eq!(c.get("other").await.unwrap().as_deref(), Some(&b"y"[..]));
        assert!(!c.compare_and_set("k", b"1", b"4", MINUTE).await.unwrap());
        assert!(c.compare_and_set("k", b"3", b"4", MINUTE).await.unwrap());
        assert_eq!(c.get("k").await.unwrap().as_deref(), Some(&b"4"[..]));
        assert!(!c
            .compare_and_set("absent", b"", b"x", MINUTE)
            .await
            .unwrap());
        c.delete("k").await.unwrap();
        c.delete("k").await.unwrap();
        assert_eq!(c.get("k").await.unwrap(), None);
        assert_eq!(c.len(), 1);
    }

    #[tokio::test]
    async fn stamps_decide_add_and_replace() {
        let (c, _) = cache();
        let entry = |at: OffsetDateTime| {
            format!(r#"{{"data":{{}},"expires":"{}"}}"#, stamp(at).as_str()).into_bytes()
        };
        let now = stamp(START);
        let dead = entry(START);
        let live = entry(START + time::Duration::seconds(1));
        c.set("dead", &dead, MINUTE).await.unwrap();
        c.set("live", &live, MINUTE).await.unwrap();
        // An entry whose stamp is at "now" is absent: add takes it over...
        assert!(c.add("dead", b"new", MINUTE, &now).await.unwrap());
        assert_eq!(c.get("dead").await.unwrap().as_deref(), Some(&b"new"[..]));
        assert!(!c.add("live", b"new", MINUTE, &now).await.unwrap());
        // ... and replace removes it.
        c.set("dead", &dead, MINUTE).await.unwrap();
        assert_eq!(
            c.replace("dead", b"x", MINUTE, Some(&now)).await.unwrap(),
            Replaced::Expired
        );
        assert_eq!(c.get("dead").await.unwrap(), None);
        assert_eq!(
            c.replace("live", b"x", MINUTE, Some(&now)).await.unwrap(),
            Replaced::Stored
        );
        // Without a stamp check (the store vouches for the TTLs) it is only present.
        c.set("dead", &dead, MINUTE).await.unwrap();
        assert_eq!(
            c.replace("dead", b"x", MINUTE, None).await.unwrap(),
            Replaced::Stored
        );
    }

    #[tokio::test]
    async fn entries_expire_on_the_clock_and_are_purged_by_writes() {
        let (c, clock) = cache();
        let now = stamp(START);
        for i in 0..10 {
            c.set(&format!("k{i}"), b"v", MINUTE).await.unwrap();
        }
        c.set("long", b"v", MINUTE * 10).await.unwrap();
        clock.advance(time::Duration::seconds(45));
        let (_, left) = c.get_with_ttl("k0").await.unwrap().unwrap();
        assert_eq!(left, Some(Duration::from_secs(15)));
        clock.advance(time::Duration::seconds(14));
        assert!(c.get("k0").await.unwrap().is_some());
        clock.advance(time::Duration::seconds(1));
        assert_eq!(c.get("k0").await.unwrap(), None);
        assert_eq!(c.get_with_ttl("k0").await.unwrap(), None);
        assert_eq!(
            c.replace("k0", b"x", MINUTE, Some(&now)).await.unwrap(),
            Replaced::Absent
        );
        assert_eq!(c.len(), 1, "the write purged the expired entries");
        assert!(c.add("k0", b"new", MINUTE, &now).await.unwrap());
        assert_eq!(c.len(), 2);
    }

    #[tokio::test]
    async fn a_full_cache_displaces_the_soonest_expiry() {
        let (c, _) = cache();
        let c = c.max_entries(2);
        c.set("a", b"v", MINUTE * 2).await.unwrap();
        c.set("b", b"v", MINUTE).await.unwrap();
        c.set("c", b"v", MINUTE * 3).await.unwrap();
        assert_eq!(c.get("b").await.unwrap(), None);
        assert!(c.get("a").await.unwrap().is_some());
        assert!(c.get("c").await.unwrap().is_some());
        // Overwriting an existing key displaces nothing.
        c.set("a", b"w", MINUTE).await.unwrap();
        assert_eq!(c.len(), 2);
    }

    /// S5: the sets of accounts never seen again go once their members are due, on
    /// another account's index write; none is kept for ever.
    #[tokio::test]
    async fn dead_index_sets_are_purged_by_later_index_writes() {
        let (c, _) = cache();
        let ms = |secs: i64| (START + time::Duration::seconds(secs)).unix_timestamp() * 1000;
        for account in 0..10 {
            let index = format!("idx:{account}");
            c.index_add(&index, "s", ms(60), MINUTE, ms(0))
                .await
                .unwrap();
        }
        c.index_add("idx:long", "s", ms(600), MINUTE, ms(0))
            .await
            .unwrap();
        assert_eq!(c.lock_indexes().len(), 11);
        c.index_add("idx:new", "s", ms(700), MINUTE, ms(60))
            .await
            .unwrap();
        assert_eq!(c.lock_indexes().len(), 2, "only the live sets are left");
        assert_eq!(c.index_members("idx:long", ms(60)).await.unwrap(), ["s"]);
        // A set emptied by removal or by its members' scores is dropped too.
        c.index_remove("idx:long", &["s".to_owned()]).await.unwrap();
        assert!(c
            .index_members("idx:new", ms(700))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(c.lock_indexes().len(), 0);
    }

    #[tokio::test]
    async fn huge_ttls_saturate() {
        let (c, _) = cache();
        c.set("k", b"v", Duration::MAX).await.unwrap();
        assert!(c.get("k").await.unwrap().is_some());
        assert!(c.get_with_ttl("k").await.unwrap().unwrap().1.is_some());
    }
}
