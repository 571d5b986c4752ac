//! The cache store's own rules over the memory cache and test doubles: the stored
//! value and key, in both formats, the time to live, expiry by the store's clock (H7)
//! while the cache keeps its own time (as Redis does), Django-written entries
//! (expiring by their time to live), and cache failures.
#![cfg(feature = "cache")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/down_cache.rs"]
mod down_cache;
use down_cache::Down;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use session_api::store::Version;
use session_api::{
    AsyncSessionStore, Clock, Error, ManualClock, Record, Result, SaveMode, SessionData, SessionKey,
};
use session_stores::cache::{
    stored_version, version_of, Cache, CacheFormat, CacheStore, MemoryCache, Replaced, Stamp,
    Touched, DEFAULT_KEY_PREFIX, MIN_TTL,
};
use time::macros::datetime;
use time::OffsetDateTime;

const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

fn data(value: serde_json::Value) -> SessionData {
    SessionData::from_value(value).unwrap()
}

/// A store whose clock moves independently of its cache's (Redis keeps real time).
struct Setup {
    store: CacheStore,
    cache: Arc<MemoryCache>,
    store_clock: ManualClock,
    cache_clock: ManualClock,
}

fn setup() -> Setup {
    setup_in(CacheFormat::Native)
}

fn setup_in(format: CacheFormat) -> Setup {
    let store_clock = ManualClock::new(START);
    let cache_clock = ManualClock::new(START);
    let cache = Arc::new(MemoryCache::with_clock(Arc::new(cache_clock.clone())));
    let store = CacheStore::new(cache.clone())
        .format(format)
        .clock(Arc::new(store_clock.clone()));
    Setup {
        store,
        cache,
        store_clock,
        cache_clock,
    }
}

