//! [`CacheStore`], the session store over a [`Cache`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use session_api::{
    AsyncSessionStore, Capabilities, Clock, Error, Record, Result, SaveMode, SessionKey,
    SystemClock,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{
    ttl_for, Cache, CacheFormat, CacheValue, Replaced, Stamp, DEFAULT_KEY_PREFIX, MAX_TTL,
};

/// The session store over a [`Cache`]. See the [module docs](super) for the formats
/// and the semantics.
pub struct CacheStore {
    cache: Arc<dyn Cache>,
    prefix: String,
    format: CacheFormat,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheStore")
            .field("cache", &self.cache)
            .field("prefix", &self.prefix)
            .field("format", &self.format)
            .finish_non_exhaustive()
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
        }
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
        let now = self.clock.now();
        let cache_key = self.cache_key(key);
        let value = match &self.format {
            CacheFormat::Native => self
                .cache
                .get(&cache_key)
                .await?
                .map(|bytes| CacheValue::decode(&self.format, &bytes)),
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
                        value
                    })
            }
        };
        Ok(value
            .and_then(|value| value.into_live(now))
            .map(|(data, expires_at)| Record::new(key.clone(), data, expires_at)))
    }

    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let key = &record.key;
        let now = self.clock.now();
        let stamp = Stamp::at(now)?;
        let value = CacheValue::encode(&self.format, &record.data, record.expires_at, None)?;
        let ttl = ttl_for(record.expires_at, now);
        let cache_key = self.cache_key(key);
        match mode {
            SaveMode::Create => {
                if !self.cache.add(&cache_key, &value, ttl, &stamp).await? {
                    return Err(Error::Create);
                }
            }
            SaveMode::Update => match self
                .cache
                .replace(&cache_key, &value, ttl, stamp_check(now, &stamp))
                .await?
            {
                Replaced::Stored => {}
                // Rules D5, H2: a vanished record is never re-created; H7: nor is
                // one whose stored expiry passed (the cache removed it).
                Replaced::Absent | Replaced::Expired => return Err(Error::Update),
            },
        }
        if self.format.is_django() && record.expires_at <= now {
            // Django reads no stamp: an expired session must not be left for it
            // (Django's cache deletes on a timeout of 0 or less).
            self.cache.delete(&cache_key).await?;
        }
        Ok(key.clone())
    }

    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.cache.delete(&self.cache_key(key)).await
    }

    async fn aclear_expired(&self) -> Result<u64> {
        Ok(0)
    }
}
