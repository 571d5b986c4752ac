#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Rules V1, V2, V4 through the session handle and the middleware core, on the real
//! stores: concurrent requests on one session, sequenced explicitly so every
//! interleaving is the one named.

mod real_stores;

use std::sync::Arc;

use serde_json::{json, Value};
use session_api::config::ConflictPolicy;
use session_api::renewal::KeyRenewal;
use session_api::{
    Capabilities, Error, Lookup, Record, SaveMode, Session, SessionBackend, SessionKey,
    SessionStore, Version,
};
use session_stores::memory::MemoryStore;

use real_stores::{store, stores, Store};

/// Two handles on one stored session, both loaded before either saves: two
/// concurrent requests.
async fn two_requests(store: &Store, data: &[(&str, Value)]) -> (Session, Session) {
    let key = store.saved(data).await;
    let first = store.session(Some(&key));
    let second = store.session(Some(&key));
    first.akeys().await.unwrap();
    second.akeys().await.unwrap();
    (first, second)
}

/// V2: two requests changing different keys both survive on a versioned store; a
/// store without versions keeps Django's lost update (the second save rewrites all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_different_keys_both_survive() {
    let mut versioned = 0;
    for store in stores(false, |b| b).await {
        let (first, second) = two_requests(&store, &[("a", json!(0)), ("b", json!(0))]).await;
        first.aset("a", &1).await.unwrap();
        second.aset("b", &2).await.unwrap();
        first.asave().await.unwrap();
        second.asave().await.unwrap();
        let key = second.session_key().unwrap();
        let (a, b) = (store.stored(&key, "a").await, store.stored(&key, "b").await);
        if store.caps().versioned {
            versioned += 1;
            assert_eq!((a, b), (Some(json!(1)), Some(json!(2))), "{}", store.name);
            // The merged data is the handle's data.
            assert_eq!(
                second.aget::<i64>("a").await.unwrap(),
                Some(1),
                "{}",
                store.name
            );
        } else {
            assert_eq!(
                (a, b),
                (Some(json!(0)), Some(json!(2))),
                "{}: Django's lost update",
                store.name
            );
        }
    }
    assert!(versioned >= 2, "memory and file stores are versioned");
}

/// V2: for a key both requests changed, the one saving last wins under `Merge`; under
/// `Fail` its save is a conflict and the first request's value stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_same_key_last_saver_wins_or_conflicts() {
    for policy in [ConflictPolicy::Merge, ConflictPolicy::Fail] {
        for store in stores(false, |b| b.conflict_policy(policy)).await {
            if !store.caps().versioned {
                continue;
            }
            let (first, second) = two_requests(&store, &[("x", json!(0)), ("y", json!(0))]).await;
            first.aset("x", &1).await.unwrap();
            second.aset("x", &2).await.unwrap();
            second.aset("y", &2).await.unwrap();
            first.asave().await.unwrap();
            let key = first.session_key().unwrap();
            match policy {
                ConflictPolicy::Merge => {
                    second.asave().await.unwrap();
                    assert_eq!(
                        store.stored(&key, "x").await,
                        Some(json!(2)),
                        "{}",
                        store.name
                    );
                    assert_eq!(
                        store.stored(&key, "y").await,
                        Some(json!(2)),
                        "{}",
                        store.name
                    );
                }
                _ => {
                    let err = second.asave().await.unwrap_err();
                    assert!(matches!(err, Error::Conflict), "{}: {err:?}", store.name);
                    assert_eq!(
                        store.stored(&key, "x").await,
                        Some(json!(1)),
                        "{}",
                        store.name
                    );
                    assert_eq!(
                        store.stored(&key, "y").await,
                        Some(json!(0)),
                        "{}",
                        store.name
                    );
                }
            }
        }
    }
}

/// V2: a removed key is removed, and a `clear()` drops the other request's keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_removals_and_clear_are_changes_too() {
    for store in stores(false, |b| b).await {
        if !store.caps().versioned {
            continue;
        }
        let (first, second) = two_requests(&store, &[("gone", json!(1)), ("kept", json!(1))]).await;
        first.aset("theirs", &1).await.unwrap();
        first.asave().await.unwrap();
        second.adelete("gone").await.unwrap();
        second.asave().await.unwrap();
        let key = second.session_key().unwrap();
        assert_eq!(store.stored(&key, "gone").await, None, "{}", store.name);
        assert_eq!(
            store.stored(&key, "theirs").await,
            Some(json!(1)),
            "{}",
            store.name
        );

        let (first, second) = two_requests(&store, &[("old", json!(1))]).await;
        first.aset("theirs", &1).await.unwrap();
        first.asave().await.unwrap();
        second.aclear().await;
        second.aset("mine", &1).await.unwrap();
        second.asave().await.unwrap();
        let record = store.record(&second.session_key().unwrap()).await.unwrap();
        let keys: Vec<&String> = record.data.keys().collect();
        assert_eq!(keys, ["mine"], "{}", store.name);
    }
}