#[tokio::test]
async fn the_value_is_the_dict_and_its_expiry_under_the_prefixed_key() {
    let s = setup();
    let key = SessionKey::generate();
    let expires = START + time::Duration::hours(1);
    s.store
        .asave(
            &Record::new(
                key.clone(),
                data(json!({"user": "bob", "n": [1, 2]})),
                expires,
            ),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let cache_key = format!("{DEFAULT_KEY_PREFIX}:{}", key.as_str());
    assert_eq!(s.store.cache_key(&key), cache_key);
    assert_eq!(
        s.cache.get(&cache_key).await.unwrap().as_deref(),
        Some(
            format!(
                r#"{{"data":{{"user":"bob","n":[1,2]}},"rev":"{:016x}","expires":"2026-01-01T01:00:00.000000000Z"}}"#,
                version_of(
                    br#"{"data":{"user":"bob","n":[1,2]},"expires":"2026-01-01T01:00:00.000000000Z"}"#
                )
                .get()
            )
            .as_bytes()
        )
    );
    assert_eq!(
        s.store.read_raw(&key).await.unwrap(),
        s.cache.get(&cache_key).await.unwrap()
    );

    let other = CacheStore::new(s.cache.clone())
        .key_prefix("site2")
        .clock(Arc::new(s.store_clock.clone()));
    assert_eq!(other.prefix(), "site2");
    assert!(
        !other.aexists(&key).await.unwrap(),
        "prefixes are namespaces"
    );
    other
        .asave(
            &Record::new(key.clone(), data(json!({"site": 2})), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert!(s
        .cache
        .get(&format!("site2:{}", key.as_str()))
        .await
        .unwrap()
        .is_some());
    // The record comes back with the expiry stored in the value, and its revision as
    // its version (V1).
    let stored = s.store.read_raw(&key).await.unwrap().unwrap();
    assert_eq!(
        s.store.aload(&key).await.unwrap(),
        Some(
            Record::new(
                key.clone(),
                data(json!({"user": "bob", "n": [1, 2]})),
                expires
            )
            .with_version(Some(stored_version(&stored)))
        )
    );
}

/// Records the time to live of every write, delegating to a memory cache.
#[derive(Debug)]
struct Recording {
    inner: MemoryCache,
    ttls: Mutex<Vec<(&'static str, Duration)>>,
}

impl Recording {
    fn new() -> Self {
        Recording {
            inner: MemoryCache::new(),
            ttls: Mutex::default(),
        }
    }
    fn take(&self) -> Vec<(&'static str, Duration)> {
        std::mem::take(&mut self.ttls.lock().unwrap())
    }
}

#[async_trait]
impl Cache for Recording {
    async fn add(&self, key: &str, value: &[u8], ttl: Duration, now: &Stamp) -> Result<bool> {
        self.ttls.lock().unwrap().push(("add", ttl));
        self.inner.add(key, value, ttl, now).await
    }
    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        now: Option<&Stamp>,
    ) -> Result<Replaced> {
        // "replace" checks the stamp; "replace_xx" is a plain replace-if-present.
        let op = if now.is_some() {
            "replace"
        } else {
            "replace_xx"
        };
        self.ttls.lock().unwrap().push((op, ttl));
        self.inner.replace(key, value, ttl, now).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        self.ttls.lock().unwrap().push(("set", ttl));
        self.inner.set(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(key).await
    }
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        self.inner.get_with_ttl(key).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.ttls.lock().unwrap().push(("delete", Duration::ZERO));
        self.inner.delete(key).await
    }
    async fn compare_and_set(
        &self,
        key: &str,
        old: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        self.ttls.lock().unwrap().push(("compare_and_set", ttl));
        self.inner.compare_and_set(key, old, value, ttl).await
    }
    async fn replace_if_version(
        &self,
        key: &str,
        expected: Version,
        value: &[u8],
        ttl: Duration,
        now: &Stamp,
    ) -> Result<Replaced> {
        self.ttls.lock().unwrap().push(("replace_if_version", ttl));
        self.inner
            .replace_if_version(key, expected, value, ttl, now)
            .await
    }
    async fn touch(
        &self,
        key: &str,
        expires: &Stamp,
        ttl: Duration,
        now: &Stamp,
        want_value: bool,
    ) -> Result<Touched> {
        self.ttls.lock().unwrap().push(("touch", ttl));
        self.inner.touch(key, expires, ttl, now, want_value).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.ttls.lock().unwrap().push(("take", Duration::ZERO));
        self.inner.take(key).await
    }
    async fn index_add(
        &self,
        index: &str,
        member: &str,
        score: i64,
        ttl: Duration,
        now: i64,
    ) -> Result<()> {
        self.inner.index_add(index, member, score, ttl, now).await
    }
    async fn index_members(&self, index: &str, now: i64) -> Result<Vec<String>> {
        self.inner.index_members(index, now).await
    }
    async fn index_remove(&self, index: &str, members: &[String]) -> Result<()> {
        self.inner.index_remove(index, members).await
    }
}

#[tokio::test]
async fn the_ttl_is_the_remaining_age_and_at_least_one_millisecond() {
    let clock = ManualClock::new(START);
    let cache = Arc::new(Recording::new());
    let store = CacheStore::new(cache.clone()).clock(Arc::new(clock.clone()));
    let key = SessionKey::generate();
    let d = data(json!({"a": 1}));

    store
        .asave(
            &Record::new(key.clone(), d.clone(), START + time::Duration::hours(1)),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(cache.take(), [("add", Duration::from_secs(3600))]);

    clock.advance(time::Duration::minutes(10));
    store
        .asave(
            &Record::new(key.clone(), d.clone(), START + time::Duration::hours(1)),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(cache.take(), [("replace", Duration::from_secs(3000))]);

    let soon = clock.now() + time::Duration::milliseconds(10);
    store
        .asave(&Record::new(key.clone(), d.clone(), soon), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(cache.take(), [("replace", Duration::from_millis(10))]);
    let past = clock.now() - time::Duration::seconds(1);
    store
        .asave(&Record::new(key.clone(), d.clone(), past), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(cache.take(), [("replace", MIN_TTL)]);
    assert_eq!(
        store.aload(&key).await.unwrap(),
        None,
        "its stamp has passed"
    );

    store
        .write_raw(&key, "x", clock.now() + time::Duration::milliseconds(2500))
        .await
        .unwrap();
    assert_eq!(cache.take(), [("set", Duration::from_millis(2500))]);
}

/// On the system clock every TTL ends by its entry's stamp (rounded down, counted by
/// the cache from the write), so an update needs no stamp check: a plain
/// replace-if-present. On any other clock the cache checks the stamp.
#[tokio::test]
async fn updates_check_the_stamp_only_off_the_system_clock() {
    let cache = Arc::new(Recording::new());
    let store = CacheStore::new(cache.clone());
    let key = SessionKey::generate();
    let expires = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let record = Record::new(key.clone(), data(json!({"a": 1})), expires);
    store.asave(&record, SaveMode::Create).await.unwrap();
    store.asave(&record, SaveMode::Update).await.unwrap();
    let ops: Vec<_> = cache.take().into_iter().map(|(op, _)| op).collect();
    assert_eq!(ops, ["add", "replace_xx"]);
    let ahead = ManualClock::new(OffsetDateTime::now_utc() + time::Duration::seconds(1));
    let store = CacheStore::new(cache.clone()).clock(Arc::new(ahead));
    store.asave(&record, SaveMode::Update).await.unwrap();
    let ops: Vec<_> = cache.take().into_iter().map(|(op, _)| op).collect();
    assert_eq!(ops, ["replace"]);
}

#[tokio::test]
async fn an_entry_expired_by_the_store_clock_is_absent_everywhere() {
    let s = setup();
    let key = SessionKey::generate();
    let expires = START + time::Duration::hours(1);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    // The cache still holds the entry (its own time has not moved), but the
    // session's expiry has passed on the store's clock.
    s.store_clock.set(expires);
    assert!(s.store.read_raw(&key).await.unwrap().is_some());
    assert_eq!(s.store.aload(&key).await.unwrap().map(|r| r.data), None);
    assert!(!s.store.aexists(&key).await.unwrap());

    // H7: updating it fails, and does not revive it.
    let later = expires + time::Duration::hours(1);
    let r = s
        .store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), later),
            SaveMode::Update,
        )
        .await;
    assert!(matches!(r, Err(Error::Update)), "{r:?}");
    assert_eq!(s.store.read_raw(&key).await.unwrap(), None, "removed");

    // must_create takes the key over from an expired entry, in one cache call.
    s.store_clock.set(START);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"old": 1})), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.store_clock.set(expires + time::Duration::seconds(1));
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"new": 1})), later),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"new": 1})))
    );
}

