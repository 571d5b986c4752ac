//! The cached database store: Django's `django.contrib.sessions.backends.cached_db`
//! (rule E4). Write-through: a durable store is the record, a [`Cache`] in front of it
//! serves the reads.
//!
//! The durable layer is any [`AsyncSessionStore`] with server-side records: Django's
//! pairing is [the database store](crate::db::DbStore), but the file store (through
//! [`SyncToAsync`](session_api::SyncToAsync)) or a store of your own works the same.
//! Below, "the database" means that layer. What it supports beyond Django's six
//! operations, this store supports too, kept in step with the cache (see
//! [Versions, touches, accounts](self#versions-touches-accounts)).
//!
//! # Guarantees
//!
//! * **A logout is never undone.** Once `delete` returns `Ok`, no load by any process
//!   sharing the database and the cache returns the session, even if the cache was
//!   partitioned, frozen or killed during the logout and comes back with its data.
//! * **A stale cache entry never wins over a newer database write.** Once a `save`
//!   returns `Ok`, every load started afterwards, in any process, returns that data or
//!   newer; a read-modify-write never writes older data back.
//! * Both hold under any interleaving of concurrent loads, saves and deletes.
//!
//! # How
//!
//! * **Leases.** Every cache write is a compare-and-set ([`Cache::compare_and_set`])
//!   against a lease, a unique placeholder value that reads as a miss. A load that
//!   misses puts its lease in the empty slot (or over the entry it rejected), reads
//!   the database, and fills the cache only if its lease is still there. A save puts
//!   its lease first (over whatever is cached), writes the database, then swaps its
//!   lease for the new entry; if another save or delete took the slot meanwhile, it
//!   removes the entry instead. A delete removes the row, then the entry. So a load
//!   that read a row a concurrent write replaced or deleted finds its lease gone and
//!   fills nothing, and the entry left after concurrent saves is the last one's or
//!   none.
//! * **Epochs**, for a cache that cannot be reached. A save or delete that could not
//!   settle the slot (a save whose lease could not be placed, or whose swap and then
//!   removal did not go through; a delete whose removal did not) cannot clear the
//!   older entry, so it distrusts them all: it writes a new random *epoch* token to
//!   the database, then waits 1.25 × the
//!   [epoch interval](CachedDbStore::epoch_interval) (default
//!   [`DEFAULT_EPOCH_INTERVAL`], 1 s) before it returns `Ok`. Every entry carries the
//!   epoch it was written under, and a cache hit is served only if its epoch is the
//!   current one; each process reads the current epoch from the database at most once
//!   per interval (an entry is stamped with an epoch read before its data was), so by
//!   the time the write returns every process rejects the older entries, and the next
//!   load of each session reads the database and fills the cache again. Cache
//!   commands that timed out and reach the cache late are harmless: a lease reads as
//!   a miss, a swap only lands on its own lease, an entry carries its old epoch.
//!
//! The guarantees assume what the tests check: every process sharing the cache uses
//! the same epoch interval, their monotonic clocks run at about the same rate (the
//! quarter is the margin), and the durable store is linearizable for one record (a
//! read started after a write returned sees it: not a lagging read replica).
//!
//! The epoch is a record of the durable store under the reserved key [`EPOCH_KEY`]
//! (40 characters, so never a generated key): `load` and `exists` of that key find
//! nothing, `save` fails ([`Error::Create`] or [`Error::Update`]) and `delete` does
//! nothing, here. A Django site sharing the table sees it as one more session that
//! never expires, holding `{"token": "..."}`.
//!
//! # Cost
//!
//! * A cache hit: one cache read, plus one database read per process per epoch
//!   interval. A miss: a cache read, the lease (one command), the database read and
//!   the fill (one `EVALSHA`). A save: the lease, the database write and the swap
//!   (one `EVALSHA`): two cache commands where Django sends one. A delete: unchanged (the row,
//!   then `DEL`). Over a versioned durable store, a plain save and a touch remove
//!   the entry instead of the swap, so the next load is a miss.
//! * With the cache failing, each save and delete also writes the epoch (concurrent
//!   failures in one process share a write) and waits 1.25 × the interval; each epoch
//!   change turns every cached entry into one miss. Keep the interval equal in every
//!   process that shares the cache: a process reading the epoch less often than the
//!   others wait could serve an entry they distrust.
//! * Cache hits need the epoch: with the database unreachable, loads fail
//!   ([`Error::Unavailable`]) once the process's last epoch read is older than the
//!   interval, where Django's cached_db would serve its cache.
//! * The epoch wait needs a Tokio runtime (as [`RedisCache`](crate::cache::RedisCache)
//!   does).
//!
//! # Operations
//!
//! * `load`: a cache entry that is live by the store's clock, decodes and carries the
//!   current epoch; else the database, and then the cache is filled (under a lease, as
//!   above) with the record's data for the record's remaining age (its `expires_at`,
//!   as the database returned it). A slot holding another operation's lease is read
//!   from the database and not filled.
//! * `save`: the database's semantics (rules D4, D5, H7: an [`Error::Create`] or
//!   [`Error::Update`] there is the result and the lease is removed); the cache as
//!   above. A record saved already expired is not cached (its lease is removed). A failing cache step is logged at ERROR level on target
//!   `django.contrib.sessions` and the save succeeds (Django 5.1+), after the epoch
//!   change; only an epoch that cannot be written fails it.
//! * `exists`: a cache entry as `load` would serve it, else the database.
//! * `delete`: the database row, then the cache entry; when the entry cannot be
//!   removed, the epoch changes (logged at ERROR level) and the delete succeeds. Django
//!   raises the cache's error there instead.
//! * `clear_expired`: the database's; cache entries expire on their own TTL.
//!
//! # Clock
//!
//! The store takes its clock explicitly ([`CachedDbStore::new`]): it computes the
//! cache entries' time to live (`expires_at - now`) and decides whether a cached entry
//! is still live. Give it the clock the durable store uses (the site's
//! `SessionConfig::clock`), so both layers agree on when a session ends; a cached
//! entry never outlives the `expires_at` the database gave, whatever the clock. (The
//! epoch interval is measured on the monotonic clock.)
//!
//! # Cache keys and values
//!
//! In [`CacheFormat::Native`] (the default), the cache key is [`DEFAULT_KEY_PREFIX`]
//! (`django.contrib.sessions.cached_db`, not the cache store's prefix, so the two
//! stores never read each other's entries in a shared cache), a colon
//! ([`KEY_SEPARATOR`]) and the session key. The value is the format of the
//! [cache store](crate::cache) with the epoch added
//! (`{"data":{...},"epoch":"...","expires":"..."}`); a lease is `{"lease":"..."}`.
//! The database holds Django's `session_data`, so a Django site sharing the table
//! reads the sessions (through its own cache entries).
//!
//! # Sharing with Django: [`CacheFormat::Django`]
//!
//! **Pick [`CacheFormat::Django`] when a Django site with
//! `SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"` shares the
//! database table and the Redis** (its `RedisCache`, with the same `KEY_PREFIX` and
//! `VERSION`). Both sides then use one cache entry per session:
//! `<KEY_PREFIX>:<VERSION>:django.contrib.sessions.cached_db<session key>`, holding
//! the pickled dict, as Django's default `RedisSerializer` writes it. What this store
//! writes carries a trailer after the pickle (a NUL byte and
//! `{"epoch":"...","expires":"..."}`), which Python's unpickler ignores; a lease is
//! a pickled `None` with its trailer, which Django reads as a miss (it then reads the
//! database and fills the slot, and this store's pending swap finds its lease gone).
//! So an update, a `cycle_key` or a logout on either side is seen by the other at
//! once: a write replaces or removes the shared entry.
//!
//! What Django's format keeps:
//!
//! * Both guarantees above, for every load by this store and every save or delete made
//!   through it: a hit is served only from an entry this store wrote under the
//!   current epoch. An entry Django wrote has no epoch, so it is never served here: it
//!   costs one database read, and the fill replaces it with a stamped copy of the row
//!   (Django reads that copy as usual).
//!
//! What it gives up, because Django knows nothing of leases and epochs:
//!
//! * **Django's reads ignore the epoch.** After a save or delete made here while the
//!   cache could not be reached, this store's processes never serve the older entry
//!   again, but a Django process serves it (until its TTL) if the cache comes back
//!   with it, as Django's own cached_db does after a failed cache write.
//! * **Django's writes do not change the epoch.** A Django logout or save whose cache
//!   step fails (Django raises the error of the delete and logs the one of the set)
//!   leaves the older entry, and an entry this store wrote is served here until its
//!   TTL (Django's processes serve it too).
//! * **Django's load can put an older row back.** Django fills the cache with
//!   `cache.set` after reading the row, without a lease: a Django load racing a save
//!   made here can leave the older row in the cache. Django's processes may serve
//!   it; this store does not (it has no epoch), and reads the database instead.
//! * The data must fit the pickle limits (see the [cache store](crate::cache)): a
//!   save of more is refused before the database is written, and a pickle beyond them
//!   (written by Django) is not served from the cache: the database answers.
//!
//! # Versions, touches, accounts
//!
//! The capabilities are the durable store's (rules V1, V4, S5), each forwarded:
//!
//! * **Versions** are the durable store's (a counter column for the database): a
//!   cached entry carries the version of the record it copies (`"version":<n>` before
//!   the stamp, in the JSON of [`CacheFormat::Native`] and in the trailer of
//!   [`CacheFormat::Django`], which Django reads past), so a cached load gives the
//!   version a database load would. `asave_if` is the durable store's, then the swap
//!   above with the version it returned. A plain save (`asave`, a create) returns no
//!   version, so over a versioned durable store it leaves no entry (its lease is
//!   removed) and the next load fills the cache from the database; an entry without
//!   a version (written before, or by a store over the same cache without versions)
//!   is not served over a versioned durable store. Over an unversioned one (Django's
//!   table with [`Versioning::Off`](crate::db::Versioning::Off)) saves fill the cache
//!   as always and loads give no version.
//! * **`atouch`** is the durable store's, under a lease like a save: the cached copy
//!   goes, so no load racing the touch can put the old expiry or version back, and
//!   the next load fills it again.
//! * **`alookup`**: a cache hit, else the durable store's lookup (`Expired` where it
//!   tells).
//! * **The account index** is the durable store's ([`AsyncSessionStore::accounts`]:
//!   `Some` when it has one). `arevoke_all` and `arevoke_all_except` list the
//!   account's sessions there and delete each through this store (database, then
//!   cache, as `delete`), so no cached copy of a revoked session stays loadable; do
//!   not revoke through the durable store directly.
//!
//! # When the cache fails
//!
//! Reads and writes go on from the database: a failing cache read is logged and the
//! record is read from the database (and the cache is not filled); failing cache
//! writes are logged and handled by the epoch. With
//! [`RedisCache`](crate::cache::RedisCache), commands fail at once while Redis is down
//! and after the command timeout when it hangs, so each request pays at most that,
//! plus the epoch wait for a save or delete.
//!
//! # Limits
//!
//! * A database write that returns an error may still have been applied (a timeout
//!   after the statement was sent); if the cache also failed, an older cached copy can
//!   hide it until the next save or the entry's TTL.
//! * Writing to the durable store directly ([`durable`](CachedDbStore::durable))
//!   bypasses the cache: a cached copy stays loadable until its TTL.
//! * Whoever can write to the cache can write sessions and epochs (nothing in the
//!   cache is signed): keep it private.

