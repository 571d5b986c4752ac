//! The Redis cache against the shared server (127.0.0.1:6379 or
//! `SESSIONS_TEST_REDIS_URL`; skipped loudly when absent, failed under `CI=true`):
//! the commands' semantics, the stored value and its TTL, odd values. Every key is
//! under a prefix of this process, removed at the end.
// The shared test helpers need a database driver.
#![cfg(all(feature = "redis", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::redis::{shared, shared_url, KeyCleanup};
use fred::prelude::{ClientLike, KeysInterface, Value};
use serde_json::json;
use session_api::{AsyncSessionStore, Error, Record, SaveMode, SessionData, SessionKey};
use session_stores::cache::{Cache, CacheStore, RedisCache, RedisOptions};

fn prefix(test: &str) -> String {
    format!("test:{}:{test}:", std::process::id())
}

async fn pttl(cache: &RedisCache, key: &str) -> i64 {
    cache.client().pttl(key).await.unwrap()
}

#[tokio::test]
async fn commands_follow_the_cache_contract() {
    let Some(cache) = shared().await else { return };
    let p = prefix("contract");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let k = format!("{p}k");
    let minute = Duration::from_secs(60);

    assert!(cache.add(&k, "1", minute).await.unwrap());
    assert!(!cache.add(&k, "2", minute).await.unwrap());
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some("1"));
    let t = pttl(&cache, &k).await;
    assert!((59_000..=60_000).contains(&t), "PTTL {t}");

    assert_eq!(
        cache
            .replace(&k, "3", Duration::from_secs(5))
            .await
            .unwrap()
            .as_deref(),
        Some("1")
    );
    let t = pttl(&cache, &k).await;
    assert!((4_000..=5_000).contains(&t), "replace sets the TTL: {t}");

    let missing = format!("{p}missing");
    assert_eq!(cache.replace(&missing, "x", minute).await.unwrap(), None);
    assert_eq!(cache.get(&missing).await.unwrap(), None, "XX wrote nothing");

    cache
        .set(&missing, "y", Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(cache.get(&missing).await.unwrap().as_deref(), Some("y"));
    let t = pttl(&cache, &missing).await;
    assert!((1_000..=1_500).contains(&t), "PTTL {t}");

    // Compare-and-set: only over the exact value, with the new TTL.
    assert!(!cache.compare_and_set(&k, "1", "4", minute).await.unwrap());
    assert!(cache
        .compare_and_set(&k, "3", "4", Duration::from_secs(7))
        .await
        .unwrap());
    assert_eq!(cache.get(&k).await.unwrap().as_deref(), Some("4"));
    let t = pttl(&cache, &k).await;
    assert!(
        (6_000..=7_000).contains(&t),
        "compare_and_set sets the TTL: {t}"
    );
    let absent = format!("{p}absent");
    assert!(!cache
        .compare_and_set(&absent, "", "x", minute)
        .await
        .unwrap());
    assert_eq!(cache.get(&absent).await.unwrap(), None);

    cache.delete(&k).await.unwrap();
    cache.delete(&k).await.unwrap();
    assert_eq!(cache.get(&k).await.unwrap(), None);
}

