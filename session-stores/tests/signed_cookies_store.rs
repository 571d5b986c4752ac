//! The signed-cookie store against rules E6, F5, H3 and H4 (docs/django-spec.md),
//! with values produced by Django 5.2.
#![cfg(feature = "signed_cookies")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::{json, Value};
use session_api::signing::SecretKeys;
use session_api::{
    AsyncSessionStore, Clock, Error, JsonSerializer, KeyKind, ManualClock, Record, SaveMode,
    Session, SessionBackend, SessionConfig, SessionData, SessionKey, SessionStore,
};
use session_stores::signed_cookies::{max_value_len_for, SignedCookieStore};
use time::{Duration, OffsetDateTime};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../session-api/tests/fixtures/django-5.2/signing.json"
);
const AGE: i64 = 1_209_600;

struct Fixture {
    secret: String,
    fallback: String,
    timestamp: i64,
    /// (obj, signed) of every "signed_cookies session key" value.
    cookies: Vec<(Value, String)>,
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(FIXTURES).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    let meta = &all["meta"];
    let cookies: Vec<(Value, String)> = all["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["kind"] == "signed_cookies session key")
        .map(|v| {
            assert_eq!(v["timestamp"], meta["timestamp"]);
            (v["obj"].clone(), v["signed"].as_str().unwrap().to_owned())
        })
        .collect();
    assert!(cookies.len() >= 4, "only {} fixtures", cookies.len());
    Fixture {
        secret: meta["SECRET_KEY"].as_str().unwrap().to_owned(),
        fallback: meta["SECRET_KEY_FALLBACKS"][0].as_str().unwrap().to_owned(),
        timestamp: meta["timestamp"].as_i64().unwrap(),
        cookies,
    }
}

impl Fixture {
    fn clock(&self) -> ManualClock {
        ManualClock::new(OffsetDateTime::from_unix_timestamp(self.timestamp).unwrap())
    }

    fn store(&self, keys: SecretKeys, clock: &ManualClock) -> SignedCookieStore {
        SignedCookieStore::new(keys, AGE, Arc::new(clock.clone()), Arc::new(JsonSerializer))
    }
}

fn payload(value: &str) -> SessionKey {
    SessionKey::signed_payload(value).unwrap()
}

fn data(value: Value) -> SessionData {
    SessionData::from_value(value).unwrap()
}

/// Deterministic, incompressible text (xorshift over a 64-character alphabet).
fn noise(len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(ALPHABET[(state % 64) as usize])
        })
        .collect()
}

// ---- E6: byte compatibility with Django ------------------------------------------

#[test]
fn e6_cookies_signed_by_django_load() {
    let f = fixture();
    let clock = f.clock();
    let store = f.store(SecretKeys::new(f.secret.as_str()), &clock);
    for (obj, signed) in &f.cookies {
        assert_eq!(
            store.load(&payload(signed)).unwrap().map(|r| r.data),
            Some(data(obj.clone())),
            "{signed}"
        );
        // The record expires when the signature does: signing time + cookie age.
        let record = store.load(&payload(signed)).unwrap().unwrap();
        assert_eq!(record.expires_at, clock.now() + Duration::seconds(AGE));
        assert_eq!(record.key.as_str(), signed);
    }
}

#[test]
fn e6_signing_reproduces_django_byte_for_byte() {
    let f = fixture();
    let clock = f.clock();
    let store = f.store(SecretKeys::new(f.secret.as_str()), &clock);
    let any_key = payload("ignored-key");
    for (obj, signed) in &f.cookies {
        let d = data(obj.clone());
        let saved = store
            .save(
                &Record::new(any_key.clone(), d.clone(), clock.now()),
                SaveMode::Update,
            )
            .unwrap();
        assert_eq!(saved.as_str(), signed);
        let created = SessionStore::create(&store, &d, clock.now()).unwrap();
        assert_eq!(created.as_str(), signed);
    }
}

#[test]
fn e6_capabilities_are_client_side() {
    let f = fixture();
    let store = f.store(SecretKeys::new("s"), &f.clock());
    let caps = SessionStore::capabilities(&store);
    assert_eq!(caps.key_kind, KeyKind::SignedPayload);
    assert!(!caps.server_side);
    assert!(!caps.clear_expired);
    assert_eq!(store.max_value_len(), 4096 - "sessionid=".len());
    assert_eq!(store.cookie_age(), AGE);
}

