//! The cached database store: Django's `django.contrib.sessions.backends.cached_db`
//! (rule E4). Write-through: the database ([`DbStore`]) is the record, a [`Cache`] in
//! front of it serves the reads.
//!
//! * `load`: the cache; on a miss (or an entry that is expired by the store's clock, or
//!   does not decode), the database, and then the cache is filled with the row's data
//!   for the row's remaining age.
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
//! row is read (and the cache is not filled); a failing cache write is logged. With
//! [`RedisCache`](crate::cache::RedisCache), commands fail at once while Redis is down
//! and after the command timeout when it hangs, so each request pays at most that.
//!
//! Two things are not hidden:
//!
//! * `delete` removes the row, then returns [`Error::Backend`] if the cache entry could
//!   not be removed: a cached copy may survive until its TTL, and a cache that comes
//!   back with its data (a network partition, a persisted Redis) would serve it, so a
//!   logout must not look complete. Django raises there too.
//! * A save whose cache write failed leaves the previous cached copy in place: if the
//!   cache still holds it when it comes back, loads return that older data until the
//!   next successful save or the entry's TTL. A restarted, empty Redis has no such
//!   copy.
//!
//! Like every cache-aside scheme, a load that read a row just before a concurrent save
//! or delete can put that older row back in the cache; Django has the same window.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use session_api::{AsyncSessionStore, Capabilities, Clock, Error, Result, SessionData, SessionKey};
use time::OffsetDateTime;

use crate::cache::{ttl_for, Cache, CacheValue};
use crate::db::DbStore;

/// Django's cache key prefix of the cached_db backend.
pub const DEFAULT_KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// Where cache failures are logged (Django's logger).
const LOG_TARGET: &str = "django.contrib.sessions";

/// The write-through store over a [`DbStore`] and a [`Cache`]. See the
/// [module docs](self).
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
/// let store = CachedDbStore::new(Arc::new(db), Arc::new(redis));
/// let backend = SessionBackend::from_async(Arc::new(store));
/// # let _ = backend; Ok(()) }
/// ```
pub struct CachedDbStore {
    db: Arc<DbStore>,
    cache: Arc<dyn Cache>,
    prefix: String,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for CachedDbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedDbStore")
            .field("db", &self.db)
            .field("cache", &self.cache)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl CachedDbStore {
    /// A store over `db` and `cache` with Django's prefix ([`DEFAULT_KEY_PREFIX`]),
    /// reading "now" from the database store's clock, so both layers agree on expiry.
    pub fn new(db: Arc<DbStore>, cache: Arc<dyn Cache>) -> Self {
        CachedDbStore {
            clock: Arc::clone(db.clock()),
            db,
            cache,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
        }
    }

    /// Sets the cache key prefix.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The database store.
    pub fn db(&self) -> &Arc<DbStore> {
        &self.db
    }

    /// The cache.
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

    /// The live sessions of `account_id` (see [`DbStore::list_account_sessions`]).
    ///
    /// # Errors
    ///
    /// As [`DbStore::list_account_sessions`].
    pub async fn list_account_sessions(
        &self,
        account_id: i64,
    ) -> Result<Vec<(SessionKey, OffsetDateTime)>> {
        self.db.list_account_sessions(account_id).await
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
        for (key, _) in self.db.list_account_sessions(account_id).await? {
            self.adelete(&key).await?;
            revoked += 1;
        }
        Ok(revoked)
    }

    /// The data of `key`'s row if live and decodable, with the row's expiry when the
    /// data may be cached.
    async fn load_row(
        &self,
        key: &SessionKey,
    ) -> Result<Option<(SessionData, Option<OffsetDateTime>)>> {
        let (text, expires_at) = match self.db.read_raw(key).await {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(None),
            // An unreadable expire_date: the database's own load decides, and nothing
            // is cached.
            Err(Error::Serialization(_)) => {
                return Ok(self.db.aload(key).await?.map(|data| (data, None)))
            }
            Err(err) => return Err(err),
        };
        if expires_at <= self.clock.now() {
            return Ok(None);
        }
        match self.db.codec().try_decode(&text) {
            Ok(data) => Ok(Some((data, Some(expires_at)))),
            Err(err) => {
                // Rule F7: a bad signature is logged; other decoding failures are not.
                if err.is_bad_signature() {
                    tracing::warn!(target: "django.security.SuspiciousSession", "Session data corrupted");
                }
                Ok(None)
            }
        }
    }

    fn cache_failed(&self, what: &str, err: &Error) {
        tracing::warn!(target: LOG_TARGET, "Error {what} cache ({:?}): {err}", self.cache);
    }
}

#[async_trait]
impl AsyncSessionStore for CachedDbStore {
    fn capabilities(&self) -> Capabilities {
        // The database's: server side, clear_expired, account listing when configured
        // (revoking goes through this store, so the cache follows).
        self.db.capabilities().with_backend_ttl(false)
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        match self.cache.get(&self.cache_key(key)).await {
            Ok(Some(text)) if CacheValue::live_data(&text, self.clock.now()).is_some() => {
                return Ok(true)
            }
            Ok(_) => {}
            Err(err) => self.cache_failed("reading from", &err),
        }
        self.db.aexists(key).await
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<SessionData>> {
        let cache_key = self.cache_key(key);
        let cache_up = match self.cache.get(&cache_key).await {
            Ok(Some(text)) => {
                if let Some(data) = CacheValue::live_data(&text, self.clock.now()) {
                    return Ok(Some(data));
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
        let Some((data, expires_at)) = self.load_row(key).await? else {
            return Ok(None);
        };
        if let (true, Some(expires_at)) = (cache_up, expires_at) {
            let ttl = ttl_for(expires_at, self.clock.now());
            let filled = match CacheValue::encode(&data, expires_at) {
                Ok(value) => self.cache.set(&cache_key, &value, ttl).await,
                Err(err) => Err(err),
            };
            if let Err(err) = filled {
                self.cache_failed("saving to", &err);
            }
        }
        Ok(Some(data))
    }

    async fn asave(
        &self,
        key: &SessionKey,
        data: &SessionData,
        expires_at: OffsetDateTime,
        must_create: bool,
    ) -> Result<SessionKey> {
        let saved = self.db.asave(key, data, expires_at, must_create).await?;
        let cache_key = self.cache_key(key);
        let ttl = ttl_for(expires_at, self.clock.now());
        let written = match CacheValue::encode(data, expires_at) {
            Ok(value) if must_create => self.cache.set(&cache_key, &value, ttl).await,
            Ok(value) => self.cache.replace(&cache_key, &value, ttl).await.map(drop),
            Err(err) => Err(err),
        };
        if let Err(err) = written {
            self.cache_failed("saving to", &err);
        }
        Ok(saved)
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.db.adelete(key).await?;
        self.cache.delete(&self.cache_key(key)).await
    }

    async fn aclear_expired(&self) -> Result<u64> {
        self.db.aclear_expired().await
    }
}