/// V2, A6: a logout between the load and the save is never undone: the save fails
/// with `UpdateError` and no record comes back, merge or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_a_logout_in_between_is_not_undone() {
    for store in stores(false, |b| b).await {
        let (first, second) = two_requests(&store, &[("a", json!(0))]).await;
        let key = first.session_key().unwrap();
        // A concurrent change first, so a versioned save conflicts, then the logout.
        let third = store.session(Some(&key));
        third.aset("b", &1).await.unwrap();
        third.asave().await.unwrap();
        second.aflush().await.unwrap();
        first.aset("a", &1).await.unwrap();
        let err = first.asave().await.unwrap_err();
        assert!(matches!(err, Error::Update), "{}: {err:?}", store.name);
        assert!(
            store.record(&key).await.is_none(),
            "{}: resurrected",
            store.name
        );
    }
}

/// V2: 16 tasks appending to one list through `amodify` lose nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_modify_from_16_tasks_loses_no_append() {
    for store in stores(false, |b| b).await {
        if !store.caps().versioned {
            continue;
        }
        let store = Arc::new(store);
        let key = store.saved(&[("list", json!([]))]).await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let session = store.session(Some(&key));
            tasks.push(tokio::spawn(async move {
                session
                    .amodify(|data| {
                        let mut list: Vec<i64> = data.get("list")?.unwrap_or_default();
                        list.push(i);
                        data.set("list", &list)
                    })
                    .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let list: Vec<i64> =
            serde_json::from_value(store.stored(&key, "list").await.unwrap()).unwrap();
        let mut sorted = list.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            (0..16).collect::<Vec<_>>(),
            "{}: {list:?}",
            store.name
        );
    }
}

/// V2: `modify` re-runs its closure on the fresh data after a conflict, keeping this
/// request's earlier changes; it returns the closure's value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_modify_reruns_on_fresh_data() {
    for store in stores(false, |b| b.conflict_policy(ConflictPolicy::Fail)).await {
        if !store.caps().versioned {
            continue;
        }
        let (first, second) = two_requests(&store, &[("n", json!(0))]).await;
        first.aset("mine", &true).await.unwrap();
        second.aset("n", &10).await.unwrap();
        second.asave().await.unwrap();
        let mut runs = 0;
        let n = first
            .amodify(|data| {
                runs += 1;
                let n: i64 = data.get("n")?.unwrap_or(0) + 1;
                data.set("n", &n)?;
                Ok(n)
            })
            .await
            .unwrap();
        assert_eq!((n, runs), (11, 2), "{}", store.name);
        let key = first.session_key().unwrap();
        assert_eq!(
            store.stored(&key, "n").await,
            Some(json!(11)),
            "{}",
            store.name
        );
        assert_eq!(
            store.stored(&key, "mine").await,
            Some(json!(true)),
            "{}",
            store.name
        );
    }
}

/// V2: on a store without versions `modify` runs once and saves plainly; a session
/// with no record yet is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_modify_creates_and_runs_once_without_versions() {
    for store in stores(false, |b| b).await {
        let session = store.session(None);
        let mut runs = 0;
        session
            .amodify(|data| {
                runs += 1;
                data.set("n", &1)
            })
            .await
            .unwrap();
        assert_eq!(runs, 1, "{}", store.name);
        let key = session.session_key().expect("created");
        assert_eq!(
            store.stored(&key, "n").await,
            Some(json!(1)),
            "{}",
            store.name
        );
    }
}

/// V2: the sync twins follow the same rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_sync_saves_merge_too() {
    let store = store("memory", false, |b| b).await;
    let (first, second) = two_requests(&store, &[("a", json!(0)), ("b", json!(0))]).await;
    first.set("a", &1).unwrap();
    second.set("b", &2).unwrap();
    first.save().unwrap();
    second.save().unwrap();
    let n = second
        .modify(|data| {
            let n: i64 = data.get("a")?.unwrap_or(0) + 1;
            data.set("a", &n)?;
            Ok(n)
        })
        .unwrap();
    assert_eq!(n, 2);
    let key = second.session_key().unwrap();
    assert_eq!(store.stored(&key, "a").await, Some(json!(2)));
    assert_eq!(store.stored(&key, "b").await, Some(json!(2)));
}

