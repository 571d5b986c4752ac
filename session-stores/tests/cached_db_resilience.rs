//! cached_db when Redis fails: each test runs its own `redis-server` on a free port
//! (never the shared one), over SQLite. With Redis down, saves and loads go on from
//! the database; a restarted Redis is filled again.
#![cfg(all(feature = "cached_db", feature = "redis", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::{eventually, free_port, test_options, RedisServer};
use common::{open, Kind, START};
use serde_json::json;
use session_api::{AsyncSessionStore, Error, Record, SaveMode, SessionData, SessionKey};
use session_stores::cache::{Cache, RedisCache};
use session_stores::cached_db::CachedDbStore;

fn data(n: i64) -> SessionData {
    SessionData::from_value(json!({"n": n})).unwrap()
}

fn hour() -> time::OffsetDateTime {
    START + time::Duration::hours(1)
}

/// A bound for one call while Redis is down: the command timeout (500 ms), the
/// database's work and slack for a loaded machine.
const BOUND: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_saves_and_loads_use_the_database() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let db = open(Kind::Sqlite, "cdb_redis_down").await.expect("SQLite");
    let redis = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let store = CachedDbStore::new(db.store.clone(), redis.clone(), Arc::new(db.clock.clone()));
    let key = SessionKey::generate();
    store
        .asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();
    assert!(redis.get(&store.cache_key(&key)).await.unwrap().is_some());

    server.stop();
    let started = Instant::now();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );
    store
        .asave(&Record::new(key.clone(), data(2), hour()), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(2))
    );
    assert!(store.aexists(&key).await.unwrap());
    let fresh = SessionKey::generate();
    store
        .asave(
            &Record::new(fresh.clone(), data(3), hour()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(
        store.aload(&fresh).await.unwrap().map(|r| r.data),
        Some(data(3))
    );
    let took = started.elapsed();
    eprintln!("Redis down: 6 calls served by the database in {took:?}");
    assert!(took < BOUND * 6, "{took:?}");

    // Deleting removes the row, then reports the cache it could not reach.
    let r = store.adelete(&fresh).await;
    assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
    assert_eq!(db.store.read_raw(&fresh).await.unwrap(), None);
    assert_eq!(store.aload(&fresh).await.unwrap().map(|r| r.data), None);

    server.restart();
    let cache_key = store.cache_key(&key);
    eventually(Duration::from_secs(15), || async {
        store.aload(&key).await.unwrap().map(|r| r.data) == Some(data(2))
            && redis.get(&cache_key).await.ok().flatten().is_some()
    })
    .await
    .expect("a load fills the restarted Redis");
    store
        .asave(&Record::new(key.clone(), data(4), hour()), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(4))
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_costs_at_most_the_timeout() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let db = open(Kind::Sqlite, "cdb_redis_frozen")
        .await
        .expect("SQLite");
    let redis = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let store = CachedDbStore::new(db.store.clone(), redis, Arc::new(db.clock.clone()));
    let key = SessionKey::generate();
    store
        .asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();

    server.pause();
    let started = Instant::now();
    store
        .asave(&Record::new(key.clone(), data(2), hour()), SaveMode::Update)
        .await
        .unwrap();
    let save = started.elapsed();
    let started = Instant::now();
    let loaded = store.aload(&key).await.unwrap().map(|r| r.data);
    let load = started.elapsed();
    eprintln!("Redis frozen: save {save:?}, load {load:?}");
    assert!(save < BOUND && load < BOUND, "{save:?} {load:?}");
    // The cache read failed too, so the database's data is served.
    assert_eq!(loaded, Some(data(2)));
    server.resume();
    // The timed-out replace may still reach Redis once it runs again; if it does not,
    // the older cached copy is served until the next save (see the module docs).
    let after = eventually(Duration::from_secs(15), || async {
        store.aexists(&key).await.is_ok()
    })
    .await;
    let served = store.aload(&key).await.unwrap().map(|r| r.data);
    eprintln!("Redis thawed after {after:?}: load gives {served:?}");
    assert!(
        served == Some(data(1)) || served == Some(data(2)),
        "{served:?}"
    );
    store
        .asave(&Record::new(key.clone(), data(3), hour()), SaveMode::Update)
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(3))
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_without_redis_and_uses_it_once_it_is_up() {
    let port = free_port();
    let db = open(Kind::Sqlite, "cdb_redis_late").await.expect("SQLite");
    let redis = Arc::new(
        RedisCache::connect(
            &format!("redis://127.0.0.1:{port}"),
            test_options().wait_for_connection(false),
        )
        .await
        .unwrap(),
    );
    let store = CachedDbStore::new(db.store.clone(), redis.clone(), Arc::new(db.clock.clone()));
    let key = SessionKey::generate();
    store
        .asave(&Record::new(key.clone(), data(1), hour()), SaveMode::Create)
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );

    let Some(_server) = RedisServer::start_on(port) else {
        return;
    };
    let cache_key = store.cache_key(&key);
    eventually(Duration::from_secs(15), || async {
        store.aload(&key).await.unwrap().map(|r| r.data) == Some(data(1))
            && redis.get(&cache_key).await.ok().flatten().is_some()
    })
    .await
    .expect("the cache is filled once Redis is up");
    db.cleanup().await;
}
