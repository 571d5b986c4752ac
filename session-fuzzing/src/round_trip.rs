//! The `round_trip` target: encode-then-decode round trips from structured input.

use std::sync::Arc;

use arbitrary::Unstructured;
use serde_json::{Map, Number, Value};
use session_api::key::{KEY_ALPHABET, MAX_KEY_LEN, MIN_KEY_LEN};
use session_api::signing::{b62_decode, b62_encode, b64_decode, b64_encode, SecretKeys};
use session_api::{
    Error, JsonSerializer, SessionCodec, SessionData, SessionKey, SessionStore, Signer,
    TimestampSigner,
};
use time::{Duration, OffsetDateTime};

use crate::fixtures::{
    clock_at, keys, CODECS, COOKIE_AGE, COOKIE_STORES, FALLBACK, SECRET, TIMESTAMP,
};
use crate::oracle::{is_id_key, same_data, same_json};

/// Deepest nesting of generated JSON.
const MAX_DEPTH: u32 = 5;
/// Most JSON nodes generated per input.
const MAX_NODES: u32 = 200;

fn gen_value(u: &mut Unstructured<'_>, depth: u32, budget: &mut u32) -> arbitrary::Result<Value> {
    *budget = budget.saturating_sub(1);
    let max_kind = if depth >= MAX_DEPTH || *budget == 0 {
        5
    } else {
        7
    };
    Ok(match u.int_in_range(0..=max_kind)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        4 => {
            let float = f64::from_bits(u.arbitrary()?);
            // Finite floats only: JSON has no NaN or infinities.
            Number::from_f64(float).map_or(Value::Null, Value::Number)
        }
        5 => Value::String(u.arbitrary()?),
        6 => {
            let len = u.int_in_range(0..=6)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(gen_value(u, depth + 1, budget)?);
            }
            Value::Array(items)
        }
        _ => Value::Object(gen_object(u, depth + 1, budget)?),
    })
}

fn gen_object(
    u: &mut Unstructured<'_>,
    depth: u32,
    budget: &mut u32,
) -> arbitrary::Result<Map<String, Value>> {
    let len = u.int_in_range(0..=6)?;
    let mut map = Map::new();
    for _ in 0..len {
        let key: String = u.arbitrary()?;
        let value = gen_value(u, depth, budget)?;
        map.insert(key, value);
    }
    Ok(map)
}

/// The structured input of [`round_trip`].
struct RoundTripInput {
    session: Map<String, Value>,
    value: Value,
    compress: bool,
    salt: String,
    sign_with_fallback: bool,
    delta: u32,
    max_age: u32,
    plain: String,
    key: Vec<u8>,
    int: i64,
    bytes: Vec<u8>,
}

impl RoundTripInput {
    fn read(u: &mut Unstructured<'_>) -> arbitrary::Result<Self> {
        let mut budget = MAX_NODES;
        let session = gen_object(u, 0, &mut budget)?;
        let value = gen_value(u, 0, &mut budget)?;
        let key_len = u.int_in_range(0..=48)?;
        let mut key = Vec::with_capacity(key_len);
        for _ in 0..key_len {
            key.push(KEY_ALPHABET[u.choose_index(KEY_ALPHABET.len())?]);
        }
        Ok(RoundTripInput {
            session,
            value,
            compress: u.arbitrary()?,
            salt: u.arbitrary()?,
            sign_with_fallback: u.arbitrary()?,
            delta: u.int_in_range(0..=2 * 86_400)?,
            max_age: u.int_in_range(0..=2 * 86_400)?,
            plain: u.arbitrary()?,
            key,
            int: u.arbitrary()?,
            bytes: u.arbitrary()?,
        })
    }
}

/// Encode-then-decode round trips, from structured input read with
/// [`arbitrary::Unstructured`]: the session codec (also across a key rotation), the
/// timestamp signer with any salt, `max_age` and clock movement, the plain signer,
/// the signed-cookie store, base62/base64, and key generation/parsing (rules A1, H1,
/// F1..F6, E6, H4). Inputs too short to build the structure are skipped.
pub fn round_trip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(input) = RoundTripInput::read(&mut u) else {
        return;
    };
    round_trip_codec(&input);
    round_trip_signer(&input);
    round_trip_cookie_store(&input);
    round_trip_small(&input);
}

fn round_trip_codec(input: &RoundTripInput) {
    let data = SessionData::from_map(input.session.clone());
    let codecs = &*CODECS;
    let encoded = match codecs[0][0].encode(&data) {
        Ok(encoded) => encoded,
        Err(err) => panic!("property violated: SessionCodec::encode failed: {err}"),
    };
    assert!(
        encoded.is_ascii() && SessionKey::signed_payload(&encoded).is_ok(),
        "property violated: encoded session data is not ASCII and cookie-safe"
    );
    let decoded = codecs[0][0].try_decode(&encoded);
    assert!(
        decoded.as_ref().is_ok_and(|d| same_data(d, &data)),
        "property violated: session data does not round-trip: {data:?} -> {encoded:?} -> {decoded:?}"
    );
    // Rotation: data signed with the old secret decodes with it as a fallback, and is
    // rejected once the fallback is gone (rule F5).
    let old = SessionCodec::new(
        &SecretKeys::new(FALLBACK),
        clock_at(TIMESTAMP),
        Arc::new(JsonSerializer),
    );
    let encoded_old = match old.encode(&data) {
        Ok(encoded) => encoded,
        Err(err) => panic!("property violated: SessionCodec::encode failed: {err}"),
    };
    let with_fallback = codecs[0][0].try_decode(&encoded_old);
    assert!(
        with_fallback.as_ref().is_ok_and(|d| same_data(d, &data)),
        "property violated: data signed with a fallback secret does not decode"
    );
    let without = codecs[1][0].try_decode(&encoded_old);
    assert!(
        matches!(without, Err(Error::BadSignature { .. })),
        "property violated: data signed with a removed secret decoded: {without:?}"
    );
}