#[tokio::test]
async fn must_create_on_a_live_entry_is_create_error_and_leaves_it() {
    let s = setup();
    let key = SessionKey::generate();
    let expires = START + time::Duration::hours(1);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let r = s
        .store
        .asave(
            &Record::new(key.clone(), data(json!({"evil": 1})), expires),
            SaveMode::Create,
        )
        .await;
    assert!(matches!(r, Err(Error::Create)), "{r:?}");
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 1})))
    );
    // An update of a key the cache never had is UpdateError, and creates nothing.
    let unknown = SessionKey::generate();
    let r = s
        .store
        .asave(
            &Record::new(unknown.clone(), data(json!({"a": 1})), expires),
            SaveMode::Update,
        )
        .await;
    assert!(matches!(r, Err(Error::Update)), "{r:?}");
    assert!(!s.store.aexists(&unknown).await.unwrap());
}

#[tokio::test]
async fn undecodable_values_load_as_none_but_are_present() {
    let s = setup();
    let later = START + time::Duration::hours(1);
    for text in [
        "garbage",
        "",
        "{}",
        r#"{"expires":"2099-01-01T00:00:00Z","data":[1,2]}"#,
        r#"{"expires":"soon","data":{"a":1}}"#,
        r#"{"data":{"a":1}}"#,
    ] {
        let key = SessionKey::generate();
        s.store.write_raw(&key, text, later).await.unwrap();
        assert_eq!(
            s.store.aload(&key).await.unwrap().map(|r| r.data),
            None,
            "{text:?}"
        );
        assert!(s.store.aexists(&key).await.unwrap(), "{text:?}");
        // Present: an update is accepted (like a database row with corrupt data).
        s.store
            .asave(
                &Record::new(key.clone(), data(json!({"a": 1})), later),
                SaveMode::Update,
            )
            .await
            .unwrap();
        assert_eq!(
            s.store.aload(&key).await.unwrap().map(|r| r.data),
            Some(data(json!({"a": 1})))
        );
    }
}

