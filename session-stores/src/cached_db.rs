//! The cached database store: Django's `django.contrib.sessions.backends.cached_db`
//! (rule E4). Write-through: a durable store is the record, a [`Cache`] in front of it
//! serves the reads.
//!
//! The durable layer is any [`AsyncSessionStore`] with server-side records: Django's
//! pairing is [the database store](crate::db::DbStore), but the file store (through
//! [`SyncToAsync`](session_api::SyncToAsync)) or a store of your own works the same.
//! Below, "the database" means that layer. `CachedDbStore<DbStore>` also lists and
//! revokes an account's sessions.
//!
//! * `load`: the cache; on a miss (or an entry that is expired by the store's clock, or
//!   does not decode), the database, and then the cache is filled with the record's
//!   data for the record's remaining age (its `expires_at`, as the database returned
//!   it).
//! * `save`: the database first, with the database's semantics (rules D4, D5, H7: an
//!   [`Error::Create`] or [`Error::Update`] there is the result and the cache is left
//!   alone); then the cache. A create stores the entry; an update replaces an entry
//!   that is still cached and adds none (the next load fills it), so a logout that
//!   raced the save is not undone in the cache. A failing cache write is logged as a
//!   warning on target `django.contrib.sessions` and the save succeeds (Django 5.1+).
//! * `exists`: a live cache entry, else the database.
//! * `delete`: the database row, then the cache entry.
//! * `clear_expired`: the database's; cache entries expire on their own TTL.
//!
//! # Clock
//!
//! The store takes its clock explicitly ([`CachedDbStore::new`]): it computes the
//! cache entries' time to live (`expires_at - now`) and decides whether a cached entry
//! is still live. Give it the clock the durable store uses (the site's
//! `SessionConfig::clock`), so both layers agree on when a session ends; a cached
//! entry never outlives the `expires_at` the database gave, whatever the clock.
//!
//! The cache key is [`DEFAULT_KEY_PREFIX`] (`django.contrib.sessions.cached_db`, not the
//! cache store's prefix, so the two stores never read each other's entries in a shared
//! cache) followed by the session key; the value is the format of the
//! [cache store](crate::cache) (the dictionary as JSON and its expiry). The database
//! holds Django's `session_data`, so a Django site sharing the table reads the sessions
//! (it has its own cache).
//!
//! # When the cache fails
//!
//! Reads and writes go on from the database: a failing cache read is logged and the
//! record is read from the database (and the cache is not filled); a failing cache
//! write is logged. With
//! [`RedisCache`](crate::cache::RedisCache), commands fail at once while Redis is down
//! and after the command timeout when it hangs, so each request pays at most that.
//!
//! Two things are not hidden:
//!
//! * `delete` removes the record, then returns the cache's error
//!   ([`Error::Unavailable`] or [`Error::Backend`]) if the cache entry could not be
//!   removed: a cached copy may survive until its TTL, and a cache that comes
//!   back with its data (a network partition, a persisted Redis) would serve it, so a
//!   logout must not look complete. Django raises there too.
//! * A save whose cache write failed leaves the previous cached copy in place: if the
//!   cache still holds it when it comes back, loads return that older data until the
//!   next successful save or the entry's TTL. A restarted, empty Redis has no such
//!   copy.
//!
//! Like every cache-aside scheme, a load that read a record just before a concurrent save
//! or delete can put that older row back in the cache; Django has the same window.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use session_api::{
    AsyncSessionStore, Capabilities, Clock, Error, Record, Result, SaveMode, SessionKey,
};
#[cfg(feature = "db")]
use time::OffsetDateTime;

use crate::cache::{ttl_for, Cache, CacheValue};
#[cfg(feature = "db")]
use crate::db::DbStore;

/// Django's cache key prefix of the cached_db backend.
pub const DEFAULT_KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// Where cache failures are logged (Django's logger).
const LOG_TARGET: &str = "django.contrib.sessions";

/// The write-through store over a durable store `D` and a [`Cache`]. See the
/// [module docs](self).
///
/// `D` defaults to `dyn AsyncSessionStore`, so `CachedDbStore` alone names a store
/// over any durable layer; `CachedDbStore<DbStore>` keeps the concrete type (and its
/// account methods).
///
/// ```no_run
/// # async fn demo() -> session_api::Result<()> {
/// use std::sync::Arc;
/// use session_api::{SecretKeys, SessionBackend, SessionConfig};
/// use session_stores::cache::{RedisCache, RedisOptions};
/// use session_stores::cached_db::CachedDbStore;
/// use session_stores::db::{DbOptions, DbStore};
///
/// let config = SessionConfig::builder(SecretKeys::new("django-secret-key")).build()?;
/// let db = DbStore::connect("postgres://app@127.0.0.1/site", DbOptions::from_config(&config)).await?;
/// db.migrate().await?;
/// // Start even when Redis is down: the database serves until it is back.
/// let redis = RedisCache::connect(
///     "redis://127.0.0.1:6379/0",
///     RedisOptions::default().wait_for_connection(false),
/// )
/// .await?;
/// let store = CachedDbStore::new(Arc::new(db), Arc::new(redis.clone()), config.clock.clone());
/// let backend = SessionBackend::from_async(Arc::new(store));
/// # let _ = backend; Ok(()) }
/// ```
pub struct CachedDbStore<D: ?Sized = dyn AsyncSessionStore> {
    durable: Arc<D>,
    cache: Arc<dyn Cache>,
    prefix: String,
    clock: Arc<dyn Clock>,
}

