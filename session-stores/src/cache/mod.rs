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
//! # Versions, lookups and touches
//!
//! * **Versions** (rule V1): a record's version is [`stored_version`] of the stored
//!   value, read with the value (no extra round trip). In the native format every
//!   value carries a revision just before its stamp, `"rev":"<16 hex>"` (the last
//!   [`REVISION_SUFFIX_LEN`] bytes hold both): a save writes the first 16 hex digits
//!   of the SHA-1 of the value without it, a touch the SHA-1 prefix of the old
//!   revision and the new stamp. A value without one (Django's format, or a native
//!   value written before revisions) has [`version_of`] its bytes, the first 8 bytes
//!   of their SHA-1. `asave_if` is [`Cache::replace_if_version`]: on Redis one
//!   script that reads the last 68 bytes (`GETRANGE`: the revision and the stamp,
//!   not the whole value), compares the revision with the expected version (for a
//!   value without one, the first 16 hex digits of `redis.sha1hex` of the whole
//!   value) and then `SET PX`es, sending no value back. Every write changes the
//!   version (V3); the same data and expiry written again give the same value, and
//!   the same version (harmless: nothing changed).
//! * **`alookup`** is `Expired` for an entry the cache still holds whose stamp has
//!   passed on the store's clock; an entry the cache's time to live removed (on
//!   Redis with the system clock, that is every expired one) is `Missing`, as is one
//!   that does not decode.
//! * **`atouch`** (rule V4) is [`Cache::touch`]: on Redis one script that checks the
//!   entry (present, stamp not passed), rewrites only its stamp in place (`SETRANGE`
//!   of the last [`STAMP_SUFFIX_LEN`] bytes' 30-byte stamp), with its revision when it
//!   has one (the same `SETRANGE`: they are neighbours), and `PEXPIRE`s it
//!   ([`restamp`] is the same rewrite in Rust). An entry Django wrote has no stamp and
//!   only gets the time to live, its expiry. A touch changes the version (a new
//!   revision, or the digest of the new stamp), except for an entry Django wrote (no
//!   stamp: its bytes and version stay; the one exception to V3, see
//!   [`CacheStore`]'s `atouch`).
//!
//! # Account index
//!
//! Off by default ([`CacheStore::account_index`]); with it on, the store keeps per
//! account a sorted set, [`CacheStore::index_key`] (`<prefix>:account[<id>]`), of
//! its sessions' keys scored by their expiry in Unix milliseconds (rule S5). A save
//! or touch of a live session whose data names an account ([`auth_account_id`]) adds
//! it there (or moves its score) right after the session's own write, in a second
//! single-key command; a delete reads the value it removes (`GETDEL`) and takes the
//! key out of its account's set; members whose score has passed are dropped by every
//! add and list.
//!
//! The index is not written atomically with the session: on a Redis Cluster a script
//! may only touch keys of one slot, and a session's key (known before its account,
//! and Django's layout, which takes no hash tag) cannot share a slot with its
//! account's set. Instead:
//!
//! * **Listing verifies.** `alist_sessions` reads every member's value back and lists
//!   only a live one whose data still names the account, with the expiry its stamp
//!   holds. So a session deleted behind the store's back, evicted, or saved since
//!   under another account (which leaves it in the old set until its score passes)
//!   is never listed, nor revoked.
//! * **Nothing live is missed.** The set is written after the session and before the
//!   save or touch returns; when that write fails, the session is removed (a logout)
//!   before the error is returned. Members leave the set only by their score (never
//!   before the session's stamp: scores round up), by a delete of that session, or by
//!   a revoke. So a revoke lists every session saved with that account before it
//!   began, and deletes each (`DEL`); its save after that is `Update` (D5).
//! * The window: a save in flight while a revoke runs may be filed after the revoke
//!   listed the set, like a login just after a "log out everywhere". A session moved
//!   to another account while a revoke of the old one reads it can be deleted by it.
//!
//! Cost: a save or touch of a session with an account is one more command (touch
//! also sends the value back to learn the account), a delete one `GETDEL` and one
//! `ZREM` script; a listing is one script plus one read per member. Sessions a
//! Django site writes in [`CacheFormat::Django`] are not indexed.
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

mod accounts;
mod format;
mod memory;
mod pickle;
#[cfg(feature = "redis")]
mod redis;
mod revision;
mod stamp;
mod store;
mod value;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use session_api::{Result, Version};
use time::OffsetDateTime;