#[tokio::test]
async fn an_unreachable_cache_is_unavailable_on_every_call() {
    let store = CacheStore::new(Arc::new(Down));
    let key = SessionKey::generate();
    let later = START + time::Duration::hours(1);
    assert!(matches!(
        store.aload(&key).await,
        Err(Error::Unavailable(_))
    ));
    assert!(matches!(
        store.aexists(&key).await,
        Err(Error::Unavailable(_))
    ));
    assert!(matches!(
        store
            .asave(
                &Record::new(key.clone(), SessionData::new(), later),
                SaveMode::Create
            )
            .await,
        Err(Error::Unavailable(_))
    ));
    assert!(matches!(
        store
            .asave(
                &Record::new(key.clone(), SessionData::new(), later),
                SaveMode::Update
            )
            .await,
        Err(Error::Unavailable(_))
    ));
    assert!(matches!(
        store.adelete(&key).await,
        Err(Error::Unavailable(_))
    ));
    // clear_expired asks nothing of the cache.
    assert_eq!(store.aclear_expired().await.unwrap(), 0);
}

#[tokio::test]
async fn capabilities_and_clear_expired() {
    let s = setup();
    let caps = s.store.capabilities();
    assert!(caps.server_side);
    assert!(!caps.clear_expired);
    assert!(caps.backend_ttl);
    assert!(!caps.list_by_account);
    let key = SessionKey::generate();
    s.store
        .asave(
            &Record::new(
                key.clone(),
                SessionData::new(),
                START + time::Duration::hours(1),
            ),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.store_clock.advance(time::Duration::days(1));
    assert_eq!(s.store.aclear_expired().await.unwrap(), 0);
}

/// `Debug` of the memory cache and of the cache store over it never shows a session
/// key or session data, however many sessions they hold (rule H5).
#[tokio::test]
async fn debug_never_shows_keys_or_data() {
    let s = setup();
    let key = SessionKey::generate();
    s.store
        .asave(
            &Record::new(
                key.clone(),
                data(json!({"_auth_user_id": "secret-user-4242"})),
                START + time::Duration::hours(1),
            ),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(s.cache.len(), 1);
    for shown in [format!("{:?}", s.cache), format!("{:?}", s.store)] {
        assert!(!shown.contains(key.as_str()), "{shown}");
        assert!(!shown.contains("secret-user-4242"), "{shown}");
        assert!(!shown.contains("expires"), "{shown}");
    }
    assert!(format!("{:?}", s.cache).contains("entries: 1"));
}

/// `RedisSerializer().dumps({"a": 1})` by Django 5.2 (pickle protocol 5).
const DJANGO_A1: &[u8] = b"\x80\x05\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.";

/// `RedisSerializer().dumps(...)` by Django 5.2 of a logged-in session with a cart,
/// unicode text and a custom expiry (the dict of [`django_session`]).
const DJANGO_SESSION: &[u8] = b"\x80\x05\x95\xa3\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\r_auth_user_id\x94\x8c\x0242\x94\x8c\x12_auth_user_backend\x94\x8c)django.contrib.auth.backends.ModelBackend\x94\x8c\x04cart\x94]\x94(K\x01G@\x04\x00\x00\x00\x00\x00\x00N\x88e\x8c\x04text\x94\x8c\x11caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80\x94\x8c\x0f_session_expiry\x94MX\x02u.";

fn django_session() -> SessionData {
    data(json!({
        "_auth_user_id": "42",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "cart": [1, 2.5, null, true],
        "text": "café 中文 😀",
        "_session_expiry": 600
    }))
}

#[tokio::test]
async fn the_django_format_is_djangos_key_and_a_pickle_with_a_stamp() {
    let s = setup_in(CacheFormat::django_with("site", 3));
    let key = SessionKey::generate();
    let cache_key = format!("site:3:django.contrib.sessions.cache{}", key.as_str());
    assert_eq!(s.store.cache_key(&key), cache_key);
    assert_eq!(s.store.cache_format(), &CacheFormat::django_with("site", 3));
    let expires = START + time::Duration::hours(1);
    s.store
        .asave(
            &Record::new(key.clone(), django_session(), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let stored = s.cache.get(&cache_key).await.unwrap().unwrap();
    // A pickle (protocol 3: serde-pickle's), then the trailer Python ignores.
    assert_eq!(&stored[..2], b"\x80\x03");
    let trailer = b"\0{\"expires\":\"2026-01-01T01:00:00.000000000Z\"}";
    assert!(stored.ends_with(trailer), "{stored:?}");
    assert_eq!(
        s.store.aload(&key).await.unwrap(),
        Some(
            Record::new(key.clone(), django_session(), expires)
                .with_version(Some(version_of(&stored)))
        )
    );
    // The default settings: KEY_PREFIX "", VERSION 1; and the cached_db prefix apart.
    let default = CacheStore::new(s.cache.clone()).format(CacheFormat::django());
    assert_eq!(
        default.cache_key(&key),
        format!(":1:django.contrib.sessions.cache{}", key.as_str())
    );
    assert!(!default.aexists(&key).await.unwrap(), "another KEY_PREFIX");
}

/// Django's entries carry no stamp: their time to live, as the cache reports it, is
/// their expiry, on the store's clock.
#[tokio::test]
async fn a_django_written_entry_loads_and_expires_with_its_ttl() {
    let s = setup_in(CacheFormat::django());
    let key = SessionKey::generate();
    let cache_key = s.store.cache_key(&key);
    s.cache
        .set(&cache_key, DJANGO_SESSION, Duration::from_secs(600))
        .await
        .unwrap();
    s.store_clock.advance(time::Duration::seconds(5));
    s.cache_clock.advance(time::Duration::seconds(100));
    // 500 s left in the cache, counted from the store's "now".
    let expires = START + time::Duration::seconds(505);
    assert_eq!(
        s.store.aload(&key).await.unwrap(),
        Some(
            Record::new(key.clone(), django_session(), expires)
                .with_version(Some(version_of(DJANGO_SESSION)))
        )
    );
    assert!(s.store.aexists(&key).await.unwrap());
    // An update keeps the key and stamps it.
    let later = START + time::Duration::hours(2);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), later),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(
        s.store
            .aload(&key)
            .await
            .unwrap()
            .map(|r| (r.data, r.expires_at)),
        Some((data(json!({"a": 2})), later))
    );
    // Django's entry ends when the cache drops it.
    let other = SessionKey::generate();
    s.cache
        .set(
            &s.store.cache_key(&other),
            DJANGO_A1,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(
        s.store.aload(&other).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 1})))
    );
    s.cache_clock.advance(time::Duration::seconds(60));
    assert_eq!(s.store.aload(&other).await.unwrap(), None);
    let r = s
        .store
        .asave(
            &Record::new(other.clone(), SessionData::new(), later),
            SaveMode::Update,
        )
        .await;
    assert!(matches!(r, Err(Error::Update)), "{r:?}");
}

