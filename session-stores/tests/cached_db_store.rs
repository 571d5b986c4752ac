//! cached_db's own rules (E4) over the memory cache and SQLite: where reads and writes
//! go, the cache's TTL, prefixes, account revocation, and a failing cache that never
//! fails a save (it is logged on `django.contrib.sessions`).
#![cfg(all(feature = "cached_db", feature = "sqlite", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/down_cache.rs"]
mod down_cache;
use down_cache::Down;

mod common;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{exec, open, open_with, options, Kind, TestDb, START};
use serde_json::json;
use session_api::store::Version;
use session_api::{
    AsyncSessionStore, Error, InlineAsync, ManualClock, Record, Result, SaveMode, SessionBackend,
    SessionData, SessionKey,
};
use session_stores::cache::{
    Cache, CacheFormat, CacheStore, MemoryCache, Replaced, Stamp, Touched,
};
use session_stores::cached_db::{CachedDbStore, DEFAULT_KEY_PREFIX, EPOCH_KEY};
use session_stores::db::{AccountIdColumn, DbStore, Versioning};
use session_stores::memory::MemoryStore;
use time::OffsetDateTime;

fn data(value: serde_json::Value) -> SessionData {
    SessionData::from_value(value).unwrap()
}

fn hour() -> OffsetDateTime {
    START + time::Duration::hours(1)
}

/// The time to live of a lease.
const LEASE: Duration = Duration::from_secs(5);

/// The epoch the database holds.
async fn epoch_of(db: &DbStore) -> String {
    let key = SessionKey::parse(EPOCH_KEY).unwrap();
    let record = db.aload(&key).await.unwrap().expect("an epoch record");
    record
        .data
        .get::<String>("token")
        .unwrap()
        .expect("a token")
}

/// A cache where another save takes the slot just before each compare-and-set.
#[derive(Debug)]
struct Thief(Arc<Recording>);

#[async_trait]
impl Cache for Thief {
    async fn add(&self, key: &str, value: &[u8], ttl: Duration, now: &Stamp) -> Result<bool> {
        self.0.add(key, value, ttl, now).await
    }
    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        now: Option<&Stamp>,
    ) -> Result<Replaced> {
        self.0.replace(key, value, ttl, now).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        self.0.set(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.0.get(key).await
    }
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        self.0.get_with_ttl(key).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.0.delete(key).await
    }
    async fn compare_and_set(
        &self,
        key: &str,
        old: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        self.0.set(key, br#"{"lease":"another"}"#, LEASE).await?;
        self.0.compare_and_set(key, old, value, ttl).await
    }
    async fn replace_if_version(
        &self,
        key: &str,
        expected: Version,
        value: &[u8],
        ttl: Duration,
        now: &Stamp,
    ) -> Result<Replaced> {
        self.0
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
        self.0.touch(key, expires, ttl, now, want_value).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Cache::take(&*self.0, key).await
    }
    async fn index_add(
        &self,
        index: &str,
        member: &str,
        score: i64,
        ttl: Duration,
        now: i64,
    ) -> Result<()> {
        self.0.index_add(index, member, score, ttl, now).await
    }
    async fn index_members(&self, index: &str, now: i64) -> Result<Vec<String>> {
        self.0.index_members(index, now).await
    }
    async fn index_remove(&self, index: &str, members: &[String]) -> Result<()> {
        self.0.index_remove(index, members).await
    }
}

