//! The file store against rules E5, D1..D9, F6, F7, H1 and H3 (docs/django-spec.md).
#![cfg(feature = "file")]
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::SystemTime;

use serde_json::{json, Value};
use session_api::codec::SessionCodec;
use session_api::expiry::isoformat;
use session_api::signing::SecretKeys;
use session_api::{
    Clock, DecodeLimits, Error, ExpiryValue, JsonSerializer, ManualClock, Record, SaveMode,
    Session, SessionBackend, SessionConfig, SessionData, SessionKey, SessionStore,
};
use session_stores::file::FileStore;
use tempfile::TempDir;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const SECRET: &str = "file-store-test-secret";
const AGE: i64 = 1_209_600;
const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../session-api/tests/fixtures/django-5.2/signing.json"
);

struct Env {
    dir: TempDir,
    clock: ManualClock,
    store: FileStore,
}

fn codec(secret: &str, clock: &ManualClock) -> SessionCodec {
    SessionCodec::new(
        &SecretKeys::new(secret),
        Arc::new(clock.clone()),
        Arc::new(JsonSerializer),
    )
}

fn store_in(dir: &Path, prefix: &str, clock: &ManualClock) -> FileStore {
    FileStore::new(
        dir,
        prefix,
        AGE,
        codec(SECRET, clock),
        Arc::new(clock.clone()),
    )
    .unwrap()
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let store = store_in(dir.path(), "sessionid", &clock);
    Env { dir, clock, store }
}

fn key(s: &str) -> SessionKey {
    SessionKey::parse(s).unwrap()
}

fn data(value: Value) -> SessionData {
    SessionData::from_value(value).unwrap()
}

/// `get_expiry_date()` of `data` now, as a session handle passes it.
fn expiry(clock: &ManualClock, data: &SessionData) -> OffsetDateTime {
    ExpiryValue::from_stored(data.get_value("_session_expiry")).date(clock.now(), AGE)
}

/// The data `load` gives for `k` (its record's).
fn load(store: &FileStore, k: &SessionKey) -> Option<SessionData> {
    store.load(k).unwrap().map(|record| record.data)
}

impl Env {
    fn save(&self, k: &SessionKey, d: &SessionData, mode: SaveMode) -> session_api::Result<()> {
        let record = Record::new(k.clone(), d.clone(), expiry(&self.clock, d));
        self.store.save(&record, mode).map(|_| ())
    }

    fn path(&self, k: &SessionKey) -> std::path::PathBuf {
        self.store.path_for(k.as_str()).unwrap()
    }

