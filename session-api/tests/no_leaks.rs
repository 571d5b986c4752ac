#![allow(clippy::unwrap_used)]
//! Finding 7 of issue 12, session-api's part (rule H5): no `Debug`, `Display` or log
//! line of a session-api type prints a full key, a secret or session data.
//!
//! Each type is built holding a known secret, fallback, full key and data value, and
//! none of them may appear in its `{:?}` (also `{:#?}`) or `{}`. Before the fix
//! `SessionData`, `Record` and `SessionBackend` (and so `SessionMiddleware`) printed
//! the data, and a typed read of a value of the wrong type put the value in the
//! error's message and so in the log.

use std::fmt;
use std::sync::Arc;

use session_conformance::logs;

use serde_json::json;
use session_api::middleware::{log_session_error, SessionMiddleware};
use session_api::signing::{SecretKeys, Signer, TimestampSigner, SESSION_SALT};
use session_api::{
    Capabilities, Error, ExpiryArgs, JsonSerializer, ManualClock, Record, Result, SaveMode,
    Session, SessionBackend, SessionCodec, SessionConfig, SessionData, SessionKey, SessionStore,
};
use session_stores::memory::MemoryStore;
use time::macros::datetime;

const SECRET: &str = "no-leaks-current-secret-0123456789-abcdefghijklmno";
const FALLBACK: &str = "no-leaks-fallback-secret-0123456789-abcdefghijklmn";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz012345";
const DATA_KEY: &str = "profile";
const DATA: &str = "data-value-that-must-not-be-printed";

/// Everything that must never be printed; a key's four-character prefix may be.
fn secrets() -> [&'static str; 5] {
    [SECRET, FALLBACK, KEY, &KEY[4..], DATA]
}

fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(secret), "{what} prints {secret:?}: {text}");
    }
}

fn assert_debug(what: &str, value: &dyn fmt::Debug) {
    assert_clean(what, &format!("{value:?}"));
    assert_clean(what, &format!("{value:#?}"));
}

fn keys() -> SecretKeys {
    SecretKeys::new(SECRET).with_fallbacks([FALLBACK])
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)))
}

fn data() -> SessionData {
    SessionData::from_value(json!({ DATA_KEY: DATA, "n": 1 })).unwrap()
}

fn config() -> Arc<SessionConfig> {
    Arc::new(
        SessionConfig::builder(keys())
            .clock(clock())
            .build()
            .unwrap(),
    )
}

/// A store whose own `Debug` prints a secret and session data, as a careless
/// third-party store might: forwards to the real memory store.
struct Leaky {
    inner: MemoryStore,
}

impl fmt::Debug for Leaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Leaky {{ secret: {SECRET}, key: {KEY}, data: {DATA} }}")
    }
}

impl SessionStore for Leaky {
    fn capabilities(&self) -> Capabilities {
        SessionStore::capabilities(&self.inner)
    }
    fn exists(&self, key: &SessionKey) -> Result<bool> {
        self.inner.exists(key)
    }
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.inner.load(key)
    }
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.inner.save(record, mode)
    }
    fn delete(&self, key: &SessionKey) -> Result<()> {
        self.inner.delete(key)
    }
    fn clear_expired(&self) -> Result<u64> {
        self.inner.clear_expired()
    }
}

fn backend() -> SessionBackend {
    let store = Leaky {
        inner: MemoryStore::with_clock(clock()),
    };
    SessionBackend::from_nonblocking_sync(Arc::new(store))
}

#[test]
fn h5_keys_secrets_and_signers_print_no_secret() {
    let key = SessionKey::parse(KEY).unwrap();
    assert_debug("SessionKey", &key);
    assert_clean("SessionKey (Display)", &key.to_string());
    let signed = SessionKey::signed_payload(&format!("{DATA}:1vb66i:sig")).unwrap();
    assert_debug("SessionKey (signed payload)", &signed);
    assert_clean("SessionKey (signed payload, Display)", &signed.to_string());
    assert_debug("SecretKeys", &keys());
    assert_debug("Signer", &Signer::new(&keys(), SESSION_SALT));
    assert_debug(
        "TimestampSigner",
        &TimestampSigner::new(&keys(), SESSION_SALT, clock()),
    );
    assert_debug(
        "SessionCodec",
        &SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer)),
    );
    assert_debug("SessionConfig", &*config());
    assert_debug("SessionConfigBuilder", &SessionConfig::builder(keys()));
}

