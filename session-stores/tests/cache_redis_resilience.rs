//! The Redis cache store when Redis fails: each test runs its own `redis-server` on a
//! free port (never the shared one) and kills, freezes or restarts it. A failing call
//! is a typed [`Error::Unavailable`] within the command timeout (no panic, no hang); a
//! restarted server is picked up by later calls.
// The shared test helpers need a database driver.
#![cfg(all(feature = "redis", feature = "sqlite"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::{eventually, free_port, test_options, RedisServer};
use serde_json::json;
use session_api::{AsyncSessionStore, Error, Record, SaveMode, SessionData, SessionKey};
use session_stores::cache::{CacheStore, RedisCache};
use time::OffsetDateTime;

/// `test_options()`'s command timeout.
const TIMEOUT: Duration = Duration::from_millis(500);
/// What a failing call may take beyond the timeout on a loaded machine.
const SLACK: Duration = Duration::from_millis(1500);

fn data(n: i64) -> SessionData {
    SessionData::from_value(json!({"n": n})).unwrap()
}

fn later() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::hours(1)
}

/// Runs `call`, checks it failed with `Error::Unavailable` within the bound; returns how
/// long it took.
async fn fails_in_time<T: std::fmt::Debug>(
    what: &str,
    call: impl std::future::Future<Output = session_api::Result<T>>,
) -> Duration {
    let started = Instant::now();
    let result = call.await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(Error::Unavailable(_))),
        "{what}: expected Error::Unavailable, got {result:?}"
    );
    assert!(took < TIMEOUT + SLACK, "{what} took {took:?}");
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_is_a_typed_error_and_a_restarted_one_is_picked_up() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let redis = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let store = CacheStore::new(redis.clone());
    let key = SessionKey::generate();
    store
        .asave(
            &Record::new(key.clone(), data(1), later()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    // The update's script is cached by the server (EVALSHA from now on).
    store
        .asave(
            &Record::new(key.clone(), data(1), later()),
            SaveMode::Update,
        )
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );

    server.stop();
    let mut worst = Duration::ZERO;
    for _ in 0..3 {
        worst = worst.max(fails_in_time("load", store.aload(&key)).await);
        worst = worst.max(fails_in_time("exists", store.aexists(&key)).await);
        let (two, three, fresh) = (data(2), data(3), SessionKey::generate());
        let update_record = Record::new(key.clone(), two.clone(), later());
        let update = store.asave(&update_record, SaveMode::Update);
        worst = worst.max(fails_in_time("update", update).await);
        let create_record = Record::new(fresh.clone(), three.clone(), later());
        let create = store.asave(&create_record, SaveMode::Create);
        worst = worst.max(fails_in_time("create", create).await);
        worst = worst.max(fails_in_time("delete", store.adelete(&key)).await);
    }
    eprintln!("Redis down: slowest failing call {worst:?}");

    server.restart();
    let took = eventually(Duration::from_secs(15), || async {
        store.aexists(&key).await.is_ok()
    })
    .await
    .expect("the restarted Redis is used again");
    eprintln!("Redis restarted: calls succeed again after {took:?}");
    // Nothing was persisted: the session is gone, new ones work.
    assert_eq!(store.aload(&key).await.unwrap().map(|r| r.data), None);
    let fresh = SessionKey::generate();
    store
        .asave(
            &Record::new(fresh.clone(), data(4), later()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    // The restarted server knows no script: NOSCRIPT, then EVAL, which caches it.
    for n in [5, 6] {
        store
            .asave(
                &Record::new(fresh.clone(), data(n), later()),
                SaveMode::Update,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store.aload(&fresh).await.unwrap().map(|r| r.data),
        Some(data(6))
    );
    assert!(redis.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_times_out_instead_of_hanging() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let redis = Arc::new(
        RedisCache::connect(&server.url(), test_options())
            .await
            .unwrap(),
    );
    let store = CacheStore::new(redis);
    let key = SessionKey::generate();
    store
        .asave(
            &Record::new(key.clone(), data(1), later()),
            SaveMode::Create,
        )
        .await
        .unwrap();

    server.pause();
    let took = fails_in_time("load", store.aload(&key)).await;
    assert!(took >= TIMEOUT - Duration::from_millis(50), "{took:?}");
    eprintln!("Redis frozen: load failed after {took:?}");
    fails_in_time(
        "update",
        store.asave(
            &Record::new(key.clone(), data(2), later()),
            SaveMode::Update,
        ),
    )
    .await;

    server.resume();
    let took = eventually(Duration::from_secs(15), || async {
        store.aload(&key).await.is_ok()
    })
    .await
    .expect("the thawed Redis is used again");
    eprintln!("Redis thawed: calls succeed again after {took:?}");
    // The update that timed out may or may not have reached Redis before the freeze
    // was noticed; the session is one of the two whole versions.
    let loaded = store.aload(&key).await.unwrap().map(|r| r.data);
    assert!(
        loaded == Some(data(1)) || loaded == Some(data(2)),
        "{loaded:?}"
    );
}

#[tokio::test]
async fn connecting_to_a_redis_that_is_down_fails_at_once() {
    let port = free_port();
    let started = Instant::now();
    let r = RedisCache::connect(&format!("redis://127.0.0.1:{port}"), test_options()).await;
    assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_client_fails_fast_until_redis_comes_up() {
    let port = free_port();
    let options = test_options().wait_for_connection(false);
    let redis = Arc::new(
        RedisCache::connect(&format!("redis://127.0.0.1:{port}"), options)
            .await
            .unwrap(),
    );
    let store = CacheStore::new(redis);
    let key = SessionKey::generate();
    fails_in_time(
        "create",
        store.asave(
            &Record::new(key.clone(), data(1), later()),
            SaveMode::Create,
        ),
    )
    .await;
    fails_in_time("load", store.aload(&key)).await;

    let Some(_server) = RedisServer::start_on(port) else {
        return;
    };
    eventually(Duration::from_secs(15), || async {
        store.aexists(&key).await.is_ok()
    })
    .await
    .expect("the client connects once Redis is up");
    store
        .asave(
            &Record::new(key.clone(), data(1), later()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(1))
    );
}
