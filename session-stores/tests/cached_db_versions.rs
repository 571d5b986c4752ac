//! cached_db's optional operations, forwarded to the durable store (memory, SQLite,
//! PostgreSQL at 127.0.0.1:5432 with `postgres`) over the memory cache and the
//! shared Redis: a cached load gives the durable version (V1), conflicts, a plain
//! save and a touch never leave a stale version or expiry in the cache (V3, V4),
//! lookups, and the account index with revocation dropping the cached copies (S5).
#![cfg(all(feature = "cached_db", feature = "sqlite", feature = "memory"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{open_with, options, Kind, TestDb, START};
use serde_json::json;
use session_api::store::{Lookup, Version};
use session_api::{
    AsyncSessionStore, Clock, Error, InlineAsync, ManualClock, Record, SaveMode, SessionData,
    SessionKey,
};
use session_stores::cache::{Cache, MemoryCache};
use session_stores::cached_db::CachedDbStore;
use session_stores::db::{AccountIdColumn, Versioning};
use session_stores::memory::MemoryStore;
use time::Duration;

fn data(value: serde_json::Value) -> SessionData {
    SessionData::from_value(value).unwrap()
}

fn user(id: &str) -> SessionData {
    data(json!({"_auth_user_id": id}))
}

struct Fixture {
    store: CachedDbStore,
    durable: Arc<dyn AsyncSessionStore>,
    cache: Arc<dyn Cache>,
    clock: ManualClock,
    /// Keeps a database (and its tempdir) for the fixture's life.
    db: Option<TestDb>,
}

impl Fixture {
    fn new(
        durable: Arc<dyn AsyncSessionStore>,
        cache: Arc<dyn Cache>,
        clock: ManualClock,
        prefix: &str,
        db: Option<TestDb>,
    ) -> Fixture {
        let store = CachedDbStore::new(durable.clone(), cache.clone(), Arc::new(clock.clone()))
            .key_prefix(prefix);
        Fixture {
            store,
            durable,
            cache,
            clock,
            db,
        }
    }

    async fn created(&self, value: SessionData) -> Record {
        let at = self.clock.now() + Duration::hours(1);
        let key = self.store.acreate(&value, at).await.unwrap();
        Record::new(key, value, at)
    }

    /// The durable store's version of `key`.
    async fn durable_version(&self, key: &SessionKey) -> Option<Version> {
        self.durable.aload(key).await.unwrap().unwrap().version
    }

    /// The cached entry of `key`, as text.
    async fn cached(&self, key: &SessionKey) -> Option<String> {
        self.cache
            .get(&self.store.cache_key(key))
            .await
            .unwrap()
            .map(|bytes| String::from_utf8(bytes).unwrap())
    }

    async fn cleanup(self) {
        if let Some(db) = self.db {
            db.cleanup().await;
        }
    }
}

