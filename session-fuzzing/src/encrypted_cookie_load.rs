//! The `encrypted_cookie_load` target: the encrypted-cookie store's load (rule S4).

use std::sync::{Arc, LazyLock};

use serde_json::json;
use session_api::{JsonSerializer, Record, SaveMode, SessionData, SessionKey, SessionStore};
use session_stores::encrypted_cookies::{EncryptedCookieStore, KeyRing};
use time::OffsetDateTime;

use crate::fixtures::{clock_at, COOKIE_AGE, TIMESTAMP};
use crate::input::{mutate, split_flags};

/// The store of this target (a ring of two keys) and the token it sealed for
/// `{"a": 1}` at [`TIMESTAMP`]: the base every mutation starts from.
static SEALED: LazyLock<(EncryptedCookieStore, String)> = LazyLock::new(|| {
    let ring = KeyRing::new("k2", &[0x5e; 32])
        .and_then(|ring| ring.with_older("k1", &[0x1d; 32]))
        .unwrap_or_else(|err| panic!("fuzzing setup failed: key ring: {err}"));
    let store = EncryptedCookieStore::new(
        ring,
        COOKIE_AGE,
        clock_at(TIMESTAMP),
        Arc::new(JsonSerializer),
    );
    let data = SessionData::from_value(json!({"a": 1}))
        .unwrap_or_else(|| panic!("fuzzing setup failed: session data"));
    let key = SessionKey::parse("fuzzbase0000")
        .unwrap_or_else(|err| panic!("fuzzing setup failed: key: {err}"));
    let record = Record::new(key, data, OffsetDateTime::UNIX_EPOCH);
    let token = store
        .save(&record, SaveMode::Create)
        .unwrap_or_else(|err| panic!("fuzzing setup failed: seal: {err}"));
    let token = token.as_str().to_owned();
    (store, token)
});

/// The encrypted-cookie store's load: never an error or a panic on any cookie; only
/// the token it sealed loads (to exactly its data), every other value, including
/// every mutation of that token, loads as `None` (the AEAD's integrity).
///
/// Flags: bit 0 mode (raw: the rest is the cookie; mutate: the rest is a [`mutate`]
/// script applied to the sealed token).
pub fn encrypted_cookie_load(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let (store, token) = &*SEALED;
    let bytes = if flags & 1 == 0 {
        rest.to_vec()
    } else {
        mutate(token.as_bytes(), rest)
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return;
    };
    let Ok(key) = SessionKey::signed_payload(&text) else {
        return;
    };
    let loaded = match store.load(&key) {
        Ok(loaded) => loaded,
        Err(err) => {
            panic!("property violated: EncryptedCookieStore::load failed on a cookie: {err}")
        }
    };
    match loaded {
        Some(record) if &text == token => assert!(
            record.data.as_map().get("a") == Some(&json!(1)) && record.data.len() == 1,
            "property violated: the sealed token loaded other data"
        ),
        None if &text != token => {}
        Some(_) => panic!("property violated: a value that is not the sealed token loaded"),
        None => panic!("property violated: the sealed token did not load"),
    }
}
