#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Rule V6: lifecycle events and store operations as an observer hears them, on the
//! real stores; the built-in `TracingObserver` and the `Observed` store wrapper.

mod real_stores;

use std::sync::Arc;

use serde_json::json;
use session_api::config::ConflictPolicy;
use session_api::events::{
    EventKey, Observed, OpOutcome, SessionObserver, StoreOp, TracingObserver, EVENTS_TARGET,
};
use session_api::{Expiry, SessionBackend, SessionKey, SessionStore};
use session_conformance::logs;
use session_stores::memory::MemoryStore;

use real_stores::{store, stores, Recorder};

fn recorder(store: &real_stores::Store) -> Arc<Recorder> {
    store.events.clone().expect("observed store")
}

/// V6: created, loaded, saved, cycled, flushed and deleted, each naming its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v6_the_lifecycle_is_reported_with_its_keys() {
    for store in stores(true, |b| b).await {
        let events = recorder(&store);
        let session = store.session(None);
        session.aset("a", &1).await.unwrap();
        session.asave().await.unwrap();
        let created = session.session_key().unwrap();

        let again = store.session(Some(&created));
        again.aset("b", &2).await.unwrap();
        again.asave().await.unwrap();
        again.acycle_key().await.unwrap();
        let cycled = again.session_key().unwrap();
        again.aflush().await.unwrap();

        let other = store.saved(&[]).await;
        store
            .session(None)
            .adelete_record(Some(&other))
            .await
            .unwrap();

        let seen = events.events();
        let kinds: Vec<_> = seen.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            ["created", "loaded", "saved", "cycled", "flushed", "created", "deleted"],
            "{}",
            store.name
        );
        assert_eq!(
            seen[0].keys,
            std::slice::from_ref(&created),
            "{}",
            store.name
        );
        assert_eq!(seen[3].keys, [created, cycled.clone()], "{}", store.name);
        assert_eq!(seen[4].keys, [cycled], "{}", store.name);
        assert_eq!(seen[6].keys, [other], "{}", store.name);
    }
}

/// V6: each store call of the handle is timed with its outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v6_store_operations_are_reported_with_outcomes() {
    for store in stores(true, |b| b).await {
        let events = recorder(&store);
        let key = store.saved(&[("a", json!(1))]).await;
        let session = store.session(Some(&key));
        session.aset("a", &2).await.unwrap();
        session.asave().await.unwrap();
        let missing = SessionKey::parse("nosuchsessionkey0000").unwrap();
        assert_eq!(
            store
                .session(Some(&missing))
                .aget::<i64>("a")
                .await
                .unwrap(),
            None
        );

        let ops: Vec<_> = events
            .operations()
            .iter()
            .map(|o| (o.op, o.outcome))
            .collect();
        let save = if store.caps().versioned {
            StoreOp::SaveIf
        } else {
            StoreOp::Save
        };
        assert_eq!(
            ops,
            [
                (StoreOp::Create, OpOutcome::Ok),
                (StoreOp::Load, OpOutcome::Ok),
                (save, OpOutcome::Ok),
                (StoreOp::Load, OpOutcome::Miss),
            ],
            "{}",
            store.name
        );
    }
}

/// V6: a record found past its expiry is reported as expired on load, where the store
/// can tell (the memory store can).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v6_expired_on_load() {
    let store = store("memory", true, |b| b).await;
    let events = recorder(&store);
    let session = store.session(None);
    session.aset_expiry(Expiry::Seconds(60)).await.unwrap();
    session.asave().await.unwrap();
    let key = session.session_key().unwrap();
    store.advance(61);
    events.clear();
    assert!(store.session(Some(&key)).akeys().await.unwrap().is_empty());
    let seen = events.events();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        (seen[0].kind, seen[0].keys.clone()),
        ("expired_on_load", vec![key])
    );
}

/// V6: conflicts with their resolution, and an interrupted save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v6_conflicts_and_interruptions() {
    for policy in [ConflictPolicy::Merge, ConflictPolicy::Fail] {
        let store = store("memory", true, |b| b.conflict_policy(policy)).await;
        let events = recorder(&store);
        let key = store.saved(&[("a", json!(0))]).await;
        let (first, second) = (store.session(Some(&key)), store.session(Some(&key)));
        first.aset("a", &1).await.unwrap();
        second.aset("b", &1).await.unwrap();
        first.asave().await.unwrap();
        events.clear();
        let result = second.asave().await;
        let kinds = events.kinds();
        match policy {
            ConflictPolicy::Merge => {
                result.unwrap();
                assert_eq!(kinds, ["loaded", "saved", "conflict_merged"]);
                assert!(
                    events.events()[2].detail.contains("attempts: 2"),
                    "{:?}",
                    events.events()
                );
            }
            _ => {
                assert!(result.is_err());
                assert_eq!(kinds, ["conflict_failed"]);
            }
        }
        let ops = events.operations();
        assert_eq!(ops[0].op, StoreOp::SaveIf);
        assert_eq!(ops[0].outcome, OpOutcome::Conflict);

        // G5: the record went away; the save reports the interruption.
        let third = store.session(Some(&key));
        third.aset("c", &1).await.unwrap();
        store.session(Some(&key)).aflush().await.unwrap();
        events.clear();
        assert!(third.asave().await.is_err());
        assert_eq!(events.kinds(), ["interrupted"]);
    }
}

