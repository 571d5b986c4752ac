//! The cache store: Django's `django.contrib.sessions.backends.cache` (rules E3, H2,
//! H7) over any [`Cache`]: the in-process [`MemoryCache`] (feature `cache`, Django's
//! local-memory cache) or Redis through `fred` ([`RedisCache`], feature `redis`).
//!
//! The cache is the only copy of a session: an evicted entry logs its user out, and a
//! restarted cache logs everybody out. [`cached_db`](crate::cached_db) keeps the
//! database as the record and the cache in front of it.
//!
//! # Keys and values
//!
//! Two layouts ([`CacheFormat`]):
//!
//! * [`CacheFormat::Native`], the default: the cache key is the prefix
//!   ([`DEFAULT_KEY_PREFIX`], configurable), a colon ([`KEY_SEPARATOR`]) and the
//!   session key: `django.contrib.sessions.cache:abcd...`. Only validated keys
//!   (`[a-z0-9]{8,40}`, rule H1) reach the cache; a session key holds no colon, so
//!   the last colon ends the prefix and two prefixes can never name the same entry
//!   (without it, `site:sess` + `ionabc...` and `site:session` + `abc...` were one
//!   key). The value is JSON text holding the session dictionary itself (Django's
//!   cache holds the dict, not the signed `session_data` string; rule E3) and the
//!   instant the session expires, its *stamp* ([`Stamp`]), last:
//!
//!   ```text
//!   {"data":{"_auth_user_id":"42","cart":[3,4]},"expires":"2026-01-15T00:00:00.000000000Z"}
//!   ```
//!
//! * [`CacheFormat::Django`], **the one to pick when a Django site shares the
//!   sessions** through its `RedisCache`: Django's key,
//!   `<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cache<session key>`, and Django's
//!   value, the dict pickled as its default `RedisSerializer` writes it, followed by
//!   a NUL byte and `{"expires":"<stamp>"}`. Python's unpickler ignores the bytes
//!   after the pickle, so Django reads the dict; when Django writes the session
//!   back, the trailer is gone and the entry's time to live, which Django set to the
//!   session's age, is its expiry here too (a load reads it with the value, in one
//!   round trip). The data must be JSON-compatible and within the pickle limits
//!   ([`MAX_PICKLE_DEPTH`], [`MAX_PICKLE_LEN`], integers within 64 bits): a save of
//!   more is [`Error::Serialization`](session_api::Error::Serialization) or
//!   [`Error::SessionTooLarge`](session_api::Error::SessionTooLarge), and a pickle
//!   beyond them (or holding a tuple, a set, bytes, an object) loads as nothing. NaN
//!   and the infinities travel both ways (as `SessionData`'s tags for them).
//!
//! Unlike the database store, nothing is signed: whoever can write to the cache can
//! write sessions (and, in Django's format, run code in the Django site, which
//! unpickles what it reads).
//!
//! # Semantics
//!
//! * `save` with [`SaveMode::Create`](session_api::SaveMode::Create) is the cache's
//!   add-if-absent (Redis `SET NX PX`), else
//!   [`Error::Create`](session_api::Error::Create) (rule D4). An entry whose stamp has
//!   passed on the store's [`Clock`](session_api::Clock) counts as absent and is taken
//!   over (rule H7).
//! * `save` with [`SaveMode::Update`](session_api::SaveMode::Update) is the cache's
//!   replace-if-present; an absent key is [`Error::Update`](session_api::Error::Update),
//!   never a re-creation (rules D5, H2), and so is an entry whose stamp has passed,
//!   which is removed (H7). On Redis, when the store's clock reads
//!   the real time (the system clock), it is `SET XX PX` alone: every entry's time to
//!   live ends by its stamp (below), so an entry Redis still holds has not expired.
//!   With any other clock (a `ManualClock` in tests) it is one script that checks the
//!   stamp inside Redis. Either way one round trip, and no old value is sent back.
//! * The time to live of an entry is the session's remaining age, `expires_at - now`,
//!   rounded down to the millisecond, at least [`MIN_TTL`], at most [`MAX_TTL`]: the
//!   cache evicts expired sessions itself, and `clear_expired` is a no-op returning 0
//!   (rule D8). In Django's format a session saved already expired is removed right
//!   after the write, as Django's cache does with a timeout of 0.
//! * The stored expiry is checked against the store's clock on every read (rule
//!   H7): an entry whose expiry is at or before "now" is absent for `load` and
//!   `exists`. With the system clock the cache has dropped such an entry already
//!   (give or take the latency of the write that set its time to live); with a manual
//!   clock in tests it is what makes expiry work.
//! * `load` returns the record with the stored expiry (for a Django-written entry,
//!   "now" plus its remaining time to live).
//! * A value that does not decode loads as `None` (rule D7) but still counts as
//!   present for `exists` and update, like a database row whose data is corrupt.
//!
//! # Errors: where this port departs from Django
//!
//! Django's cache backend loads a session as empty when the cache read fails (rule E3),
//! which logs the user out silently and makes the next save fail anyway. Here a cache
//! that cannot be reached (Redis down, a command timing out) is
//! [`Error::Unavailable`](session_api::Error::Unavailable) on the call that hit it
//! (adapters answer 503), for `load` as for every other operation, so the
//! application sees the outage. [`cached_db`](crate::cached_db) is the store that
//! keeps working without its cache.
//!
//! ```
//! # async fn demo() -> session_api::Result<()> {
//! use std::sync::Arc;
//! use session_api::SessionBackend;
//! use session_stores::cache::{CacheFormat, CacheStore, MemoryCache};
//!
//! let store = CacheStore::new(Arc::new(MemoryCache::new()));
//! let backend = SessionBackend::from_async(Arc::new(store));
//! assert!(!backend.capabilities().clear_expired);
//! // Sharing with Django (CACHES' KEY_PREFIX "site", VERSION 1):
//! let shared = CacheStore::new(Arc::new(MemoryCache::new()))
//!     .format(CacheFormat::django_with("site", 1));
//! # let _ = shared; Ok(()) }
//! ```

