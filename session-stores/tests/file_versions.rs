//! The file store's optional operations: versions (V1, V3), lookup (V6's expired on
//! load), touch (V4) and the opt-in account index (S5), against real temp dirs.
#![cfg(feature = "file")]
#![allow(clippy::unwrap_used)]

use std::fs;
use std::sync::{Arc, Barrier};

use serde_json::json;
use session_api::codec::SessionCodec;
use session_api::signing::SecretKeys;
use session_api::{
    AccountSession, Error, JsonSerializer, Lookup, ManualClock, Record, SaveMode, SessionData,
    SessionKey, SessionStore, Version,
};
use session_stores::file::FileStore;
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const AGE: i64 = 1_209_600;
const NOW: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

fn store_in(dir: &TempDir, clock: &ManualClock) -> FileStore {
    let codec = SessionCodec::new(
        &SecretKeys::new("file-versions-test-secret"),
        Arc::new(clock.clone()),
        Arc::new(JsonSerializer),
    );
    FileStore::new(dir.path(), "sessionid", AGE, codec, Arc::new(clock.clone())).unwrap()
}

fn env() -> (TempDir, ManualClock, FileStore) {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOW);
    let store = store_in(&dir, &clock).with_account_index(true);
    (dir, clock, store)
}

fn data(i: i64) -> SessionData {
    [("i", json!(i))].into_iter().collect()
}

fn user(account: i64) -> SessionData {
    [("_auth_user_id", json!(account.to_string()))]
        .into_iter()
        .collect()
}

fn create(store: &FileStore, data: SessionData, secs: i64) -> SessionKey {
    let key = SessionKey::generate();
    let record = Record::new(key.clone(), data, NOW + Duration::seconds(secs));
    store.save(&record, SaveMode::Create).unwrap();
    key
}

fn version(store: &FileStore, key: &SessionKey) -> Version {
    store.load(key).unwrap().unwrap().version.unwrap()
}

#[test]
fn declares_versions_and_touch_and_the_index_only_when_asked() {
    let (dir, clock, store) = env();
    let caps = store.capabilities();
    assert!(caps.versioned && caps.touch && caps.list_by_account);
    assert!(store.accounts().is_some());
    let plain = store_in(&dir, &clock);
    assert!(!plain.capabilities().list_by_account);
    assert!(plain.accounts().is_none());
    // Without the index, saves leave no index directory beside the sessions.
    create(&plain, user(42), 60);
    assert!(!dir.path().join(".sessionid.accounts").exists());
}

/// V1: `save_if` writes over the loaded version only, and returns what a load then
/// reports.
#[test]
fn v1_save_if_writes_over_the_loaded_version_only() {
    let (_dir, _clock, store) = env();
    let key = create(&store, data(1), 60);
    let loaded = version(&store, &key);
    let record = Record::new(key.clone(), data(2), NOW + Duration::seconds(60));
    let written = store.save_if(&record, loaded).unwrap();
    assert_ne!(written, loaded);
    assert_eq!(version(&store, &key), written);
    let late = Record::new(key.clone(), data(3), NOW + Duration::seconds(60));
    assert!(matches!(store.save_if(&late, loaded), Err(Error::Conflict)));
    assert_eq!(store.load(&key).unwrap().unwrap().data, data(2));
}

/// V3: a plain save changing only the expiry changes the version (it is in the
/// modification time, not the bytes).
#[test]
fn v3_a_plain_save_of_a_new_expiry_changes_the_version() {
    let (_dir, _clock, store) = env();
    let key = create(&store, data(1), 60);
    let before = version(&store, &key);
    let record = Record::new(key.clone(), data(1), NOW + Duration::seconds(90));
    store.save(&record, SaveMode::Update).unwrap();
    assert_ne!(version(&store, &key), before);
    assert!(matches!(
        store.save_if(&record, before),
        Err(Error::Conflict)
    ));
}