/// Delegates to a memory cache and records the writes.
#[derive(Debug)]
struct Recording {
    inner: MemoryCache,
    writes: Mutex<Vec<(&'static str, String, Duration)>>,
}

impl Recording {
    fn take(&self) -> Vec<(&'static str, String, Duration)> {
        std::mem::take(&mut self.writes.lock().unwrap())
    }
}

#[async_trait]
impl Cache for Recording {
    async fn add(&self, key: &str, value: &[u8], ttl: Duration, now: &Stamp) -> Result<bool> {
        self.writes.lock().unwrap().push(("add", key.into(), ttl));
        self.inner.add(key, value, ttl, now).await
    }
    async fn replace(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        now: Option<&Stamp>,
    ) -> Result<Replaced> {
        self.writes
            .lock()
            .unwrap()
            .push(("replace", key.into(), ttl));
        self.inner.replace(key, value, ttl, now).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        self.writes.lock().unwrap().push(("set", key.into(), ttl));
        self.inner.set(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(key).await
    }
    async fn get_with_ttl(&self, key: &str) -> Result<Option<(Vec<u8>, Option<Duration>)>> {
        self.inner.get_with_ttl(key).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.writes
            .lock()
            .unwrap()
            .push(("delete", key.into(), Duration::ZERO));
        self.inner.delete(key).await
    }
    async fn compare_and_set(
        &self,
        key: &str,
        old: &[u8],
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        self.writes
            .lock()
            .unwrap()
            .push(("compare_and_set", key.into(), ttl));
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
        self.writes
            .lock()
            .unwrap()
            .push(("replace_if_version", key.into(), ttl));
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
        self.writes.lock().unwrap().push(("touch", key.into(), ttl));
        self.inner.touch(key, expires, ttl, now, want_value).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.writes
            .lock()
            .unwrap()
            .push(("take", key.into(), Duration::ZERO));
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

struct Setup {
    store: CachedDbStore<DbStore>,
    cache: Arc<Recording>,
    db: TestDb,
}

/// Django's own table, without the version column: the store of these cases caches
/// every save (`cached_db_versions` covers a versioned database, where a plain save
/// leaves the next load to fill the cache).
async fn unversioned(tag: &str) -> TestDb {
    let clock = ManualClock::new(START);
    let opts = options(tag, &clock).versioning(Versioning::Off);
    open_with(Kind::Sqlite, clock, opts).await.expect("SQLite")
}

async fn setup(tag: &str) -> Setup {
    let db = unversioned(tag).await;
    let cache = Arc::new(Recording {
        inner: MemoryCache::with_clock(Arc::new(db.clock.clone())),
        writes: Mutex::default(),
    });
    let clock = Arc::new(db.clock.clone());
    let store = CachedDbStore::new(db.store.clone(), cache.clone(), clock);
    Setup { store, cache, db }
}

#[tokio::test]
async fn saves_go_to_the_database_then_the_cache() {
    let s = setup("cdb_save").await;
    let key = SessionKey::generate();
    let cache_key = format!("{DEFAULT_KEY_PREFIX}:{}", key.as_str());
    assert_eq!(s.store.cache_key(&key), cache_key);

    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    // A lease, the database, then the swap of the lease for the entry.
    assert_eq!(
        s.cache.take(),
        [
            ("set", cache_key.clone(), LEASE),
            (
                "compare_and_set",
                cache_key.clone(),
                Duration::from_secs(3600)
            )
        ]
    );
    // The database holds Django's session_data; the cache the dict, its expiry and
    // the epoch.
    let (session_data, expire_date) = s.db.store.read_raw(&key).await.unwrap().unwrap();
    assert_eq!(expire_date, hour());
    assert_eq!(
        s.db.store.codec().try_decode(&session_data).unwrap(),
        data(json!({"a": 1}))
    );
    let epoch = epoch_of(&s.db.store).await;
    assert_eq!(
        s.cache.get(&cache_key).await.unwrap(),
        Some(
            format!(
                r#"{{"data":{{"a":1}},"epoch":"{epoch}","expires":"2026-01-01T01:00:00.000000000Z"}}"#
            )
            .into_bytes()
        )
    );

    // An update replaces the cached entry.
    s.db.clock.advance(time::Duration::minutes(30));
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), hour()),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(
        s.cache.take(),
        [
            ("set", cache_key.clone(), LEASE),
            (
                "compare_and_set",
                cache_key.clone(),
                Duration::from_secs(1800)
            )
        ]
    );
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 2})))
    );

    // A slot another save or delete took meanwhile is emptied, not written: here the
    // lease is gone when the swap comes.
    let lease_thief = CachedDbStore::new(
        s.db.store.clone(),
        Arc::new(Thief(s.cache.clone())),
        Arc::new(s.db.clock.clone()),
    );
    lease_thief
        .asave(
            &Record::new(key.clone(), data(json!({"a": 3})), hour()),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(s.cache.get(&cache_key).await.unwrap(), None);
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 3})))
    );
    assert!(s.cache.get(&cache_key).await.unwrap().is_some());
    s.db.cleanup().await;
}