#[test]
fn h5_data_records_and_stores_print_no_data() {
    let key = SessionKey::parse(KEY).unwrap();
    assert_debug("SessionData", &data());
    let record = Record::new(key.clone(), data(), datetime!(2026-01-02 0:00 UTC));
    assert_debug("Record", &record);
    let backend = backend();
    backend.sync().save(&record, SaveMode::Create).unwrap();
    assert_debug("SessionBackend", &backend);
    let mw = SessionMiddleware::new(backend.clone(), config());
    assert_debug("SessionMiddleware", &mw);

    // A loaded, modified session and its guard.
    let session = Session::new(backend.clone(), config(), Some(KEY));
    assert_eq!(
        session.get::<String>(DATA_KEY).unwrap().as_deref(),
        Some(DATA)
    );
    session.set("other", &DATA).unwrap();
    assert_debug("Session", &session);
    let guard = session.lock_sync().unwrap();
    assert_debug("SessionGuard", &guard);
    drop(guard);
    let request = mw.request_session(Some(&format!("sessionid={KEY}")));
    assert_debug("RequestSession", &request);
}

/// Every `level target fields` line logged while `f` runs.
fn logged(f: impl FnOnce()) -> Vec<String> {
    logs::logged(f)
        .into_iter()
        .map(|event| format!("{} {} {}", event.level, event.target, event.fields))
        .collect()
}

#[test]
fn h5_errors_and_log_lines_print_no_data() {
    let backend = backend();
    let key = SessionKey::parse(KEY).unwrap();
    let record = Record::new(key, data(), datetime!(2026-01-02 0:00 UTC));
    backend.sync().save(&record, SaveMode::Create).unwrap();
    let session = Session::new(backend, config(), Some(KEY));

    let mut errors: Vec<Error> = Vec::new();
    let lines = logged(|| {
        // A typed read of a value of another type: the error names the dict key and
        // the wanted type, never the value.
        errors.push(session.get::<i64>(DATA_KEY).unwrap_err());
        errors.push(data().get::<Vec<u8>>(DATA_KEY).unwrap_err());
        errors.push(session.pop("missing").unwrap_err());
        // A key, a too-short secret, a tampered value.
        errors.push(SessionKey::parse(&format!("{KEY}{KEY}")).unwrap_err());
        errors.push(
            SessionConfig::builder(SecretKeys::new(SECRET).with_fallbacks([&KEY[..7]]))
                .build()
                .unwrap_err(),
        );
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let tampered = format!("{DATA}:1vb66i:{KEY}");
        assert!(codec.decode(&tampered).is_empty());
        errors.push(codec.try_decode(&tampered).unwrap_err());
        let not_an_object = TimestampSigner::new(&keys(), SESSION_SALT, clock())
            .sign_object(&json!([DATA]), &JsonSerializer, false)
            .unwrap();
        errors.push(codec.try_decode(&not_an_object).unwrap_err());
        // An invalid `_session_expiry` (logged as a warning).
        let bad_expiry = Session::new(
            SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::with_clock(clock()))),
            config(),
            None,
        );
        bad_expiry.set("_session_expiry", &DATA).unwrap();
        let _ = bad_expiry.get_expiry_age(ExpiryArgs::default());
        for err in &errors {
            log_session_error(err);
        }
    });
    for err in &errors {
        assert_clean("Error (Display)", &err.to_string());
        assert_debug("Error", err);
        let mut source = std::error::Error::source(err);
        while let Some(inner) = source {
            assert_clean("Error source", &inner.to_string());
            source = inner.source();
        }
    }
    assert!(lines.len() >= errors.len(), "{lines:?}");
    for line in &lines {
        assert_clean("log line", line);
    }
}