/// V4: with `save_every_request` and a refresh interval, an unmodified session is
/// not written (and gets no cookie) while its expiry would move by less than the
/// interval, then is touched (data unchanged, cookie sent). A store without `touch`
/// gets a full save on every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_refresh_interval_skips_then_touches() {
    for store in stores(false, |b| {
        b.save_every_request(true).refresh_interval(Some(60))
    })
    .await
    {
        let key = store.saved(&[("a", json!(1))]).await;
        let age = time::Duration::seconds(store.config.cookie_age);
        let first = store.record(&key).await.unwrap().expires_at;
        let mw = store.middleware();
        let cookie = format!("sessionid={}", key.as_str());

        store.advance(10);
        let request = mw.request_session(Some(&cookie));
        request.session.aget::<i64>("a").await.unwrap();
        let directives = mw.aprocess_response(&request, 200).await.unwrap();
        let after_10 = store.record(&key).await.unwrap().expires_at;
        if store.caps().touch {
            assert_eq!(
                after_10, first,
                "{}: written within the interval",
                store.name
            );
            assert_eq!(directives.set_cookie, None, "{}", store.name);
        } else {
            assert_eq!(after_10, store.now() + age, "{}: full save", store.name);
            assert!(directives.set_cookie.is_some(), "{}", store.name);
        }

        store.advance(60);
        let request = mw.request_session(Some(&cookie));
        let directives = mw.aprocess_response(&request, 200).await.unwrap();
        let record = store.record(&key).await.unwrap();
        assert_eq!(
            record.expires_at,
            store.now() + age,
            "{}: refreshed",
            store.name
        );
        assert_eq!(
            record.data.get_value("a"),
            Some(&json!(1)),
            "{}",
            store.name
        );
        assert!(directives.set_cookie.is_some(), "{}", store.name);

        // A modified session is saved as always (G4).
        store.advance(1);
        let request = mw.request_session(Some(&cookie));
        request.session.aset("a", &2).await.unwrap();
        mw.aprocess_response(&request, 200).await.unwrap();
        assert_eq!(
            store.stored(&key, "a").await,
            Some(json!(2)),
            "{}",
            store.name
        );
    }
}

/// V4, G5: a touch of a session logged out meanwhile is an interrupted session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_touching_a_logged_out_session_is_interrupted() {
    let store = store("memory", false, |b| {
        b.save_every_request(true).refresh_interval(Some(60))
    })
    .await;
    let key = store.saved(&[("a", json!(1))]).await;
    let mw = store.middleware();
    store.advance(120);
    let request = mw.request_session(Some(&format!("sessionid={}", key.as_str())));
    request.session.aget::<i64>("a").await.unwrap();
    store.session(Some(&key)).aflush().await.unwrap();
    let err = mw.aprocess_response(&request, 200).await.unwrap_err();
    assert!(matches!(err, Error::SessionInterrupted), "{err:?}");
    assert!(store.record(&key).await.is_none());
}

/// The real memory store, with a logout landing between a versioned save's conflict
/// and the merge's reload: the moment V2's merge must not undo.
#[derive(Debug)]
struct LogoutAfterConflict(MemoryStore);

impl SessionStore for LogoutAfterConflict {
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    fn exists(&self, key: &SessionKey) -> session_api::Result<bool> {
        self.0.exists(key)
    }
    fn load(&self, key: &SessionKey) -> session_api::Result<Option<Record>> {
        self.0.load(key)
    }
    fn lookup(&self, key: &SessionKey) -> session_api::Result<Lookup> {
        self.0.lookup(key)
    }
    fn save(&self, record: &Record, mode: SaveMode) -> session_api::Result<SessionKey> {
        self.0.save(record, mode)
    }
    fn save_if(&self, record: &Record, expected: Version) -> session_api::Result<Version> {
        let result = self.0.save_if(record, expected);
        if matches!(result, Err(Error::Conflict)) {
            self.0.delete(&record.key)?;
        }
        result
    }
    fn delete(&self, key: &SessionKey) -> session_api::Result<()> {
        self.0.delete(key)
    }
    fn clear_expired(&self) -> session_api::Result<u64> {
        self.0.clear_expired()
    }
}

/// V2, A6: a merge whose reload finds the session logged out fails with
/// `UpdateError` and writes nothing back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_a_merge_never_resurrects_a_logged_out_session() {
    let base = store("memory", false, |b| b).await;
    let memory = MemoryStore::with_clock(Arc::new(base.clock.clone()));
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(LogoutAfterConflict(memory)));
    let session = |key: Option<&str>| Session::new(backend.clone(), Arc::clone(&base.config), key);
    let seed = session(None);
    seed.aset("a", &0).await.unwrap();
    seed.asave().await.unwrap();
    let key = seed.session_key().unwrap();
    let (first, second) = (session(Some(key.as_str())), session(Some(key.as_str())));
    first.aset("a", &1).await.unwrap();
    second.aset("b", &1).await.unwrap();
    first.asave().await.unwrap();
    let err = second.asave().await.unwrap_err();
    assert!(matches!(err, Error::Update), "{err:?}");
    assert!(backend.nonblocking().aload(&key).await.unwrap().is_none());
}