fn round_trip_signer(input: &RoundTripInput) {
    let clock = clock_at(TIMESTAMP);
    let signing_keys = if input.sign_with_fallback {
        SecretKeys::new(FALLBACK)
    } else {
        SecretKeys::new(SECRET)
    };
    let signer = TimestampSigner::new(&signing_keys, &input.salt, clock.clone());
    let verifier = TimestampSigner::new(&keys(true), &input.salt, clock.clone());
    let signed = match signer.sign_object(&input.value, &JsonSerializer, input.compress) {
        Ok(signed) => signed,
        Err(err) => panic!("property violated: sign_object failed: {err}"),
    };
    let back = verifier.unsign_object(&signed, &JsonSerializer, None);
    assert!(
        back.as_ref().is_ok_and(|v| same_json(v, &input.value)),
        "property violated: signing does not round-trip: {:?} -> {signed:?} -> {back:?}",
        input.value
    );
    let other_salt = format!("{}x", input.salt);
    let wrong = TimestampSigner::new(&keys(true), &other_salt, clock.clone()).unsign_object(
        &signed,
        &JsonSerializer,
        None,
    );
    assert!(
        matches!(wrong, Err(Error::BadSignature { .. })),
        "property violated: a value verified under another salt: {wrong:?}"
    );
    clock.advance(Duration::seconds(i64::from(input.delta)));
    let aged = verifier.unsign_object(
        &signed,
        &JsonSerializer,
        Some(Duration::seconds(i64::from(input.max_age))),
    );
    if input.delta <= input.max_age {
        assert!(
            aged.as_ref().is_ok_and(|v| same_json(v, &input.value)),
            "property violated: a value {}s old was rejected with max_age {}s: {aged:?}",
            input.delta,
            input.max_age
        );
    } else {
        assert!(
            matches!(aged, Err(Error::SignatureExpired { age, max_age })
                if age == i64::from(input.delta) && max_age == i64::from(input.max_age)),
            "property violated: a value {}s old with max_age {}s gave {aged:?}",
            input.delta,
            input.max_age
        );
    }
    let plain = Signer::new(&signing_keys, &input.salt);
    let signed_plain = plain.sign(&input.plain);
    let unsigned = Signer::new(&keys(true), &input.salt).unsign(&signed_plain);
    assert!(
        unsigned.is_ok_and(|v| v == input.plain),
        "property violated: Signer does not round-trip {:?}",
        input.plain
    );
}

fn round_trip_cookie_store(input: &RoundTripInput) {
    let data = SessionData::from_map(input.session.clone());
    let store = &COOKIE_STORES[0][0];
    let expires_at = OffsetDateTime::from_unix_timestamp(TIMESTAMP + COOKIE_AGE)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    match SessionStore::create(store, &data, expires_at) {
        Ok(key) => {
            assert!(
                key.as_str().len() <= store.max_value_len(),
                "property violated: a cookie over the limit was produced (rule H4)"
            );
            let loaded = store.load(&key);
            assert!(
                matches!(&loaded, Ok(Some(record)) if same_data(&record.data, &data)),
                "property violated: the signed-cookie store does not round-trip: {loaded:?}"
            );
        }
        Err(Error::CookieTooLarge { size, limit }) => assert!(
            size > limit && limit == store.max_value_len(),
            "property violated: CookieTooLarge {{ size: {size}, limit: {limit} }}"
        ),
        Err(other) => panic!("property violated: the signed-cookie store failed to sign: {other}"),
    }
}

fn round_trip_small(input: &RoundTripInput) {
    let generated = SessionKey::generate();
    assert!(
        is_id_key(generated.as_str())
            && generated.as_str().len() == 32
            && SessionKey::parse(generated.as_str()).is_ok_and(|k| k == generated),
        "property violated: a generated key does not parse back (rules A1, H1)"
    );
    let text = String::from_utf8_lossy(&input.key);
    let valid = (MIN_KEY_LEN..=MAX_KEY_LEN).contains(&input.key.len());
    let parsed = SessionKey::parse(&text);
    assert!(
        parsed
            .as_ref()
            .map_or(!valid, |k| valid && k.as_str() == text),
        "property violated: key {text:?} of length {} parsed wrongly",
        input.key.len()
    );
    let decoded = b62_decode(&b62_encode(input.int));
    assert!(
        decoded.is_ok_and(|d| d == input.int),
        "property violated: base62 does not round-trip {}",
        input.int
    );
    let encoded = b64_encode(&input.bytes);
    let padded = format!("{encoded}==");
    assert!(
        b64_decode(&encoded).is_ok_and(|d| d == input.bytes)
            && b64_decode(&padded).is_ok_and(|d| d == input.bytes),
        "property violated: base64 does not round-trip {:?}",
        input.bytes
    );
}