impl<D: fmt::Debug + ?Sized> fmt::Debug for CachedDbStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedDbStore")
            .field("durable", &self.durable)
            .field("cache", &self.cache)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<D: AsyncSessionStore + ?Sized> CachedDbStore<D> {
    /// A store over `durable` and `cache` with Django's prefix ([`DEFAULT_KEY_PREFIX`]),
    /// reading "now" from `clock` for the cache's time to live and liveness: give it
    /// the durable store's clock (see the [module docs](self#clock)).
    pub fn new(durable: Arc<D>, cache: Arc<dyn Cache>, clock: Arc<dyn Clock>) -> Self {
        CachedDbStore {
            durable,
            cache,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            clock,
        }
    }

    /// Sets the cache key prefix.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The durable store. Writing to it directly bypasses the cache: a cached copy
    /// stays loadable until its TTL.
    pub fn durable(&self) -> &Arc<D> {
        &self.durable
    }

    /// The cache (keep a clone of a [`RedisCache`](crate::cache::RedisCache) to reach
    /// the concrete type).
    pub fn cache(&self) -> &Arc<dyn Cache> {
        &self.cache
    }

    /// The cache key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The cache key of a session key: the prefix followed by the key.
    pub fn cache_key(&self, key: &SessionKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    fn cache_failed(&self, what: &str, err: &Error) {
        tracing::warn!(target: LOG_TARGET, "Error {what} cache ({:?}): {err}", self.cache);
    }
}

#[cfg(feature = "db")]
impl CachedDbStore<DbStore> {
    /// The live sessions of `account_id` (see [`DbStore::list_account_sessions`]).
    ///
    /// # Errors
    ///
    /// As [`DbStore::list_account_sessions`].
    pub async fn list_account_sessions(
        &self,
        account_id: i64,
    ) -> Result<Vec<(SessionKey, OffsetDateTime)>> {
        self.durable.list_account_sessions(account_id).await
    }

    /// Deletes every live session of `account_id` from the database and the cache;
    /// returns how many. Use this rather than the [`DbStore`]'s own revoke, which
    /// would leave the cached copies loadable. Expired rows are left to
    /// `clear_expired`.
    ///
    /// # Errors
    ///
    /// As [`DbStore::list_account_sessions`], and as `delete` for each session.
    pub async fn revoke_account_sessions(&self, account_id: i64) -> Result<u64> {
        let mut revoked = 0;
        for (key, _) in self.durable.list_account_sessions(account_id).await? {
            self.adelete(&key).await?;
            revoked += 1;
        }
        Ok(revoked)
    }
}

#[async_trait]
impl<D: AsyncSessionStore + ?Sized> AsyncSessionStore for CachedDbStore<D> {
    /// The durable store's (server side, `clear_expired`, and `list_by_account` where
    /// it lists: `CachedDbStore<DbStore>` has the methods, which keep the cache in
    /// step); never `backend_ttl`, the durable records outliving the cache's.
    fn capabilities(&self) -> Capabilities {
        self.durable.capabilities().with_backend_ttl(false)
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        match self.cache.get(&self.cache_key(key)).await {
            Ok(Some(text)) if CacheValue::live(&text, self.clock.now()).is_some() => {
                return Ok(true)
            }
            Ok(_) => {}
            Err(err) => self.cache_failed("reading from", &err),
        }
        self.durable.aexists(key).await
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        let cache_key = self.cache_key(key);
        let cache_up = match self.cache.get(&cache_key).await {
            Ok(Some(text)) => {
                if let Some((data, expires_at)) = CacheValue::live(&text, self.clock.now()) {
                    return Ok(Some(Record::new(key.clone(), data, expires_at)));
                }
                true
            }
            Ok(None) => true,
            Err(err) => {
                self.cache_failed("reading from", &err);
                false
            }
        };
        // Django's `cached_db` drops a session whose row is missing as it is.
        let Some(record) = self.durable.aload(key).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if cache_up && record.expires_at > now {
            let ttl = ttl_for(record.expires_at, now);
            let filled = match CacheValue::encode(&record.data, record.expires_at) {
                Ok(value) => self.cache.set(&cache_key, &value, ttl).await,
                Err(err) => Err(err),
            };
            if let Err(err) = filled {
                self.cache_failed("saving to", &err);
            }
        }
        Ok(Some(record))
    }

    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let saved = self.durable.asave(record, mode).await?;
        let cache_key = self.cache_key(&saved);
        let ttl = ttl_for(record.expires_at, self.clock.now());
        let written = match CacheValue::encode(&record.data, record.expires_at) {
            Ok(value) => match mode {
                SaveMode::Create => self.cache.set(&cache_key, &value, ttl).await,
                SaveMode::Update => self.cache.replace(&cache_key, &value, ttl).await.map(drop),
            },
            Err(err) => Err(err),
        };
        if let Err(err) = written {
            self.cache_failed("saving to", &err);
        }
        Ok(saved)
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.durable.adelete(key).await?;
        self.cache.delete(&self.cache_key(key)).await
    }

    async fn aclear_expired(&self) -> Result<u64> {
        self.durable.aclear_expired().await
    }
}