/// V1: the capabilities are the durable store's; a load (from the database, then
/// from the cache it filled) gives the durable version; `asave_if` returns the new
/// one, which the cached entry carries; a stale one is a conflict and the winner
/// stays, cached or not.
async fn cached_loads_give_the_durable_version(f: &Fixture) {
    let caps = f.store.capabilities();
    let durable = f.durable.capabilities();
    assert_eq!(
        (caps.versioned, caps.touch, caps.list_by_account),
        (durable.versioned, durable.touch, durable.list_by_account)
    );
    assert!(caps.versioned && caps.touch);
    let record = f.created(data(json!({"a": 1}))).await;
    let v0 = f.store.aload(&record.key).await.unwrap().unwrap().version;
    assert_eq!(v0, f.durable_version(&record.key).await);
    let cached = f
        .cached(&record.key)
        .await
        .expect("the load filled the cache");
    assert!(
        cached.contains(&format!("\"version\":{}", v0.unwrap().get())),
        "{cached}"
    );
    assert_eq!(
        f.store.aload(&record.key).await.unwrap().unwrap().version,
        v0
    );

    let next = Record::new(record.key.clone(), data(json!({"a": 2})), record.expires_at);
    let v1 = f.store.asave_if(&next, v0.unwrap()).await.unwrap();
    assert_ne!(Some(v1), v0);
    assert_eq!(Some(v1), f.durable_version(&record.key).await);
    let cached = f
        .cached(&record.key)
        .await
        .expect("the save cached the entry");
    assert!(
        cached.contains(&format!("\"version\":{}", v1.get())),
        "{cached}"
    );
    match f.store.alookup(&record.key).await.unwrap() {
        Lookup::Found(r) => assert_eq!((r.version, r.data), (Some(v1), data(json!({"a": 2})))),
        other => panic!("lookup of a live record: {other:?}"),
    }

    let stale = Record::new(record.key.clone(), data(json!({"a": 3})), record.expires_at);
    assert!(matches!(
        f.store.asave_if(&stale, v0.unwrap()).await,
        Err(Error::Conflict)
    ));
    let loaded = f.store.aload(&record.key).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.data),
        (Some(v1), data(json!({"a": 2})))
    );
}

/// V3: after a plain save the cache holds no entry with the old version (the
/// version that save gave is unknown here), and the next load gives the durable's.
async fn a_plain_save_leaves_no_stale_version(f: &Fixture) {
    let record = f.created(data(json!({"a": 1}))).await;
    let v0 = f.store.aload(&record.key).await.unwrap().unwrap().version;
    let plain = Record::new(record.key.clone(), data(json!({"a": 2})), record.expires_at);
    f.store.asave(&plain, SaveMode::Update).await.unwrap();
    assert_eq!(f.cached(&record.key).await, None);
    let loaded = f.store.aload(&record.key).await.unwrap().unwrap();
    assert_ne!(loaded.version, v0);
    assert_eq!(loaded.version, f.durable_version(&record.key).await);
    assert!(matches!(
        f.store.asave_if(&plain, v0.unwrap()).await,
        Err(Error::Conflict)
    ));
}

/// V1, D5: a versioned save or a touch of a missing or deleted record is `Update`
/// and creates nothing, in either layer.
async fn missing_records_are_update_errors(f: &Fixture) {
    let unknown = Record::new(
        SessionKey::generate(),
        data(json!({})),
        START + Duration::hours(1),
    );
    assert!(matches!(
        f.store.asave_if(&unknown, Version::new(1)).await,
        Err(Error::Update)
    ));
    assert!(matches!(
        f.store.atouch(&unknown.key, unknown.expires_at).await,
        Err(Error::Update)
    ));
    assert_eq!(
        f.store.alookup(&unknown.key).await.unwrap(),
        Lookup::Missing
    );
    let deleted = f.created(data(json!({"a": 1}))).await;
    let v = f
        .store
        .aload(&deleted.key)
        .await
        .unwrap()
        .unwrap()
        .version
        .unwrap();
    f.store.adelete(&deleted.key).await.unwrap();
    assert!(matches!(
        f.store.asave_if(&deleted, v).await,
        Err(Error::Update)
    ));
    assert!(f.durable.aload(&deleted.key).await.unwrap().is_none());
    assert_eq!(f.cached(&deleted.key).await, None);
}

/// V4: a touch moves the durable expiry; the cached copy goes, so the next load
/// gives the new expiry and the durable's new version, and the data.
async fn a_touch_moves_the_durable_expiry(f: &Fixture) {
    let record = f.created(data(json!({"a": 1}))).await;
    let v0 = f.store.aload(&record.key).await.unwrap().unwrap().version;
    assert!(f.cached(&record.key).await.is_some());
    let moved = f.clock.now() + Duration::hours(5);
    f.store.atouch(&record.key, moved).await.unwrap();
    assert_eq!(f.cached(&record.key).await, None);
    let loaded = f.store.aload(&record.key).await.unwrap().unwrap();
    assert_eq!((loaded.expires_at, &loaded.data), (moved, &record.data));
    assert_eq!(loaded.version, f.durable_version(&record.key).await);
    assert_ne!(loaded.version, v0);
    f.clock.advance(Duration::hours(2));
    assert!(f.store.aload(&record.key).await.unwrap().is_some());
}