#[tokio::test]
async fn the_database_decides_create_and_update_errors() {
    let s = setup("cdb_errors").await;
    let key = SessionKey::generate();
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.cache.take();
    let r = s
        .store
        .asave(
            &Record::new(key.clone(), data(json!({"evil": 1})), hour()),
            SaveMode::Create,
        )
        .await;
    assert!(matches!(r, Err(Error::Create)), "{r:?}");
    let unknown = SessionKey::generate();
    let r = s
        .store
        .asave(
            &Record::new(unknown.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Update,
        )
        .await;
    assert!(matches!(r, Err(Error::Update)), "{r:?}");
    // A failed save leaves no entry: its lease is removed.
    let writes = s.cache.take();
    assert_eq!(writes.len(), 4, "{writes:?}");
    assert!(writes
        .iter()
        .all(|(op, _, _)| *op == "set" || *op == "delete"));
    assert_eq!(
        s.cache.get(&s.store.cache_key(&unknown)).await.unwrap(),
        None
    );
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 1})))
    );
    s.db.cleanup().await;
}

#[tokio::test]
async fn loads_fall_back_to_the_database_and_fill_the_cache_with_the_remaining_age() {
    let s = setup("cdb_load").await;
    let key = SessionKey::generate();
    let cache_key = s.store.cache_key(&key);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.cache.delete(&cache_key).await.unwrap();
    s.cache.take();

    s.db.clock.advance(time::Duration::minutes(10));
    // The database's record, with its expire_date, is what the cache is filled from.
    assert_eq!(
        s.store.aload(&key).await.unwrap(),
        Some(Record::new(key.clone(), data(json!({"a": 1})), hour()))
    );
    // A fill is a lease in the empty slot, then its swap for the entry.
    assert_eq!(
        s.cache.take(),
        [
            ("add", cache_key.clone(), LEASE),
            (
                "compare_and_set",
                cache_key.clone(),
                Duration::from_secs(3000)
            )
        ]
    );
    // ... and a cache hit returns the same record.
    assert_eq!(
        s.store.aload(&key).await.unwrap(),
        Some(Record::new(key.clone(), data(json!({"a": 1})), hour()))
    );
    // The next load is served by the cache, even with the row gone.
    s.db.store.adelete(&key).await.unwrap();
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 1})))
    );
    assert!(s.store.aexists(&key).await.unwrap(), "exists: cache or db");
    assert_eq!(s.cache.take(), []);

    // Missing in both: None, nothing cached (the lease reads as a miss).
    let unknown = SessionKey::generate();
    assert_eq!(s.store.aload(&unknown).await.unwrap().map(|r| r.data), None);
    assert!(!s.store.aexists(&unknown).await.unwrap());
    assert_eq!(
        s.cache.take(),
        [("add", s.store.cache_key(&unknown), LEASE)]
    );
    s.db.cleanup().await;
}

#[tokio::test]
async fn expired_and_undecodable_entries_are_misses() {
    let s = setup("cdb_stale").await;
    let key = SessionKey::generate();
    let cache_key = s.store.cache_key(&key);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let epoch = epoch_of(&s.db.store).await;
    // A cache entry whose own expiry has passed is a miss, whatever the cache's TTL.
    s.cache
        .set(
            &cache_key,
            format!(
                r#"{{"data":{{"stale":1}},"epoch":"{epoch}","expires":"2025-01-01T00:00:00.000000000Z"}}"#
            )
            .as_bytes(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 1})))
    );
    // So is a live entry of another epoch, or of none (written before an epoch
    // change, or by an older version).
    for stamp in [r#""epoch":"older","#, ""] {
        s.cache
            .set(
                &cache_key,
                format!(r#"{{"expires":"2026-01-01T01:00:00Z",{stamp}"data":{{"stale":1}}}}"#)
                    .as_bytes(),
                Duration::from_secs(600),
            )
            .await
            .unwrap();
        assert_eq!(
            s.store.aload(&key).await.unwrap().map(|r| r.data),
            Some(data(json!({"a": 1})))
        );
        assert!(s.store.aexists(&key).await.unwrap());
    }
    s.cache
        .set(&cache_key, b"garbage", Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 1})))
    );
    // Past the row's expiry: nothing, and the cache is not filled.
    s.db.clock.advance(time::Duration::hours(2));
    s.cache.delete(&cache_key).await.unwrap();
    s.cache.take();
    assert_eq!(s.store.aload(&key).await.unwrap().map(|r| r.data), None);
    assert!(!s.store.aexists(&key).await.unwrap());
    assert_eq!(s.cache.take(), [("add", cache_key.clone(), LEASE)]);
    // A row that does not decode loads as None and is not cached.
    let bad = SessionKey::generate();
    s.db.store
        .write_raw(&bad, "not:signed", START + time::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(s.store.aload(&bad).await.unwrap().map(|r| r.data), None);
    assert_eq!(s.cache.take(), [("add", s.store.cache_key(&bad), LEASE)]);
    s.db.cleanup().await;
}