#[tokio::test]
async fn django_format_expiry_follows_the_store_clock() {
    let s = setup_in(CacheFormat::django());
    let key = SessionKey::generate();
    let expires = START + time::Duration::hours(1);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.store_clock.set(expires);
    assert_eq!(s.store.aload(&key).await.unwrap(), None);
    assert!(!s.store.aexists(&key).await.unwrap());
    let later = expires + time::Duration::hours(1);
    let r = s
        .store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), later),
            SaveMode::Update,
        )
        .await;
    assert!(matches!(r, Err(Error::Update)), "{r:?}");
    assert_eq!(s.store.read_raw(&key).await.unwrap(), None, "removed");
    // must_create over an expired entry takes it over.
    s.store_clock.set(START);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"old": 1})), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.store_clock.set(expires);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"new": 1})), later),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"new": 1})))
    );
}

/// Django reads no stamp: a session saved already expired is removed at once, as
/// Django's cache does with a timeout of 0.
#[tokio::test]
async fn django_format_leaves_no_expired_session_for_django() {
    let clock = ManualClock::new(START);
    let cache = Arc::new(Recording::new());
    let store = CacheStore::new(cache.clone())
        .format(CacheFormat::django())
        .clock(Arc::new(clock.clone()));
    let key = SessionKey::generate();
    let past = START - time::Duration::seconds(1);
    store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), past),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(cache.take(), [("add", MIN_TTL), ("delete", Duration::ZERO)]);
    assert_eq!(store.read_raw(&key).await.unwrap(), None);
    // A live one is one write.
    store
        .asave(
            &Record::new(
                key.clone(),
                data(json!({"a": 1})),
                START + time::Duration::hours(1),
            ),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(cache.take(), [("add", Duration::from_secs(3600))]);
    store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), START),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(
        cache.take(),
        [("replace", MIN_TTL), ("delete", Duration::ZERO)]
    );
    assert_eq!(store.aload(&key).await.unwrap(), None);
}