// ---- E6, F5: anything wrong loads as None ------------------------------------------

#[test]
fn e6_tampered_truncated_repadded_and_wrong_secret_cookies_load_as_none() {
    let f = fixture();
    let clock = f.clock();
    let store = f.store(SecretKeys::new(f.secret.as_str()), &clock);
    let wrong = f.store(SecretKeys::new("not-the-secret"), &clock);
    for (_, signed) in &f.cookies {
        let (value, rest) = signed.split_once(':').unwrap();
        // One character of the payload changed.
        let mut chars: Vec<char> = value.chars().collect();
        let last = chars.len() - 1;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered = format!("{}:{rest}", chars.iter().collect::<String>());
        // The signature's last character changed.
        let mut sig_flipped = signed.clone();
        let c = sig_flipped.pop().unwrap();
        sig_flipped.push(if c == 'A' { 'B' } else { 'A' });
        let bad = [
            tampered,
            sig_flipped,
            signed[..signed.len() - 1].to_owned(),
            signed[..signed.len() / 2].to_owned(),
            value.to_owned(),
            format!("{value}==:{rest}"),
            format!("{signed}="),
            format!("{signed}:extra"),
            signed.replacen(':', "::", 1),
        ];
        for cookie in bad {
            let key = payload(&cookie);
            assert_eq!(store.load(&key).unwrap().map(|r| r.data), None, "{cookie}");
        }
        assert_eq!(wrong.load(&payload(signed)).unwrap().map(|r| r.data), None);
    }
    // Signed with the right secret and salt but not a JSON object.
    let signer = session_api::signing::TimestampSigner::new(
        &SecretKeys::new(f.secret.as_str()),
        session_api::signing::SIGNED_COOKIES_SALT,
        Arc::new(clock.clone()),
    );
    let list = signer
        .sign_object(&json!([1, 2]), &JsonSerializer, true)
        .unwrap();
    assert_eq!(store.load(&payload(&list)).unwrap().map(|r| r.data), None);
    // Another salt (a db/file session_data value) is a bad signature here.
    let session_data = "eyJhIjoxfQ:1vb66i:0KgQxR-DD_SdAOrlJq1XOqtBamL_9pT69c0rmJwQeIM";
    assert_eq!(
        store.load(&payload(session_data)).unwrap().map(|r| r.data),
        None
    );
}

#[test]
fn e6_cookies_older_than_the_cookie_age_load_as_none() {
    let f = fixture();
    let clock = f.clock();
    let store = f.store(SecretKeys::new(f.secret.as_str()), &clock);
    let (obj, signed) = &f.cookies[0];
    clock.advance(Duration::seconds(AGE));
    assert_eq!(
        store.load(&payload(signed)).unwrap().map(|r| r.data),
        Some(data(obj.clone()))
    );
    clock.advance(Duration::seconds(1));
    assert_eq!(store.load(&payload(signed)).unwrap().map(|r| r.data), None);
}

#[test]
fn e6_custom_expiry_is_not_the_signature_age_ticket_19201() {
    // Django's documented limitation: `_session_expiry` = 600 does not shorten the
    // signature's validity; only SESSION_COOKIE_AGE does.
    let f = fixture();
    let clock = f.clock();
    let store = f.store(SecretKeys::new(f.secret.as_str()), &clock);
    let (obj, signed) = f
        .cookies
        .iter()
        .find(|(obj, _)| obj.get("_session_expiry").is_some())
        .unwrap();
    clock.advance(Duration::seconds(601));
    assert_eq!(
        store.load(&payload(signed)).unwrap().map(|r| r.data),
        Some(data(obj.clone()))
    );
}

#[test]
fn f5_a_fallback_secret_verifies_and_the_current_one_signs() {
    let f = fixture();
    let clock = f.clock();
    // The fixture's secret has been rotated out to the fallbacks.
    let rotated = f.store(
        SecretKeys::new("the-new-secret").with_fallbacks([f.secret.as_str()]),
        &clock,
    );
    let (obj, signed) = &f.cookies[0];
    let d = data(obj.clone());
    assert_eq!(
        rotated.load(&payload(signed)).unwrap().map(|r| r.data),
        Some(d.clone())
    );
    let resigned = rotated
        .save(
            &Record::new(payload(signed), d.clone(), clock.now()),
            SaveMode::Update,
        )
        .unwrap();
    assert_ne!(resigned.as_str(), signed);
    let new_only = f.store(SecretKeys::new("the-new-secret"), &clock);
    assert_eq!(new_only.load(&resigned).unwrap().map(|r| r.data), Some(d));
    // The fixture's own fallback secret is not a key of the fixture values.
    let fallback_only = f.store(SecretKeys::new(f.fallback.as_str()), &clock);
    assert_eq!(
        fallback_only
            .load(&payload(signed))
            .unwrap()
            .map(|r| r.data),
        None
    );
}