#[tokio::test]
async fn delete_removes_both_and_clear_expired_is_the_databases() {
    let s = setup("cdb_delete").await;
    let key = SessionKey::generate();
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.store.adelete(&key).await.unwrap();
    assert_eq!(s.cache.get(&s.store.cache_key(&key)).await.unwrap(), None);
    assert_eq!(s.db.store.read_raw(&key).await.unwrap(), None);
    assert!(!s.store.aexists(&key).await.unwrap());
    s.store.adelete(&key).await.unwrap();

    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.db.clock.advance(time::Duration::hours(2));
    assert_eq!(s.store.aclear_expired().await.unwrap(), 1);
    assert_eq!(s.db.count_rows().await, 1, "the epoch record stays");
    let caps = s.store.capabilities();
    assert!(caps.server_side && caps.clear_expired && !caps.backend_ttl);
    assert!(!caps.list_by_account);
    s.db.cleanup().await;
}

#[tokio::test]
async fn cache_and_cached_db_prefixes_never_clash() {
    let s = setup("cdb_prefix").await;
    let shared: Arc<dyn Cache> = s.cache.clone();
    let cache_store = CacheStore::new(shared).clock(Arc::new(s.db.clock.clone()));
    let key = SessionKey::generate();
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"db": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert!(!cache_store.aexists(&key).await.unwrap());
    cache_store
        .asave(
            &Record::new(key.clone(), data(json!({"cache": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"db": 1})))
    );
    assert_eq!(
        cache_store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"cache": 1})))
    );
    let custom = CachedDbStore::new(
        s.db.store.clone(),
        s.cache.clone(),
        Arc::new(s.db.clock.clone()),
    )
    .key_prefix("x");
    assert_eq!(custom.cache_key(&key), format!("x:{}", key.as_str()));
    s.db.cleanup().await;
}