    /// Names in the directory, sorted.
    fn names(&self) -> Vec<String> {
        names(self.dir.path())
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Writes `content` as a file with modification time `mtime`.
fn plant(path: &Path, content: &[u8], mtime: OffsetDateTime) {
    fs::write(path, content).unwrap();
    set_mtime(path, mtime);
}

fn set_mtime(path: &Path, mtime: OffsetDateTime) {
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::from(mtime)).unwrap();
}

/// Every file under `root`, recursively, with its content.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if entry.file_type().unwrap().is_dir() {
                out.insert(format!("{name}/"), Vec::new());
                stack.push(path);
            } else {
                out.insert(name, fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn assert_no_temp_files(dir: &Path) {
    for name in names(dir) {
        assert!(
            !name.ends_with(".tmp"),
            "temporary file left behind: {name}"
        );
    }
}

// ---- H1, E5: keys never escape the directory -----------------------------------

#[test]
fn h1_e5_traversal_shaped_keys_never_touch_the_file_system() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    fs::create_dir(&dir).unwrap();
    fs::write(root.path().join("victim"), b"do not touch").unwrap();
    fs::write(root.path().join("sessionidabcdefgh"), b"outside").unwrap();
    // A directory whose name is the prefix plus "..": "sessionid../victim" would
    // resolve through it if a path were ever built from such a key.
    fs::create_dir(dir.join("sessionid..")).unwrap();
    let clock = ManualClock::new(START);
    let store = store_in(&dir, "sessionid", &clock);
    let backend = SessionBackend::from_sync(Arc::new(store_in(&dir, "sessionid", &clock)));
    let config = Arc::new(
        SessionConfig::builder(SecretKeys::new(SECRET))
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    );
    let absolute = root.path().join("victim").display().to_string();
    let before = snapshot(root.path());

    let bad_keys = [
        "../victim",
        "../../victim",
        "../sessionidabcdefgh",
        "..%2fvictim",
        "..%2F..%2Fvictim",
        "%2e%2e%2fvictim",
        "/etc/passwd",
        absolute.as_str(),
        "abcdefgh\0",
        "abcdefgh\0/../../victim",
        "abcd/efgh",
        "abcd\\efgh",
        "abcdefgh/",
        "ABCDEFGH",
        "abcdEfgh",
        "abcdéfgh",
        "ａｂｃｄｅｆｇｈ",
        "abcdefgh\u{2215}victim",
        "abcdefgh.",
        "..",
        ".",
        "",
        "abcdefg",
        &"a".repeat(41),
        "abcdefgh ",
        "abcdefgh\n",
    ];
    for bad in bad_keys {
        assert!(SessionKey::parse(bad).is_err(), "{bad:?} parsed");
        assert!(
            backend.capabilities().parse_key(bad).is_err(),
            "{bad:?} parsed"
        );
        assert!(
            matches!(store.path_for(bad), Err(Error::InvalidKey { .. })),
            "{bad:?} gave a path"
        );
        // A request carrying it: the key is dropped, nothing is read or written.
        let session = Session::new(backend.clone(), config.clone(), Some(bad));
        assert!(session.session_key().is_none());
        assert!(session.keys().unwrap().is_empty());
    }
    // The key-derived part of a path is only ever the key itself.
    let good = store.path_for("abcdefgh").unwrap();
    assert_eq!(good, dir.join("sessionidabcdefgh"));
    assert_eq!(snapshot(root.path()), before);
}

// ---- E5: expiry ------------------------------------------------------------------

#[test]
fn e5_c9_expired_file_is_deleted_on_load() {
    let env = env();
    let k = key("expiredkey1");
    let d = data(json!({"a": 1}));
    env.save(&k, &d, SaveMode::Create).unwrap();
    env.clock.advance(Duration::seconds(AGE - 1));
    assert_eq!(load(&env.store, &k), Some(d));
    assert!(env.path(&k).is_file());
    env.clock.advance(Duration::seconds(1));
    assert_eq!(load(&env.store, &k), None);
    assert!(!env.path(&k).exists(), "expired file not deleted");
    assert!(!env.store.exists(&k).unwrap());
}

#[test]
fn c8_e5_integer_expiry_counts_from_the_last_save() {
    let env = env();
    let k = key("inactivity1");
    let d = data(json!({"_session_expiry": 600, "a": 1}));
    env.save(&k, &d, SaveMode::Create).unwrap();
    env.clock.advance(Duration::seconds(599));
    assert_eq!(load(&env.store, &k), Some(d.clone()));
    env.save(&k, &d, SaveMode::Update).unwrap();
    env.clock.advance(Duration::seconds(599));
    assert_eq!(load(&env.store, &k), Some(d.clone()));
    env.clock.advance(Duration::seconds(1));
    assert_eq!(load(&env.store, &k), None);
}

#[test]
fn c2_e5_datetime_expiry_is_absolute() {
    let env = env();
    let k = key("absolute11");
    let at = START + Duration::seconds(100);
    let d = data(json!({"_session_expiry": isoformat(at)}));
    env.save(&k, &d, SaveMode::Create).unwrap();
    env.clock.advance(Duration::seconds(50));
    // A save does not move an absolute expiry.
    env.save(&k, &d, SaveMode::Update).unwrap();
    env.clock.advance(Duration::seconds(49));
    assert!(env.store.exists(&k).unwrap());
    env.clock.advance(Duration::seconds(1));
    assert_eq!(load(&env.store, &k), None);
}

#[test]
fn e5_expires_at_given_to_save_is_honoured() {
    // Stores are called with get_expiry_date(); without a custom expiry in the data,
    // the modification time written makes the file expire exactly then.
    let env = env();
    let k = key("explicit12");
    let d = data(json!({"a": 1}));
    env.store
        .save(
            &Record::new(k.clone(), d.clone(), START + Duration::seconds(30)),
            SaveMode::Create,
        )
        .unwrap();
    // The record comes back with that expiry.
    assert_eq!(
        env.store.load(&k).unwrap(),
        Some(Record::new(
            k.clone(),
            d.clone(),
            START + Duration::seconds(30)
        ))
    );
    env.clock.advance(Duration::seconds(29));
    assert_eq!(load(&env.store, &k), Some(d));
    env.clock.advance(Duration::seconds(1));
    assert_eq!(load(&env.store, &k), None);
}

#[test]
fn d1_exists_is_false_for_missing_and_expired_files() {
    let env = env();
    let k = key("existskey1");
    assert!(!env.store.exists(&k).unwrap());
    env.save(&k, &SessionData::new(), SaveMode::Create).unwrap();
    assert!(env.store.exists(&k).unwrap());
    // An empty dict is a record (D7: Some, not None).
    assert_eq!(load(&env.store, &k), Some(SessionData::new()));
    env.clock.advance(Duration::seconds(AGE));
    assert!(!env.store.exists(&k).unwrap());
}

// ---- E5, D8: clear_expired -------------------------------------------------------

#[test]
fn e5_d8_clear_expired_removes_only_its_own_expired_files() {
    let env = env();
    let other = store_in(env.dir.path(), "othersid", &env.clock);
    let short = data(json!({"_session_expiry": 60}));
    let long = data(json!({"a": 1}));
    let (mine_expired, mine_live) = (key("mineexpired1"), key("minelive1234"));
    let other_expired = key("otherexpired");
    env.save(&mine_expired, &short, SaveMode::Create).unwrap();
    env.save(&mine_live, &long, SaveMode::Create).unwrap();
    other
        .save(
            &Record::new(
                other_expired.clone(),
                short.clone(),
                expiry(&env.clock, &short),
            ),
            SaveMode::Create,
        )
        .unwrap();
    // Files that are not this store's sessions, all with an ancient mtime, so they
    // would count as expired if they were considered.
    let ancient = datetime!(2000-01-01 0:00 UTC);
    let strangers = [
        "notes.txt",
        "sessionid",
        "sessionidshort",
        "sessionidUPPERCASEKEY",
        "sessionidabcdefgh.tmp",
        ".sessionidabcdefgh.tmp",
        "sessionidabcdefgh_out_x1",
        "xsessionidabcdefghij",
    ];
    for name in strangers {
        plant(&env.dir.path().join(name), b"not a session", ancient);
    }
    // A directory with a session-shaped name is not a regular file.
    let dir_name = env.dir.path().join("sessionidsubdirectory");
    fs::create_dir(&dir_name).unwrap();

    env.clock.advance(Duration::seconds(61));
    let before = env.names();
    assert_eq!(env.store.clear_expired().unwrap(), 1);
    let after = env.names();
    let removed: Vec<_> = before.iter().filter(|n| !after.contains(n)).collect();
    assert_eq!(removed, [&format!("sessionid{}", mine_expired.as_str())]);
    assert!(dir_name.is_dir());
    assert_eq!(load(&env.store, &mine_live), Some(long));
    // The other prefix's file is still there, for its own store to sweep.
    assert!(other.path_for(other_expired.as_str()).unwrap().is_file());
    assert_eq!(other.clear_expired().unwrap(), 1);
    // Nothing left to do; nothing created.
    let settled = env.names();
    assert_eq!(env.store.clear_expired().unwrap(), 0);
    assert_eq!(env.names(), settled);
}

#[test]
fn e5_d8_clear_expired_removes_expired_files_in_the_namespace_even_if_undecodable() {
    // As Django: a file named prefix + key is a session file; undecodable content
    // expires by modification time.
    let env = env();
    let k = key("garbagekey1");
    plant(&env.path(&k), b"garbage", START - Duration::seconds(AGE));
    let fresh = key("garbagekey2");
    plant(&env.path(&fresh), b"garbage", START);
    assert_eq!(env.store.clear_expired().unwrap(), 1);
    assert!(!env.path(&k).exists());
    assert!(env.path(&fresh).exists());
}

// ---- E5: atomic writes -----------------------------------------------------------

#[test]
fn e5_concurrent_writers_leave_a_complete_readable_file() {
    const WRITERS: usize = 16;
    const ROUNDS: usize = 20;
    let env = Arc::new(env());
    let k = key("contended1");
    env.save(&k, &data(json!({"writer": -1})), SaveMode::Create)
        .unwrap();
    let payload = |i: usize| data(json!({"writer": i, "payload": "x".repeat(5000 + i * 997)}));
    let barrier = Arc::new(Barrier::new(WRITERS + 1));
    let mut threads = Vec::new();
    for i in 0..WRITERS {
        let (env, barrier, k) = (env.clone(), barrier.clone(), k.clone());
        let mine = payload(i);
        threads.push(std::thread::spawn(move || {
            barrier.wait();
            for _ in 0..ROUNDS {
                env.save(&k, &mine, SaveMode::Update).unwrap();
                // Every read sees one writer's complete data.
                let seen = load(&env.store, &k).expect("file vanished");
                let writer = seen.get::<usize>("writer").unwrap().unwrap();
                assert_eq!(seen, payload(writer));
            }
        }));
    }
    barrier.wait();
    for t in threads {
        t.join().unwrap();
    }
    let last = load(&env.store, &k).unwrap();
    let writer = last.get::<usize>("writer").unwrap().unwrap();
    assert!(writer < WRITERS);
    assert_eq!(last, payload(writer));
    // The raw file decodes with a separate codec holding the same secret.
    let raw = fs::read_to_string(env.path(&k)).unwrap();
    assert_eq!(codec(SECRET, &env.clock).try_decode(&raw).unwrap(), last);
    assert_eq!(env.names(), [format!("sessionid{}", k.as_str())]);
}

#[test]
fn e5_no_temporary_files_left_behind() {
    let env = env();
    let a = key("tempcheck1");
    let b = key("tempcheck2");
    let d = data(json!({"a": 1}));
    env.save(&a, &d, SaveMode::Create).unwrap();
    env.save(&a, &d, SaveMode::Update).unwrap();
    assert!(matches!(
        env.save(&a, &d, SaveMode::Create),
        Err(Error::Create)
    ));
    assert!(matches!(
        env.save(&b, &d, SaveMode::Update),
        Err(Error::Update)
    ));
    env.save(&b, &d, SaveMode::Create).unwrap();
    env.store.delete(&b).unwrap();
    assert!(matches!(
        env.save(&b, &d, SaveMode::Update),
        Err(Error::Update)
    ));
    assert_no_temp_files(env.dir.path());
    assert_eq!(env.names(), [format!("sessionid{}", a.as_str())]);
}

// ---- F6, F7: Django's session_data -----------------------------------------------

#[test]
fn f6_files_hold_djangos_session_data_byte_for_byte() {
    let fixtures: Value = serde_json::from_str(&fs::read_to_string(FIXTURES).unwrap()).unwrap();
    let secret = fixtures["meta"]["SECRET_KEY"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (i, case) in fixtures["values"].as_array().unwrap().iter().enumerate() {
        if !case["kind"].as_str().unwrap().starts_with("session encode") {
            continue;
        }
        let clock = ManualClock::new(
            OffsetDateTime::from_unix_timestamp(case["timestamp"].as_i64().unwrap()).unwrap(),
        );
        let store = FileStore::new(
            dir.path(),
            "sessionid",
            AGE,
            codec(secret, &clock),
            Arc::new(clock.clone()),
        )
        .unwrap();
        let k = key(&format!("fixture{i:04}"));
        let d = data(case["obj"].clone());
        store
            .save(
                &Record::new(k.clone(), d.clone(), expiry(&clock, &d)),
                SaveMode::Create,
            )
            .unwrap();
        let path = store.path_for(k.as_str()).unwrap();
        let raw = fs::read_to_string(&path).unwrap();
        assert_eq!(raw, case["signed"].as_str().unwrap(), "case {i}");
        assert_eq!(codec(secret, &clock).try_decode(&raw).unwrap(), d);
        // And a file Django wrote loads.
        fs::write(&path, case["signed"].as_str().unwrap()).unwrap();
        set_mtime(&path, clock.now());
        assert_eq!(load(&store, &k), Some(d));
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} fixtures");
}

#[test]
fn d7_f7_undecodable_files_load_as_none_without_panicking() {
    let env = env();
    let good = codec(SECRET, &env.clock)
        .encode(&data(json!({"a": 1})))
        .unwrap();
    let wrong_secret = codec("another-secret", &env.clock)
        .encode(&data(json!({"a": 1})))
        .unwrap();
    let mut tampered = good.clone().into_bytes();
    tampered[2] ^= 1;
    let not_an_object = session_api::signing::TimestampSigner::new(
        &SecretKeys::new(SECRET),
        session_api::signing::SESSION_SALT,
        Arc::new(env.clock.clone()),
    )
    .sign_object(&json!([1, 2]), &JsonSerializer, true)
    .unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty placeholder", Vec::new()),
        ("garbage", b"garbage".to_vec()),
        ("tampered", tampered),
        ("truncated", good.as_bytes()[..good.len() - 1].to_vec()),
        ("wrong secret", wrong_secret.into_bytes()),
        ("not utf-8", vec![0xff, 0xfe, b':', 0x80]),
        ("nul bytes", vec![0; 64]),
        ("not an object", not_an_object.into_bytes()),
        ("only separators", b"::::".to_vec()),
    ];
    for (i, (what, content)) in cases.into_iter().enumerate() {
        let k = key(&format!("undecodable{i}"));
        plant(&env.path(&k), &content, START);
        assert_eq!(load(&env.store, &k), None, "{what}");
        // Not expired: kept (as Django does) until clear_expired finds it expired.
        assert!(env.path(&k).exists(), "{what}");
        // The name is taken: a create under it is a collision.
        assert!(
            matches!(
                env.save(&k, &SessionData::new(), SaveMode::Create),
                Err(Error::Create)
            ),
            "{what}"
        );
    }
}

#[test]
fn h3_oversized_files_are_rejected_without_being_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let limits = DecodeLimits {
        max_signed_len: 1024,
        ..DecodeLimits::default()
    };
    let store = FileStore::new(
        dir.path(),
        "sessionid",
        AGE,
        codec(SECRET, &clock).with_limits(limits),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let k = key("oversized1");
    let path = store.path_for(k.as_str()).unwrap();
    plant(&path, &vec![b'a'; 4 << 20], START);
    assert_eq!(load(&store, &k), None);
    // At the limit it is still decoded.
    let d = data(json!({"pad": "y".repeat(600)}));
    store
        .save(
            &Record::new(k.clone(), d.clone(), expiry(&clock, &d)),
            SaveMode::Update,
        )
        .unwrap();
    assert!(fs::metadata(&path).unwrap().len() <= 1024);
    assert_eq!(load(&store, &k), Some(d));
}

// ---- D4, D5, D6: create, update, delete --------------------------------------------

#[test]
fn d4_must_create_on_an_existing_file_is_create_error() {
    let env = env();
    let k = key("createtwice");
    let first = data(json!({"first": true}));
    env.save(&k, &first, SaveMode::Create).unwrap();
    let err = env
        .save(&k, &data(json!({"second": true})), SaveMode::Create)
        .unwrap_err();
    assert!(matches!(err, Error::Create), "{err}");
    // The existing record is untouched.
    assert_eq!(load(&env.store, &k), Some(first));
}

#[test]
fn e5_d4_an_expired_file_counts_as_absent_for_must_create() {
    let env = env();
    let k = key("recreated1");
    env.save(&k, &data(json!({"old": 1})), SaveMode::Create)
        .unwrap();
    env.clock.advance(Duration::seconds(AGE));
    let fresh = data(json!({"new": 2}));
    env.save(&k, &fresh, SaveMode::Create).unwrap();
    assert_eq!(load(&env.store, &k), Some(fresh));
}

#[test]
fn d5_update_of_a_deleted_file_is_update_error_and_not_resurrected() {
    let env = env();
    let k = key("loggedout1");
    let d = data(json!({"a": 1}));
    // Never created.
    assert!(matches!(
        env.save(&k, &d, SaveMode::Update),
        Err(Error::Update)
    ));
    assert!(!env.path(&k).exists());
    // Created, then deleted by a concurrent logout.
    env.save(&k, &d, SaveMode::Create).unwrap();
    env.store.delete(&k).unwrap();
    assert!(matches!(
        env.save(&k, &d, SaveMode::Update),
        Err(Error::Update)
    ));
    assert!(!env.path(&k).exists(), "update re-created the file");
    assert_eq!(load(&env.store, &k), None);
    // Expired: also an update error, and the file is gone.
    env.save(&k, &d, SaveMode::Create).unwrap();
    env.clock.advance(Duration::seconds(AGE));
    assert!(matches!(
        env.save(&k, &d, SaveMode::Update),
        Err(Error::Update)
    ));
    assert!(!env.path(&k).exists());
    assert_no_temp_files(env.dir.path());
}

#[test]
fn d6_delete_of_a_missing_file_is_not_an_error() {
    let env = env();
    let k = key("nosuchfile");
    env.store.delete(&k).unwrap();
    env.save(&k, &SessionData::new(), SaveMode::Create).unwrap();
    env.store.delete(&k).unwrap();
    env.store.delete(&k).unwrap();
    assert!(env.names().is_empty());
}

// ---- E5: configuration and layout --------------------------------------------------

#[test]
fn e5_directory_must_exist_and_be_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let file = dir.path().join("a-file");
    fs::write(&file, b"").unwrap();
    for path in [dir.path().join("missing"), file] {
        let err = FileStore::new(
            &path,
            "sessionid",
            AGE,
            codec(SECRET, &clock),
            Arc::new(clock.clone()),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Configuration(_)), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }
    let config = SessionConfig::builder(SecretKeys::new(SECRET))
        .build()
        .unwrap();
    assert!(matches!(
        FileStore::from_config_in(&config, dir.path().join("missing")),
        Err(Error::Configuration(_))
    ));
    // Without a directory: the system temp dir, Django's default (rule E5).
    let default = FileStore::from_config(&config).unwrap();
    assert_eq!(default.dir(), std::env::temp_dir());
    for (prefix, age) in [("", AGE), ("a/b", AGE), ("a\\b", AGE), ("sessionid", 0)] {
        let err = FileStore::new(
            dir.path(),
            prefix,
            age,
            codec(SECRET, &clock),
            Arc::new(clock.clone()),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Configuration(_)), "{prefix:?}: {err}");
    }
}