/// S5: the durable store's index, through this store; revoking removes the cached
/// copies too, so no revoked session loads.
async fn revocation_drops_the_cached_copies(f: &Fixture) {
    let index = f
        .store
        .accounts()
        .expect("the durable store lists by account");
    let a = f.created(user("42")).await;
    let b = f.created(user("42")).await;
    let c = f.created(user("42")).await;
    let other = f.created(user("7")).await;
    for r in [&a, &b, &c, &other] {
        f.store.aload(&r.key).await.unwrap().unwrap();
        assert!(f.cached(&r.key).await.is_some(), "the load cached it");
    }
    assert_eq!(index.alist_sessions(42).await.unwrap().len(), 3);
    assert_eq!(index.arevoke_all_except(42, &b.key).await.unwrap(), 2);
    for gone in [&a, &c] {
        assert_eq!(f.cached(&gone.key).await, None);
        assert!(f.store.aload(&gone.key).await.unwrap().is_none());
    }
    assert_eq!(index.arevoke_all(42).await.unwrap(), 1);
    assert!(f.store.aload(&b.key).await.unwrap().is_none());
    assert!(f.store.aload(&other.key).await.unwrap().is_some());
    assert_eq!(index.alist_sessions(7).await.unwrap().len(), 1);
}

async fn all_cases(f: Fixture) {
    cached_loads_give_the_durable_version(&f).await;
    a_plain_save_leaves_no_stale_version(&f).await;
    missing_records_are_update_errors(&f).await;
    a_touch_moves_the_durable_expiry(&f).await;
    if f.store.capabilities().list_by_account {
        revocation_drops_the_cached_copies(&f).await;
    }
    f.cleanup().await;
}

fn memory_cache(clock: &ManualClock) -> Arc<dyn Cache> {
    Arc::new(MemoryCache::with_clock(Arc::new(clock.clone())))
}

/// A database store with the account column, on `clock`.
async fn database(kind: Kind, tag: &str, clock: &ManualClock) -> Option<TestDb> {
    let opts = options(tag, clock).extension(Arc::new(AccountIdColumn::new()));
    open_with(kind, clock.clone(), opts).await
}

#[tokio::test]
async fn over_the_memory_store() {
    let clock = ManualClock::new(START);
    let durable = Arc::new(InlineAsync(Arc::new(MemoryStore::with_clock(Arc::new(
        clock.clone(),
    )))));
    assert!(durable.capabilities().list_by_account);
    let cache = memory_cache(&clock);
    all_cases(Fixture::new(durable, cache, clock, "cdbv", None)).await;
}

