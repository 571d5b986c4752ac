//! `HashedIds` (rule S3) over the memory and file stores: what it declares and refuses,
//! the hashed mode ignoring plain records, the sync side outside any runtime (the
//! migration included), the client's key in every record, a stolen session directory,
//! and `Debug`. The kit's S3 cases (tests/kit_hashed_ids_*.rs) check the rest.
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
    Error, Record, SaveMode, Session, SessionBackend, SessionConfig, SessionData, SessionKey,
    SessionStore,
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
