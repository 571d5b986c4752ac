//! The `signed_cookie_load` target: the signed-cookie store's load.

use serde_json::Value;
use session_api::signing::{b62_decode, loads, SIGNED_COOKIES_SALT};
use session_api::{DecodeLimits, JsonSerializer, SessionData, SessionKey, SessionStore};
use time::{Duration, OffsetDateTime};

use crate::fixtures::{clock_at, keys, COOKIE_AGE, COOKIE_BASES, COOKIE_STORES, TIMESTAMP};
use crate::input::{candidate, split_flags, Mode};
use crate::oracle::{parts, same_data, DecodeCase};

/// The signed-cookie store's load (rules E6, F5, H3): it agrees with
/// `signing::loads`, and a loaded record expires when its signature does.
///
/// Flags: bit 0 mode (raw / mutate a [`COOKIE_BASES`] value); bit 1 the clock is one
/// second past the cookie age (every fixture value expired); bit 2 a 200-byte cookie
/// limit instead of the default 4086; bit 3 sign mode (the rest is a payload, signed
/// here).
pub fn signed_cookie_load(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let mode = Mode::of(flags, flags & 8 != 0, SIGNED_COOKIES_SALT);
    let (text, base) = candidate(mode, rest, COOKIE_BASES);
    let late = flags & 2 != 0;
    let store = &COOKIE_STORES[usize::from(late)][usize::from(flags & 4 != 0)];
    let now = if late {
        TIMESTAMP + COOKIE_AGE + 1
    } else {
        TIMESTAMP
    };
    let Ok(key) = SessionKey::signed_payload(&text) else {
        // Never reaches the store: the session handle drops such a key (the key target
        // checks which values these are).
        return;
    };
    let loaded = match store.load(&key) {
        Ok(loaded) => loaded,
        Err(err) => panic!(
            "property violated: SignedCookieStore::load failed on a bad cookie (rule E6): {err}"
        ),
    };
    let limits = DecodeLimits {
        max_signed_len: store.max_value_len(),
        ..DecodeLimits::default()
    };
    let reference = loads(
        &text,
        &keys(true),
        SIGNED_COOKIES_SALT,
        &JsonSerializer,
        Some(Duration::seconds(COOKIE_AGE)),
        clock_at(now),
    );
    let case = DecodeCase {
        text: &text,
        salt: SIGNED_COOKIES_SALT,
        with_fallback: true,
        now,
        max_age: Some(COOKIE_AGE),
        limits,
        base,
    };
    let expected = reference
        .ok()
        .filter(|_| text.len() <= store.max_value_len())
        .and_then(SessionData::from_value);
    match (&loaded, &expected) {
        (Some(record), Some(expected)) => {
            assert!(
                same_data(&record.data, expected),
                "property violated: the store and signing::loads decode different data"
            );
            // The record expires when its signature does: signing time + cookie age.
            let want = parts(&text)
                .and_then(|(_, ts, _)| b62_decode(ts).ok())
                .and_then(|ts| ts.checked_add(COOKIE_AGE))
                .and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok());
            assert!(
                record.key == key && Some(record.expires_at) == want,
                "property violated: the record of a cookie expires at {}, its signature at {want:?}",
                record.expires_at
            );
            case.check(&Ok(Value::Object(record.data.as_map().clone())));
        }
        (None, None) => {}
        _ => panic!(
            "property violated: SignedCookieStore::load gave {loaded:?}, signing::loads within the limit gives {expected:?}"
        ),
    }
}