/// Overlapping prefixes (`site:sess`, `site:session`) over one cache never read
/// each other's entries (the cache key ends the prefix with a colon).
#[tokio::test]
async fn overlapping_prefixes_never_share_an_entry() {
    let s = setup("cdb_overlap").await;
    let clock = Arc::new(s.db.clock.clone());
    let short = CachedDbStore::new(s.db.store.clone(), s.cache.clone(), clock.clone())
        .key_prefix("site:sess");
    let long =
        CachedDbStore::new(s.db.store.clone(), s.cache.clone(), clock).key_prefix("site:session");
    let fresh = SessionKey::generate();
    let rest = &fresh.as_str()[..29];
    let victim = SessionKey::parse(&format!("ion{rest}")).unwrap();
    let probe = SessionKey::parse(rest).unwrap();
    short
        .asave(
            &Record::new(victim.clone(), data(json!({"_auth_user_id": "42"})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(long.aload(&probe).await.unwrap(), None);
    assert!(!long.aexists(&probe).await.unwrap());
    assert_ne!(short.cache_key(&victim), long.cache_key(&probe));
    s.db.cleanup().await;
}

/// `Debug` of the store (over the memory cache, holding a session) never shows a
/// session key, its data or the epoch (rule H5).
#[tokio::test]
async fn debug_never_shows_keys_data_or_the_epoch() {
    let db = open(Kind::Sqlite, "cdb_debug").await.expect("SQLite");
    let clock = Arc::new(db.clock.clone());
    let cache = Arc::new(MemoryCache::with_clock(clock.clone()));
    let store = CachedDbStore::new(db.store.clone(), cache, clock);
    let key = SessionKey::generate();
    store
        .asave(
            &Record::new(
                key.clone(),
                data(json!({"_auth_user_id": "secret-4242"})),
                hour(),
            ),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let epoch = epoch_of(&db.store).await;
    let shown = format!("{store:?}");
    for secret in [key.as_str(), "secret-4242", epoch.as_str()] {
        assert!(!shown.contains(secret), "{shown}");
    }
    db.cleanup().await;
}

/// The epoch record's key is reserved: the store never serves, saves or deletes it
/// as a session.
#[tokio::test]
async fn the_epoch_key_is_never_a_session() {
    let s = setup("cdb_epoch_key").await;
    let key = SessionKey::generate();
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let epoch_key = SessionKey::parse(EPOCH_KEY).unwrap();
    assert!(s.db.store.aload(&epoch_key).await.unwrap().is_some());
    assert_eq!(s.store.aload(&epoch_key).await.unwrap(), None);
    assert!(!s.store.aexists(&epoch_key).await.unwrap());
    let forged = Record::new(epoch_key.clone(), data(json!({"token": "mine"})), hour());
    let r = s.store.asave(&forged, SaveMode::Update).await;
    assert!(matches!(r, Err(Error::Update)), "{r:?}");
    let r = s.store.asave(&forged, SaveMode::Create).await;
    assert!(matches!(r, Err(Error::Create)), "{r:?}");
    s.store.adelete(&epoch_key).await.unwrap();
    assert_ne!(epoch_of(&s.db.store).await, "mine");
    assert!(s.db.store.aload(&epoch_key).await.unwrap().is_some());
    s.db.cleanup().await;
}

#[tokio::test]
async fn revoking_an_account_removes_the_cached_copies() {
    let clock = ManualClock::new(START);
    let opts = options("cdb_revoke", &clock).extension(Arc::new(AccountIdColumn::new()));
    let db = open_with(Kind::Sqlite, clock.clone(), opts)
        .await
        .expect("SQLite");
    let cache = Arc::new(MemoryCache::with_clock(Arc::new(clock.clone())));
    let store = CachedDbStore::new(db.store.clone(), cache, Arc::new(clock.clone()));
    assert!(store.capabilities().list_by_account);
    let mut keys = Vec::new();
    for user in ["42", "42", "7"] {
        let key = SessionKey::generate();
        store
            .asave(
                &Record::new(key.clone(), data(json!({"_auth_user_id": user})), hour()),
                SaveMode::Create,
            )
            .await
            .unwrap();
        // Loaded once, so the cache holds a copy to revoke.
        store.aload(&key).await.unwrap().unwrap();
        keys.push(key);
    }
    let index = store
        .accounts()
        .expect("the durable store lists by account");
    assert_eq!(index.alist_sessions(42).await.unwrap().len(), 2);
    assert_eq!(index.arevoke_all(42).await.unwrap(), 2);
    assert_eq!(store.aload(&keys[0]).await.unwrap().map(|r| r.data), None);
    assert_eq!(store.aload(&keys[1]).await.unwrap().map(|r| r.data), None);
    assert!(store
        .aload(&keys[2])
        .await
        .unwrap()
        .map(|r| r.data)
        .is_some());
    db.cleanup().await;
}

/// Collects the (thread, level, target, message) of every event of the test binary.
///
/// Installed once as the global default, not per test with `set_default`: tracing
/// caches each callsite's interest when it is first hit, and a test thread without a
/// subscriber hitting the cache-failure callsite first would cache "never" for the
/// whole binary while one scoped subscriber exists (seen failing 16 runs in 40).
/// Each test reads the events of its own thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<LogLine>>>);

/// One event: the thread it was logged on, its level, target and message.
type LogLine = (std::thread::ThreadId, tracing::Level, String, String);

impl Logs {
    /// The binary's collector, installed on first use.
    fn global() -> Logs {
        static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = Logs::default();
            tracing::subscriber::set_global_default(logs.clone())
                .expect("no other global subscriber in this binary");
            logs
        })
        .clone()
    }

    /// The ERROR-level messages on `target` logged on this thread (rule E4: Django
    /// logs a failed cache write with `logger.exception`).
    fn errors(&self, target: &str) -> Vec<String> {
        let thread = std::thread::current().id();
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(on, level, t, _)| {
                *on == thread && *level == tracing::Level::ERROR && t == target
            })
            .map(|(_, _, _, message)| message.clone())
            .collect()
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let meta = event.metadata();
        self.0.lock().unwrap().push((
            std::thread::current().id(),
            *meta.level(),
            meta.target().to_owned(),
            message.0,
        ));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// A current-thread runtime: every event is logged on the test's thread.
#[tokio::test(flavor = "current_thread")]
async fn a_failing_cache_never_fails_a_save_and_is_logged() {
    let logs = Logs::global();
    let db = open(Kind::Sqlite, "cdb_down").await.expect("SQLite");
    let store = CachedDbStore::new(db.store.clone(), Arc::new(Down), Arc::new(db.clock.clone()))
        .epoch_interval(Duration::from_millis(10));
    let key = SessionKey::generate();

    store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .expect("create despite the cache");
    let epoch = epoch_of(&db.store).await;
    store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), hour()),
            SaveMode::Update,
        )
        .await
        .expect("update despite the cache");
    let saving = logs.errors("django.contrib.sessions");
    assert_eq!(saving.len(), 2, "one warning a save: {saving:?}");
    // Each save changed the epoch: whatever the cache holds is distrusted.
    let changed = epoch_of(&db.store).await;
    assert_ne!(changed, epoch);
    assert!(
        saving
            .iter()
            .all(|m| m.starts_with("Error saving to cache")),
        "{saving:?}"
    );
    assert!(
        !saving.iter().any(|m| m.contains(key.as_str())),
        "no key in logs (H5)"
    );

    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 2})))
    );
    assert!(store.aexists(&key).await.unwrap());
    assert!(logs
        .errors("django.contrib.sessions")
        .iter()
        .any(|m| m.starts_with("Error reading from cache")));

    // Deleting removes the row and changes the epoch, so no cached copy survives.
    store.adelete(&key).await.expect("the logout completes");
    assert_eq!(db.store.read_raw(&key).await.unwrap(), None);
    assert_ne!(epoch_of(&db.store).await, changed);
    assert!(logs
        .errors("django.contrib.sessions")
        .iter()
        .any(|m| m.starts_with("Error deleting from cache")));
    db.cleanup().await;
}

