#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The sync <-> async bridges (rule D9): same semantics both ways, no deadlock, a typed
//! error where blocking is impossible.

mod common;

use std::sync::Arc;

use common::START;
use session_api::{
    AsyncSessionStore, AsyncToSync, Error, InlineAsync, SessionData, SessionKey, SessionStore,
    SyncToAsync,
};
use session_stores::memory::MemoryStore;
use time::Duration;

fn data() -> SessionData {
    [("a", serde_json::json!(1))].into_iter().collect()
}

/// The memory store seen as an async store (inline), to bridge back to sync.
fn async_store() -> Arc<InlineAsync<MemoryStore>> {
    Arc::new(InlineAsync(store()))
}

fn store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::with_clock(Arc::new(
        session_api::ManualClock::new(START),
    )))
}

#[tokio::test(flavor = "current_thread")]
async fn sync_to_async_runs_on_the_blocking_pool() {
    let bridge = SyncToAsync(store());
    let key = SessionKey::generate();
    let later = START + Duration::days(1);
    bridge.asave(&key, &data(), later, true).await.unwrap();
    assert!(matches!(
        bridge.asave(&key, &data(), later, true).await,
        Err(Error::Create)
    ));
    assert_eq!(bridge.aload(&key).await.unwrap(), Some(data()));
    bridge.adelete(&key).await.unwrap();
    assert!(matches!(
        bridge.asave(&key, &data(), later, false).await,
        Err(Error::Update)
    ));
    let created = bridge
        .acreate(&data(), later, &session_api::RandomKeys)
        .await
        .unwrap();
    assert!(bridge.aexists(&created).await.unwrap());
}

#[test]
fn sync_to_async_outside_a_runtime_runs_inline() {
    let bridge = SyncToAsync(store());
    let key = SessionKey::generate();
    futures::executor::block_on(bridge.asave(&key, &data(), START + Duration::days(1), true))
        .unwrap();
    assert!(futures::executor::block_on(bridge.aexists(&key)).unwrap());
}

#[test]
fn async_to_sync_from_a_plain_thread_uses_the_given_handle() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bridge = AsyncToSync::with_handle(async_store(), rt.handle().clone());
    let key = SessionKey::generate();
    std::thread::spawn(move || {
        bridge
            .save(&key, &data(), START + Duration::days(1), true)
            .unwrap();
        assert_eq!(bridge.load(&key).unwrap(), Some(data()));
    })
    .join()
    .unwrap();
}

#[test]
fn async_to_sync_without_any_runtime_is_a_typed_error() {
    let bridge = AsyncToSync::new(async_store());
    assert!(matches!(
        bridge.exists(&SessionKey::generate()),
        Err(Error::BlockingNotAllowed(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_to_sync_inside_a_multi_thread_runtime_does_not_deadlock() {
    let bridge = AsyncToSync::new(async_store());
    let key = SessionKey::generate();
    bridge
        .save(&key, &data(), START + Duration::days(1), true)
        .unwrap();
    assert!(bridge.exists(&key).unwrap());
    // Many concurrent tasks blocking at once still complete.
    let bridge = Arc::new(bridge);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let b = bridge.clone();
            tokio::spawn(async move {
                b.create(&data(), START + Duration::days(1), &session_api::RandomKeys)
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn async_to_sync_in_a_current_thread_runtime_is_a_typed_error() {
    let bridge = AsyncToSync::new(async_store());
    assert!(matches!(
        bridge.load(&SessionKey::generate()),
        Err(Error::BlockingNotAllowed(_))
    ));
}
