//! [`CacheStore`], the session store over a [`Cache`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use session_api::store::{auth_account_id, AsyncAccountSessions, Lookup, Version};
use session_api::{
    AsyncSessionStore, Capabilities, Clock, Error, Record, Result, SaveMode, SessionData,
    SessionKey, SystemClock,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::accounts::{score_of, unix_millis};
use super::revision::revise;
use super::{
    stored_version, ttl_for, Cache, CacheFormat, CacheValue, Meta, Replaced, Stamp, Touched,
    DEFAULT_KEY_PREFIX, MAX_TTL,
};

/// Whether a [`CacheStore`] versions its records (rule V1).
///
/// ```
/// use std::sync::Arc;
/// use session_stores::cache::{CacheStore, CacheVersioning, MemoryCache};
/// // Django's last-writer-wins saves, for a Redis where a compare costs a script.
/// let store = CacheStore::new(Arc::new(MemoryCache::default()))
///     .versioning(CacheVersioning::Off);
/// # let _ = store;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CacheVersioning {
    /// The default: loads carry the value's version ([`stored_version`]) and
    /// `asave_if` writes only over it, so the session handle merges concurrent
    /// changes (V2).
    #[default]
    Versioned,
    /// No versions: the store declares `versioned: false`, loads carry none, and the
    /// handle saves plainly, the later save winning as in Django. What it saves is a
    /// plain `SET XX PX` on Redis, where a versioned save on a server without
    /// `SET ... IFEQ` runs a script (docs/concurrency.md, "Cost").
    Off,
}

/// The session store over a [`Cache`]. See the [module docs](super) for the formats
/// and the semantics.
pub struct CacheStore {
    pub(super) cache: Arc<dyn Cache>,
    prefix: String,
    format: CacheFormat,
    pub(super) clock: Arc<dyn Clock>,
    account_index: bool,
    versioning: CacheVersioning,
}

impl fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheStore")
            .field("cache", &self.cache)
            .field("prefix", &self.prefix)
            .field("format", &self.format)
            .field("account_index", &self.account_index)
            .field("versioning", &self.versioning)
            .finish_non_exhaustive()
    }
}

/// A replace's outcome as the store reports it: a vanished record is never
/// re-created (rules D5, H2), nor one whose stored expiry passed (H7, removed by the
/// cache); another version is a conflict (V1).
fn replaced(outcome: Replaced) -> Result<()> {
    match outcome {
        Replaced::Stored => Ok(()),
        Replaced::Absent | Replaced::Expired => Err(Error::Update),
        Replaced::Conflict => Err(Error::Conflict),
    }
}

/// "Now" plus `ttl`, saturating: the expiry of an entry Django wrote, which only its
/// time to live records (none: it does not expire, [`MAX_TTL`] stands in).
pub(crate) fn expiry_from_ttl(
    now: OffsetDateTime,
    ttl: Option<std::time::Duration>,
) -> OffsetDateTime {
    let ttl = ttl.unwrap_or(MAX_TTL);
    time::Duration::try_from(ttl)
        .ok()
        .and_then(|age| now.checked_add(age))
        .unwrap_or(PrimitiveDateTime::MAX.assume_utc())
}

/// How far "now" on the store's clock may be from the real time for the clock to
/// count as the system clock.
const REAL_TIME: time::Duration = time::Duration::milliseconds(10);

/// The stamp an update must be checked against (rule H7), or `None` when the store's
/// clock reads the real time: then every time to live this store gave ends by its
/// entry's stamp ([`ttl_for`] rounds down; the cache counts it from the write), so an
/// entry the cache still holds is live, up to the latency of the write that set it.
/// Any other clock (a `ManualClock` in tests) moves apart from the cache's.
fn stamp_check(now: OffsetDateTime, stamp: &Stamp) -> Option<&Stamp> {
    let real = (now - OffsetDateTime::now_utc()).abs() <= REAL_TIME;
    (!real).then_some(stamp)
}