/// E4 with D9: the sync side of a cached_db backend (`SessionBackend::sync`, the
/// async store behind the blocking bridge, as Django's sync `save()`) saves, loads and
/// deletes through a cache that refuses every call; each failed cache call is logged.
// A multi-thread runtime, so the bridge may block; the test body and the futures it
// blocks on run on this thread, whose events the test reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_save_path_survives_a_failing_cache() {
    let logs = Logs::global();
    let db = open(Kind::Sqlite, "cdb_down_sync").await.expect("SQLite");
    let store = CachedDbStore::new(db.store.clone(), Arc::new(Down), Arc::new(db.clock.clone()));
    let backend = SessionBackend::from_async(Arc::new(store));
    let sync = backend.sync();

    let key = sync
        .create(&data(json!({"a": 1})), hour())
        .expect("a sync create despite the cache");
    sync.save(
        &Record::new(key.clone(), data(json!({"a": 2})), hour()),
        SaveMode::Update,
    )
    .expect("a sync update despite the cache");
    let saving: Vec<_> = logs
        .errors("django.contrib.sessions")
        .into_iter()
        .filter(|m| m.starts_with("Error saving to cache"))
        .collect();
    assert_eq!(saving.len(), 2, "one log line a sync save: {saving:?}");
    // The database has the update.
    assert_eq!(
        db.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 2})))
    );
    assert_eq!(
        sync.load(&key).unwrap().map(|r| r.data),
        Some(data(json!({"a": 2})))
    );
    assert!(sync.exists(&key).unwrap());
    sync.delete(&key).expect("a sync logout despite the cache");
    assert_eq!(db.store.read_raw(&key).await.unwrap(), None);
    assert!(!sync.exists(&key).unwrap());
    db.cleanup().await;
}