// ---- H4: the 4096-byte limit ---------------------------------------------------------

#[test]
fn h4_a_cookie_over_4096_bytes_is_an_error() {
    let f = fixture();
    let clock = f.clock();
    let store = f.store(SecretKeys::new("s"), &clock);
    let big = data(json!({"noise": noise(4096)}));
    let err = store
        .save(
            &Record::new(payload("ignored-key"), big.clone(), clock.now()),
            SaveMode::Update,
        )
        .unwrap_err();
    match err {
        Error::CookieTooLarge { size, limit } => {
            assert_eq!(limit, 4096 - "sessionid=".len());
            assert!(size > limit);
        }
        other => panic!("expected CookieTooLarge, got {other}"),
    }
    assert!(matches!(
        SessionStore::create(&store, &big, clock.now()),
        Err(Error::CookieTooLarge { .. })
    ));
    // Compressible data of the same size fits.
    let repetitive = data(json!({"repeat": "ab".repeat(2048)}));
    let key = store
        .save(
            &Record::new(payload("ignored-key"), repetitive.clone(), clock.now()),
            SaveMode::Update,
        )
        .unwrap();
    assert!(key.as_str().starts_with('.'));
    assert_eq!(store.load(&key).unwrap().map(|r| r.data), Some(repetitive));
}

#[test]
fn h4_the_limit_counts_the_cookie_name_and_is_exact() {
    let f = fixture();
    let clock = f.clock();
    let unbounded = f
        .store(SecretKeys::new("s"), &clock)
        .with_max_value_len(usize::MAX);
    let probe = |len: usize| data(json!({"n": noise(len)}));
    // Find the largest payload that signs to at most 4086 bytes; one more byte of
    // noise must be rejected by a store whose limit is exactly that size.
    let signed_len = |len| {
        unbounded
            .save(
                &Record::new(payload("any-signed-value"), probe(len).clone(), clock.now()),
                SaveMode::Update,
            )
            .unwrap()
            .as_str()
            .len()
    };
    let len = (1..4000).rev().find(|&l| signed_len(l) <= 4086).unwrap();
    let exact = signed_len(len);
    let store = f
        .store(SecretKeys::new("s"), &clock)
        .with_max_value_len(exact);
    store
        .save(
            &Record::new(payload("any-signed-value"), probe(len).clone(), clock.now()),
            SaveMode::Update,
        )
        .unwrap();
    assert!(matches!(
        store.save(
            &Record::new(
                payload("any-signed-value"),
                probe(len + 1).clone(),
                clock.now()
            ),
            SaveMode::Update
        ),
        Err(Error::CookieTooLarge { .. })
    ));
    // A longer cookie name leaves less room.
    assert_eq!(max_value_len_for("sessionid"), 4086);
    assert_eq!(max_value_len_for("a_much_longer_cookie_name"), 4070);
    let named = f
        .store(SecretKeys::new("s"), &clock)
        .with_cookie_name("a_much_longer_cookie_name");
    assert_eq!(named.max_value_len(), 4070);
}

#[test]
fn h3_h4_oversized_input_is_rejected_on_load() {
    let f = fixture();
    let clock = f.clock();
    let store = f.store(SecretKeys::new("s"), &clock);
    let huge = format!("{}:1vb66i:sig", "a".repeat(10_000));
    assert_eq!(store.load(&payload(&huge)).unwrap().map(|r| r.data), None);
}

// ---- D1, D6, D8: no server state -------------------------------------------------------