/// V6, V4: a touch is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v6_touches_are_reported() {
    let store = store("memory", true, |b| {
        b.save_every_request(true).refresh_interval(Some(60))
    })
    .await;
    let events = recorder(&store);
    let key = store.saved(&[("a", json!(1))]).await;
    store.advance(120);
    let mw = store.middleware();
    let request = mw.request_session(Some(&format!("sessionid={}", key.as_str())));
    events.clear();
    mw.aprocess_response(&request, 200).await.unwrap();
    assert_eq!(events.kinds(), ["loaded", "touched"]);
    assert_eq!(events.count(StoreOp::Touch), 1);
}

/// V6, H5: events show digests, never keys; the key is reachable on purpose only.
#[test]
fn h5_event_keys_show_a_digest_only() {
    let key = SessionKey::parse("abcdefghijklmnopqrstuvwxyz012345").unwrap();
    let event = EventKey::new(&key);
    let shown = format!("{event} {event:?}");
    assert!(!shown.contains("abcdefgh"), "{shown}");
    assert_eq!(event.to_string().len(), 16);
    assert_eq!(event.key(), &key);
}

/// V6, H5: the built-in observer logs on `sessions.events`, keys as digests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v6_tracing_observer_logs_digests_not_keys() {
    let store = store("memory", false, |b| b.observer(Arc::new(TracingObserver))).await;
    let (key, logged) = logs::captured(async {
        let key = store.saved(&[("secret", json!("value"))]).await;
        store.session(Some(&key)).aflush().await.unwrap();
        key
    })
    .await;
    let ours: Vec<_> = logged
        .iter()
        .filter(|l| l.target == EVENTS_TARGET)
        .collect();
    assert!(
        ours.iter().any(|l| l.fields.contains("created")),
        "{ours:?}"
    );
    assert!(
        ours.iter().any(|l| l.fields.contains("flushed")),
        "{ours:?}"
    );
    let digest = EventKey::new(&key).to_string();
    assert!(ours.iter().any(|l| l.fields.contains(&digest)), "{ours:?}");
    for line in &logged {
        assert!(!line.fields.contains(key.as_str()), "a key in {line:?}");
        assert!(!line.fields.contains("value"), "data in {line:?}");
    }
}

/// V6: `Observed` reports store calls made outside a handle, `clear_expired` with its
/// count, and forwards the optional operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v6_observed_store_reports_clear_expired() {
    let base = store("memory", false, |b| b).await;
    let memory = Arc::new(MemoryStore::with_clock(Arc::new(base.clock.clone())));
    let events = Arc::new(Recorder::default());
    let observer: Arc<dyn SessionObserver> = events.clone();
    let observed = Arc::new(Observed::new(Arc::clone(&memory), observer));
    assert_eq!(
        SessionStore::capabilities(&*observed),
        SessionStore::capabilities(&*memory)
    );
    let backend = SessionBackend::from_nonblocking_sync(Arc::clone(&observed));
    let session = session_api::Session::new(backend, Arc::clone(&base.config), None);
    session.aset("_auth_user_id", &"7").await.unwrap();
    session.asave().await.unwrap();
    let key = session.session_key().unwrap();
    // The optional operations go through: versioned save, touch, the account index.
    let record = observed.lookup(&key).unwrap().into_record().unwrap();
    let version = observed.save_if(&record, record.version.unwrap()).unwrap();
    assert_ne!(Some(version), record.version);
    observed
        .touch(&key, base.now() + time::Duration::seconds(5))
        .unwrap();
    assert_eq!(
        observed.accounts().unwrap().list_sessions(7).unwrap().len(),
        1
    );

    base.advance(10);
    assert_eq!(observed.clear_expired().unwrap(), 1);
    let kinds = events.kinds();
    assert_eq!(kinds, ["expired_cleared"]);
    assert!(events.events()[0].detail.contains("removed: 1"));
    let ops: Vec<_> = events.operations().iter().map(|o| o.op).collect();
    assert_eq!(
        ops,
        [
            StoreOp::Create,
            StoreOp::Load,
            StoreOp::SaveIf,
            StoreOp::Touch,
            StoreOp::ClearExpired
        ]
    );
}