/// S2 with V2: a renewal is due on the second request's save (the interval passed
/// after both loaded), on the versioned memory store.
async fn renewing(policy: ConflictPolicy) -> Store {
    store("memory", false, move |b| {
        b.key_renewal(Some(KeyRenewal::every(600)))
            .conflict_policy(policy)
    })
    .await
}

/// V2, S2: a renewal whose re-read finds the record changed since this request's
/// load writes this request's changes over the fresh data into the successor, so a
/// concurrent change saved in between is not lost; under `Fail` it is a conflict and
/// nothing rotates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_s2_a_renewal_keeps_a_change_saved_since_the_load() {
    for policy in [ConflictPolicy::Merge, ConflictPolicy::Fail] {
        let store = renewing(policy).await;
        let (first, second) = two_requests(&store, &[("a", json!(0)), ("b", json!(0))]).await;
        let old = first.session_key().unwrap();
        first.aset("a", &1).await.unwrap();
        first.asave().await.unwrap();
        assert_eq!(first.session_key(), Some(old.clone()), "not due yet");
        store.advance(600);
        second.aset("b", &2).await.unwrap();
        match policy {
            ConflictPolicy::Merge => {
                second.asave().await.unwrap();
                let successor = second.session_key().unwrap();
                assert_ne!(successor, old, "renewed");
                assert_eq!(store.stored(&successor, "a").await, Some(json!(1)));
                assert_eq!(store.stored(&successor, "b").await, Some(json!(2)));
                // The merged data is the handle's data.
                assert_eq!(second.aget::<i64>("a").await.unwrap(), Some(1));
            }
            _ => {
                let err = second.asave().await.unwrap_err();
                assert!(matches!(err, Error::Conflict), "{err:?}");
                assert_eq!(second.session_key(), Some(old.clone()), "no renewal");
                assert_eq!(store.stored(&old, "a").await, Some(json!(1)));
                assert_eq!(store.stored(&old, "b").await, Some(json!(0)));
            }
        }
    }
}

/// V2, S2: a request joining a renewal a concurrent request already made merges its
/// changes into the successor that request wrote instead of overwriting it (async
/// and sync); under `Fail` it is a conflict and the successor keeps the other's data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_s2_joining_a_renewal_merges_into_the_successor() {
    for (policy, sync) in [
        (ConflictPolicy::Merge, false),
        (ConflictPolicy::Merge, true),
        (ConflictPolicy::Fail, false),
    ] {
        let store = renewing(policy).await;
        let (first, second) = two_requests(&store, &[("a", json!(0)), ("b", json!(0))]).await;
        let old = first.session_key().unwrap();
        store.advance(600);
        first.aset("a", &1).await.unwrap();
        first.asave().await.unwrap();
        let successor = first.session_key().unwrap();
        assert_ne!(successor, old, "the first save renews");
        second.aset("b", &2).await.unwrap();
        let saved = if sync {
            second.save()
        } else {
            second.asave().await
        };
        match policy {
            ConflictPolicy::Merge => {
                saved.unwrap();
                assert_eq!(second.session_key(), Some(successor.clone()), "one session");
                assert_eq!(store.stored(&successor, "a").await, Some(json!(1)));
                assert_eq!(store.stored(&successor, "b").await, Some(json!(2)));
                assert_eq!(second.aget::<i64>("a").await.unwrap(), Some(1));
            }
            _ => {
                let err = saved.unwrap_err();
                assert!(matches!(err, Error::Conflict), "{err:?}");
                assert_eq!(store.stored(&successor, "a").await, Some(json!(1)));
                assert_eq!(store.stored(&successor, "b").await, Some(json!(0)));
            }
        }
    }
}

/// S2, A6 with V2: joining a renewal whose successor was logged out meanwhile never
/// re-creates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_s2_joining_a_logged_out_successor_is_interrupted() {
    let store = renewing(ConflictPolicy::Merge).await;
    let (first, second) = two_requests(&store, &[("a", json!(0))]).await;
    store.advance(600);
    first.aset("a", &1).await.unwrap();
    first.asave().await.unwrap();
    let successor = first.session_key().unwrap();
    store.session(Some(&successor)).aflush().await.unwrap();
    second.aset("b", &2).await.unwrap();
    let err = second.asave().await.unwrap_err();
    assert!(matches!(err, Error::Update), "{err:?}");
    assert!(store.record(&successor).await.is_none(), "resurrected");
}
