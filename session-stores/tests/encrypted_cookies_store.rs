//! The encrypted-cookie store (rule S4, docs/django-spec.md): key rotation, the token
//! layout, the size limit, and that nothing but its own tokens ever loads.
#![cfg(feature = "encrypted_cookies")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use session_api::{
    Clock, Error, JsonSerializer, KeyKind, ManualClock, Record, SaveMode, SessionData, SessionKey,
    SessionStore,
};
use session_stores::encrypted_cookies::{EncryptedCookieStore, KeyRing, MAX_KEY_ID_LEN};
use time::{Duration, OffsetDateTime};

const AGE: i64 = 1_209_600;
const OLD: [u8; 32] = [0x11; 32];
const NEW: [u8; 32] = [0x22; 32];

fn clock() -> ManualClock {
    ManualClock::new(OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap())
}

fn store(ring: KeyRing, clock: &ManualClock) -> EncryptedCookieStore {
    EncryptedCookieStore::new(ring, AGE, Arc::new(clock.clone()), Arc::new(JsonSerializer))
}

fn record(value: serde_json::Value) -> Record {
    Record::new(
        SessionKey::parse("unusedkey000").unwrap(),
        SessionData::from_value(value).unwrap(),
        OffsetDateTime::UNIX_EPOCH,
    )
}

fn seal(store: &EncryptedCookieStore, value: serde_json::Value) -> SessionKey {
    store.save(&record(value), SaveMode::Create).unwrap()
}

fn data_of(store: &EncryptedCookieStore, token: &str) -> Option<serde_json::Value> {
    let key = SessionKey::signed_payload(token).ok()?;
    let record = store.load(&key).unwrap()?;
    Some(serde_json::Value::Object(record.data.as_map().clone()))
}

#[test]
fn declares_a_sealed_client_side_store() {
    let caps = store(KeyRing::new("k1", &OLD).unwrap(), &clock()).capabilities();
    assert_eq!(caps.key_kind, KeyKind::SealedPayload);
    assert!(!caps.server_side);
}

#[test]
fn the_token_names_the_current_key_and_loads_until_the_cookie_age() {
    let clock = clock();
    let store = store(KeyRing::new("k1", &OLD).unwrap(), &clock);
    let token = seal(&store, json!({"cart": [3, 4]}));
    assert!(token.as_str().starts_with("k1."), "{}", token.as_str());
    let loaded = store.load(&token).unwrap().unwrap();
    assert_eq!(
        loaded.expires_at,
        clock.now() + Duration::seconds(AGE),
        "a sealed record expires at its sealing time plus the cookie age"
    );
    assert_eq!(loaded.data.as_map()["cart"], json!([3, 4]));
}

#[test]
fn an_older_key_still_opens_its_cookies_and_new_cookies_use_the_current_key() {
    let clock = clock();
    let before = store(KeyRing::new("k1", &OLD).unwrap(), &clock);
    let old_token = seal(&before, json!({"a": 1}));

    let rotated = store(
        KeyRing::new("k2", &NEW)
            .unwrap()
            .with_older("k1", &OLD)
            .unwrap(),
        &clock,
    );
    assert_eq!(data_of(&rotated, old_token.as_str()), Some(json!({"a": 1})));
    let new_token = seal(&rotated, json!({"a": 2}));
    assert!(new_token.as_str().starts_with("k2."));
    // The old ring does not know k2: its cookies are refused, not an error.
    assert_eq!(data_of(&before, new_token.as_str()), None);

    // Once k1 leaves the ring its cookies load as empty sessions.
    let retired = store(KeyRing::new("k2", &NEW).unwrap(), &clock);
    assert_eq!(data_of(&retired, old_token.as_str()), None);
    assert_eq!(data_of(&retired, new_token.as_str()), Some(json!({"a": 2})));
}

#[test]
fn a_token_moved_to_another_key_id_or_key_does_not_open() {
    let clock = clock();
    let ring = KeyRing::new("k2", &NEW)
        .unwrap()
        .with_older("k1", &OLD)
        .unwrap();
    let store = store(ring, &clock);
    let token = seal(&store, json!({"a": 1}));
    let body = token.as_str().strip_prefix("k2.").unwrap();
    // Same ciphertext, other id in the ring: the id is authenticated data.
    assert_eq!(data_of(&store, &format!("k1.{body}")), None);
    // Same id, another key behind it.
    let impostor = store_with_key("k2", &[0x33; 32], &clock);
    assert_eq!(data_of(&impostor, token.as_str()), None);
}

fn store_with_key(id: &str, key: &[u8; 32], clock: &ManualClock) -> EncryptedCookieStore {
    store(KeyRing::new(id, key).unwrap(), clock)
}

