//! Memory-store specifics: the bound, eviction order, concurrent use.
#![cfg(feature = "memory")]

use std::sync::Arc;

use serde_json::json;
use session_api::{ManualClock, Record, SaveMode, SessionData, SessionKey, SessionStore};
use session_stores::memory::MemoryStore;
use time::macros::datetime;
use time::Duration;

fn data(i: i64) -> SessionData {
    [("i", json!(i))].into_iter().collect()
}

#[test]
fn bounded_store_evicts_expired_then_soonest_to_expire() {
    let clock = ManualClock::new(datetime!(2026-01-01 0:00 UTC));
    let store = MemoryStore::with_clock(Arc::new(clock.clone())).max_entries(3);
    let now = datetime!(2026-01-01 0:00 UTC);
    let soon = SessionKey::generate();
    let later = SessionKey::generate();
    let latest = SessionKey::generate();
    store
        .save(
            &Record::new(soon.clone(), data(1), now + Duration::seconds(10)),
            SaveMode::Create,
        )
        .unwrap();
    store
        .save(
            &Record::new(later.clone(), data(2), now + Duration::seconds(20)),
            SaveMode::Create,
        )
        .unwrap();
    store
        .save(
            &Record::new(latest.clone(), data(3), now + Duration::seconds(30)),
            SaveMode::Create,
        )
        .unwrap();
    let extra = SessionKey::generate();
    store
        .save(
            &Record::new(extra.clone(), data(4), now + Duration::seconds(40)),
            SaveMode::Create,
        )
        .unwrap();
    assert_eq!(store.len(), 3);
    assert!(
        !store.exists(&soon).unwrap(),
        "the soonest-to-expire entry must go first"
    );
    assert!(store.exists(&later).unwrap() && store.exists(&extra).unwrap());
    // Expired entries are never returned, even before they are evicted.
    clock.advance(Duration::seconds(25));
    assert_eq!(store.load(&later).unwrap(), None);
    // The record comes back with its expiry.
    assert_eq!(
        store.load(&latest).unwrap(),
        Some(Record::new(
            latest.clone(),
            data(3),
            now + Duration::seconds(30)
        ))
    );
}

#[test]
fn many_threads_share_one_store() {
    let store = Arc::new(MemoryStore::new());
    let far = time::OffsetDateTime::now_utc() + Duration::hours(1);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let key = SessionKey::generate();
                    store
                        .save(
                            &Record::new(key.clone(), data(t * 1000 + i), far),
                            SaveMode::Create,
                        )
                        .unwrap();
                    let loaded = store.load(&key).unwrap().map(|r| r.data);
                    assert_eq!(loaded, Some(data(t * 1000 + i)));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(store.len(), 1600);
}

/// Issue 12, finding 7: `Debug` of the store shows neither a full key nor the data.
#[test]
fn debug_shows_no_key_and_no_data() {
    let store = MemoryStore::new();
    let key = SessionKey::generate();
    let secret = "data-of-the-memory-debug-test";
    let data: SessionData = [("token", json!(secret))].into_iter().collect();
    let far = time::OffsetDateTime::now_utc() + Duration::hours(1);
    store
        .save(&Record::new(key.clone(), data, far), SaveMode::Create)
        .unwrap();
    let shown = format!("{store:?} {store:#?}");
    assert!(!shown.contains(secret), "the data leaks: {shown}");
    assert!(!shown.contains(key.as_str()), "the key leaks: {shown}");
    assert!(shown.contains("len: Some(1)"), "{shown}");
}
