//! The cache store's own rules over the memory cache and test doubles: the stored
//! value and key, the time to live, expiry by the store's clock (H7) while the cache
//! keeps its own time (as Redis does), and cache failures.
#![cfg(feature = "cache")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/down_cache.rs"]
mod down_cache;
use down_cache::Down;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use session_api::{
    AsyncSessionStore, Clock, Error, ManualClock, Record, Result, SaveMode, SessionData, SessionKey,
};
use session_stores::cache::{Cache, CacheStore, MemoryCache, DEFAULT_KEY_PREFIX, MIN_TTL};
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
}

fn setup() -> Setup {
    let store_clock = ManualClock::new(START);
    let cache = Arc::new(MemoryCache::with_clock(Arc::new(ManualClock::new(START))));
    let store = CacheStore::new(cache.clone()).clock(Arc::new(store_clock.clone()));
    Setup {
        store,
        cache,
        store_clock,
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
        Some(r#"{"expires":"2026-01-01T01:00:00Z","data":{"user":"bob","n":[1,2]}}"#)
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
    // The record comes back with the expiry stored in the value.
    assert_eq!(
        s.store.aload(&key).await.unwrap(),
        Some(Record::new(
            key.clone(),
            data(json!({"user": "bob", "n": [1, 2]})),
            expires
        ))
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
    async fn add(&self, key: &str, value: &str, ttl: Duration) -> Result<bool> {
        self.ttls.lock().unwrap().push(("add", ttl));
        self.inner.add(key, value, ttl).await
    }
    async fn replace(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>> {
        self.ttls.lock().unwrap().push(("replace", ttl));
        self.inner.replace(key, value, ttl).await
    }
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<()> {
        self.ttls.lock().unwrap().push(("set", ttl));
        self.inner.set(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<String>> {
        self.inner.get(key).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn compare_and_set(
        &self,
        key: &str,
        old: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool> {
        self.ttls.lock().unwrap().push(("compare_and_set", ttl));
        self.inner.compare_and_set(key, old, value, ttl).await
    }
}

#[tokio::test]
async fn the_ttl_is_the_remaining_age_and_at_least_one_second() {
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
    assert_eq!(cache.take(), [("replace", MIN_TTL)]);

    store
        .write_raw(&key, "x", clock.now() + time::Duration::milliseconds(2500))
        .await
        .unwrap();
    assert_eq!(cache.take(), [("set", Duration::from_millis(2500))]);
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

    // must_create takes the key over from an expired entry.
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

/// Plays the race of two creates on one key: the add finds the key taken, the read
/// sees an expired entry, but the swap replaces a live one that arrived meanwhile.
#[derive(Debug)]
struct Race {
    dead: String,
    live: String,
    restored: Mutex<Vec<(String, Duration)>>,
}

#[async_trait]
impl Cache for Race {
    async fn add(&self, _: &str, _: &str, _: Duration) -> Result<bool> {
        Ok(false)
    }
    async fn replace(&self, _: &str, _: &str, _: Duration) -> Result<Option<String>> {
        Ok(Some(self.live.clone()))
    }
    async fn set(&self, _: &str, value: &str, ttl: Duration) -> Result<()> {
        self.restored.lock().unwrap().push((value.to_owned(), ttl));
        Ok(())
    }
    async fn get(&self, _: &str) -> Result<Option<String>> {
        Ok(Some(self.dead.clone()))
    }
    async fn delete(&self, _: &str) -> Result<()> {
        Ok(())
    }
    // The cache store never compares and sets.
    async fn compare_and_set(&self, _: &str, _: &str, _: &str, _: Duration) -> Result<bool> {
        Ok(false)
    }
}

#[tokio::test]
async fn a_create_that_loses_a_race_puts_the_winner_back() {
    let race = Arc::new(Race {
        dead: r#"{"expires":"2025-12-31T00:00:00Z","data":{}}"#.into(),
        live: r#"{"expires":"2026-01-01T00:10:00Z","data":{"winner":1}}"#.into(),
        restored: Mutex::default(),
    });
    let store = CacheStore::new(race.clone()).clock(Arc::new(ManualClock::new(START)));
    let r = store
        .asave(
            &Record::new(
                SessionKey::generate(),
                SessionData::new(),
                START + time::Duration::hours(1),
            ),
            SaveMode::Create,
        )
        .await;
    assert!(matches!(r, Err(Error::Create)), "{r:?}");
    assert_eq!(
        *race.restored.lock().unwrap(),
        [(race.live.clone(), Duration::from_secs(600))]
    );
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
