//! `HashedIds` (rule S3) over the memory and file stores: what it declares and refuses,
//! the hashed mode ignoring plain records, the sync side outside any runtime (the
//! migration included), the client's key in every record, a stolen session directory,
//! the optional operations forwarded under stored ids (V1, V4, S5), and `Debug`. The
//! kit's S3 cases (tests/kit_hashed_ids_*.rs) check the rest.
#![cfg(all(
    feature = "hashed_ids",
    feature = "memory",
    feature = "file",
    feature = "signed_cookies"
))]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::json;
use session_api::signing::SecretKeys;
use session_api::{
    Clock, Error, Lookup, ManualClock, Record, SaveMode, Session, SessionBackend, SessionConfig,
    SessionData, SessionKey, SessionStore,
};
use session_stores::file::FileStore;
use session_stores::hashed_ids::{stored_id, HashMode, HashedIds};
use session_stores::memory::MemoryStore;
use session_stores::signed_cookies::SignedCookieStore;
use time::{Duration, OffsetDateTime};

fn config() -> Arc<SessionConfig> {
    Arc::new(
        SessionConfig::builder(SecretKeys::new("hashed-ids-test-secret"))
            .build()
            .unwrap(),
    )
}

fn record(key: &SessionKey, value: serde_json::Value) -> Record {
    Record::new(
        key.clone(),
        SessionData::from_value(value).unwrap(),
        OffsetDateTime::now_utc() + Duration::hours(1),
    )
}

/// A record under `key` itself, as the store held it before hashing.
fn plant_plain(memory: &MemoryStore, key: &SessionKey) {
    memory
        .save(&record(key, json!({"user": 7})), SaveMode::Create)
        .unwrap();
}

#[test]
fn it_declares_the_stores_capabilities_and_hashed_ids() {
    let memory = Arc::new(MemoryStore::new());
    let hashed = HashedIds::new_sync(memory.clone(), HashMode::Hashed).unwrap();
    assert_eq!(
        SessionStore::capabilities(&hashed),
        memory.capabilities().with_hashed_ids(true)
    );
    assert!(!memory.capabilities().hashed_ids);
}

#[test]
fn cookie_stores_are_refused() {
    let cookies = Arc::new(SignedCookieStore::from_config(&config()));
    let refused = HashedIds::new_sync(cookies, HashMode::Hashed);
    assert!(
        matches!(refused, Err(Error::Configuration(_))),
        "{refused:?}"
    );
}

#[test]
fn the_hashed_mode_never_touches_plain_records() {
    let memory = Arc::new(MemoryStore::new());
    let hashed = HashedIds::new_sync(memory.clone(), HashMode::Hashed).unwrap();
    let key = SessionKey::generate();
    plant_plain(&memory, &key);
    assert!(hashed.load(&key).unwrap().is_none());
    assert!(!hashed.exists(&key).unwrap());
    let update = hashed.save(&record(&key, json!({"user": 8})), SaveMode::Update);
    assert!(matches!(update, Err(Error::Update)), "{update:?}");
    hashed.delete(&key).unwrap();
    let plain = memory.load(&key).unwrap().unwrap();
    assert_eq!(plain.data.get_value("user"), Some(&json!(7)));
    assert!(memory.load(&stored_id(&key).unwrap()).unwrap().is_none());
}

/// A plain `#[test]`: no runtime anywhere, as a sync web framework would call it.
#[test]
fn the_sync_side_moves_and_logs_out_outside_any_runtime() {
    let memory = Arc::new(MemoryStore::new());
    let hashed = HashedIds::new_sync(memory.clone(), HashMode::MigrateFromPlain).unwrap();
    let backend = SessionBackend::from_nonblocking_sync(Arc::new(hashed));
    let key = SessionKey::generate();
    let id = stored_id(&key).unwrap();
    plant_plain(&memory, &key);

    let session = Session::new(backend.clone(), config(), Some(key.as_str()));
    assert_eq!(session.get::<i64>("user").unwrap(), Some(7));
    assert!(
        memory.load(&key).unwrap().is_none(),
        "the plain record moved"
    );
    assert!(memory.load(&id).unwrap().is_some());
    session.set("user", &8).unwrap();
    session.save().unwrap();
    assert_eq!(session.session_key(), Some(key.clone()), "the key is kept");

    let again = Session::new(backend, config(), Some(key.as_str()));
    assert_eq!(again.get::<i64>("user").unwrap(), Some(8));
    again.flush().unwrap();
    assert!(memory.load(&id).unwrap().is_none());
    assert!(memory.load(&key).unwrap().is_none());
}

#[test]
fn records_and_saves_carry_the_clients_key() {
    let memory = Arc::new(MemoryStore::new());
    let hashed = HashedIds::new_sync(memory.clone(), HashMode::Hashed).unwrap();
    let key = SessionKey::generate();
    let saved = hashed
        .save(&record(&key, json!({"a": 1})), SaveMode::Create)
        .unwrap();
    assert_eq!(saved, key);
    assert_eq!(hashed.load(&key).unwrap().unwrap().key, key);
    let created = hashed
        .create(
            &SessionData::new(),
            OffsetDateTime::now_utc() + Duration::hours(1),
        )
        .unwrap();
    assert_eq!(hashed.load(&created).unwrap().unwrap().key, created);
    let below = memory.load(&stored_id(&created).unwrap()).unwrap().unwrap();
    assert_eq!(
        below.key,
        stored_id(&created).unwrap(),
        "the store below keeps ids"
    );
    assert!(memory.load(&created).unwrap().is_none());
}