mod format;
mod memory;
mod pickle;
#[cfg(feature = "redis")]
mod redis;
mod stamp;
mod store;
mod value;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use session_api::Result;
use time::OffsetDateTime;

pub use format::CacheFormat;
pub use memory::{MemoryCache, DEFAULT_MAX_ENTRIES};
pub use pickle::{MAX_PICKLE_DEPTH, MAX_PICKLE_LEN};
#[cfg(feature = "redis")]
pub use redis::{RedisCache, RedisOptions};
pub use stamp::{Stamp, STAMP_LEN, STAMP_SUFFIX_LEN};
pub use store::CacheStore;
pub(crate) use value::CacheValue;

/// The re-exported `fred` crate, for building a [`fred::prelude::Config`] (Sentinel,
/// Cluster, TLS settings) for [`RedisCache::connect_with`].
#[cfg(feature = "redis")]
pub use fred;

/// Django's cache key prefix of the cache backend.
pub const DEFAULT_KEY_PREFIX: &str = "django.contrib.sessions.cache";
/// What separates the prefix from the session key in a [`CacheFormat::Native`] cache
/// key (see the [module docs](self#keys-and-values)).
pub const KEY_SEPARATOR: char = ':';

/// The shortest time to live given to a cache entry (Redis takes no shorter `PX`).
/// A session saved with less left (or already expired) lives that long in the cache
/// but no longer: its stamp makes it absent at once (rule H7).
pub const MIN_TTL: Duration = Duration::from_millis(1);
/// The longest time to live given to a cache entry (100 years); the expiry stored in
/// the value stays exact.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 86_400);

/// What [`Cache::replace`] found under the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// A live entry: the new value is stored.
    Stored,
    /// Nothing: nothing is stored.
    Absent,
    /// An entry whose [`Stamp`] had passed: it is removed, nothing is stored.
    Expired,
}