#[cfg(doc)]
use session_api::store::auth_account_id;

pub use crate::digest::version_of;

pub use format::CacheFormat;
pub use memory::{MemoryCache, DEFAULT_MAX_ENTRIES};
pub use pickle::{MAX_PICKLE_DEPTH, MAX_PICKLE_LEN};
#[cfg(feature = "redis")]
pub use redis::{ConditionalWrites, RedisCache, RedisOptions};
pub use revision::{restamp, stored_version, REVISION_SUFFIX_LEN};
pub use stamp::{Stamp, STAMP_LEN, STAMP_SUFFIX_LEN};
pub use store::{CacheStore, CacheVersioning};
#[cfg(feature = "cached_db")]
pub(crate) use value::Body;
pub(crate) use value::{CacheValue, Meta};

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

/// What [`Cache::replace`] and [`Cache::replace_if_version`] found under the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// A live entry: the new value is stored.
    Stored,
    /// Nothing: nothing is stored.
    Absent,
    /// An entry whose [`Stamp`] had passed: it is removed, nothing is stored.
    Expired,
    /// A live entry of another version ([`Cache::replace_if_version`] only): it is
    /// left as it is.
    Conflict,
}

/// What [`Cache::touch`] found under the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched {
    /// A live entry: its expiry moved. The value now stored, when it was asked for.
    Stored(Option<Vec<u8>>),
    /// Nothing: nothing changed.
    Absent,
    /// An entry whose [`Stamp`] had passed: it is removed.
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
    /// (a compare-and-set; Redis runs it as one Lua script, or as `SET ... IFEQ` where
    /// the server has it). True when it was stored.
    /// Must be atomic: [`cached_db`](crate::cached_db) relies on it so that a load
    /// never refills the cache with a row a concurrent write replaced or deleted.
    async fn compare_and_set(
        &self,
        key: &str,
        expected: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool>;

    /// Stores `value` under `key` for `ttl` only if the key holds an entry whose stamp
    /// is not expired at `now` and whose version, [`stored_version`] of its bytes, is
    /// `expected` (rule V1): [`Replaced::Conflict`] for another version, and an
    /// expired entry is removed. Must be atomic (Redis: one script comparing the
    /// value's revision, read from its last bytes, or for a value without one
    /// `redis.sha1hex` of it, with the version's digits; or, where the server has it,
    /// `SET ... IFEQ` with the bytes the client last read or wrote), and sends no old
    /// value back.
    async fn replace_if_version(
        &self,
        key: &str,
        expected: Version,
        value: &[u8],
        ttl: Duration,
        now: &Stamp,
    ) -> Result<Replaced>;

    /// Moves the expiry of the live entry under `key` without rewriting the rest of
    /// its value (rule V4): a stamped value's [`Stamp`] becomes `expires` and its
    /// revision, if any, a new one (the last [`STAMP_SUFFIX_LEN`] bytes, or
    /// [`REVISION_SUFFIX_LEN`], keep their shape; [`restamp`] does it), and the
    /// entry lives `ttl` from now; a value without a stamp (Django's) only gets the
    /// time to live. An entry whose stamp is expired at `now` is removed. With
    /// `want_value`, the value now stored comes back. Must be atomic (Redis: one
    /// script, `SETRANGE` and `PEXPIRE`).
    async fn touch(
        &self,
        key: &str,
        expires: &Stamp,
        ttl: Duration,
        now: &Stamp,
        want_value: bool,
    ) -> Result<Touched>;

    /// Removes the entry under `key` and returns what it held (Redis `GETDEL`).
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Adds `member` with `score` to the sorted set under `index`, or moves its score,
    /// after removing the members whose score is at or below `now`; the set then lives
    /// at least `ttl`. The account index of [`CacheStore`] (scores are expiries in
    /// Unix milliseconds). Redis: one script on the one key (`ZREMRANGEBYSCORE`,
    /// `ZADD`, `PEXPIRE`).
    async fn index_add(
        &self,
        index: &str,
        member: &str,
        score: i64,
        ttl: Duration,
        now: i64,
    ) -> Result<()>;

    /// The members of the sorted set under `index` whose score is above `now`, lowest
    /// score first, after removing the others.
    async fn index_members(&self, index: &str, now: i64) -> Result<Vec<String>>;

    /// Removes `members` from the sorted set under `index`; absent ones are ignored.
    async fn index_remove(&self, index: &str, members: &[String]) -> Result<()>;
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