mod accounts;
mod epoch;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use session_api::store::{AsyncAccountSessions, Lookup, Version};
use session_api::{
    AsyncSessionStore, Capabilities, Clock, Error, Record, Result, SaveMode, SessionKey,
};
use time::OffsetDateTime;

use self::epoch::Epoch;
use crate::cache::{ttl_for, Body, Cache, CacheFormat, CacheValue, Meta, Stamp};

pub use crate::cache::KEY_SEPARATOR;

/// Django's cache key prefix of the cached_db backend.
pub const DEFAULT_KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// How often each process reads the epoch at most, and (× 1.25) how long a write
/// whose cache step failed waits before it returns (see the [module docs](self#how)).
pub const DEFAULT_EPOCH_INTERVAL: Duration = Duration::from_secs(1);

/// The reserved key of the epoch record in the durable store (see the
/// [module docs](self#how)): 40 characters, where generated keys have 32.
pub const EPOCH_KEY: &str = "cacheddbepoch000000000000000000000000000";

/// How long a lease holds a cache slot: longer than a database write takes. A lease
/// left by a process that died reads as a miss and blocks fills until then.
const LEASE_TTL: Duration = Duration::from_secs(5);

/// Where cache failures are logged (Django's logger).
const LOG_TARGET: &str = "django.contrib.sessions";