/// The file names of the sessions in `dir`, less the cookie-name prefix: a thief's
/// list of ids.
fn stolen_file_ids(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|name| name.strip_prefix("sessionid").map(str::to_owned))
        .collect()
}

#[test]
fn a_stolen_session_directory_holds_no_usable_cookie() {
    let config = config();
    for hashing in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let files = Arc::new(FileStore::from_config_in(&config, dir.path()).unwrap());
        let backend = if hashing {
            let hashed = HashedIds::new_sync(files, HashMode::MigrateFromPlain).unwrap();
            SessionBackend::from_sync(Arc::new(hashed))
        } else {
            SessionBackend::from_sync(files)
        };
        let mut keys = Vec::new();
        for user in 0..3 {
            let session = Session::new(backend.clone(), config.clone(), None);
            session.set("user", &user).unwrap();
            session.save().unwrap();
            keys.push(session.session_key().unwrap().as_str().to_owned());
        }
        let stolen = stolen_file_ids(dir.path());
        assert_eq!(stolen.len(), keys.len());
        let opened = stolen
            .iter()
            .filter(|id| {
                let s = Session::new(backend.clone(), config.clone(), Some(id.as_str()));
                s.get::<i64>("user").unwrap().is_some()
            })
            .count();
        if hashing {
            assert_eq!(opened, 0, "a stolen file name opened a session");
            assert!(stolen.iter().all(|id| !keys.contains(id)));
        } else {
            assert_eq!(opened, keys.len(), "the control opens every session");
        }
    }
}

#[test]
fn debug_shows_neither_keys_nor_stored_ids() {
    let memory = Arc::new(MemoryStore::new());
    let hashed = HashedIds::new_sync(memory, HashMode::MigrateFromPlain).unwrap();
    let key = hashed
        .create(
            &SessionData::new(),
            OffsetDateTime::now_utc() + Duration::hours(1),
        )
        .unwrap();
    let shown = format!("{hashed:?}");
    assert!(shown.contains("MigrateFromPlain"), "{shown}");
    assert!(!shown.contains(key.as_str()), "{shown}");
    assert!(
        !shown.contains(stored_id(&key).unwrap().as_str()),
        "{shown}"
    );
}

/// The stores below of the forwarding tests: memory, and file with its account index.
fn stores_below() -> Vec<(
    Arc<dyn SessionStore>,
    ManualClock,
    Option<tempfile::TempDir>,
)> {
    let start = time::macros::datetime!(2026-01-01 0:00 UTC);
    let memory_clock = ManualClock::new(start);
    let memory = Arc::new(MemoryStore::with_clock(Arc::new(memory_clock.clone())));
    let file_clock = ManualClock::new(start);
    let dir = tempfile::tempdir().unwrap();
    let file_config = SessionConfig::builder(SecretKeys::new("hashed-ids-test-secret"))
        .clock(Arc::new(file_clock.clone()))
        .build()
        .unwrap();
    let files = FileStore::from_config_in(&file_config, dir.path())
        .unwrap()
        .with_account_index(true);
    vec![
        (memory as Arc<dyn SessionStore>, memory_clock, None),
        (
            Arc::new(files) as Arc<dyn SessionStore>,
            file_clock,
            Some(dir),
        ),
    ]
}

fn user_record(key: &SessionKey, account: i64, expires_at: OffsetDateTime) -> Record {
    let data = SessionData::from_value(json!({"_auth_user_id": account.to_string()})).unwrap();
    Record::new(key.clone(), data, expires_at)
}

#[test]
fn capabilities_of_the_store_below_pass_through() {
    for (below, _, _) in stores_below() {
        let hashed = HashedIds::new_sync(below.clone(), HashMode::Hashed).unwrap();
        let caps = SessionStore::capabilities(&hashed);
        assert!(caps.versioned && caps.touch && caps.list_by_account && caps.hashed_ids);
        assert_eq!(caps, below.capabilities().with_hashed_ids(true));
        assert!(SessionStore::accounts(&hashed).is_some());
    }
}