#[test]
fn key_ids_are_short_lowercase_and_unique() {
    for bad in ["", "K1", "k-1", "k.1", &"k".repeat(MAX_KEY_ID_LEN + 1)] {
        assert!(
            matches!(KeyRing::new(bad, &OLD), Err(Error::Configuration(_))),
            "{bad:?} accepted"
        );
    }
    assert!(KeyRing::new(&"k".repeat(MAX_KEY_ID_LEN), &OLD).is_ok());
    let twice = KeyRing::new("k1", &OLD).unwrap().with_older("k1", &NEW);
    assert!(matches!(twice, Err(Error::Configuration(_))));
}

#[test]
fn debug_shows_key_ids_never_key_bytes() {
    let ring = KeyRing::new("k2", &NEW)
        .unwrap()
        .with_older("k1", &OLD)
        .unwrap();
    let shown = format!("{:?}", store(ring, &clock()));
    assert!(
        shown.contains("\"k2\"") && shown.contains("\"k1\""),
        "{shown}"
    );
    assert!(!shown.contains("34") && !shown.contains("0x22"), "{shown}");
}

#[test]
fn the_size_limit_is_exact_and_checked_before_sealing() {
    let clock = clock();
    let store = store_with_key("k1", &OLD, &clock).with_max_value_len(200);
    // Find the longest string value that still fits, by growing it.
    let mut longest = None;
    for n in 0..200 {
        match store.save(&record(json!({"s": "x".repeat(n)})), SaveMode::Create) {
            Ok(token) => {
                assert!(token.as_str().len() <= 200);
                longest = Some(token.as_str().len());
            }
            Err(Error::CookieTooLarge { size, limit }) => {
                assert_eq!(limit, 200);
                assert!(size > 200, "refused a token of {size} bytes");
                break;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    // base64 grows by 4 for 3 bytes, so the longest token is within 3 of the limit.
    assert!(longest.unwrap() >= 197, "{longest:?}");
    // A longer cookie is refused on load before any decryption.
    let oversized = format!("k1.{}", "A".repeat(300));
    assert_eq!(data_of(&store, &oversized), None);
}

#[test]
fn data_that_is_not_an_object_or_not_json_loads_empty() {
    // Sealed with the right key but holding a list: the store's own serializer is
    // the only way in, so seal through a store whose serializer writes a list.
    #[derive(Debug)]
    struct ListSerializer;
    impl session_api::Serializer for ListSerializer {
        fn dumps(&self, _value: &dyn erased_serde::Serialize) -> session_api::Result<Vec<u8>> {
            Ok(b"[1,2]".to_vec())
        }
        fn loads(&self, bytes: &[u8]) -> session_api::Result<serde_json::Value> {
            JsonSerializer.loads(bytes)
        }
    }
    let clock = clock();
    let writer = EncryptedCookieStore::new(
        KeyRing::new("k1", &OLD).unwrap(),
        AGE,
        Arc::new(clock.clone()),
        Arc::new(ListSerializer),
    );
    let token = seal(&writer, json!({"a": 1}));
    assert_eq!(
        data_of(&store_with_key("k1", &OLD, &clock), token.as_str()),
        None
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the cookie, load is never an error and only the store's own token loads.
    #[test]
    fn arbitrary_cookies_never_load_or_fail(prefix in "(k1|k2|zz)?\\.?", body in "[A-Za-z0-9_=.:-]{0,120}") {
        let clock = clock();
        let store = store(KeyRing::new("k2", &NEW).unwrap().with_older("k1", &OLD).unwrap(), &clock);
        if let Ok(key) = SessionKey::signed_payload(&format!("{prefix}{body}")) {
            prop_assert!(store.load(&key).unwrap().is_none());
        }
    }

    /// Every single-bit flip of a token's body makes it unopenable.
    #[test]
    fn flipped_bits_never_open(pos in 0usize..200, bit in 0u8..6) {
        let clock = clock();
        let store = store_with_key("k1", &OLD, &clock);
        let token = seal(&store, json!({"user": "42", "n": [1, 2, 3]}));
        let text = token.as_str();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let i = 3 + pos % (text.len() - 3);
        let old = alphabet.iter().position(|&c| c == text.as_bytes()[i]).unwrap();
        let new = alphabet[old ^ (1 << bit)] as char;
        let changed = format!("{}{}{}", &text[..i], new, &text[i + 1..]);
        prop_assume!(changed != text);
        // Even in the last character, whose low bits base64 leaves unused: the decoder
        // refuses non-zero unused bits, so no two tokens decode to the same bytes.
        prop_assert!(data_of(&store, &changed).is_none());
    }
}