#[tokio::test]
async fn over_sqlite() {
    let clock = ManualClock::new(START);
    let db = database(Kind::Sqlite, "cdbv", &clock)
        .await
        .expect("SQLite");
    let cache = memory_cache(&clock);
    let durable = db.store.clone();
    all_cases(Fixture::new(durable, cache, clock, "cdbv", Some(db))).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn over_postgres() {
    let clock = ManualClock::new(START);
    let Some(db) = database(Kind::Postgres, "cdbv", &clock).await else {
        return;
    };
    let cache = memory_cache(&clock);
    let durable = db.store.clone();
    all_cases(Fixture::new(durable, cache, clock, "cdbv", Some(db))).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn over_sqlite_and_redis() {
    use common::redis::{shared, shared_url, KeyCleanup};
    let Some(redis) = shared().await else {
        return;
    };
    let prefix = format!("test:{}:cdbv:", std::process::id());
    let _guard = KeyCleanup::new(&shared_url(), &prefix);
    let clock = ManualClock::new(START);
    let db = database(Kind::Sqlite, "cdbv", &clock)
        .await
        .expect("SQLite");
    let durable = db.store.clone();
    all_cases(Fixture::new(
        durable,
        Arc::new(redis),
        clock,
        &prefix,
        Some(db),
    ))
    .await;
}

/// Over a durable store without versions (Django's own table): loads give none, the
/// cache is filled by saves as before, and `asave_if` is unsupported.
#[tokio::test]
async fn over_an_unversioned_database() {
    let clock = ManualClock::new(START);
    let opts = options("cdbv_off", &clock).versioning(Versioning::Off);
    let db = open_with(Kind::Sqlite, clock.clone(), opts)
        .await
        .expect("SQLite");
    let f = Fixture::new(
        db.store.clone(),
        memory_cache(&clock),
        clock,
        "cdbv",
        Some(db),
    );
    assert!(!f.store.capabilities().versioned);
    let record = f.created(data(json!({"a": 1}))).await;
    assert!(
        f.cached(&record.key).await.is_some(),
        "a save fills the cache"
    );
    let loaded = f.store.aload(&record.key).await.unwrap().unwrap();
    assert_eq!(loaded.version, None);
    assert!(matches!(
        f.store.asave_if(&record, Version::new(0)).await,
        Err(Error::Unsupported(_))
    ));
    f.cleanup().await;
}

/// Entries written before versions (no `version` field) are not served by a store
/// over a versioned database: the database answers and the fill replaces them.
#[tokio::test]
async fn entries_without_a_version_are_refilled() {
    let clock = ManualClock::new(START);
    let off = options("cdbv_old", &clock).versioning(Versioning::Off);
    let db = open_with(Kind::Sqlite, clock.clone(), off)
        .await
        .expect("SQLite");
    let cache = memory_cache(&clock);
    let old = CachedDbStore::new(db.store.clone(), cache.clone(), Arc::new(clock.clone()));
    let key = old
        .acreate(&data(json!({"a": 1})), START + Duration::hours(1))
        .await
        .unwrap();
    let versioned = common::open_with_url(
        Kind::Sqlite,
        &db.url,
        &common::pool_options(),
        clock.clone(),
        options("unused", &clock).table(db.store.table()),
    )
    .await
    .unwrap();
    let f = Fixture::new(
        versioned.store.clone(),
        cache,
        clock,
        "django.contrib.sessions.cached_db",
        None,
    );
    let before = f.cached(&key).await.unwrap();
    assert!(!before.contains("\"version\""), "{before}");
    let loaded = f.store.aload(&key).await.unwrap().unwrap();
    assert_eq!(loaded.version, f.durable_version(&key).await);
    assert!(loaded.version.is_some());
    assert!(f.cached(&key).await.unwrap().contains("\"version\""));
    db.cleanup().await;
}

/// What a load through the store's own clock says after the durable record expired.
#[tokio::test]
async fn an_expired_record_looks_up_as_the_durable_store_says() {
    let clock = ManualClock::new(START);
    let durable: Arc<dyn AsyncSessionStore> = Arc::new(InlineAsync(Arc::new(
        MemoryStore::with_clock(Arc::new(clock.clone())),
    )));
    let f = Fixture::new(durable, memory_cache(&clock), clock, "cdbv", None);
    let key = f
        .store
        .acreate(&data(json!({})), START + Duration::seconds(60))
        .await
        .unwrap();
    f.store.aload(&key).await.unwrap().unwrap();
    f.clock.advance(Duration::seconds(61));
    let durable_says = f.durable.alookup(&key).await.unwrap();
    assert_eq!(f.store.alookup(&key).await.unwrap(), durable_says);
    assert_eq!(durable_says, Lookup::Expired);
}