/// E4: Django's `exists` is `cache_key in self._cache or
/// super().exists(...)`: a live cache entry answers without asking the database. The
/// row is deleted behind the store's back with raw SQL; the cached store still says
/// yes, from the cache, while the database and a cached_db whose cache is down say no.
#[tokio::test]
async fn a_cached_entry_answers_exists_without_the_database() {
    let s = setup("cdb_exists").await;
    let key = s
        .store
        .acreate(&data(json!({"a": 1})), hour())
        .await
        .unwrap();
    assert!(s
        .cache
        .inner
        .get(&s.store.cache_key(&key))
        .await
        .unwrap()
        .is_some());

    exec(
        &s.db.store,
        &format!(
            "DELETE FROM {} WHERE session_key = '{}'",
            s.db.store.table(),
            key.as_str()
        ),
    )
    .await;
    assert!(!s.db.store.aexists(&key).await.unwrap(), "the row is gone");
    let uncached = CachedDbStore::new(
        s.db.store.clone(),
        Arc::new(Down),
        Arc::new(s.db.clock.clone()),
    );
    assert!(
        !uncached.aexists(&key).await.unwrap(),
        "without the cache, the database answers"
    );
    assert!(
        s.store.aexists(&key).await.unwrap(),
        "the cache entry answers, the database is not asked"
    );
    s.db.cleanup().await;
}

/// E4 over a durable store that is not the database: any `AsyncSessionStore` works,
/// held as a trait object; the record's expiry sets the cache's time to live.
#[tokio::test]
async fn any_durable_store_works_behind_the_cache() {
    let clock = ManualClock::new(START);
    let memory = Arc::new(MemoryStore::with_clock(Arc::new(clock.clone())));
    let durable: Arc<dyn AsyncSessionStore> = Arc::new(InlineAsync(memory.clone()));
    let cache = Arc::new(Recording {
        inner: MemoryCache::with_clock(Arc::new(clock.clone())),
        writes: Mutex::default(),
    });
    let store: CachedDbStore =
        CachedDbStore::new(durable.clone(), cache.clone(), Arc::new(clock.clone()));
    // The memory store's capabilities (no backend TTL).
    assert_eq!(
        store.capabilities(),
        durable.capabilities().with_backend_ttl(false)
    );

    let key = store.acreate(&data(json!({"a": 1})), hour()).await.unwrap();
    let cache_key = store.cache_key(&key);
    // The memory store is versioned: a plain save's version is not known here, so
    // the lease goes and the first load fills the cache (V1).
    assert_eq!(
        cache.take(),
        [
            ("set", cache_key.clone(), LEASE),
            ("delete", cache_key.clone(), Duration::ZERO)
        ]
    );
    // The record and the epoch.
    assert_eq!(memory.len(), 2, "the durable store has the record");

    // A miss is filled from the durable record's expiry, with its version.
    clock.advance(time::Duration::minutes(15));
    let version = durable.aload(&key).await.unwrap().unwrap().version;
    assert!(version.is_some());
    assert_eq!(
        store.aload(&key).await.unwrap(),
        Some(Record::new(key.clone(), data(json!({"a": 1})), hour()).with_version(version))
    );
    assert_eq!(
        cache.take(),
        [
            ("add", cache_key.clone(), LEASE),
            (
                "compare_and_set",
                cache_key.clone(),
                Duration::from_secs(2700)
            )
        ]
    );
    // Update, then delete from both layers.
    store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), hour()),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(
        store.durable().aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 2})))
    );
    store.adelete(&key).await.unwrap();
    assert_eq!(memory.len(), 1, "the epoch is left");
    assert_eq!(cache.get(&cache_key).await.unwrap(), None);
    assert_eq!(store.aload(&key).await.unwrap(), None);
}

/// `RedisSerializer().dumps({"a": 1})` by Django 5.2 (pickle protocol 5).
const DJANGO_A1: &[u8] = b"\x80\x05\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.";

async fn django_setup(tag: &str) -> Setup {
    let s = setup(tag).await;
    let store = CachedDbStore::new(
        s.db.store.clone(),
        s.cache.clone(),
        Arc::new(s.db.clock.clone()),
    )
    .format(CacheFormat::django_with("site", 1));
    Setup { store, ..s }
}