#[tokio::test]
async fn django_format_refuses_what_its_pickles_cannot_hold() {
    let s = setup_in(CacheFormat::django());
    let later = START + time::Duration::hours(1);
    let key = SessionKey::generate();
    for bad in [json!({"n": u64::MAX}), json!({"s": "x".repeat(2 << 20)})] {
        let r = s
            .store
            .asave(
                &Record::new(key.clone(), data(bad), later),
                SaveMode::Create,
            )
            .await;
        assert!(
            matches!(
                r,
                Err(Error::Serialization(_) | Error::SessionTooLarge { .. })
            ),
            "{r:?}"
        );
        assert_eq!(
            s.store.read_raw(&key).await.unwrap(),
            None,
            "nothing written"
        );
    }
    // In this crate's format both are fine.
    let native = setup();
    native
        .store
        .asave(
            &Record::new(key.clone(), data(json!({"n": u64::MAX})), later),
            SaveMode::Create,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn django_format_undecodable_or_hostile_values_load_as_none_but_are_present() {
    let s = setup_in(CacheFormat::django());
    let later = START + time::Duration::hours(1);
    // Lists each holding the previous one twice, 40 times over (2**40 elements once
    // copied); a tuple; an integer beyond 64 bits; not a pickle.
    let mut bomb = b"\x80\x05}\x94(\x8c\x01a]]q\x01a".to_vec();
    for _ in 0..40 {
        bomb.extend_from_slice(b"](h\x01h\x01eq\x01a");
    }
    bomb.extend_from_slice(b"u.");
    let tuple = b"\x80\x05}\x94\x8c\x01a\x94K\x01K\x02\x86s.".to_vec();
    let big = b"\x80\x05}\x94\x8c\x01a\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@s.".to_vec();
    for raw in [
        bomb,
        tuple,
        big,
        b"garbage".to_vec(),
        b"42".to_vec(),
        Vec::new(),
    ] {
        let key = SessionKey::generate();
        s.store.write_raw(&key, &raw, later).await.unwrap();
        assert_eq!(s.store.aload(&key).await.unwrap(), None, "{raw:.20?}");
        assert!(s.store.aexists(&key).await.unwrap());
        s.store
            .asave(
                &Record::new(key.clone(), data(json!({"a": 1})), later),
                SaveMode::Update,
            )
            .await
            .unwrap();
        assert_eq!(
            s.store.aload(&key).await.unwrap().map(|r| r.data),
            Some(data(json!({"a": 1})))
        );
    }
}

/// NaN and the infinities, which Python's JSON (and so Django's sessions) holds, load
/// as `SessionData`'s tags for them and are pickled back as floats.
#[tokio::test]
async fn django_format_keeps_nan_and_the_infinities() {
    let s = setup_in(CacheFormat::django());
    let later = START + time::Duration::hours(1);
    let key = SessionKey::generate();
    // `RedisSerializer().dumps({"r": float("nan")})` by Django 5.2.
    let nan = b"\x80\x05\x95\x11\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01r\x94G\x7f\xf8\x00\x00\x00\x00\x00\x00s.";
    s.store.write_raw(&key, nan, later).await.unwrap();
    let record = s.store.aload(&key).await.unwrap().expect("loads");
    assert!(record.data.get::<f64>("r").unwrap().unwrap().is_nan());
    let mut data = record.data;
    data.set("inf", &f64::INFINITY).unwrap();
    s.store
        .asave(&Record::new(key.clone(), data, later), SaveMode::Update)
        .await
        .unwrap();
    let back = s.store.aload(&key).await.unwrap().expect("loads").data;
    assert!(back.get::<f64>("r").unwrap().unwrap().is_nan());
    assert_eq!(back.get::<f64>("inf").unwrap(), Some(f64::INFINITY));
}