impl CacheStore {
    /// A store over `cache` with Django's prefix ([`DEFAULT_KEY_PREFIX`]) in
    /// [`CacheFormat::Native`], on the system clock.
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        CacheStore {
            cache,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            format: CacheFormat::Native,
            clock: Arc::new(SystemClock),
            account_index: false,
            versioning: CacheVersioning::Versioned,
        }
    }

    /// Whether records are versioned ([`CacheVersioning::Versioned`], the default).
    #[must_use]
    pub fn versioning(mut self, versioning: CacheVersioning) -> Self {
        self.versioning = versioning;
        self
    }

    fn versioned(&self) -> bool {
        self.versioning == CacheVersioning::Versioned
    }

    /// Keeps an account index (rule S5, default off): every save files the session
    /// under the account of its data, and [`accounts`](AsyncSessionStore::accounts)
    /// lists and revokes an account's sessions. Each save or touch of a session with
    /// an account then costs one more command, and a delete reads the value it
    /// removes (`GETDEL`). How the index stays right without a multi-key write (it
    /// works on a Cluster): the [module docs](super#account-index). Sessions that a
    /// Django site writes in [`CacheFormat::Django`] are not indexed.
    #[must_use]
    pub fn account_index(mut self, on: bool) -> Self {
        self.account_index = on;
        self
    }

    /// Sets the store's key prefix: in Django's format, the backend's
    /// `cache_key_prefix` (keep the default to share with Django's cache backend).
    /// Give the cache and cached_db stores different prefixes when they share a cache
    /// (the defaults differ).
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the key layout and value format (default [`CacheFormat::Native`]; pick
    /// [`CacheFormat::Django`] to share sessions with a Django site).
    #[must_use]
    pub fn format(mut self, format: CacheFormat) -> Self {
        self.format = format;
        self
    }

    /// Sets where "now" comes from (the site's `SessionConfig::clock`; a `ManualClock`
    /// in tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The store's key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key layout and value format.
    pub fn cache_format(&self) -> &CacheFormat {
        &self.format
    }

    /// The cache, as the trait object the store holds. To keep the concrete cache
    /// (a [`RedisCache`](super::RedisCache) for its `quit` or its `fred` client), keep
    /// a clone of it: `RedisCache` is a cheap handle (`Clone`) on one connection.
    pub fn cache(&self) -> &Arc<dyn Cache> {
        &self.cache
    }

    /// The cache key of a session key (see [`CacheFormat::cache_key`]).
    pub fn cache_key(&self, key: &SessionKey) -> String {
        self.format.cache_key(&self.prefix, key)
    }

    /// The cache key of an account's index (see [`CacheFormat::index_key`]); used
    /// only with [`account_index`](Self::account_index) on.
    pub fn index_key(&self, account: i64) -> String {
        self.format.index_key(&self.prefix, account)
    }

    /// The value of `record` in the store's format; in the native format with a
    /// revision before the stamp (see [`stored_version`]).
    fn encode(&self, record: &Record) -> Result<Vec<u8>> {
        let mut value = CacheValue::encode(
            &self.format,
            &record.data,
            record.expires_at,
            Meta::default(),
        )?;
        if !self.format.is_django() {
            revise(&mut value);
        }
        Ok(value)
    }

    /// The stored bytes under `key` and their reading, the expiry filled in from the
    /// time to live for an entry Django wrote (its only record of it).
    pub(super) async fn read(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<Option<(Vec<u8>, CacheValue)>> {
        let cache_key = self.cache_key(key);
        Ok(match &self.format {
            CacheFormat::Native => self.cache.get(&cache_key).await?.map(|bytes| {
                let value = CacheValue::decode(&self.format, &bytes);
                (bytes, value)
            }),
            CacheFormat::Django { .. } => {
                self.cache
                    .get_with_ttl(&cache_key)
                    .await?
                    .map(|(bytes, ttl)| {
                        let mut value = CacheValue::decode(&self.format, &bytes);
                        // Django's entries carry no stamp: their time to live is
                        // their expiry (Django sets it to the session's age).
                        value.expires_at = Some(
                            value
                                .expires_at
                                .unwrap_or_else(|| expiry_from_ttl(now, ttl)),
                        );
                        (bytes, value)
                    })
            }
        })
    }

    /// What follows a write of `data` expiring at `expires_at` under `key`: in
    /// Django's format an expired session is removed (Django reads no stamp, and its
    /// cache deletes on a timeout of 0 or less); with the account index, a live
    /// session with an account is filed under it. A failed filing removes the
    /// session (a logout) before the error returns, so no session outlives its
    /// place in the index (what lets [`arevoke_all`](AsyncAccountSessions::arevoke_all)
    /// miss none).
    async fn settle(
        &self,
        key: &SessionKey,
        data: Option<&SessionData>,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        let cache_key = self.cache_key(key);
        if expires_at <= now {
            if self.format.is_django() {
                self.cache.delete(&cache_key).await?;
            }
            return Ok(());
        }
        let Some(account) = data
            .and_then(auth_account_id)
            .filter(|_| self.account_index)
        else {
            return Ok(());
        };
        let filed = self
            .cache
            .index_add(
                &self.index_key(account),
                key.as_str(),
                score_of(expires_at),
                ttl_for(expires_at, now),
                unix_millis(now),
            )
            .await;
        if let Err(err) = filed {
            let _ = self.cache.delete(&cache_key).await;
            return Err(err);
        }
        Ok(())
    }

    /// Stores `raw` as is under `key`'s cache key, live for the remaining age up to
    /// `expires_at`. For tools and tests (planting records); normal writes go through
    /// the session API.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] or [`Error::Backend`] when the cache fails.
    pub async fn write_raw(
        &self,
        key: &SessionKey,
        raw: impl AsRef<[u8]>,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let ttl = ttl_for(expires_at, self.clock.now());
        self.cache
            .set(&self.cache_key(key), raw.as_ref(), ttl)
            .await
    }

    /// The stored bytes under `key`'s cache key, expired by the store's clock or not.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] or [`Error::Backend`] when the cache fails.
    pub async fn read_raw(&self, key: &SessionKey) -> Result<Option<Vec<u8>>> {
        self.cache.get(&self.cache_key(key)).await
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
            .with_versioned(self.versioned())
            .with_touch(true)
            .with_list_by_account(self.account_index)
    }

    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        let now = self.clock.now();
        let Some(bytes) = self.cache.get(&self.cache_key(key)).await? else {
            return Ok(false);
        };
        // An undecodable value is present; one whose stored expiry passed is not (H7).
        let stored = CacheValue::decode(&self.format, &bytes).expires_at;
        Ok(stored.is_none_or(|at| at > now))
    }

    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        Ok(self.alookup(key).await?.into_record())
    }

    /// `Expired` for an entry the cache still holds whose stamp has passed on the
    /// store's clock (read before its time to live removed it); an entry the time to
    /// live removed is `Missing`, as is an undecodable one.
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        let now = self.clock.now();
        let Some((bytes, value)) = self.read(key, now).await? else {
            return Ok(Lookup::Missing);
        };
        if value.expires_at.is_some_and(|at| at <= now) {
            return Ok(Lookup::Expired);
        }
        Ok(match value.into_live(now) {
            Some((data, expires_at)) => Lookup::Found(
                Record::new(key.clone(), data, expires_at)
                    .with_version(self.versioned().then(|| stored_version(&bytes))),
            ),
            None => Lookup::Missing,
        })
    }

    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let key = &record.key;
        let now = self.clock.now();
        let stamp = Stamp::at(now)?;
        let value = self.encode(record)?;
        let ttl = ttl_for(record.expires_at, now);
        let cache_key = self.cache_key(key);
        match mode {
            SaveMode::Create => {
                if !self.cache.add(&cache_key, &value, ttl, &stamp).await? {
                    return Err(Error::Create);
                }
            }
            SaveMode::Update => replaced(
                self.cache
                    .replace(&cache_key, &value, ttl, stamp_check(now, &stamp))
                    .await?,
            )?,
        }
        self.settle(key, Some(&record.data), record.expires_at, now)
            .await?;
        Ok(key.clone())
    }

    /// One command (Redis: one script) that compares the stored value's version
    /// ([`stored_version`]: in the native format its revision, read from its last
    /// bytes) with `expected` and writes; the new version is that of what it wrote.
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        if !self.versioned() {
            return Err(Error::Unsupported("versioned saves"));
        }
        let now = self.clock.now();
        let stamp = Stamp::at(now)?;
        let value = self.encode(record)?;
        let ttl = ttl_for(record.expires_at, now);
        let cache_key = self.cache_key(&record.key);
        replaced(
            self.cache
                .replace_if_version(&cache_key, expected, &value, ttl, &stamp)
                .await?,
        )?;
        self.settle(&record.key, Some(&record.data), record.expires_at, now)
            .await?;
        Ok(stored_version(&value))
    }

    /// Rewrites the value's stamp (and revision) and its time to live in one
    /// command; the data stays, the version changes (V3: a new revision, or for a
    /// value without one the digest, which covers the stamp).
    ///
    /// The exception to V3: an entry without a stamp (written by Django, in
    /// [`CacheFormat::Django`](super::CacheFormat::Django)) only gets its time to
    /// live, so its bytes and its version stay. The session handle forgets its version
    /// after a touch, so that is harmless there; a caller of this store holding the
    /// version from before the touch can still `asave_if` over it, writing its own
    /// expiry over the touched one (its data base is still the stored data).
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let now = self.clock.now();
        let touched = self
            .cache
            .touch(
                &self.cache_key(key),
                &Stamp::at(expires_at)?,
                ttl_for(expires_at, now),
                &Stamp::at(now)?,
                self.account_index,
            )
            .await?;
        let value = match touched {
            Touched::Stored(value) => value,
            Touched::Absent | Touched::Expired => return Err(Error::Update),
        };
        let data = value.and_then(|bytes| CacheValue::decode(&self.format, &bytes).data);
        self.settle(key, data.as_ref(), expires_at, now).await
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        let cache_key = self.cache_key(key);
        if !self.account_index {
            return self.cache.delete(&cache_key).await;
        }
        // The value tells which index holds the session.
        let Some(bytes) = self.cache.take(&cache_key).await? else {
            return Ok(());
        };
        if let Some(account) = CacheValue::decode(&self.format, &bytes)
            .data
            .as_ref()
            .and_then(auth_account_id)
        {
            self.cache
                .index_remove(&self.index_key(account), &[key.as_str().to_owned()])
                .await?;
        }
        Ok(())
    }

    async fn aclear_expired(&self) -> Result<u64> {
        Ok(0)
    }

    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.account_index
            .then_some(self as &dyn AsyncAccountSessions)
    }
}