#[test]
fn e5_file_name_is_cookie_name_plus_key() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START);
    let config = SessionConfig::builder(SecretKeys::new(SECRET))
        .cookie_name("mysid")
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let store = FileStore::from_config_in(&config, dir.path()).unwrap();
    assert_eq!(store.dir(), dir.path());
    assert_eq!(store.prefix(), "mysid");
    let k = key("layoutkey1");
    let d = data(json!({"a": 1}));
    store
        .save(
            &Record::new(k.clone(), d.clone(), expiry(&clock, &d)),
            SaveMode::Create,
        )
        .unwrap();
    assert_eq!(names(dir.path()), ["mysidlayoutkey1"]);
}

#[cfg(unix)]
#[test]
fn e5_session_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = env();
    let k = key("privatekey");
    env.save(&k, &SessionData::new(), SaveMode::Create).unwrap();
    let mode = fs::metadata(env.path(&k)).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

// ---- Through the session handle, sync and async (D9) ---------------------------------

#[test]
fn a5_a6_session_round_trip_cycle_key_and_flush() {
    let env = env();
    let config = Arc::new(
        SessionConfig::builder(SecretKeys::new(SECRET))
            .clock(Arc::new(env.clock.clone()))
            .build()
            .unwrap(),
    );
    let store = FileStore::from_config_in(&config, env.dir.path()).unwrap();
    let backend = SessionBackend::from_sync(Arc::new(store));
    let s = Session::new(backend.clone(), config.clone(), None);
    s.set("cart", &[3, 4]).unwrap();
    s.save().unwrap();
    let first = s.session_key().unwrap();

    let next = Session::new(backend.clone(), config.clone(), Some(first.as_str()));
    assert_eq!(next.get::<Vec<u32>>("cart").unwrap(), Some(vec![3, 4]));
    next.cycle_key().unwrap();
    let second = next.session_key().unwrap();
    assert_ne!(first, second);
    assert!(!env.path(&first).exists());
    assert_eq!(
        load(&env.store, &second).unwrap().get_value("cart"),
        Some(&json!([3, 4]))
    );
    next.flush().unwrap();
    assert!(next.session_key().is_none());
    assert!(env.names().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn d9_async_side_through_from_sync() {
    let env = env();
    let backend =
        SessionBackend::from_sync(Arc::new(store_in(env.dir.path(), "sessionid", &env.clock)));
    let store = backend.nonblocking();
    let k = key("asyncside1");
    let d = data(json!({"a": 1}));
    let at = expiry(&env.clock, &d);
    let record = Record::new(k.clone(), d.clone(), at);
    store.asave(&record, SaveMode::Create).await.unwrap();
    assert!(matches!(
        store.asave(&record, SaveMode::Create).await,
        Err(Error::Create)
    ));
    assert!(store.aexists(&k).await.unwrap());
    assert_eq!(store.aload(&k).await.unwrap(), Some(record.clone()));
    store.adelete(&k).await.unwrap();
    assert!(matches!(
        store.asave(&record, SaveMode::Update).await,
        Err(Error::Update)
    ));
    assert_eq!(store.aclear_expired().await.unwrap(), 0);
}