/// Attack: two sites share a Redis with overlapping prefixes, `site:sess` and
/// `site:session`. A session key beginning with `ion` under the first was the same
/// cache key as the rest of that key under the second.
#[tokio::test]
async fn overlapping_prefixes_never_share_an_entry() {
    let Some(cache) = shared().await else { return };
    let p = prefix("overlap");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let cache: Arc<dyn Cache> = Arc::new(cache);
    let short = CacheStore::new(cache.clone()).key_prefix(format!("{p}site:sess"));
    let long = CacheStore::new(cache).key_prefix(format!("{p}site:session"));
    let fresh = SessionKey::generate();
    let rest = &fresh.as_str()[..29];
    let victim = SessionKey::parse(&format!("ion{rest}")).unwrap();
    let probe = SessionKey::parse(rest).unwrap();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let secret = SessionData::from_value(json!({"_auth_user_id": "42"})).unwrap();
    short
        .asave(
            &Record::new(victim.clone(), secret, expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let read = long.aload(&probe).await.unwrap().map(|r| r.data);
    assert_eq!(read, None, "the other site read the session");
    assert_ne!(short.cache_key(&victim), long.cache_key(&probe));
    assert!(!long.aexists(&probe).await.unwrap());
    // Nor can the other site take it over.
    long.asave(
        &Record::new(probe.clone(), SessionData::new(), expires),
        SaveMode::Create,
    )
    .await
    .unwrap();
    assert_eq!(
        short.aload(&victim).await.unwrap().map(|r| r.data.len()),
        Some(1)
    );
}

/// `Debug` of the Redis cache never shows the URL's password (rule H5).
#[tokio::test]
async fn debug_never_shows_the_password() {
    let port = common::redis::free_port();
    let url = format!("redis://user:hunter2secret@127.0.0.1:{port}/0");
    let cache = RedisCache::connect(&url, RedisOptions::default().wait_for_connection(false))
        .await
        .unwrap();
    let store = CacheStore::new(Arc::new(cache.clone()));
    for shown in [
        format!("{cache:?}"),
        format!("{store:?}"),
        format!("{:?}", RedisOptions::default()),
    ] {
        assert!(!shown.contains("hunter2secret"), "{shown}");
        assert!(!shown.contains("user"), "{shown}");
    }
    assert!(format!("{cache:?}").contains("single server"));
}

#[tokio::test]
async fn the_store_writes_the_documented_value_with_the_remaining_age() {
    let Some(cache) = shared().await else { return };
    let p = prefix("store");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let cache = Arc::new(cache);
    let store = CacheStore::new(cache.clone()).key_prefix(p.clone());
    let key = SessionKey::generate();
    let expires = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        + time::Duration::hours(1);
    let data = SessionData::from_value(json!({"user": "bob", "text": "café"})).unwrap();
    store
        .asave(
            &Record::new(key.clone(), data.clone(), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();

    let cache_key = format!("{p}:{}", key.as_str());
    assert_eq!(store.cache_key(&key), cache_key);
    let stored: Option<String> = cache.client().get(&cache_key).await.unwrap();
    let expected = format!(
        r#"{{"expires":"{}","data":{{"user":"bob","text":"café"}}}}"#,
        expires
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    assert_eq!(stored.as_deref(), Some(expected.as_str()));
    let t = pttl(&cache, &cache_key).await;
    assert!((3_590_000..=3_600_000).contains(&t), "PTTL {t}");
    assert_eq!(
        store.aload(&key).await.unwrap(),
        Some(Record::new(key.clone(), data, expires))
    );
    assert!(store.aexists(&key).await.unwrap());

    store.adelete(&key).await.unwrap();
    assert!(!store.aexists(&key).await.unwrap());
    let r = store
        .asave(
            &Record::new(key.clone(), SessionData::new(), expires),
            SaveMode::Update,
        )
        .await;
    assert!(matches!(r, Err(Error::Update)), "{r:?}");
    assert_eq!(pttl(&cache, &cache_key).await, -2, "no key was re-created");
}

#[tokio::test]
async fn odd_values_load_as_none_and_wrong_types_are_backend_errors() {
    let Some(cache) = shared().await else { return };
    let p = prefix("odd");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    let cache = Arc::new(cache);
    let store = CacheStore::new(cache.clone()).key_prefix(p.clone());

    let binary = SessionKey::generate();
    let _: () = cache
        .client()
        .set(
            store.cache_key(&binary),
            Value::Bytes(vec![0xff, 0xfe, 0x00, b'{'].into()),
            Some(fred::prelude::Expiration::EX(60)),
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(store.aload(&binary).await.unwrap(), None);
    assert!(store.aexists(&binary).await.unwrap());

    let hash = SessionKey::generate();
    let _: () = cache
        .client()
        .custom(
            fred::types::CustomCommand::new_static("HSET", None::<u16>, false),
            vec![store.cache_key(&hash), "f".into(), "v".into()],
        )
        .await
        .unwrap();
    assert!(matches!(store.aload(&hash).await, Err(Error::Backend(_))));
}

#[tokio::test]
async fn urls_are_checked_and_never_echoed() {
    let r = RedisCache::connect("not a url", RedisOptions::default()).await;
    assert!(matches!(r, Err(Error::Configuration(_))), "{r:?}");

    let port = common::redis::free_port();
    let url = format!("redis://user:hunter2secret@127.0.0.1:{port}/0");
    let started = std::time::Instant::now();
    let err = RedisCache::connect(&url, RedisOptions::default())
        .await
        .expect_err("nothing listens there");
    // Nothing listening: the store is unreachable, not broken.
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2secret"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refused at once"
    );
}

#[tokio::test]
async fn the_concrete_cache_stays_reachable_through_a_clone() {
    let Some(cache) = shared().await else { return };
    let p = prefix("clone");
    let _cleanup = KeyCleanup::new(&shared_url(), &p);
    // The store holds one clone; the application keeps another.
    let store = CacheStore::new(Arc::new(cache.clone())).key_prefix(p.clone());
    let key = SessionKey::generate();
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    store
        .asave(
            &Record::new(key.clone(), SessionData::new(), expires),
            SaveMode::Create,
        )
        .await
        .unwrap();
    let cache_key = store.cache_key(&key);
    assert!(
        pttl(&cache, &cache_key).await > 0,
        "the clone sees the store's key"
    );
    // Dropping the store's clone leaves the connection of the other one working.
    drop(store);
    assert!(cache.is_connected());
    assert!(cache.get(&cache_key).await.unwrap().is_some());
    cache.quit().await.unwrap();
    assert!(!cache.is_connected());
}
