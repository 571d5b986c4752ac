//! How the cache and cached_db stores lay out their cache keys and values: this
//! crate's own layout, or Django's.

use session_api::SessionKey;

use super::KEY_SEPARATOR;

/// The key layout and value format of the cache and cached_db stores' entries.
///
/// Pick [`CacheFormat::Django`] when a Django site reads and writes the same sessions
/// through the same cache (its `RedisCache`); keep the default,
/// [`CacheFormat::Native`], otherwise.
///
/// | | `Native` (default) | `Django` |
/// | --- | --- | --- |
/// | key | `<prefix>:<session key>` | `<KEY_PREFIX>:<VERSION>:<prefix><session key>` (Django's default `KEY_FUNCTION`) |
/// | value | JSON: `{"data":{..},"expires":"<stamp>"}` | the pickled dict (as Django's default `RedisSerializer` writes it), then a NUL byte and `{"expires":"<stamp>"}`, which Python's unpickler ignores |
/// | expiry on load | the stamp | the stamp; for an entry Django wrote, its time to live (Django's only record of it) |
/// | data | any JSON | JSON-compatible data within the pickle limits (`cache::MAX_PICKLE_DEPTH`, `cache::MAX_PICKLE_LEN`, integers within 64 bits) |
/// | load over Redis | `GET` | one script: `GET` and `PTTL` |
///
/// `<prefix>` is the store's own prefix (`django.contrib.sessions.cache` for the
/// cache store, `django.contrib.sessions.cached_db` for cached_db: Django's
/// `cache_key_prefix`); `KEY_PREFIX` and `VERSION` are the Django cache's settings
/// (defaults `""` and `1`). A custom `KEY_FUNCTION` is not supported.
///
/// ```
/// use session_api::SessionKey;
/// use session_stores::cache::CacheFormat;
/// let key = SessionKey::parse("abcdefgh12345678")?;
/// // CACHES = {"default": {..., "KEY_PREFIX": "site", "VERSION": 2}}
/// let django = CacheFormat::django_with("site", 2);
/// assert_eq!(
///     django.cache_key("django.contrib.sessions.cache", &key),
///     "site:2:django.contrib.sessions.cacheabcdefgh12345678"
/// );
/// assert_eq!(
///     CacheFormat::django().cache_key("django.contrib.sessions.cache", &key),
///     ":1:django.contrib.sessions.cacheabcdefgh12345678"
/// );
/// assert_eq!(
///     CacheFormat::Native.cache_key("django.contrib.sessions.cache", &key),
///     "django.contrib.sessions.cache:abcdefgh12345678"
/// );
/// # Ok::<(), session_api::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CacheFormat {
    /// This crate's own layout: the prefix, [`KEY_SEPARATOR`] and the session key;
    /// JSON values. Two prefixes never name the same entry, even when one extends the
    /// other.
    #[default]
    Native,
    /// Django's layout, for sharing sessions with a Django site through its
    /// `django.core.cache.backends.redis.RedisCache`.
    Django {
        /// The Django cache's `KEY_PREFIX` setting (Django's default: empty).
        key_prefix: String,
        /// The Django cache's `VERSION` setting (Django's default: 1).
        version: i64,
    },
}

impl CacheFormat {
    /// Django's layout with Django's default `KEY_PREFIX` (`""`) and `VERSION` (1).
    pub fn django() -> Self {
        Self::django_with("", 1)
    }

    /// Django's layout with the cache's `KEY_PREFIX` and `VERSION` settings.
    pub fn django_with(key_prefix: impl Into<String>, version: i64) -> Self {
        CacheFormat::Django {
            key_prefix: key_prefix.into(),
            version,
        }
    }

    /// Whether this is Django's layout.
    pub fn is_django(&self) -> bool {
        matches!(self, CacheFormat::Django { .. })
    }

    /// The cache key of a session under the store prefix `prefix` (see the type's
    /// docs).
    pub fn cache_key(&self, prefix: &str, key: &SessionKey) -> String {
        match self {
            CacheFormat::Native => format!("{prefix}{KEY_SEPARATOR}{}", key.as_str()),
            // Django's `default_key_func`: "%s:%s:%s" % (key_prefix, version, key),
            // the key being `cache_key_prefix + session_key`.
            CacheFormat::Django {
                key_prefix,
                version,
            } => format!("{key_prefix}:{version}:{prefix}{}", key.as_str()),
        }
    }

    /// The cache key of an account's index under the store prefix `prefix` (the
    /// cache store's [`account_index`](super::CacheStore::account_index)): the cache
    /// key of the session key `account[<id>]`, which no session key can be (the
    /// brackets), so the index never names a session's entry, here or in Django.
    ///
    /// ```
    /// use session_stores::cache::CacheFormat;
    /// assert_eq!(CacheFormat::Native.index_key("p", 42), "p:account[42]");
    /// assert_eq!(CacheFormat::django().index_key("p", -1), ":1:paccount[-1]");
    /// ```
    pub fn index_key(&self, prefix: &str, account: i64) -> String {
        let name = format!("account[{account}]");
        match self {
            CacheFormat::Native => format!("{prefix}{KEY_SEPARATOR}{name}"),
            CacheFormat::Django {
                key_prefix,
                version,
            } => format!("{key_prefix}:{version}:{prefix}{name}"),
        }
    }
}
