//! cached_db in Django's format (`CacheFormat::Django`) beside a real Django 5.2
//! (the interop tests' driver, `tests/django/`): what only this format claims, on
//! SQLite and the shared Redis. A lease this store leaves in the shared slot (a
//! pickled `None` with its token after it) is a miss for Django, which reads the
//! database and fills the slot; the store then never serves Django's entry, which
//! has no epoch, and reads the database. The trailer after the pickle is what Django
//! reads past. The full two-way suite is `django_interop_cache.rs`.
#![cfg(all(feature = "redis", feature = "cached_db", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod django;

use std::sync::Arc;
use std::time::Duration;

use django::{now, redis_url, Db, Engine, Site, CACHE};
use serde_json::json;
use session_api::{AsyncSessionStore, ManualClock, Record, SaveMode, SessionData, SessionKey};
use session_stores::cache::{Cache, CacheFormat, RedisCache, RedisOptions};
use session_stores::cached_db::CachedDbStore;
use session_stores::db::{DbOptions, DbPool, DbPoolOptions, DbStore, Versioning};

#[tokio::test]
async fn a_lease_is_a_miss_for_django_and_djangos_fill_is_never_served_here() {
    let Some(django) = django::django() else {
        return;
    };
    let Some(url) = django.database(Db::Sqlite) else {
        return;
    };
    let redis = match RedisCache::connect(&redis_url(), RedisOptions::default()).await {
        Ok(redis) => redis,
        Err(err) => return django::unavailable("Redis server (SESSIONS_TEST_REDIS_URL)", &err),
    };
    let site = Site::new(Engine::CachedDb(Db::Sqlite, CACHE));
    let t = now();
    let clock = ManualClock::new(t);
    let config = site.rust_config(&clock);
    let pool = DbPool::connect(&url, &DbPoolOptions::default().max_connections(2))
        .await
        .unwrap();
    // Django's table as Django made it: no version column.
    let options = DbOptions::from_config(&config).versioning(Versioning::Off);
    let db = DbStore::new(pool, options).unwrap();
    let store = CachedDbStore::new(Arc::new(db), Arc::new(redis.clone()), config.clock.clone())
        .format(CacheFormat::django_with(django.cache_prefix(), 1));

    let key = SessionKey::generate();
    let data = SessionData::from_value(json!({"cart": [1, 2], "user": "bob"})).unwrap();
    let expires = t + time::Duration::hours(1);
    store
        .asave(
            &Record::new(key.clone(), data.clone(), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    // The entry Django sees: this store's pickle, then the trailer it reads past.
    let cached = site.cache_raw(django, key.as_str());
    assert_eq!(cached.full_key, store.cache_key(&key));
    let entry = cached.value.expect("an entry");
    assert!(entry.starts_with(b"\x80\x03") && entry.ends_with(b"\"}"));
    let read = site.request(Some(key.as_str())).at(t).run(django);
    assert_eq!(read.data_text, r#"{"cart":[1,2],"user":"bob"}"#);

    // A save in flight: its lease holds the slot.
    let lease = b"\x80\x03N.\0{\"lease\":\"inflight0000000000000000000000000\"}";
    redis
        .set(&store.cache_key(&key), lease, Duration::from_secs(5))
        .await
        .unwrap();
    let read = site.request(Some(key.as_str())).at(t).run(django);
    assert_eq!(read.key.as_deref(), Some(key.as_str()), "not a logout");
    assert_eq!(read.data_text, r#"{"cart":[1,2],"user":"bob"}"#);
    // Django read the database and filled the slot with its own pickle (protocol 5).
    let filled = site
        .cache_raw(django, key.as_str())
        .value
        .expect("Django's fill");
    assert!(filled.starts_with(b"\x80\x05") && filled.ends_with(b"."));

    // Here that entry carries no epoch: the database answers, and the fill puts a
    // stamped copy back, which Django still reads.
    store.durable().adelete(&key).await.unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap(),
        None,
        "the database decides"
    );
    store
        .asave(
            &Record::new(key.clone(), data.clone(), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    site.cache_delete(django, key.as_str());
    assert_eq!(store.aload(&key).await.unwrap().map(|r| r.data), Some(data));
    let refilled = site
        .cache_raw(django, key.as_str())
        .value
        .expect("the fill");
    assert!(refilled.ends_with(b"\"}"), "this store's entry");
    let read = site.request(Some(key.as_str())).at(t).run(django);
    assert_eq!(read.data_text, r#"{"cart":[1,2],"user":"bob"}"#);
    store.adelete(&key).await.unwrap();
    let read = site.request(Some(key.as_str())).at(t).run(django);
    assert_eq!(read.key, None, "the logout reached Django");
}