/// V1: a write by another party (a Django process, here `write_raw`) since the load is
/// a conflict.
#[test]
fn v1_a_foreign_rewrite_of_the_file_is_a_conflict() {
    let (_dir, _clock, store) = env();
    let key = create(&store, data(1), 60);
    let loaded = version(&store, &key);
    let other_dir = tempfile::tempdir().unwrap();
    let other = store_in(&other_dir, &ManualClock::new(NOW));
    let text = {
        let k = create(&other, data(9), 60);
        other.read_raw(&k).unwrap().unwrap()
    };
    store
        .write_raw(&key, &text, NOW + Duration::seconds(60))
        .unwrap();
    let record = Record::new(key.clone(), data(2), NOW + Duration::seconds(60));
    assert!(matches!(
        store.save_if(&record, loaded),
        Err(Error::Conflict)
    ));
}

/// V1 with D5: `save_if` of a missing or expired file is `Update` and creates nothing.
#[test]
fn v1_save_if_of_a_missing_or_expired_file_is_update() {
    let (dir, clock, store) = env();
    let missing = SessionKey::generate();
    let record = Record::new(missing.clone(), data(1), NOW + Duration::seconds(60));
    assert!(matches!(
        store.save_if(&record, Version::new(1)),
        Err(Error::Update)
    ));
    assert!(!store.path_for(missing.as_str()).unwrap().exists());
    let key = create(&store, data(1), 10);
    let loaded = version(&store, &key);
    clock.advance(Duration::seconds(10));
    let record = Record::new(key.clone(), data(2), NOW + Duration::seconds(600));
    assert!(matches!(store.save_if(&record, loaded), Err(Error::Update)));
    assert!(!store.path_for(key.as_str()).unwrap().exists());
    assert!(fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp")));
}

/// `lookup` tells an expired file from a missing or undecodable one.
#[test]
fn lookup_reports_an_expired_file_as_expired() {
    let (_dir, clock, store) = env();
    let key = create(&store, data(1), 10);
    assert!(matches!(store.lookup(&key).unwrap(), Lookup::Found(r) if r.data == data(1)));
    clock.advance(Duration::seconds(10));
    assert_eq!(store.lookup(&key).unwrap(), Lookup::Expired);
    // Deleted on the way (C9): the next look finds nothing.
    assert_eq!(store.lookup(&key).unwrap(), Lookup::Missing);
    let garbage = SessionKey::generate();
    store
        .write_raw(&garbage, "not-a-session", NOW + Duration::seconds(600))
        .unwrap();
    assert_eq!(store.lookup(&garbage).unwrap(), Lookup::Missing);
}

/// V4: a touch keeps the bytes and moves the expiry (the modification time), so the
/// version moves with it (V3).
#[test]
fn v4_touch_moves_the_expiry_and_keeps_the_bytes() {
    let (_dir, clock, store) = env();
    let key = create(&store, data(7), 10);
    let bytes = store.read_raw(&key).unwrap();
    let before = version(&store, &key);
    store.touch(&key, NOW + Duration::seconds(100)).unwrap();
    assert_eq!(store.read_raw(&key).unwrap(), bytes);
    let loaded = store.load(&key).unwrap().unwrap();
    assert_eq!(loaded.data, data(7));
    assert_eq!(loaded.expires_at, NOW + Duration::seconds(100));
    assert_ne!(loaded.version, Some(before));
    clock.advance(Duration::seconds(50));
    assert!(store.exists(&key).unwrap(), "live past its old expiry");
}

/// V4: touching a missing, expired or undecodable file is `Update`.
#[test]
fn v4_touch_of_a_missing_or_expired_file_is_update() {
    let (_dir, clock, store) = env();
    let missing = SessionKey::generate();
    assert!(matches!(
        store.touch(&missing, NOW + Duration::seconds(60)),
        Err(Error::Update)
    ));
    assert!(!store.path_for(missing.as_str()).unwrap().exists());
    let garbage = SessionKey::generate();
    store
        .write_raw(&garbage, "not-a-session", NOW + Duration::seconds(600))
        .unwrap();
    assert!(matches!(
        store.touch(&garbage, NOW + Duration::seconds(60)),
        Err(Error::Update)
    ));
    let key = create(&store, data(1), 10);
    clock.advance(Duration::seconds(10));
    assert!(matches!(
        store.touch(&key, NOW + Duration::seconds(60)),
        Err(Error::Update)
    ));
    assert!(!store.exists(&key).unwrap());
}

/// V1 across stores on one directory (as across processes: the lock is `flock`):
/// of racing `save_if`s on one version exactly one wins.
#[test]
fn v1_exactly_one_of_racing_save_ifs_wins() {
    let (dir, clock, store) = env();
    let key = create(&store, data(0), 600);
    let loaded = version(&store, &key);
    let barrier = Arc::new(Barrier::new(6));
    let handles: Vec<_> = (1..=6)
        .map(|i| {
            let store = store_in(&dir, &clock);
            let (key, barrier) = (key.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let record = Record::new(key, data(i), NOW + Duration::seconds(600));
                store.save_if(&record, loaded).is_ok()
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

fn listed(store: &FileStore, account: i64) -> Vec<AccountSession> {
    store.accounts().unwrap().list_sessions(account).unwrap()
}

/// S5: live sessions of the account, soonest first; survives a restart (a new store
/// on the directory).
#[test]
fn s5_lists_live_sessions_soonest_first_across_restarts() {
    let (dir, clock, store) = env();
    let late = create(&store, user(42), 300);
    let soon = create(&store, user(42), 100);
    let brief = create(&store, user(42), 10);
    create(&store, user(7), 100);
    create(&store, data(1), 100);
    let restarted = store_in(&dir, &clock).with_account_index(true);
    assert_eq!(
        listed(&restarted, 42),
        vec![
            AccountSession::new(brief.clone(), NOW + Duration::seconds(10)),
            AccountSession::new(soon.clone(), NOW + Duration::seconds(100)),
            AccountSession::new(late.clone(), NOW + Duration::seconds(300)),
        ]
    );
    clock.advance(Duration::seconds(10));
    let keys: Vec<_> = listed(&store, 42).into_iter().map(|s| s.key).collect();
    assert_eq!(keys, vec![soon, late]);
    assert_eq!(listed(&store, 99), vec![]);
}

/// S5: revoke_all and revoke_all_except; a revoked session is never re-created (D5).
#[test]
fn s5_revoke_all_and_all_but_the_current_session() {
    let (_dir, _clock, store) = env();
    let current = create(&store, user(42), 100);
    let other = create(&store, user(42), 200);
    let third = create(&store, user(42), 300);
    let stranger = create(&store, user(7), 100);
    let index = store.accounts().unwrap();
    assert_eq!(index.revoke_all_except(42, &current).unwrap(), 2);
    assert!(store.exists(&current).unwrap());
    assert!(!store.exists(&other).unwrap() && !store.exists(&third).unwrap());
    assert!(store.exists(&stranger).unwrap());
    let record = Record::new(other.clone(), user(42), NOW + Duration::seconds(100));
    assert!(matches!(
        store.save(&record, SaveMode::Update),
        Err(Error::Update)
    ));
    assert_eq!(index.revoke_all(42).unwrap(), 1);
    assert!(!store.exists(&current).unwrap());
    assert_eq!(listed(&store, 42), vec![]);
    assert_eq!(listed(&store, 7).len(), 1);
}

/// S5: an account change moves the key; a revoke of the old account leaves it.
#[test]
fn s5_an_account_change_moves_the_key() {
    let (_dir, _clock, store) = env();
    let key = create(&store, user(42), 100);
    let moved = Record::new(key.clone(), user(7), NOW + Duration::seconds(100));
    let v = version(&store, &key);
    store.save_if(&moved, v).unwrap();
    assert_eq!(listed(&store, 42), vec![]);
    assert_eq!(listed(&store, 7).len(), 1);
    assert_eq!(store.accounts().unwrap().revoke_all(42).unwrap(), 0);
    assert!(store.exists(&key).unwrap());
    store.delete(&key).unwrap();
    assert_eq!(listed(&store, 7), vec![]);
}

/// S5 with D8: clear_expired removes the markers of gone, expired and moved sessions
/// and the emptied account directories, and keeps the live ones.
#[test]
fn s5_clear_expired_cleans_the_index() {
    let (dir, clock, store) = env();
    let live = create(&store, user(42), 100);
    let expired = create(&store, user(42), 5);
    let deleted = create(&store, user(9), 100);
    store.delete(&deleted).unwrap();
    clock.advance(Duration::seconds(5));
    assert_eq!(store.clear_expired().unwrap(), 1);
    let index = dir.path().join(".sessionid.accounts");
    let markers: Vec<_> = fs::read_dir(index.join("42"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(markers, vec![live.as_str().to_owned()]);
    assert!(!index.join("9").exists());
    assert!(!store.path_for(expired.as_str()).unwrap().exists());
    assert_eq!(listed(&store, 42).len(), 1);
}

/// S5 on a hostile directory: a symlink planted as the index or an account directory
/// is never followed; the save fails closed instead of leaving the session unlisted.
#[test]
fn s5_a_symlinked_index_is_refused_not_followed() {
    let (dir, _clock, store) = env();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join(".sessionid.accounts")).unwrap();
    let key = SessionKey::generate();
    let record = Record::new(key.clone(), user(42), NOW + Duration::seconds(100));
    assert!(matches!(
        store.save(&record, SaveMode::Create),
        Err(Error::Backend(_))
    ));
    assert!(!store.exists(&key).unwrap());
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    assert!(matches!(
        store.accounts().unwrap().list_sessions(42),
        Err(Error::Backend(_))
    ));
    // An anonymous session needs no index.
    create(&store, data(1), 100);
}

/// S5 on a hostile directory: an index directory swapped for a link to a copy of it
/// is not read by a listing or a revocation, whose markers there name live sessions.
#[test]
fn s5_list_and_revoke_do_not_follow_a_symlinked_index() {
    let (dir, _clock, store) = env();
    let key = create(&store, user(42), 100);
    let elsewhere = tempfile::tempdir().unwrap();
    let moved = elsewhere.path().join("index");
    let index = dir.path().join(".sessionid.accounts");
    fs::rename(&index, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &index).unwrap();
    let accounts = store.accounts().unwrap();
    assert!(matches!(accounts.list_sessions(42), Err(Error::Backend(_))));
    assert!(matches!(accounts.revoke_all(42), Err(Error::Backend(_))));
    assert!(matches!(
        accounts.revoke_all_except(42, &SessionKey::generate()),
        Err(Error::Backend(_))
    ));
    assert!(store.exists(&key).unwrap(), "revoked through the link");
    assert!(moved.join("42").join(key.as_str()).exists());
    store.clear_expired().unwrap();
    assert!(moved.join("42").join(key.as_str()).exists());
}

/// V4 against a concurrent expiry check: a caller that judged a file expired and then
/// waited for its lock while a touch re-timed it (in place, same inode) judges it
/// again on the new time, and leaves the refreshed session alone.
#[test]
fn v4_a_session_touched_while_a_delete_waited_for_its_lock_survives() {
    let (dir, clock, store) = env();
    let key = create(&store, data(3), 10);
    clock.advance(Duration::seconds(20));
    let path = store.path_for(key.as_str()).unwrap();
    // Stand-in for a touch in progress in another process: the store's `flock`.
    let held = fs::File::open(&path).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let waiter = {
        let store = store_in(&dir, &clock);
        let key = key.clone();
        // Sees the file expired, then waits for its lock to delete it.
        std::thread::spawn(move || store.exists(&key).unwrap())
    };
    // Long enough for the waiter to have read the old time and be polling the lock.
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The touch: a new modification time (no `_session_expiry`: expiry = mtime + AGE).
    held.set_modified(
        std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(NOW.unix_timestamp()).unwrap()),
    )
    .unwrap();
    drop(held);
    // Either answer is right for `exists` (a waiter slower than the pause sees the
    // new time at once); what matters is that the session survives.
    waiter.join().unwrap();
    assert!(path.exists(), "the touched session was deleted");
    let loaded = store.load(&key).unwrap().unwrap();
    assert_eq!(loaded.expires_at, NOW + Duration::seconds(AGE));
}
