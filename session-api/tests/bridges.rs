#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The sync <-> async bridges (rule D9): same semantics both ways, no deadlock, a typed
//! error where blocking is impossible.

mod common;

use std::sync::{Arc, Mutex};

use common::{ScriptedKeys, START};
use session_api::{
    AsyncSessionStore, AsyncToSync, Error, InlineAsync, Record, SaveMode, SessionData, SessionKey,
    SessionStore, SyncToAsync,
};
use session_stores::memory::MemoryStore;
use time::{Duration, OffsetDateTime};

fn data() -> SessionData {
    [("a", serde_json::json!(1))].into_iter().collect()
}

fn later() -> OffsetDateTime {
    START + Duration::days(1)
}

fn record(key: &SessionKey) -> Record {
    Record::new(key.clone(), data(), later())
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
    assert_eq!(
        bridge.asave(&record(&key), SaveMode::Create).await.unwrap(),
        key
    );
    // D4: Create on a live record.
    assert!(matches!(
        bridge.asave(&record(&key), SaveMode::Create).await,
        Err(Error::Create)
    ));
    // The load returns the record with the expiry it was saved with.
    let loaded = bridge.aload(&key).await.unwrap().expect("saved record");
    // The memory store is versioned (V1): the load carries the version it chose.
    assert!(loaded.version.is_some());
    assert_eq!(loaded.clone().with_version(None), record(&key));
    assert_eq!(loaded.expires_at, later());
    bridge.adelete(&key).await.unwrap();
    assert_eq!(bridge.aload(&key).await.unwrap(), None);
    // D5: Update of a deleted record is an error and does not re-create it.
    assert!(matches!(
        bridge.asave(&record(&key), SaveMode::Update).await,
        Err(Error::Update)
    ));
    assert!(!bridge.aexists(&key).await.unwrap());
    let created = bridge.acreate(&data(), later()).await.unwrap();
    assert!(bridge.aexists(&created).await.unwrap());
    let with = bridge
        .acreate_with(&data(), later(), &session_api::RandomKeys)
        .await
        .unwrap();
    assert_ne!(with, created);
    assert_eq!(bridge.aload(&with).await.unwrap().unwrap().data, data());
}

#[tokio::test(flavor = "current_thread")]
async fn a4_default_acreate_with_retries_past_a_colliding_key() {
    // SyncToAsync keeps the trait's default `acreate_with`: generate, insert with
    // SaveMode::Create, retry on Error::Create (rule A4).
    let bridge = SyncToAsync(store());
    let taken = SessionKey::generate();
    bridge
        .asave(&record(&taken), SaveMode::Create)
        .await
        .unwrap();
    let fresh = SessionKey::generate();
    let keys = ScriptedKeys(Mutex::new(vec![taken.clone(), fresh.clone()]));
    let other: SessionData = [("b", serde_json::json!(2))].into_iter().collect();
    let key = bridge.acreate_with(&other, later(), &keys).await.unwrap();
    assert_eq!(key, fresh);
    // The colliding record is untouched.
    assert_eq!(bridge.aload(&taken).await.unwrap().unwrap().data, data());
    assert_eq!(bridge.aload(&fresh).await.unwrap().unwrap().data, other);
}

#[test]
fn sync_to_async_outside_a_runtime_runs_inline() {
    let bridge = SyncToAsync(store());
    let key = SessionKey::generate();
    futures::executor::block_on(bridge.asave(&record(&key), SaveMode::Create)).unwrap();
    assert!(futures::executor::block_on(bridge.aexists(&key)).unwrap());
}

#[test]
fn async_to_sync_from_a_plain_thread_uses_the_given_handle() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let bridge = AsyncToSync::with_handle(async_store(), rt.handle().clone());
    let key = SessionKey::generate();
    std::thread::spawn(move || {
        bridge.save(&record(&key), SaveMode::Create).unwrap();
        let loaded = bridge.load(&key).unwrap().map(|r| r.with_version(None));
        assert_eq!(loaded, Some(record(&key)));
        let created = bridge.create(&data(), later()).unwrap();
        assert!(bridge.exists(&created).unwrap());
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
    bridge.save(&record(&key), SaveMode::Create).unwrap();
    assert!(bridge.exists(&key).unwrap());
    // Many concurrent tasks blocking at once still complete.
    let bridge = Arc::new(bridge);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let b = bridge.clone();
            tokio::spawn(async move {
                b.create_with(&data(), later(), &session_api::RandomKeys)
                    .unwrap()
            })
        })
        .collect();
    let all = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let mut keys = Vec::new();
        for t in tasks {
            keys.push(t.await.unwrap());
        }
        keys
    })
    .await
    .expect("blocking tasks deadlocked");
    for key in all {
        assert!(bridge.exists(&key).unwrap());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn async_to_sync_in_a_current_thread_runtime_is_a_typed_error() {
    let bridge = AsyncToSync::new(async_store());
    assert!(matches!(
        bridge.load(&SessionKey::generate()),
        Err(Error::BlockingNotAllowed(_))
    ));
    assert!(matches!(
        bridge.save(&record(&SessionKey::generate()), SaveMode::Create),
        Err(Error::BlockingNotAllowed(_))
    ));
}
