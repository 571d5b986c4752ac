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
//! The cache key is the prefix ([`DEFAULT_KEY_PREFIX`], configurable), a colon
//! ([`KEY_SEPARATOR`]) and the session key: `django.contrib.sessions.cache:abcd...`.
//! Only validated keys (`[a-z0-9]{8,40}`, rule H1) reach the cache; a session key
//! holds no colon, so the last colon ends the prefix and two prefixes can never name
//! the same entry (without it, `site:sess` + `ionabc...` and `site:session` + `abc...`
//! were one key). Django's layout (`KEY_PREFIX:VERSION:` + the prefix + the key,
//! without a separator) is not followed: Django's cache values are pickles, which this
//! crate neither reads nor writes, so no entry could be shared anyway.
//!
//! The value is JSON text holding the session dictionary itself (Django's cache holds
//! the dict, not the signed `session_data` string; rule E3) and the instant the session
//! expires, in RFC 3339:
//!
//! ```text
//! {"expires":"2026-01-15T00:00:00Z","data":{"_auth_user_id":"42","cart":[3,4]}}
//! ```
//!
//! Unlike the database store, nothing is signed: whoever can write to the cache can
//! write sessions. The format is this crate's own; Django cannot read it (its Redis
//! cache stores pickles).
//!
//! # Semantics
//!
//! * `save` with [`SaveMode::Create`] is the cache's add-if-absent (Redis `SET NX
//!   PX`), else [`Error::Create`] (rule D4).
//! * `save` with [`SaveMode::Update`] is the cache's replace-if-present (Redis `SET XX GET PX`); an
//!   absent key is [`Error::Update`], never a re-creation (rules D5, H2).
//! * The time to live of an entry is the session's remaining age, `expires_at - now`,
//!   at least one second ([`MIN_TTL`]), at most [`MAX_TTL`]: the cache evicts expired
//!   sessions itself, and `clear_expired` is a no-op returning 0 (rule D8).
//! * The expiry stored in the value is checked against the store's [`Clock`] on every
//!   read (rule H7): an entry whose expiry is at or before "now" is absent for `load`,
//!   `exists`, update (which fails with [`Error::Update`] and removes it) and
//!   create (which takes the key over). With a system clock this only matters
//!   for the last millisecond of a session or when the clocks of the application and
//!   Redis disagree; with a manual clock in tests it is what makes expiry work.
//! * `load` returns the record with the expiry stored in the value.
//! * A value that does not decode loads as `None` (rule D7) but still counts as
//!   present for `exists` and update, like a database row whose data is corrupt.
//!
//! # Errors: where this port departs from Django
//!
//! Django's cache backend loads a session as empty when the cache read fails (rule E3),
//! which logs the user out silently and makes the next save fail anyway. Here a cache
//! that cannot be reached (Redis down, a command timing out) is [`Error::Unavailable`]
//! on the call that hit it (adapters answer 503), for `load` as for every other
//! operation, so the application sees the outage. [`cached_db`](crate::cached_db) is the store that keeps working without
//! its cache.
//!
//! ```
//! # async fn demo() -> session_api::Result<()> {
//! use std::sync::Arc;
//! use session_api::SessionBackend;
//! use session_stores::cache::{CacheStore, MemoryCache};
//!
//! let store = CacheStore::new(Arc::new(MemoryCache::new()));
//! let backend = SessionBackend::from_async(Arc::new(store));
//! assert!(!backend.capabilities().clear_expired);
//! # Ok(()) }
//! ```

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use session_api::{
    AsyncSessionStore, Capabilities, Clock, Error, Record, Result, SaveMode, SessionData,
    SessionKey, SystemClock,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub use memory::{MemoryCache, DEFAULT_MAX_ENTRIES};
#[cfg(feature = "redis")]
pub use redis::{RedisCache, RedisOptions};

/// The re-exported `fred` crate, for building a [`fred::prelude::Config`] (Sentinel,
/// Cluster, TLS settings) for [`RedisCache::connect_with`].
#[cfg(feature = "redis")]
pub use fred;

/// Django's cache key prefix of the cache backend.
pub const DEFAULT_KEY_PREFIX: &str = "django.contrib.sessions.cache";
/// What separates the prefix from the session key in a cache key (see the
/// [module docs](self#keys-and-values)).
pub const KEY_SEPARATOR: char = ':';

/// The cache key of `key` under `prefix`: the prefix, [`KEY_SEPARATOR`], the key.
pub(crate) fn prefixed(prefix: &str, key: &SessionKey) -> String {
    format!("{prefix}{KEY_SEPARATOR}{}", key.as_str())
}
/// The shortest time to live given to a cache entry (rule E3: at least one second).
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// The longest time to live given to a cache entry (100 years); the expiry stored in
/// the value stays exact.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A key-value cache with per-entry time to live: what the cache and cached_db stores
/// need from Redis, memcached or memory. Object-safe; stores hold `Arc<dyn Cache>`.
///
/// Entries must expire by themselves after their time to live (an expired entry is
/// never returned). A cache that cannot be reached in time (connection refused or
/// lost, a command timing out) is [`Error::Unavailable`]; any other failure of the
/// cache itself is [`Error::Backend`]. The values are opaque text.
#[async_trait]
pub trait Cache: Send + Sync + fmt::Debug {
    /// Stores `value` under `key` for `ttl` only if the key holds no entry (Django's
    /// `cache.add`, Redis `SET NX PX`). True when it was stored. Must be atomic.
    async fn add(&self, key: &str, value: &str, ttl: Duration) -> Result<bool>;

    /// Stores `value` under `key` for `ttl` only if the key holds an entry (Redis
    /// `SET XX GET PX`), and returns the value it replaced; `None` when the key held
    /// nothing, in which case nothing is stored. Must be atomic.
    async fn replace(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>>;

    /// Stores `value` under `key` for `ttl`, whatever the key held (Django's
    /// `cache.set`).
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<()>;

    /// The value under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<String>>;

    /// Removes the entry under `key`; a missing entry is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Stores `value` under `key` for `ttl` only if the key holds exactly `expected`
    /// (a compare-and-set; Redis runs it as one Lua script). True when it was stored.
    /// Must be atomic: [`cached_db`](crate::cached_db) relies on it so that a load
    /// never refills the cache with a row a concurrent write replaced or deleted.
    async fn compare_and_set(
        &self,
        key: &str,
        expected: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool>;
}

/// The time to live of an entry that expires at `expires_at`, seen at `now`: the
/// remaining age rounded up to the millisecond, clamped to [`MIN_TTL`]..=[`MAX_TTL`].
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
    // Rounded up, so the cache never drops an entry before its stored expiry.
    let ms = (expires_at - now)
        .whole_nanoseconds()
        .saturating_add(999_999)
        .div_euclid(1_000_000);
    let max_ms = i128::try_from(MAX_TTL.as_millis()).unwrap_or(i128::MAX);
    let ms = u64::try_from(ms.clamp(0, max_ms)).unwrap_or(u64::MAX);
    Duration::from_millis(ms).clamp(MIN_TTL, MAX_TTL)
}

/// A decoded cache value: the expiry, when readable, the data, when it is an object,
/// the cached_db epoch it was written under, and whether it is a cached_db lease.
/// (No `Debug`: it holds session data.)
pub(crate) struct CacheValue {
    pub(crate) expires_at: Option<OffsetDateTime>,
    pub(crate) data: Option<SessionData>,
    pub(crate) epoch: Option<String>,
    pub(crate) lease: bool,
}

impl CacheValue {
    /// The text of a value (see the module docs for the format); `epoch` is
    /// cached_db's stamp, which the cache store does not write.
    pub(crate) fn encode(
        data: &SessionData,
        expires_at: OffsetDateTime,
        epoch: Option<&str>,
    ) -> Result<String> {
        let expires = expires_at
            .format(&Rfc3339)
            .map_err(|e| Error::serialization(format!("cannot format the expiry: {e}")))?;
        let data = serde_json::to_string(data).map_err(Error::serialization)?;
        Ok(match epoch {
            Some(epoch) => {
                let epoch = serde_json::to_string(epoch).map_err(Error::serialization)?;
                format!("{{\"expires\":\"{expires}\",\"epoch\":{epoch},\"data\":{data}}}")
            }
            None => format!("{{\"expires\":\"{expires}\",\"data\":{data}}}"),
        })
    }

    /// Reads a value; anything but a JSON object gives no part.
    pub(crate) fn decode(text: &str) -> CacheValue {
        let mut value = CacheValue {
            expires_at: None,
            data: None,
            epoch: None,
            lease: false,
        };
        if let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) {
            value.expires_at = map
                .get("expires")
                .and_then(Value::as_str)
                .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
            value.epoch = map.get("epoch").and_then(Value::as_str).map(str::to_owned);
            value.lease = map.contains_key("lease");
            value.data = map.remove("data").and_then(SessionData::from_value);
        }
        value
    }

    /// The data and expiry of a live, whole value: `None` when expired at `now`, or
    /// when either part does not decode (rule D7).
    pub(crate) fn live(text: &str, now: OffsetDateTime) -> Option<(SessionData, OffsetDateTime)> {
        Self::decode(text).into_live(now)
    }

    /// As [`live`](Self::live), on a decoded value.
    pub(crate) fn into_live(self, now: OffsetDateTime) -> Option<(SessionData, OffsetDateTime)> {
        match (self.expires_at, self.data) {
            (Some(at), Some(data)) if at > now => Some((data, at)),
            _ => None,
        }
    }

    /// Whether the value's own expiry says it is gone at `now` (rule H7). A value whose
    /// expiry cannot be read is not dead: the cache's time to live governs it.
    pub(crate) fn is_dead(text: &str, now: OffsetDateTime) -> bool {
        Self::decode(text).expires_at.is_some_and(|at| at <= now)
    }
}

/// The session store over a [`Cache`]. See the [module docs](self) for the format and
/// the semantics.
pub struct CacheStore {
    cache: Arc<dyn Cache>,
    prefix: String,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheStore")
            .field("cache", &self.cache)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl CacheStore {
    /// A store over `cache` with Django's prefix ([`DEFAULT_KEY_PREFIX`]) on the system
    /// clock.
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        CacheStore {
            cache,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the cache key prefix. Give the cache and cached_db stores different
    /// prefixes when they share a cache (the defaults differ).
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets where "now" comes from (the site's `SessionConfig::clock`; a `ManualClock`
    /// in tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The cache key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The cache, as the trait object the store holds. To keep the concrete cache
    /// (a [`RedisCache`] for [`RedisCache::quit`] or its `fred` client), keep a clone
    /// of it: [`RedisCache`] is a cheap handle (`Clone`) on one connection.
    pub fn cache(&self) -> &Arc<dyn Cache> {
        &self.cache
    }

    /// The cache key of a session key: the prefix, [`KEY_SEPARATOR`] and the key.
    pub fn cache_key(&self, key: &SessionKey) -> String {
        prefixed(&self.prefix, key)
    }

    /// Stores `text` as is under `key`'s cache key, live for the remaining age up to
    /// `expires_at`. For tools and tests (planting records); normal writes go through
    /// the session API.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] or [`Error::Backend`] when the cache fails.
    pub async fn write_raw(
        &self,
        key: &SessionKey,
        text: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let ttl = ttl_for(expires_at, self.clock.now());
        self.cache.set(&self.cache_key(key), text, ttl).await
    }

    /// The stored text under `key`'s cache key, expired by the store's clock or not.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] or [`Error::Backend`] when the cache fails.
    pub async fn read_raw(&self, key: &SessionKey) -> Result<Option<String>> {
        self.cache.get(&self.cache_key(key)).await
    }

    /// A create after the add found the key taken: takes over an entry that is
    /// expired by the store's clock (rule H7), else [`Error::Create`].
    async fn create_over(&self, cache_key: &str, value: &str, ttl: Duration) -> Result<()> {
        let now = self.clock.now();
        let Some(current) = self.cache.get(cache_key).await? else {
            // Evicted in between: one more add decides.
            return match self.cache.add(cache_key, value, ttl).await? {
                true => Ok(()),
                false => Err(Error::Create),
            };
        };
        if !CacheValue::is_dead(&current, now) {
            return Err(Error::Create);
        }
        match self.cache.replace(cache_key, value, ttl).await? {
            Some(old) if CacheValue::is_dead(&old, now) => Ok(()),
            Some(old) => {
                // A live entry arrived between the read and the swap (two creates
                // racing on one key): put it back and lose the race.
                let old_ttl = CacheValue::decode(&old)
                    .expires_at
                    .map_or(ttl, |at| ttl_for(at, now));
                self.cache.set(cache_key, &old, old_ttl).await?;
                Err(Error::Create)
            }
            None => match self.cache.add(cache_key, value, ttl).await? {
                true => Ok(()),
                false => Err(Error::Create),
            },
        }
    }
}

#[async_trait]
impl AsyncSessionStore for CacheStore {
    fn capabilities(&self) -> Capabilities {
        // The cache evicts expired entries itself (Redis on its TTL; the memory cache
        // on every write and when full); nothing is left for clear_expired (rule D8).
        Capabilities::server_side()
            .with_clear_expired(false)
            .with_backend_ttl(true)
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        let now = self.clock.now();
        Ok(self
            .cache
            .get(&self.cache_key(key))
            .await?
            .is_some_and(|text| !CacheValue::is_dead(&text, now)))
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        let now = self.clock.now();
        Ok(self
            .cache
            .get(&self.cache_key(key))
            .await?
            .and_then(|text| CacheValue::live(&text, now))
            .map(|(data, expires_at)| Record::new(key.clone(), data, expires_at)))
    }

    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let key = &record.key;
        let now = self.clock.now();
        let value = CacheValue::encode(&record.data, record.expires_at, None)?;
        let ttl = ttl_for(record.expires_at, now);
        let cache_key = self.cache_key(key);
        if mode == SaveMode::Create {
            if !self.cache.add(&cache_key, &value, ttl).await? {
                self.create_over(&cache_key, &value, ttl).await?;
            }
            return Ok(key.clone());
        }
        match self.cache.replace(&cache_key, &value, ttl).await? {
            // Rules D5, H2: a vanished record is never re-created.
            None => Err(Error::Update),
            Some(old) if CacheValue::is_dead(&old, now) => {
                // Rule H7: the record had expired by the store's clock; the swap must
                // not revive it, so the key goes.
                self.cache.delete(&cache_key).await?;
                Err(Error::Update)
            }
            Some(_) => Ok(key.clone()),
        }
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.cache.delete(&self.cache_key(key)).await
    }

    async fn aclear_expired(&self) -> Result<u64> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn value_format_round_trips() {
        let data = SessionData::from_value(json!({"b": 1, "a": "é"})).unwrap();
        let at = datetime!(2026-01-15 0:00 UTC);
        let text = CacheValue::encode(&data, at, None).unwrap();
        assert_eq!(
            text,
            r#"{"expires":"2026-01-15T00:00:00Z","data":{"b":1,"a":"é"}}"#
        );
        let back = CacheValue::decode(&text);
        assert_eq!(back.expires_at, Some(at));
        assert_eq!(back.data, Some(data.clone()));
        assert_eq!((back.epoch, back.lease), (None, false));
        let stamped = CacheValue::encode(&data, at, Some("e\"1")).unwrap();
        assert_eq!(
            stamped,
            r#"{"expires":"2026-01-15T00:00:00Z","epoch":"e\"1","data":{"b":1,"a":"é"}}"#
        );
        let back = CacheValue::decode(&stamped);
        assert_eq!(back.epoch.as_deref(), Some("e\"1"));
        assert_eq!(back.data, Some(data.clone()));
        assert!(CacheValue::decode(r#"{"lease":"x"}"#).lease);
        assert_eq!(
            CacheValue::live(&text, at - time::Duration::nanoseconds(1)),
            Some((data, at))
        );
        assert_eq!(CacheValue::live(&text, at), None);
        assert!(CacheValue::is_dead(&text, at));
        assert!(!CacheValue::is_dead("garbage", at));
        assert!(CacheValue::live("garbage", at).is_none());
        assert!(CacheValue::live(r#"{"expires":"2099-01-01T00:00:00Z","data":[1]}"#, at).is_none());
    }

    #[test]
    fn sub_second_expiries_are_exact() {
        let at = datetime!(2026-01-15 0:00:00.123456789 UTC);
        let text = CacheValue::encode(&SessionData::new(), at, None).unwrap();
        assert_eq!(CacheValue::decode(&text).expires_at, Some(at));
    }

    #[test]
    fn ttl_rounds_up_and_clamps() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let ms = time::Duration::milliseconds;
        assert_eq!(ttl_for(now + ms(1500), now), Duration::from_millis(1500));
        assert_eq!(
            ttl_for(now + ms(1500) + time::Duration::nanoseconds(1), now),
            Duration::from_millis(1501)
        );
        assert_eq!(ttl_for(now + ms(10), now), MIN_TTL);
        assert_eq!(ttl_for(now, now), MIN_TTL);
        assert_eq!(ttl_for(now - time::Duration::days(3), now), MIN_TTL);
        assert_eq!(ttl_for(datetime!(9999-12-31 0:00 UTC), now), MAX_TTL);
    }
}