/// A key-value cache with per-entry time to live: what the cache and cached_db stores
/// need from Redis, memcached or memory. Object-safe; stores hold `Arc<dyn Cache>`.
///
/// Entries must expire by themselves after their time to live (an expired entry is
/// never returned). A cache that cannot be reached in time (connection refused or
/// lost, a command timing out) is [`Error::Unavailable`](session_api::Error::Unavailable);
/// any other failure of the cache itself is
/// [`Error::Backend`](session_api::Error::Backend). The values are opaque bytes, except
/// for the [`Stamp`] at their end, which `add` and `replace` compare with the `now`
/// they are given ([`Stamp::expired`]): an entry whose stamp is at or before `now`
/// counts as absent there (rule H7, on the store's clock rather than the cache's).
#[async_trait]
pub trait Cache: Send + Sync + fmt::Debug {
    /// Stores `value` under `key` for `ttl` only if the key holds no entry, or one
    /// whose stamp is expired at `now` (Django's `cache.add`, Redis `SET NX PX`). True
    /// when it was stored. Must be atomic.
    async fn add(&self, key: &str, value: &[u8], ttl: Duration, now: &Stamp) -> Result<bool>;

    /// Stores `value` under `key` for `ttl` only if the key holds an entry whose stamp
    /// is not expired at `now`; an expired one is removed. Must be atomic, and sends
    /// no old value back.
    ///
    /// `now` is `None` when the store vouches that no entry outlives its stamp: its
    /// clock runs with the real time and every time to live it gave ends by the
    /// entry's stamp ([`ttl_for`]), so an entry the cache holds is live, and a plain
    /// replace-if-present decides (Redis `SET XX PX`).
    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        now: Option<&Stamp>,
    ) -> Result<Replaced>;

    /// Stores `value` under `key` for `ttl`, whatever the key held (Django's
    /// `cache.set`).
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()>;

    /// The value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// The value under `key` and its remaining time to live (`None`: the entry does
    /// not expire), read together (Redis: one script). [`CacheFormat::Django`] needs
    /// it: the time to live is the only expiry of an entry Django wrote.
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>>;

    /// Removes the entry under `key`; a missing entry is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Stores `value` under `key` for `ttl` only if the key holds exactly `expected`
    /// (a compare-and-set; Redis runs it as one Lua script). True when it was stored.
    /// Must be atomic: [`cached_db`](crate::cached_db) relies on it so that a load
    /// never refills the cache with a row a concurrent write replaced or deleted.
    async fn compare_and_set(
        &self,
        key: &str,
        expected: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool>;
}

/// The time to live of an entry that expires at `expires_at`, seen at `now`: the
/// remaining age rounded down to the millisecond, clamped to
/// [`MIN_TTL`]..=[`MAX_TTL`].
///
/// ```
/// use std::time::Duration;
/// use session_stores::cache::{ttl_for, MIN_TTL};
/// use time::macros::datetime;
/// let now = datetime!(2026-01-01 0:00 UTC);
/// assert_eq!(ttl_for(now + time::Duration::minutes(5), now), Duration::from_secs(300));
/// assert_eq!(ttl_for(now - time::Duration::minutes(5), now), MIN_TTL);
/// ```
pub fn ttl_for(expires_at: OffsetDateTime, now: OffsetDateTime) -> Duration {
    // Rounded down, so that on a clock running with the cache's the entry is gone by
    // its stamp (what lets an update skip the stamp check, `Cache::replace`).
    let ms = (expires_at - now).whole_nanoseconds().div_euclid(1_000_000);
    let max_ms = i128::try_from(MAX_TTL.as_millis()).unwrap_or(i128::MAX);
    let ms = u64::try_from(ms.clamp(0, max_ms)).unwrap_or(u64::MAX);
    Duration::from_millis(ms).clamp(MIN_TTL, MAX_TTL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ttl_rounds_up_and_clamps() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let ms = time::Duration::milliseconds;
        assert_eq!(ttl_for(now + ms(1500), now), Duration::from_millis(1500));
        assert_eq!(
            ttl_for(now + ms(1500) - time::Duration::nanoseconds(1), now),
            Duration::from_millis(1499)
        );
        assert_eq!(ttl_for(now + ms(10), now), Duration::from_millis(10));
        assert_eq!(
            ttl_for(now + time::Duration::microseconds(999), now),
            MIN_TTL
        );
        assert_eq!(ttl_for(now, now), MIN_TTL);
        assert_eq!(ttl_for(now - time::Duration::days(3), now), MIN_TTL);
        assert_eq!(ttl_for(datetime!(9999-12-31 0:00 UTC), now), MAX_TTL);
    }
}