#[tokio::test]
async fn e6_d8_no_server_state_sync_and_async() {
    let f = fixture();
    let clock = f.clock();
    let sync_store = Arc::new(f.store(SecretKeys::new(f.secret.as_str()), &clock));
    let store = session_api::InlineAsync(sync_store.clone());
    let (obj, signed) = &f.cookies[0];
    let key = payload(signed);
    assert!(!sync_store.exists(&key).unwrap());
    assert!(!store.aexists(&key).await.unwrap());
    sync_store.delete(&key).unwrap();
    store.adelete(&key).await.unwrap();
    // Deleting does not revoke: the cookie still loads (replay until max_age).
    assert_eq!(
        store.aload(&key).await.unwrap().map(|r| r.data),
        Some(data(obj.clone()))
    );
    assert_eq!(sync_store.clear_expired().unwrap(), 0);
    assert_eq!(store.aclear_expired().await.unwrap(), 0);
    let d = data(obj.clone());
    let via_async = store
        .asave(
            &Record::new(key.clone(), d.clone(), clock.now()),
            SaveMode::Create,
        )
        .await
        .unwrap();
    assert_eq!(via_async.as_str(), signed);
    let created = store.acreate(&d, clock.now()).await.unwrap();
    assert_eq!(created.as_str(), signed);
}

// ---- Through the session handle ------------------------------------------------------

fn session_setup() -> (ManualClock, SessionBackend, Arc<SessionConfig>) {
    let f = fixture();
    let clock = f.clock();
    let config = Arc::new(
        SessionConfig::builder(SecretKeys::new(f.secret.as_str()))
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap(),
    );
    let store = SignedCookieStore::from_config(&config);
    (
        clock,
        SessionBackend::from_nonblocking_sync(Arc::new(store)),
        config,
    )
}

#[test]
fn e6_session_key_is_the_signed_cookie() {
    let f = fixture();
    let (clock, backend, config) = session_setup();
    let s = Session::new(backend.clone(), config.clone(), None);
    s.set("a", &1).unwrap();
    s.save().unwrap();
    let cookie = s.session_key().unwrap().as_str().to_owned();
    // {"a": 1} at the fixture time: Django's value.
    let django = f
        .cookies
        .iter()
        .find(|(obj, _)| *obj == json!({"a": 1}))
        .map(|(_, signed)| signed.clone())
        .unwrap();
    assert_eq!(cookie, django);

    // The next request carries the cookie and sees the data.
    let next = Session::new(backend.clone(), config.clone(), Some(&cookie));
    assert_eq!(next.get::<i64>("a").unwrap(), Some(1));

    // cycle_key re-signs: a new value (a later timestamp), same data.
    clock.advance(Duration::seconds(1));
    next.cycle_key().unwrap();
    let cycled = next.session_key().unwrap().as_str().to_owned();
    assert_ne!(cycled, cookie);
    let after_cycle = Session::new(backend.clone(), config.clone(), Some(&cycled));
    assert_eq!(after_cycle.get::<i64>("a").unwrap(), Some(1));

    // Saving changed data gives a new cookie with the new data.
    after_cycle.set("b", &2).unwrap();
    after_cycle.save().unwrap();
    let updated = after_cycle.session_key().unwrap().as_str().to_owned();
    let reread = Session::new(backend.clone(), config.clone(), Some(&updated));
    assert_eq!(reread.get::<i64>("b").unwrap(), Some(2));

    // flush empties the session and drops the key.
    reread.flush().unwrap();
    assert!(reread.session_key().is_none());
    assert!(reread.is_empty().unwrap());
    assert!(reread.keys().unwrap().is_empty());
}

#[tokio::test]
async fn e6_session_async_twins() {
    let (_clock, backend, config) = session_setup();
    let s = Session::new(backend.clone(), config.clone(), None);
    s.aset("cart", &[3, 4]).await.unwrap();
    s.asave().await.unwrap();
    let cookie = s.session_key().unwrap().as_str().to_owned();
    let next = Session::new(backend, config, Some(&cookie));
    assert_eq!(
        next.aget::<Vec<u32>>("cart").await.unwrap(),
        Some(vec![3, 4])
    );
}

#[test]
fn h4_an_oversized_session_fails_the_save_visibly() {
    let (_clock, backend, config) = session_setup();
    let s = Session::new(backend, config, None);
    s.set("noise", &noise(5000)).unwrap();
    assert!(matches!(s.save(), Err(Error::CookieTooLarge { .. })));
}

#[test]
fn e6_tampered_cookie_gives_a_fresh_empty_session() {
    let (_clock, backend, config) = session_setup();
    let s = Session::new(backend, config, Some("eyJhIjoxfQ:1vb66i:forged"));
    assert!(s.session_key().is_some());
    assert!(s.keys().unwrap().is_empty());
    // A3: the unverifiable key is dropped.
    assert!(s.session_key().is_none());
}