#[tokio::test]
async fn the_django_format_shares_djangos_key_and_pickles() {
    let s = django_setup("cdb_django_format").await;
    let key = SessionKey::generate();
    let cache_key = format!("site:1:django.contrib.sessions.cached_db{}", key.as_str());
    assert_eq!(s.store.cache_key(&key), cache_key);
    assert_eq!(s.store.cache_format(), &CacheFormat::django_with("site", 1));
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let epoch = epoch_of(&s.db.store).await;
    let stored = s.cache.get(&cache_key).await.unwrap().unwrap();
    let trailer = format!(r#"{{"epoch":"{epoch}","expires":"2026-01-01T01:00:00.000000000Z"}}"#);
    let pickle_len = stored.len() - trailer.len() - 1;
    assert_eq!(&stored[pickle_len..], [b"\0", trailer.as_bytes()].concat());
    assert_eq!(&stored[..2], b"\x80\x03", "a pickle");
    assert_eq!(
        s.store.aload(&key).await.unwrap(),
        Some(Record::new(key.clone(), data(json!({"a": 1})), hour()))
    );
    // A lease is a pickled None (a miss for Django) with its token after it.
    s.cache.delete(&cache_key).await.unwrap();
    s.db.store.adelete(&key).await.unwrap();
    assert_eq!(s.store.aload(&key).await.unwrap(), None);
    let lease = s.cache.get(&cache_key).await.unwrap().unwrap();
    assert!(lease.starts_with(b"\x80\x03N.\0{\"lease\":\""), "{lease:?}");
    s.db.cleanup().await;
}

/// An entry Django wrote has no epoch: it is never served, the database answers and
/// the fill replaces it (Django's own update or logout is seen at once).
#[tokio::test]
async fn django_written_entries_are_read_from_the_database_and_replaced() {
    let s = django_setup("cdb_django_entries").await;
    let key = SessionKey::generate();
    let cache_key = s.store.cache_key(&key);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    // Django's `cache.set` of an older dict (a racing Django load, say).
    s.cache
        .set(&cache_key, DJANGO_A1, Duration::from_secs(600))
        .await
        .unwrap();
    s.cache.take();
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 2})))
    );
    assert_eq!(
        s.cache.take(),
        [
            ("compare_and_set", cache_key.clone(), LEASE),
            (
                "compare_and_set",
                cache_key.clone(),
                Duration::from_secs(3600)
            )
        ]
    );
    let refilled = s.cache.get(&cache_key).await.unwrap().unwrap();
    assert!(refilled.ends_with(b"\"}") && refilled.starts_with(b"\x80\x03"));
    // Served from the cache now.
    assert_eq!(
        s.store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(json!({"a": 2})))
    );
    assert_eq!(s.cache.take(), []);
    s.db.cleanup().await;
}

/// A record saved already expired is not cached: Django, which reads no stamp, would
/// serve it.
#[tokio::test]
async fn an_expired_save_leaves_no_entry() {
    let s = django_setup("cdb_django_expired").await;
    let key = SessionKey::generate();
    let cache_key = s.store.cache_key(&key);
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 1})), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    s.cache.take();
    s.store
        .asave(
            &Record::new(key.clone(), data(json!({"a": 2})), START),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(
        s.cache.take(),
        [
            ("set", cache_key.clone(), LEASE),
            ("delete", cache_key.clone(), Duration::ZERO)
        ]
    );
    assert_eq!(s.store.aload(&key).await.unwrap(), None);
    s.db.cleanup().await;
}

#[tokio::test]
async fn django_format_refuses_data_its_pickles_cannot_hold_before_the_database() {
    let s = django_setup("cdb_django_refuse").await;
    let key = SessionKey::generate();
    let r = s
        .store
        .asave(
            &Record::new(key.clone(), data(json!({"n": u64::MAX})), hour()),
            SaveMode::Create,
        )
        .await;
    assert!(matches!(r, Err(Error::Serialization(_))), "{r:?}");
    assert_eq!(s.db.store.read_raw(&key).await.unwrap(), None);
    assert_eq!(s.cache.get(&s.store.cache_key(&key)).await.unwrap(), None);
    s.db.cleanup().await;
}