/// V1 through the wrapper: the version loaded under the client's key guards the
/// stored id's record.
#[test]
fn v1_versioned_saves_go_to_the_stored_id() {
    for (below, clock, _dir) in stores_below() {
        let hashed = HashedIds::new_sync(below.clone(), HashMode::Hashed).unwrap();
        let key = SessionKey::generate();
        let until = clock.now() + Duration::hours(1);
        hashed
            .save(
                &Record::new(key.clone(), SessionData::new(), until),
                SaveMode::Create,
            )
            .unwrap();
        let loaded = hashed.load(&key).unwrap().unwrap();
        assert_eq!(loaded.key, key);
        let v = loaded.version.unwrap();
        let written = hashed.save_if(&record(&key, json!({"a": 2})), v).unwrap();
        assert_eq!(
            below
                .load(&stored_id(&key).unwrap())
                .unwrap()
                .unwrap()
                .version,
            Some(written)
        );
        assert!(below.load(&key).unwrap().is_none(), "nothing under the key");
        let late = hashed.save_if(&record(&key, json!({"a": 3})), v);
        assert!(matches!(late, Err(Error::Conflict)), "{late:?}");
        let missing = hashed.save_if(&record(&SessionKey::generate(), json!({})), v);
        assert!(matches!(missing, Err(Error::Update)), "{missing:?}");
    }
}

/// V4 and lookup through the wrapper.
#[test]
fn v4_touch_and_lookup_go_to_the_stored_id() {
    for (below, clock, _dir) in stores_below() {
        let hashed = HashedIds::new_sync(below, HashMode::Hashed).unwrap();
        let key = SessionKey::generate();
        let now = clock.now();
        hashed
            .save(
                &record_until(&key, now + Duration::seconds(10)),
                SaveMode::Create,
            )
            .unwrap();
        hashed.touch(&key, now + Duration::seconds(100)).unwrap();
        clock.advance(Duration::seconds(50));
        let loaded = hashed.load(&key).unwrap().unwrap();
        assert_eq!(loaded.expires_at, now + Duration::seconds(100));
        assert_eq!(loaded.data.get_value("a"), Some(&json!(1)));
        clock.advance(Duration::seconds(50));
        assert_eq!(hashed.lookup(&key).unwrap(), Lookup::Expired);
        let gone = hashed.touch(&key, now + Duration::seconds(500));
        assert!(matches!(gone, Err(Error::Update)), "{gone:?}");
    }
}

fn record_until(key: &SessionKey, expires_at: OffsetDateTime) -> Record {
    Record::new(
        key.clone(),
        SessionData::from_value(json!({"a": 1})).unwrap(),
        expires_at,
    )
}

/// S5 through the wrapper: listings give stored ids, and `revoke_all_except` takes
/// the client's key.
#[test]
fn s5_the_index_lists_stored_ids_and_spares_the_clients_current_key() {
    for (below, clock, _dir) in stores_below() {
        let hashed = HashedIds::new_sync(below, HashMode::Hashed).unwrap();
        let until = clock.now() + Duration::hours(1);
        let (current, other) = (SessionKey::generate(), SessionKey::generate());
        for key in [&current, &other] {
            hashed
                .save(&user_record(key, 42, until), SaveMode::Create)
                .unwrap();
        }
        let index = SessionStore::accounts(&hashed).unwrap();
        let mut listed: Vec<_> = index
            .list_sessions(42)
            .unwrap()
            .into_iter()
            .map(|s| s.key)
            .collect();
        listed.sort();
        let mut ids = vec![stored_id(&current).unwrap(), stored_id(&other).unwrap()];
        ids.sort();
        assert_eq!(listed, ids);
        assert_eq!(index.revoke_all_except(42, &current).unwrap(), 1);
        assert!(hashed.exists(&current).unwrap());
        assert!(!hashed.exists(&other).unwrap());
        assert_eq!(index.revoke_all(42).unwrap(), 1);
        assert!(!hashed.exists(&current).unwrap());
    }
}

/// S5 in the migration mode: a current session still under its plain key is spared
/// too (the index files it under that key until it moves).
#[test]
fn s5_the_migration_mode_spares_a_plain_current_session() {
    let memory = Arc::new(MemoryStore::new());
    let hashed = HashedIds::new_sync(memory.clone(), HashMode::MigrateFromPlain).unwrap();
    let until = OffsetDateTime::now_utc() + Duration::hours(1);
    let (current, moved) = (SessionKey::generate(), SessionKey::generate());
    memory
        .save(&user_record(&current, 42, until), SaveMode::Create)
        .unwrap();
    hashed
        .save(&user_record(&moved, 42, until), SaveMode::Create)
        .unwrap();
    let index = SessionStore::accounts(&hashed).unwrap();
    assert_eq!(index.revoke_all_except(42, &current).unwrap(), 1);
    assert!(
        memory.exists(&current).unwrap(),
        "the plain current session stays"
    );
    assert!(!hashed.exists(&moved).unwrap());
}

/// A record the migration mode has just moved has no version (it is the plain one's
/// data); the next load gives the moved record's.
#[test]
fn a_moved_record_is_loaded_without_a_version_then_with_one() {
    let memory = Arc::new(MemoryStore::new());
    let hashed = HashedIds::new_sync(memory.clone(), HashMode::MigrateFromPlain).unwrap();
    let key = SessionKey::generate();
    plant_plain(&memory, &key);
    assert_eq!(hashed.load(&key).unwrap().unwrap().version, None);
    let again = hashed.load(&key).unwrap().unwrap();
    let v = again.version.unwrap();
    hashed
        .save_if(&record(&key, json!({"user": 9})), v)
        .unwrap();
}