/// The write-through store over a durable store `D` and a [`Cache`]. See the
/// [module docs](self).
///
/// `D` defaults to `dyn AsyncSessionStore`, so `CachedDbStore` alone names a store
/// over any durable layer; `CachedDbStore<DbStore>` keeps the concrete type.
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
    format: CacheFormat,
    clock: Arc<dyn Clock>,
    interval: Duration,
    epoch: Epoch,
}

impl<D: fmt::Debug + ?Sized> fmt::Debug for CachedDbStore<D> {
    /// The layers, the prefix and the interval; never a key, an epoch or data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedDbStore")
            .field("durable", &self.durable)
            .field("cache", &self.cache)
            .field("prefix", &self.prefix)
            .field("format", &self.format)
            .field("epoch_interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// A fresh random token (a lease or an epoch).
fn token() -> String {
    SessionKey::generate().as_str().to_owned()
}

fn is_epoch_key(key: &SessionKey) -> bool {
    key.as_str() == EPOCH_KEY
}

impl<D: AsyncSessionStore + ?Sized> CachedDbStore<D> {
    /// A store over `durable` and `cache` with Django's prefix ([`DEFAULT_KEY_PREFIX`])
    /// and the default epoch interval, reading "now" from `clock` for the cache's time
    /// to live and liveness: give it the durable store's clock (see the
    /// [module docs](self#clock)).
    pub fn new(durable: Arc<D>, cache: Arc<dyn Cache>, clock: Arc<dyn Clock>) -> Self {
        CachedDbStore {
            durable,
            cache,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            format: CacheFormat::Native,
            clock,
            interval: DEFAULT_EPOCH_INTERVAL,
            epoch: Epoch::default(),
        }
    }

    /// Sets the store's key prefix: in Django's format, the backend's
    /// `cache_key_prefix` (keep the default to share with Django's cached_db).
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the cache key layout and value format (default [`CacheFormat::Native`];
    /// pick [`CacheFormat::Django`] to share sessions with a Django site, see the
    /// [module docs](self#sharing-with-django-cacheformatdjango)).
    #[must_use]
    pub fn format(mut self, format: CacheFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets the epoch interval (at least 1 ms; default [`DEFAULT_EPOCH_INTERVAL`]):
    /// how often the process reads the epoch at most, and (× 1.25) how long a save or
    /// delete whose cache step failed waits. Give every process sharing the cache the
    /// same interval (see the [module docs](self#cost)).
    #[must_use]
    pub fn epoch_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
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

    /// The store's key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The cache key layout and value format.
    pub fn cache_format(&self) -> &CacheFormat {
        &self.format
    }

    /// The cache key of a session key (see [`CacheFormat::cache_key`]).
    pub fn cache_key(&self, key: &SessionKey) -> String {
        self.format.cache_key(&self.prefix, key)
    }

    fn lease(&self) -> Vec<u8> {
        CacheValue::lease(&self.format, &token())
    }

    /// Rule E4: Django 5.1+ logs a failed cache write with `logger.exception`, i.e. at
    /// ERROR level, on `django.contrib.sessions`.
    fn cache_failed(&self, what: &str, err: &Error) {
        tracing::error!(target: LOG_TARGET, "Error {what} cache ({:?}): {err}", self.cache);
    }

    /// Whether durable versions are copied into the entries (rule V1): then an
    /// entry without one (written before, or after a plain save) is not served.
    fn versioned(&self) -> bool {
        self.durable.capabilities().versioned
    }

    /// The record `bytes` holds, if it is an entry to serve: not a lease, the current
    /// epoch, live, and carrying the durable version where there is one.
    async fn trusted(&self, key: &SessionKey, bytes: &[u8]) -> Result<Option<Record>> {
        let value = CacheValue::decode(&self.format, bytes);
        if value.lease || value.epoch.is_none() || (self.versioned() && value.version.is_none()) {
            return Ok(None);
        }
        let epoch = self.epoch().await?;
        if value.epoch.as_deref() != Some(epoch.as_str()) {
            return Ok(None);
        }
        let version = value.version;
        Ok(value.into_live(self.clock.now()).map(|(data, expires_at)| {
            Record::new(key.clone(), data, expires_at).with_version(version)
        }))
    }

    /// A load's fill: the lease in the slot it found (`observed`), the database read,
    /// the swap of the lease for the entry. `None` when the slot is not free to take.
    async fn take_slot(
        &self,
        cache_key: &str,
        observed: Option<&[u8]>,
        now: &Stamp,
    ) -> Option<Vec<u8>> {
        let lease = self.lease();
        let taken = match observed {
            None => self.cache.add(cache_key, &lease, LEASE_TTL, now).await,
            Some(bytes) if CacheValue::decode(&self.format, bytes).lease => return None,
            Some(bytes) => {
                self.cache
                    .compare_and_set(cache_key, bytes, &lease, LEASE_TTL)
                    .await
            }
        };
        match taken {
            Ok(true) => Some(lease),
            Ok(false) => None,
            Err(err) => {
                self.cache_failed("saving to", &err);
                None
            }
        }
    }

    /// A write through both layers (see the [module docs](self#how)): the lease,
    /// then `write` on the durable store, then the swap of the lease for the entry of
    /// `body` expiring at `expires_at` with the version `write` gives, or the lease's
    /// removal when there is nothing to cache (no body, as for a touch; an expired
    /// record; a versioned durable store that gave no version, as a plain save). A
    /// failing durable write is the result, its lease removed.
    async fn through<T>(
        &self,
        key: &SessionKey,
        body: Option<Body>,
        expires_at: OffsetDateTime,
        write: impl Future<Output = Result<(T, Option<Version>)>> + Send,
    ) -> Result<T> {
        // Read before the write, so the entry's stamp is never newer than its data.
        let epoch = self.epoch().await?;
        let cache_key = self.cache_key(key);
        let lease = self.lease();
        let leased = match self.cache.set(&cache_key, &lease, LEASE_TTL).await {
            Ok(()) => true,
            Err(err) => {
                // Logged once; the epoch settles this write (no second timeout).
                self.cache_failed("saving to", &err);
                false
            }
        };
        let (written, version) = match write.await {
            Ok(written) => written,
            Err(err) => {
                if leased {
                    // Frees the slot for the next fill; a lease left reads as a miss.
                    let _ = self.cache.delete(&cache_key).await;
                }
                return Err(err);
            }
        };
        let after = Instant::now();
        if !leased {
            self.change_epoch(after).await?;
            return Ok(written);
        }
        let now = self.clock.now();
        let entry = body.filter(|_| expires_at > now && (version.is_some() || !self.versioned()));
        let swapped = match entry {
            // Nothing to cache (and, expired, nothing for Django to read): the lease
            // goes below.
            None => Ok(false),
            Some(body) => match body.finish(
                Meta {
                    epoch: Some(&epoch),
                    version,
                },
                expires_at,
            ) {
                Ok(entry) => {
                    self.cache
                        .compare_and_set(&cache_key, &lease, &entry, ttl_for(expires_at, now))
                        .await
                }
                Err(err) => Err(err),
            },
        };
        let failure = match swapped {
            Ok(true) => return Ok(written),
            // Another write or delete took the slot, or there is nothing to cache:
            // remove whatever is there.
            Ok(false) => None,
            Err(err) => Some(err),
        };
        match self.cache.delete(&cache_key).await {
            Ok(()) => {
                if let Some(err) = failure {
                    self.cache_failed("saving to", &err);
                }
            }
            Err(err) => {
                self.cache_failed("saving to", &err);
                self.change_epoch(after).await?;
            }
        }
        Ok(written)
    }

    /// Refuses, before the database is written, data the cache's format cannot hold
    /// (Django's pickle limits) or an expiry no stamp can hold.
    fn body(&self, record: &Record) -> Result<Body> {
        Stamp::at(record.expires_at)?;
        Body::of(&self.format, &record.data)
    }
}

/// The error a write of the reserved epoch key gets here (see [`EPOCH_KEY`]).
fn reserved(mode: SaveMode) -> Error {
    match mode {
        SaveMode::Create => Error::Create,
        SaveMode::Update => Error::Update,
    }
}

#[async_trait]
impl<D: AsyncSessionStore + ?Sized> AsyncSessionStore for CachedDbStore<D> {
    /// The durable store's (server side, `clear_expired`, `versioned`, `touch`,
    /// `list_by_account`, each kept in step with the cache here); never
    /// `backend_ttl`, the durable records outliving the cache's.
    fn capabilities(&self) -> Capabilities {
        self.durable.capabilities().with_backend_ttl(false)
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        if is_epoch_key(key) {
            return Ok(false);
        }
        match self.cache.get(&self.cache_key(key)).await {
            Ok(Some(text)) if self.trusted(key, &text).await?.is_some() => return Ok(true),
            Ok(_) => {}
            Err(err) => self.cache_failed("reading from", &err),
        }
        self.durable.aexists(key).await
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        Ok(self.alookup(key).await?.into_record())
    }

    /// A cache hit is `Found`; otherwise the durable store's lookup (`Expired` where
    /// it tells), and a found record fills the cache.
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        if is_epoch_key(key) {
            return Ok(Lookup::Missing);
        }
        let cache_key = self.cache_key(key);
        let observed = match self.cache.get(&cache_key).await {
            Ok(observed) => observed,
            Err(err) => {
                // No fill: the slot cannot be leased.
                self.cache_failed("reading from", &err);
                return self.durable.alookup(key).await;
            }
        };
        if let Some(text) = &observed {
            if let Some(record) = self.trusted(key, text).await? {
                return Ok(Lookup::Found(record));
            }
        }
        // Read before the row, so the entry's stamp is never newer than its data.
        let epoch = self.epoch().await?;
        let stamp = Stamp::at(self.clock.now())?;
        let lease = self
            .take_slot(&cache_key, observed.as_deref(), &stamp)
            .await;
        // Django's `cached_db` drops a session whose row is missing as it is.
        let record = match self.durable.alookup(key).await? {
            Lookup::Found(record) => record,
            other => return Ok(other),
        };
        let now = self.clock.now();
        let fill = lease
            .filter(|_| record.expires_at > now && (record.version.is_some() || !self.versioned()));
        if let Some(lease) = fill {
            let meta = Meta {
                epoch: Some(&epoch),
                version: record.version,
            };
            let filled =
                match CacheValue::encode(&self.format, &record.data, record.expires_at, meta) {
                    Ok(value) => {
                        let ttl = ttl_for(record.expires_at, now);
                        self.cache
                            .compare_and_set(&cache_key, &lease, &value, ttl)
                            .await
                    }
                    Err(err) => Err(err),
                };
            if let Err(err) = filled {
                self.cache_failed("saving to", &err);
            }
        }
        Ok(Lookup::Found(record))
    }

    /// On a versioned durable store the entry is not refilled (the new version is
    /// not known here): the next load reads the database and fills it.
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        if is_epoch_key(&record.key) {
            return Err(reserved(mode));
        }
        let body = self.body(record)?;
        self.through(&record.key, Some(body), record.expires_at, async {
            Ok((self.durable.asave(record, mode).await?, None))
        })
        .await
    }

    /// The durable store's versioned save; the entry then carries the version it
    /// returns, so a cached load gives what a database load would.
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        if is_epoch_key(&record.key) {
            return Err(Error::Update);
        }
        let body = self.body(record)?;
        self.through(&record.key, Some(body), record.expires_at, async {
            let version = self.durable.asave_if(record, expected).await?;
            Ok((version, Some(version)))
        })
        .await
    }

    /// The durable store's touch; the cached entry goes (under a lease, so no load
    /// racing the touch puts the old expiry or version back), and the next load
    /// fills it again.
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        if is_epoch_key(key) {
            return Err(Error::Update);
        }
        self.through(key, None, expires_at, async {
            self.durable.atouch(key, expires_at).await?;
            Ok(((), None))
        })
        .await
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        if is_epoch_key(key) {
            return Ok(());
        }
        self.durable.adelete(key).await?;
        let after = Instant::now();
        if let Err(err) = self.cache.delete(&self.cache_key(key)).await {
            self.cache_failed("deleting from", &err);
            self.change_epoch(after).await?;
        }
        Ok(())
    }

    async fn aclear_expired(&self) -> Result<u64> {
        self.durable.aclear_expired().await
    }

    /// The durable store's index, where it has one; revoking goes through this
    /// store's delete, so the cached copies go too.
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.durable
            .accounts()
            .map(|_| self as &dyn AsyncAccountSessions)
    }
}
