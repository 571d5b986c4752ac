//! Memory-store specifics: the bound, eviction order, concurrent use, and the
//! optional operations (versions V1/V3, touch V4, the account index S5).
#![cfg(feature = "memory")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::json;
use session_api::{
    AccountSession, Error, Lookup, ManualClock, Record, SaveMode, SessionData, SessionKey,
    SessionStore, Version,
};
use session_stores::memory::MemoryStore;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

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
    let loaded = store.load(&latest).unwrap().unwrap();
    assert_eq!(
        (loaded.key, loaded.data, loaded.expires_at),
        (latest.clone(), data(3), now + Duration::seconds(30))
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

/// A store on a manual clock at [`NOW`].
fn store_at_now() -> (MemoryStore, ManualClock) {
    let clock = ManualClock::new(NOW);
    (MemoryStore::with_clock(Arc::new(clock.clone())), clock)
}

fn user(account: i64) -> SessionData {
    [("_auth_user_id", json!(account.to_string()))]
        .into_iter()
        .collect()
}

/// Creates `data` under a fresh key expiring `secs` from [`NOW`]; returns the key.
fn create(store: &MemoryStore, data: SessionData, secs: i64) -> SessionKey {
    let key = SessionKey::generate();
    store
        .save(
            &Record::new(key.clone(), data, NOW + Duration::seconds(secs)),
            SaveMode::Create,
        )
        .unwrap();
    key
}

fn version(store: &MemoryStore, key: &SessionKey) -> Version {
    store.load(key).unwrap().unwrap().version.unwrap()
}

#[test]
fn declares_every_optional_operation() {
    let caps = MemoryStore::new().capabilities();
    assert!(caps.versioned && caps.touch && caps.list_by_account);
    assert!(MemoryStore::new().accounts().is_some());
}

/// V1: `save_if` writes over the loaded version only; the winner's version is new.
#[test]
fn v1_save_if_writes_over_the_loaded_version_only() {
    let (store, _) = store_at_now();
    let key = create(&store, data(1), 60);
    let loaded = version(&store, &key);
    let record = Record::new(key.clone(), data(2), NOW + Duration::seconds(60));
    let written = store.save_if(&record, loaded).unwrap();
    assert_ne!(written, loaded);
    assert_eq!(version(&store, &key), written);
    // A second writer still holding the first version loses, and writes nothing.
    let late = Record::new(key.clone(), data(3), NOW + Duration::seconds(60));
    assert!(matches!(store.save_if(&late, loaded), Err(Error::Conflict)));
    assert_eq!(store.load(&key).unwrap().unwrap().data, data(2));
}

/// V3: a plain update changes the version, so a save over the old one conflicts.
#[test]
fn v3_a_plain_save_changes_the_version() {
    let (store, _) = store_at_now();
    let key = create(&store, data(1), 60);
    let before = version(&store, &key);
    let record = Record::new(key.clone(), data(1), NOW + Duration::seconds(60));
    store.save(&record, SaveMode::Update).unwrap();
    assert_ne!(version(&store, &key), before);
    assert!(matches!(
        store.save_if(&record, before),
        Err(Error::Conflict)
    ));
}

/// A version never comes back: not for a key deleted and created again (no ABA).
#[test]
fn a_re_created_key_gets_a_new_version() {
    let (store, _) = store_at_now();
    let key = create(&store, data(1), 60);
    let first = version(&store, &key);
    store.delete(&key).unwrap();
    let record = Record::new(key.clone(), data(1), NOW + Duration::seconds(60));
    store.save(&record, SaveMode::Create).unwrap();
    assert_ne!(version(&store, &key), first);
    assert!(matches!(
        store.save_if(&record, first),
        Err(Error::Conflict)
    ));
}

/// V1 with D5: `save_if` on a missing or expired record is `Update`, never a create.
#[test]
fn v1_save_if_of_a_missing_or_expired_record_is_update_and_creates_nothing() {
    let (store, clock) = store_at_now();
    let missing = SessionKey::generate();
    let record = Record::new(missing.clone(), data(1), NOW + Duration::seconds(60));
    assert!(matches!(
        store.save_if(&record, Version::new(1)),
        Err(Error::Update)
    ));
    assert_eq!(store.lookup(&missing).unwrap(), Lookup::Missing);

    let key = create(&store, data(1), 10);
    let loaded = version(&store, &key);
    clock.advance(Duration::seconds(11));
    let record = Record::new(key.clone(), data(2), NOW + Duration::seconds(600));
    assert!(matches!(store.save_if(&record, loaded), Err(Error::Update)));
    assert_eq!(store.lookup(&key).unwrap(), Lookup::Expired);
}

/// V6's "expired on load": a record past its expiry is `Expired`, not `Missing`,
/// and loads as none (D7).
#[test]
fn lookup_tells_an_expired_record_from_a_missing_one() {
    let (store, clock) = store_at_now();
    let key = create(&store, data(1), 10);
    assert!(matches!(store.lookup(&key).unwrap(), Lookup::Found(r) if r.data == data(1)));
    clock.advance(Duration::seconds(10));
    assert_eq!(store.lookup(&key).unwrap(), Lookup::Expired);
    assert_eq!(store.load(&key).unwrap(), None);
    assert_eq!(store.clear_expired().unwrap(), 1);
    assert_eq!(store.lookup(&key).unwrap(), Lookup::Missing);
}

/// V4: a touch keeps the data, moves the expiry, and (a write) changes the version.
#[test]
fn v4_touch_keeps_the_data_and_moves_the_expiry() {
    let (store, clock) = store_at_now();
    let key = create(&store, data(7), 10);
    let before = version(&store, &key);
    store.touch(&key, NOW + Duration::seconds(100)).unwrap();
    let loaded = store.load(&key).unwrap().unwrap();
    assert_eq!(loaded.data, data(7));
    assert_eq!(loaded.expires_at, NOW + Duration::seconds(100));
    assert_ne!(loaded.version, Some(before), "V3: the expiry changed");
    clock.advance(Duration::seconds(50));
    assert!(store.exists(&key).unwrap(), "live past its old expiry");
}

/// V4: touching a missing or expired record is `Update` and creates nothing.
#[test]
fn v4_touch_of_a_missing_or_expired_record_is_update() {
    let (store, clock) = store_at_now();
    let missing = SessionKey::generate();
    assert!(matches!(
        store.touch(&missing, NOW + Duration::seconds(60)),
        Err(Error::Update)
    ));
    assert!(!store.exists(&missing).unwrap());
    let key = create(&store, data(1), 10);
    clock.advance(Duration::seconds(10));
    assert!(matches!(
        store.touch(&key, NOW + Duration::seconds(60)),
        Err(Error::Update)
    ));
    assert!(!store.exists(&key).unwrap());
}

fn listed(store: &MemoryStore, account: i64) -> Vec<AccountSession> {
    store.accounts().unwrap().list_sessions(account).unwrap()
}

/// S5: the live sessions of an account, soonest expiry first; others' never.
#[test]
fn s5_lists_an_accounts_live_sessions_soonest_first() {
    let (store, clock) = store_at_now();
    let late = create(&store, user(42), 300);
    let soon = create(&store, user(42), 100);
    let brief = create(&store, user(42), 10);
    create(&store, user(7), 100);
    create(&store, data(1), 100);
    assert_eq!(
        listed(&store, 42),
        vec![
            AccountSession::new(brief.clone(), NOW + Duration::seconds(10)),
            AccountSession::new(soon.clone(), NOW + Duration::seconds(100)),
            AccountSession::new(late.clone(), NOW + Duration::seconds(300)),
        ]
    );
    // Expired sessions are never listed, and clear_expired drops them from the index.
    clock.advance(Duration::seconds(10));
    let keys: Vec<_> = listed(&store, 42).into_iter().map(|s| s.key).collect();
    assert_eq!(keys, vec![soon, late]);
    assert_eq!(store.clear_expired().unwrap(), 1);
    assert_eq!(listed(&store, 42).len(), 2);
    assert_eq!(listed(&store, 99), vec![]);
}

/// S5: revoke_all deletes every session of the account; the revoked session is
/// never re-created by a later update (D5).
#[test]
fn s5_revoke_all_deletes_the_accounts_sessions_only() {
    let (store, _) = store_at_now();
    let a = create(&store, user(42), 100);
    let b = create(&store, user(42), 200);
    let other = create(&store, user(7), 100);
    let index = store.accounts().unwrap();
    assert_eq!(index.revoke_all(42).unwrap(), 2);
    assert!(!store.exists(&a).unwrap() && !store.exists(&b).unwrap());
    assert!(store.exists(&other).unwrap());
    assert_eq!(listed(&store, 42), vec![]);
    assert_eq!(index.revoke_all(42).unwrap(), 0);
    let record = Record::new(a.clone(), user(42), NOW + Duration::seconds(100));
    assert!(matches!(
        store.save(&record, SaveMode::Update),
        Err(Error::Update)
    ));
}

/// S5: "log out other devices" keeps the current session.
#[test]
fn s5_revoke_all_except_keeps_the_current_session() {
    let (store, clock) = store_at_now();
    let current = create(&store, user(42), 100);
    let other = create(&store, user(42), 100);
    let expired = create(&store, user(42), 5);
    clock.advance(Duration::seconds(5));
    let index = store.accounts().unwrap();
    // The expired one goes too but is not counted: it was no session any more.
    assert_eq!(index.revoke_all_except(42, &current).unwrap(), 1);
    assert!(store.exists(&current).unwrap());
    assert!(!store.exists(&other).unwrap());
    assert_eq!(store.lookup(&expired).unwrap(), Lookup::Missing);
    assert_eq!(
        listed(&store, 42),
        vec![AccountSession::new(current, NOW + Duration::seconds(100))]
    );
}

/// S5: a save filed under another account (or none) moves the key; a delete and an
/// eviction take it out.
#[test]
fn s5_the_index_follows_saves_deletes_and_evictions() {
    let clock = ManualClock::new(NOW);
    let store = MemoryStore::with_clock(Arc::new(clock.clone())).max_entries(2);
    let key = create(&store, user(42), 100);
    let moved = Record::new(key.clone(), user(7), NOW + Duration::seconds(100));
    store.save(&moved, SaveMode::Update).unwrap();
    assert_eq!(listed(&store, 42), vec![]);
    assert_eq!(listed(&store, 7).len(), 1);
    let anonymous = Record::new(key.clone(), data(1), NOW + Duration::seconds(100));
    let v = version(&store, &key);
    store.save_if(&anonymous, v).unwrap();
    assert_eq!(listed(&store, 7), vec![]);
    // A JSON integer `_auth_user_id` is an account too.
    let numeric: SessionData = [("_auth_user_id", json!(9))].into_iter().collect();
    store
        .save(
            &Record::new(key.clone(), numeric, NOW + Duration::seconds(100)),
            SaveMode::Update,
        )
        .unwrap();
    assert_eq!(listed(&store, 9).len(), 1);
    store.delete(&key).unwrap();
    assert_eq!(listed(&store, 9), vec![]);
    // The bound displaces the soonest-expiring session: it leaves the index too.
    let soonest = create(&store, user(5), 10);
    create(&store, user(5), 50);
    create(&store, user(5), 90);
    let keys: Vec<_> = listed(&store, 5).into_iter().map(|s| s.key).collect();
    assert_eq!(keys.len(), 2);
    assert!(!keys.contains(&soonest));
    assert_eq!(store.accounts().unwrap().revoke_all(5).unwrap(), 2);
    assert!(store.is_empty());
}

/// V1 under contention: of many threads racing `save_if` on one version, exactly
/// one wins.
#[test]
fn v1_exactly_one_of_racing_save_ifs_wins() {
    let store = Arc::new(MemoryStore::new());
    let far = OffsetDateTime::now_utc() + Duration::hours(1);
    let key = SessionKey::generate();
    store
        .save(&Record::new(key.clone(), data(0), far), SaveMode::Create)
        .unwrap();
    let loaded = store.load(&key).unwrap().unwrap().version.unwrap();
    let handles: Vec<_> = (1..=8)
        .map(|i| {
            let (store, key) = (store.clone(), key.clone());
            std::thread::spawn(move || {
                store
                    .save_if(&Record::new(key, data(i), far), loaded)
                    .is_ok()
            })
        })
        .collect();
    let wins = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|won| *won)
        .count();
    assert_eq!(wins, 1);
}
