//! Fuzzing entry points: one function per decoder, shared by the cargo-fuzz targets in
//! `fuzz/` (nightly, libFuzzer) and by the corpus replay test `tests/fuzz_corpus.rs`
//! (stable `cargo test`), so both run exactly the same code.
//!
//! Every entry point takes arbitrary bytes and checks *properties*, not only the
//! absence of panics:
//!
//! * decoding never yields data that was not signed with a configured secret: every
//!   successful decode is re-verified against each configured secret separately
//!   (rule F5), and a value built by mutating a validly signed one only decodes if its
//!   payload is unchanged (and then to the original data);
//! * every error is a [`session_api::Error`] of the variants the decoder documents
//!   (rules F5, F7, H3), and an error that says "the signature verified" (an expired
//!   signature, an undecodable payload) only happens when it did;
//! * stores never fail on bad stored data (rule D7) and return exactly what decodes;
//! * round trips are exact (same JSON, same key order, same number types, same float
//!   bits);
//! * [`SessionKey::parse`] accepts exactly `[a-z0-9]{8,40}` (rule H1) and the `Cookie`
//!   header parser never returns a value containing `;`.
//!
//! An entry point panics only when a property is violated, with a message starting
//! with `property violated:` (or `fuzzing setup failed:` if the environment cannot
//! provide a temporary directory). Secrets, salts and the clock are those of the
//! Django 5.2 fixtures, so real Django values are meaningful inputs.
//!
//! # Input layout
//!
//! The decoder targets read their first byte as flags; bit 0 chooses the mode:
//!
//! * `0`: *raw*, the remaining bytes are the candidate value itself;
//! * `1`: *mutate*, the next byte picks a Django-produced signed value and the rest is
//!   a mutation script applied to it (see [`mutate`]).
//!
//! A third mode, *sign*, chosen by another bit (documented on each function), treats
//! the rest as a payload and signs it with the current secret before decoding: the
//! fuzzer cannot forge signatures, so this is how base64, zlib, JSON and the limits
//! behind a valid signature get fuzzed (and how the error classification of rule F7
//! is checked on them). The other bits pick options documented on each function.
//!
//! [`session_key`] and [`serializer_loads`] take the whole input as their value;
//! [`round_trip`] reads its whole input through [`arbitrary::Unstructured`].

use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::{Duration as StdDuration, SystemTime};

use arbitrary::Unstructured;
use serde_json::{Map, Number, Value};
use session_api::config::DEFAULT_COOKIE_NAME;
use session_api::data::SESSION_EXPIRY_KEY;
use session_api::key::{KEY_ALPHABET, MAX_KEY_LEN, MIN_KEY_LEN};
use session_api::middleware::{cookie_value, SessionMiddleware};
use session_api::signing::{
    b62_decode, b62_encode, b64_decode, b64_encode, loads, SecretKeys, DEFAULT_SALT, SESSION_SALT,
    SIGNED_COOKIES_SALT,
};
use session_api::{
    Capabilities, Clock, DecodeLimits, Error, ExpiryValue, JsonSerializer, ManualClock, RandomKeys,
    Result, Serializer, SessionBackend, SessionCodec, SessionConfig, SessionData, SessionKey,
    SessionStore, Signer, TimestampSigner,
};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

use crate::file::FileStore;
use crate::signed_cookies::SignedCookieStore;

/// `SECRET_KEY` of the Django 5.2 fixtures.
pub const SECRET: &str = "shared-fixture-secret-do-not-use-in-production";
/// `SECRET_KEY_FALLBACKS[0]` of the Django 5.2 fixtures.
pub const FALLBACK: &str = "shared-fixture-previous-secret";
/// The signing time of every fixture value (2026-01-01 00:00 UTC); the entry points'
/// clock reads this unless an option moves it.
pub const TIMESTAMP: i64 = 1_767_225_600;
/// `SESSION_COOKIE_AGE` used by the stores (Django's default, two weeks).
pub const COOKIE_AGE: i64 = 1_209_600;

/// An entry point: takes the fuzzer's bytes, panics only on a violated property.
pub type EntryPoint = fn(&[u8]);

/// Every fuzz target: its name (the file `fuzz/fuzz_targets/<name>.rs` and the
/// directory `fuzz/corpus/<name>/`) and its entry point.
pub const TARGETS: &[(&str, EntryPoint)] = &[
    ("signing_loads", signing_loads),
    ("session_codec", session_codec),
    ("session_key", session_key),
    ("cookie_header", cookie_header),
    ("file_load", file_load),
    ("signed_cookie_load", signed_cookie_load),
    ("serializer_loads", serializer_loads),
    ("round_trip", round_trip),
];

/// A value Django 5.2 signed with the fixture secrets and clock, and the JSON it holds.
#[derive(Debug, Clone, Copy)]
pub struct Base {
    /// The signed value, exactly as Django wrote it.
    pub signed: &'static str,
    /// The signed object, as JSON text.
    pub obj: &'static str,
}

const REPEAT_OBJ: &str = concat!(
    r#"{"repeat":""#,
    "abababababababababababababababababababababababababababababababababababababababababababababababab",
    "abababababababababababababababababababababababababababababababababababababababababababababababab",
    "abababababababababababababababababababababababababababababababababababababababababababababababab",
    "abababababababababababababababababababababababababababababababababababababababababababababababab",
    "abababababababab",
    r#""}"#
);
const BOB_OBJ: &str = r#"{"user":"bob","cart":[3,4],"flag":true,"none":null,"pi":3.25}"#;
const TEXT_OBJ: &str = r#"{"text":"caf\u00e9 \u4e2d\u6587 \ud83d\ude00"}"#;
const AUTH_OBJ: &str = r#"{"_auth_user_id":"7","_session_expiry":600}"#;

/// `signing.dumps` values (salt [`DEFAULT_SALT`]), one signed with the fallback secret.
pub const SIGNING_BASES: &[Base] = &[
    Base {
        signed: "ImhlbGxvIg:1vb66i:EW_d7W0P8Wx4ESS9uRS44Gt79L4_R9dn6tBgTT7uT58",
        obj: r#""hello""#,
    },
    Base {
        signed: "eyJ1c2VyIjoiYm9iIiwiY2FydCI6WzMsNF0sImZsYWciOnRydWUsIm5vbmUiOm51bGwsInBpIjozLjI1fQ:1vb66i:t-xpW016ff7bzfs8F-wuN899hig6LKQQi9-1EW6d9MU",
        obj: BOB_OBJ,
    },
    Base {
        signed: "eyJ0ZXh0IjoiY2FmXHUwMGU5IFx1NGUyZFx1NjU4NyBcdWQ4M2RcdWRlMDAifQ:1vb66i:CYF0rPpjpcu7LLgBdDzF__28KJAc_5CWtHFEzgYhnu0",
        obj: TEXT_OBJ,
    },
    Base {
        signed: ".eJyrVipKLUhNLFGyUkpMGoWDCSrVAgBN1pyU:1vb66i:UVadYSZ6zdtaF5OAwFSqmxekQZWWGGRU6-mo4Z6S2ts",
        obj: REPEAT_OBJ,
    },
    Base {
        signed: ".eJwFwcERACAIwLCF-rCiILN47r-GyZVJsNgkxaFxoDgxcOHGxMKD_T7vhAml:1vb66i:iUFFuHD3xtxmx5UdYk_AWrsRTwu3jo62joBlsLLokn0",
        obj: "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19]",
    },
    Base {
        signed: "eyJvbGQiOjF9:1vb66i:iRnO1IKR814-PwbjZ4OJ1rJL5sLBRqdWYMpewclnG8U",
        obj: r#"{"old":1}"#,
    },
];

/// Session `session_data` values (salt [`SESSION_SALT`]) of the db and file stores.
pub const SESSION_BASES: &[Base] = &[
    Base {
        signed: "eyJhIjoxfQ:1vb66i:0KgQxR-DD_SdAOrlJq1XOqtBamL_9pT69c0rmJwQeIM",
        obj: r#"{"a":1}"#,
    },
    Base {
        signed: "eyJ1c2VyIjoiYm9iIiwiY2FydCI6WzMsNF0sImZsYWciOnRydWUsIm5vbmUiOm51bGwsInBpIjozLjI1fQ:1vb66i:5Rp6PnGNxnzIf6CfDhAMrMsLKsrn4mj5cd-Vh1AsGos",
        obj: BOB_OBJ,
    },
    Base {
        signed: "eyJ0ZXh0IjoiY2FmXHUwMGU5IFx1NGUyZFx1NjU4NyBcdWQ4M2RcdWRlMDAifQ:1vb66i:PdGKj6TuQ9sgbVIOETDDT25zHi59h8PwKoikYXZQa3c",
        obj: TEXT_OBJ,
    },
    Base {
        signed: ".eJyrVipKLUhNLFGyUkpMGoWDCSrVAgBN1pyU:1vb66i:Nor2yy8BjDftn6nN_3LtqwcL-EB7_9sC_eXoRTjD80g",
        obj: REPEAT_OBJ,
    },
    Base {
        signed: "eyJfYXV0aF91c2VyX2lkIjoiNyIsIl9zZXNzaW9uX2V4cGlyeSI6NjAwfQ:1vb66i:JK7FA1GxyWkN6uUlSqUZKMt9McC2_J3le0R1HVIur5A",
        obj: AUTH_OBJ,
    },
];

/// Signed-cookie session keys (salt [`SIGNED_COOKIES_SALT`]).
pub const COOKIE_BASES: &[Base] = &[
    Base {
        signed: "eyJhIjoxfQ:1vb66i:ft8H3TpHg6IGqotJFCc6o3_jJlTeOaXkbJFlNfjxujo",
        obj: r#"{"a":1}"#,
    },
    Base {
        signed: "eyJ1c2VyIjoiYm9iIiwiY2FydCI6WzMsNF0sImZsYWciOnRydWUsIm5vbmUiOm51bGwsInBpIjozLjI1fQ:1vb66i:m0UH88I8gZ6M-pLQrknBv-taVUDjSSbzQkIxObIG9_Q",
        obj: BOB_OBJ,
    },
    Base {
        signed: "eyJ0ZXh0IjoiY2FmXHUwMGU5IFx1NGUyZFx1NjU4NyBcdWQ4M2RcdWRlMDAifQ:1vb66i:hw9ghH5_oCUSTxmzzcw0B3oWlR7yG5sO-WHzF1mlC1M",
        obj: TEXT_OBJ,
    },
    Base {
        signed: ".eJyrVipKLUhNLFGyUkpMGoWDCSrVAgBN1pyU:1vb66i:pfUkLz7Qggp3XecABVtRQU5qc-j-50m-hyZoYeBbXW0",
        obj: REPEAT_OBJ,
    },
    Base {
        signed: "eyJfYXV0aF91c2VyX2lkIjoiNyIsIl9zZXNzaW9uX2V4cGlyeSI6NjAwfQ:1vb66i:7x215e5D8H4gF9-NIC2IGW-irBoBNHPh53tbUkImBe4",
        obj: AUTH_OBJ,
    },
];

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

/// Applies a mutation script to `base`. The script is read in 4-byte operations
/// `(kind, position high byte, position low byte, byte)`; the position is taken modulo
/// the current length + 1. Kinds (modulo 6): overwrite, insert, delete, truncate, flip
/// one bit, append. A trailing partial operation is ignored.
///
/// ```
/// use session_stores::fuzzing::mutate;
/// assert_eq!(mutate(b"abc", &[0, 0, 1, b'X']), b"aXc");
/// assert_eq!(mutate(b"abc", &[5, 0, 0, b'=']), b"abc=");
/// assert_eq!(mutate(b"abc", &[3, 0, 1, 0]), b"a");
/// ```
pub fn mutate(base: &[u8], script: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for op in script.chunks_exact(4) {
        let pos = usize::from(u16::from_be_bytes([op[1], op[2]])) % (out.len() + 1);
        let byte = op[3];
        match op[0] % 6 {
            0 => {
                if let Some(slot) = out.get_mut(pos) {
                    *slot = byte;
                }
            }
            1 => out.insert(pos, byte),
            2 => {
                if pos < out.len() {
                    out.remove(pos);
                }
            }
            3 => out.truncate(pos),
            4 => {
                if let Some(slot) = out.get_mut(pos) {
                    *slot ^= 1 << (byte % 8);
                }
            }
            _ => out.push(byte),
        }
    }
    out
}

/// The flags byte and the rest (an empty input is flags 0 and no bytes).
fn split_flags(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((flags, rest)) => (*flags, rest),
        None => (0, &[]),
    }
}

/// How a decoder target builds its candidate from the input after the flags byte.
#[derive(Clone, Copy)]
enum Mode {
    /// The bytes are the candidate.
    Raw,
    /// A Django value picked by the first byte, edited by the script in the rest.
    Mutate,
    /// The bytes are a payload, signed here with the current secret at the fixture
    /// time under `salt`: what follows the signature check (base64, zlib, JSON, the
    /// limits) then sees fuzzer-controlled data behind a valid signature.
    Sign(&'static str),
}

impl Mode {
    /// Bit 0 of `flags` selects mutate; `sign` (checked first) selects sign mode.
    fn of(flags: u8, sign: bool, salt: &'static str) -> Self {
        if sign {
            Mode::Sign(salt)
        } else if flags & 1 == 1 {
            Mode::Mutate
        } else {
            Mode::Raw
        }
    }
}

/// The candidate bytes of a decoder target, and the base value when mutating.
fn candidate_bytes(
    mode: Mode,
    rest: &[u8],
    bases: &'static [Base],
) -> (Vec<u8>, Option<&'static Base>) {
    match mode {
        Mode::Raw => (rest.to_vec(), None),
        Mode::Mutate => {
            let (pick, script) = split_flags(rest);
            let base = &bases[usize::from(pick) % bases.len()];
            (mutate(base.signed.as_bytes(), script), Some(base))
        }
        Mode::Sign(salt) => {
            let payload = String::from_utf8_lossy(rest);
            let signer = TimestampSigner::new(&SecretKeys::new(SECRET), salt, clock_at(TIMESTAMP));
            (signer.sign(&payload).into_bytes(), None)
        }
    }
}

/// [`candidate_bytes`] as text (invalid UTF-8 replaced by U+FFFD).
fn candidate(mode: Mode, rest: &[u8], bases: &'static [Base]) -> (String, Option<&'static Base>) {
    let (bytes, base) = candidate_bytes(mode, rest, bases);
    (String::from_utf8_lossy(&bytes).into_owned(), base)
}

fn clock_at(unix: i64) -> Arc<ManualClock> {
    let at = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Arc::new(ManualClock::new(at))
}

fn keys(with_fallback: bool) -> SecretKeys {
    let keys = SecretKeys::new(SECRET);
    if with_fallback {
        keys.with_fallbacks([FALLBACK])
    } else {
        keys
    }
}

fn setup<T>(result: std::result::Result<T, impl std::fmt::Display>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("fuzzing setup failed: {what}: {err}"),
    }
}

/// `payload:timestamp:signature`, split at the last two `:` as the signer does.
fn parts(signed: &str) -> Option<(&str, &str, &str)> {
    let (rest, sig) = signed.rsplit_once(':')?;
    let (payload, ts) = rest.rsplit_once(':')?;
    Some((payload, ts, sig))
}

/// Which configured secret (0 = current, 1 = fallback) signed `signed` under `salt`,
/// recomputed independently of the signer under test: one [`Signer`] per secret.
fn verifying_key(signed: &str, salt: &str, with_fallback: bool) -> Option<usize> {
    let (value, sig) = signed.rsplit_once(':')?;
    let secrets: &[&str] = if with_fallback {
        &[SECRET, FALLBACK]
    } else {
        &[SECRET]
    };
    secrets
        .iter()
        .position(|secret| Signer::new(&SecretKeys::new(*secret), salt).signature(value) == sig)
}

/// Exact JSON equality: same key order, integers equal as integers, floats equal bit
/// for bit (`serde_json`'s `==` ignores key order and `-0.0` vs `0.0`).
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => same_number(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => same_map(x, y),
        _ => false,
    }
}

fn same_map(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len()
        && x.iter()
            .zip(y)
            .all(|((kx, vx), (ky, vy))| kx == ky && same_json(vx, vy))
}

fn same_number(x: &Number, y: &Number) -> bool {
    if x.is_f64() || y.is_f64() {
        x.is_f64() && y.is_f64() && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
    } else {
        x.as_i64() == y.as_i64() && x.as_u64() == y.as_u64()
    }
}

fn same_data(a: &SessionData, b: &SessionData) -> bool {
    same_map(a.as_map(), b.as_map())
}

/// What an independent reading of `signed` says about it.
struct Reading {
    /// The configured secret whose signature matches.
    verified: Option<usize>,
    /// The decoded timestamp, when there is a valid one.
    timestamp: Option<i64>,
}

impl Reading {
    fn of(signed: &str, salt: &str, with_fallback: bool) -> Self {
        Reading {
            verified: verifying_key(signed, salt, with_fallback),
            timestamp: parts(signed).and_then(|(_, ts, _)| b62_decode(ts).ok()),
        }
    }

    /// Age in whole seconds at `now` (clocks here have no sub-second part).
    fn age(&self, now: i64) -> Option<i128> {
        self.timestamp.map(|ts| i128::from(now) - i128::from(ts))
    }
}

/// The checks every `unsign_object`-based decoder shares (rules F5, F7, H3).
struct DecodeCase<'a> {
    text: &'a str,
    salt: &'a str,
    with_fallback: bool,
    now: i64,
    max_age: Option<i64>,
    limits: DecodeLimits,
    base: Option<&'static Base>,
}

impl DecodeCase<'_> {
    fn check(&self, result: &Result<Value>) {
        let reading = Reading::of(self.text, self.salt, self.with_fallback);
        let age = reading.age(self.now);
        let fresh = match (self.max_age, age) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(max), Some(age)) => age <= i128::from(max),
        };
        let in_limit = self.text.len() <= self.limits.max_signed_len;
        let compressed = parts(self.text).is_some_and(|(payload, _, _)| payload.starts_with('.'));
        match result {
            Ok(value) => {
                assert!(
                    reading.verified.is_some(),
                    "property violated: {:?} decoded although its signature matches no configured secret",
                    self.text
                );
                assert!(
                    in_limit,
                    "property violated: a value over max_signed_len decoded (rule H3)"
                );
                assert!(
                    fresh,
                    "property violated: {:?} decoded although its timestamp is missing or older than max_age {:?}",
                    self.text, self.max_age
                );
                if let Some((payload, _, _)) = parts(self.text).filter(|_| !compressed) {
                    let direct = b64_decode(payload).and_then(|bytes| JsonSerializer.loads(&bytes));
                    assert!(
                        direct.as_ref().is_ok_and(|direct| same_json(direct, value)),
                        "property violated: the decoded value is not the payload's JSON"
                    );
                }
                self.check_mutant(Some(value));
            }
            Err(Error::SignatureExpired { age: got, max_age }) => {
                let want_max = self.max_age;
                assert!(
                    want_max == Some(*max_age),
                    "property violated: SignatureExpired (max_age {max_age}) with max_age {want_max:?}"
                );
                assert!(
                    reading.verified.is_some() && in_limit,
                    "property violated: SignatureExpired for a value whose signature does not verify"
                );
                let want_age = age.map(|age| i64::try_from(age).unwrap_or(i64::MAX));
                assert!(
                    !fresh && want_age == Some(*got),
                    "property violated: SignatureExpired with age {got}, expected {want_age:?} > {max_age}"
                );
            }
            Err(Error::Serialization(msg)) => {
                assert!(
                    reading.verified.is_some() && in_limit && fresh,
                    "property violated: Serialization error ({msg}) for a value whose signature or timestamp does not verify: rule F7 needs BadSignature"
                );
            }
            Err(Error::BadSignature { reason }) => {
                // After a verified signature and timestamp, only the decompression limit
                // (rule H3) may still say BadSignature.
                assert!(
                    reading.verified.is_none() || !in_limit || !fresh || compressed,
                    "property violated: BadSignature ({reason}) for a verified, fresh, uncompressed value"
                );
            }
            Err(other) => {
                panic!("property violated: unexpected error variant from a decoder: {other:?}")
            }
        }
    }

    /// Mutants of a signed value decode only with the original payload and data.
    fn check_mutant(&self, decoded: Option<&Value>) {
        let (Some(base), Some(decoded)) = (self.base, decoded) else {
            return;
        };
        let original = parts(base.signed).map(|(payload, _, _)| payload);
        let payload = parts(self.text).map(|(payload, _, _)| payload);
        assert!(
            payload == original,
            "property violated: a mutant of {:?} decoded with a changed payload: {:?}",
            base.signed,
            self.text
        );
        let expected: Option<Value> = serde_json::from_str(base.obj).ok();
        assert!(
            expected.is_some_and(|expected| same_json(&expected, decoded)),
            "property violated: a mutant of {:?} decoded to other data",
            base.signed
        );
    }
}

// ---------------------------------------------------------------------------------
// signing_loads
// ---------------------------------------------------------------------------------

/// `signing::loads` (rules F2..F5, H3).
///
/// Flags: bit 0 mode (raw / mutate a [`SIGNING_BASES`] value); bits 1-2 the clock and
/// `max_age`: (now, none), (now, 60 s), (now + 1 h, 60 s), (now + 1 h, cookie age);
/// bit 3 verify with the current secret only (no fallback); bit 4 salt `"my.app"`
/// instead of [`DEFAULT_SALT`]; bit 5 sign mode (the rest is a payload, signed here).
pub fn signing_loads(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let salt = if flags & 16 == 0 {
        DEFAULT_SALT
    } else {
        "my.app"
    };
    let (text, base) = candidate(Mode::of(flags, flags & 32 != 0, salt), rest, SIGNING_BASES);
    let (now, max_age) = match (flags >> 1) & 3 {
        0 => (TIMESTAMP, None),
        1 => (TIMESTAMP, Some(60)),
        2 => (TIMESTAMP + 3600, Some(60)),
        _ => (TIMESTAMP + 3600, Some(COOKIE_AGE)),
    };
    let with_fallback = flags & 8 == 0;
    let result = loads(
        &text,
        &keys(with_fallback),
        salt,
        &JsonSerializer,
        max_age.map(Duration::seconds),
        clock_at(now),
    );
    DecodeCase {
        text: &text,
        salt,
        with_fallback,
        now,
        max_age,
        limits: DecodeLimits::default(),
        base: base.filter(|_| salt == DEFAULT_SALT),
    }
    .check(&result);
}

// ---------------------------------------------------------------------------------
// session_codec
// ---------------------------------------------------------------------------------

/// Tight limits of the codec target (rule H3).
const TIGHT: DecodeLimits = DecodeLimits {
    max_signed_len: 4096,
    max_decompressed_len: 4096,
};

/// Codecs: [with fallback, current only] x [default limits, tight limits].
static CODECS: LazyLock<[[SessionCodec; 2]; 2]> = LazyLock::new(|| {
    let codec = |with_fallback, limits| {
        SessionCodec::new(
            &keys(with_fallback),
            clock_at(TIMESTAMP),
            Arc::new(JsonSerializer),
        )
        .with_limits(limits)
    };
    [
        [codec(true, DecodeLimits::default()), codec(true, TIGHT)],
        [codec(false, DecodeLimits::default()), codec(false, TIGHT)],
    ]
});

/// Django's `session_data` decoding: [`SessionCodec::try_decode`] and
/// [`SessionCodec::decode`] (rules F6, F7, H3).
///
/// Flags: bit 0 mode (raw / mutate a [`SESSION_BASES`] value); bit 1 verify with the
/// current secret only; bit 2 sign mode (the rest is a payload, signed here). Each
/// input goes through a codec with the default limits and one with 4 KiB limits,
/// which must agree.
pub fn session_codec(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let mode = Mode::of(flags, flags & 4 != 0, SESSION_SALT);
    let (text, base) = candidate(mode, rest, SESSION_BASES);
    let with_fallback = flags & 2 == 0;
    let codecs = &CODECS[usize::from(!with_fallback)];
    let mut results = Vec::with_capacity(2);
    for (codec, limits) in codecs.iter().zip([DecodeLimits::default(), TIGHT]) {
        let result = codec.try_decode(&text);
        let as_value = match &result {
            Ok(data) => Ok(Value::Object(data.as_map().clone())),
            Err(err) => Err(clone_error(err)),
        };
        DecodeCase {
            text: &text,
            salt: SESSION_SALT,
            with_fallback,
            now: TIMESTAMP,
            max_age: None,
            limits,
            base,
        }
        .check(&as_value);
        let lenient = codec.decode(&text);
        let want = result
            .as_ref()
            .map_or_else(|_| SessionData::new(), Clone::clone);
        assert!(
            same_data(&lenient, &want),
            "property violated: decode() disagrees with try_decode() (rule F7)"
        );
        results.push(result);
    }
    if let [default, tight] = &results[..] {
        match (default, tight) {
            (Ok(a), Ok(b)) => assert!(
                same_data(a, b),
                "property violated: the limits changed the decoded data"
            ),
            (Err(_), Ok(_)) => {
                panic!("property violated: decoded under tight limits only")
            }
            (Ok(_), Err(err)) => assert!(
                matches!(err, Error::BadSignature { .. }),
                "property violated: a limit failure must be BadSignature (rule H3), got {err:?}"
            ),
            (Err(_), Err(_)) => {}
        }
    }
}

/// A copy of the variants a decoder may return (`Error` is not `Clone`).
fn clone_error(err: &Error) -> Error {
    match err {
        Error::BadSignature { reason } => Error::BadSignature { reason },
        Error::SignatureExpired { age, max_age } => Error::SignatureExpired {
            age: *age,
            max_age: *max_age,
        },
        Error::Serialization(msg) => Error::Serialization(msg.clone()),
        other => panic!("property violated: unexpected error variant from a decoder: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// session_key
// ---------------------------------------------------------------------------------

fn is_id_key(text: &str) -> bool {
    (MIN_KEY_LEN..=MAX_KEY_LEN).contains(&text.len())
        && text.bytes().all(|b| KEY_ALPHABET.contains(&b))
}

fn is_cookie_safe(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b';' | b',' | b'"' | b'\\'))
}

/// The one private temporary directory of this process (`session-fuzz-*`), shared by
/// the file stores of all targets. Statics are never dropped, so the directory, empty
/// by then, stays behind when the process exits.
static SCRATCH: LazyLock<TempDir> = LazyLock::new(|| {
    setup(
        tempfile::Builder::new().prefix("session-fuzz-").tempdir(),
        "temporary directory",
    )
});

/// A file store in [`SCRATCH`] whose files are named `prefix + key`.
struct FileFixture {
    dir: PathBuf,
    store: FileStore,
    codec: SessionCodec,
    clock: Arc<ManualClock>,
}

impl FileFixture {
    fn new(prefix: &str) -> Self {
        let dir = SCRATCH.path().to_owned();
        let clock = clock_at(TIMESTAMP);
        let codec = SessionCodec::new(&keys(true), clock.clone(), Arc::new(JsonSerializer));
        let store = setup(
            FileStore::new(&dir, prefix, COOKIE_AGE, codec.clone(), clock.clone()),
            "file store",
        );
        FileFixture {
            dir,
            store,
            codec,
            clock,
        }
    }
}

/// Never writes: only its path builder is used.
static KEY_FILES: LazyLock<FileFixture> = LazyLock::new(|| FileFixture::new(DEFAULT_COOKIE_NAME));

/// [`SessionKey::parse`], [`SessionKey::signed_payload`] and the file store's path
/// builder (rules A2, H1, H5, E5). Flags: none, the whole input is the key (invalid
/// UTF-8 replaced by U+FFFD).
pub fn session_key(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let valid = is_id_key(text);
    let parsed = SessionKey::parse(text);
    match &parsed {
        Ok(key) => {
            assert!(
                valid,
                "property violated: SessionKey::parse accepted {text:?}, outside [a-z0-9]{{8,40}} (rule H1)"
            );
            assert!(
                key.as_str() == text,
                "property violated: the parsed key differs from its text"
            );
            let shown = format!("{key} {key:?}");
            assert!(
                !shown.contains(text),
                "property violated: Display/Debug show the whole key (rule H5)"
            );
        }
        Err(Error::InvalidKey { .. }) => assert!(
            !valid,
            "property violated: SessionKey::parse rejected the valid key {text:?}"
        ),
        Err(other) => panic!("property violated: SessionKey::parse failed with {other:?}"),
    }
    assert!(
        text.parse::<SessionKey>().is_ok() == valid
            && Capabilities::server_side().parse_key(text).is_ok() == valid,
        "property violated: FromStr or Capabilities::parse_key disagree with SessionKey::parse"
    );
    match SessionKey::signed_payload(text) {
        Ok(key) => assert!(
            is_cookie_safe(text) && key.as_str() == text && !text.contains(';'),
            "property violated: signed_payload accepted {text:?}, not a cookie-safe value"
        ),
        Err(Error::InvalidKey { .. }) => assert!(
            !is_cookie_safe(text),
            "property violated: signed_payload rejected the cookie-safe value {text:?}"
        ),
        Err(other) => panic!("property violated: signed_payload failed with {other:?}"),
    }
    let fixture = &*KEY_FILES;
    match fixture.store.path_for(text) {
        Ok(path) => {
            let name = format!("{DEFAULT_COOKIE_NAME}{text}");
            assert!(
                valid
                    && path.parent() == Some(fixture.dir.as_path())
                    && path.file_name().and_then(|n| n.to_str()) == Some(name.as_str()),
                "property violated: FileStore::path_for built {path:?} from {text:?} (rules E5, H1)"
            );
        }
        Err(Error::InvalidKey { .. }) => assert!(
            !valid,
            "property violated: FileStore::path_for rejected the valid key {text:?}"
        ),
        Err(other) => panic!("property violated: FileStore::path_for failed with {other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// cookie_header
// ---------------------------------------------------------------------------------

/// Two middlewares over stores that hold nothing: an id store (files named
/// `sessionid + key` in [`SCRATCH`], where no target writes such a file) and the
/// signed-cookie store.
struct MiddlewareFixture {
    file: SessionMiddleware,
    cookies: SessionMiddleware,
}

static MIDDLEWARES: LazyLock<MiddlewareFixture> = LazyLock::new(|| {
    let clock: Arc<dyn Clock> = clock_at(TIMESTAMP);
    let config = Arc::new(setup(
        SessionConfig::builder(keys(true))
            .clock(clock)
            .file_path(Some(SCRATCH.path().to_owned()))
            .build(),
        "session config",
    ));
    let file_store = setup(FileStore::from_config(&config), "file store");
    let file = SessionMiddleware::new(
        SessionBackend::from_sync(Arc::new(file_store)),
        config.clone(),
    );
    let cookies = SessionMiddleware::new(
        SessionBackend::from_nonblocking_sync(Arc::new(SignedCookieStore::from_config(&config))),
        config,
    );
    MiddlewareFixture { file, cookies }
});

/// Cookie names tried by [`cookie_header`].
const COOKIE_NAMES: [&str; 4] = [DEFAULT_COOKIE_NAME, "", "a", "sessionid "];

/// The last chunk whose trimmed name is `name`, found by scanning backwards: an
/// independent reading of Django's `parse_cookie` ("the last occurrence wins").
fn last_cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.rsplit(';').find_map(|chunk| {
        let (key, value) = match chunk.find('=') {
            Some(eq) => (&chunk[..eq], &chunk[eq + 1..]),
            None => ("", chunk),
        };
        (key.trim() == name).then(|| {
            let value = value.trim();
            if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                &value[1..value.len() - 1]
            } else {
                value
            }
        })
    })
}

/// The `Cookie` header parser [`cookie_value`] and
/// [`SessionMiddleware::request_session`] (rule G1, with the key rules H1 and A3 and
/// the delete-cookie rule G2 behind them).
///
/// Flags: bits 0-1 pick the cookie name given to [`cookie_value`] (`sessionid`, empty,
/// `a`, `"sessionid "`); the rest is the header (invalid UTF-8 replaced by U+FFFD).
/// The middlewares always use `sessionid`.
pub fn cookie_header(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let header = String::from_utf8_lossy(rest);
    let header = header.as_ref();
    let name = COOKIE_NAMES[usize::from(flags & 3)];
    let value = cookie_value(header, name);
    if let Some(value) = &value {
        assert!(
            !value.contains(';'),
            "property violated: cookie_value returned {value:?}, which contains ';'"
        );
    }
    assert!(
        value.as_deref() == last_cookie(header, name),
        "property violated: cookie_value({header:?}, {name:?}) = {value:?}, the last occurrence is {:?}",
        last_cookie(header, name)
    );
    let session_cookie = cookie_value(header, DEFAULT_COOKIE_NAME);
    let fixture = &*MIDDLEWARES;
    for (mw, id_keys) in [(&fixture.file, true), (&fixture.cookies, false)] {
        let mut request = mw.request_session(Some(header));
        assert!(
            request.cookie_present == session_cookie.is_some(),
            "property violated: cookie_present disagrees with cookie_value"
        );
        let parses = session_cookie.as_deref().is_some_and(|v| {
            if id_keys {
                is_id_key(v)
            } else {
                is_cookie_safe(v)
            }
        });
        let key = request.session_key().map(|k| k.as_str().to_owned());
        assert!(
            key.is_some() == parses && (key.is_none() || key == session_cookie),
            "property violated: request_session adopted {key:?} from cookie {session_cookie:?} (rule H1)"
        );
        // Loading never fails on a bad cookie (rule D7) and keeps only keys the store
        // has (rule A3): nothing for the empty file store, a verified value for cookies.
        let loaded = match request.keys() {
            Ok(keys) => keys,
            Err(err) => panic!("property violated: loading a request's session failed: {err}"),
        };
        let kept = request.session_key().map(|k| k.as_str().to_owned());
        if id_keys {
            assert!(
                kept.is_none() && loaded.is_empty(),
                "property violated: an unknown id key was adopted (rule A3)"
            );
        } else if let Some(kept) = &kept {
            assert!(
                verifying_key(kept, SIGNED_COOKIES_SALT, true).is_some(),
                "property violated: a signed cookie that does not verify was kept (rule A3)"
            );
        } else {
            assert!(
                loaded.is_empty(),
                "property violated: data loaded without a key"
            );
        }
        let out = match mw.process_response(&mut request, 200) {
            Ok(out) => out,
            Err(err) => panic!("property violated: process_response failed: {err}"),
        };
        let want =
            (request.cookie_present && request.is_empty()).then(|| mw.delete_cookie_header());
        assert!(
            out.set_cookie == want && out.vary_cookie,
            "property violated: the response directives {out:?} break rules G2/G3"
        );
    }
}

// ---------------------------------------------------------------------------------
// file_load
// ---------------------------------------------------------------------------------

/// Files named `fuzzload + key`, so the `sessionid` stores of the other targets never
/// see them; the one file is removed before [`file_load`] returns.
static LOAD_FILES: LazyLock<FileFixture> = LazyLock::new(|| FileFixture::new("fuzzload"));

/// The key `file_load` stores its file under.
const FILE_KEY: &str = "fuzzsessionkey0123456789abcdefgh";

fn system_time(unix: i64) -> SystemTime {
    let secs = StdDuration::from_secs(unix.unsigned_abs());
    if unix >= 0 {
        SystemTime::UNIX_EPOCH + secs
    } else {
        SystemTime::UNIX_EPOCH - secs
    }
}

/// The file backend's load of arbitrary file content (rules D7, E5, C9, F7).
///
/// The content is written as the session file of one key in a private temporary
/// directory (one per process), then loaded through [`FileStore`]. Flags: bit 0 mode
/// (raw bytes / mutate a [`SESSION_BASES`] value); bit 1 the file's modification time
/// is one second more than the cookie age ago (so it expires unless
/// `_session_expiry` says otherwise); bit 2 sign mode (the rest is a payload, signed
/// here).
pub fn file_load(data: &[u8]) {
    let (flags, rest) = split_flags(data);
    let mode = Mode::of(flags, flags & 4 != 0, SESSION_SALT);
    let (content, base) = candidate_bytes(mode, rest, SESSION_BASES);
    let fixture = &*LOAD_FILES;
    let now = fixture.clock.now();
    let mtime_unix = if flags & 2 == 0 {
        TIMESTAMP
    } else {
        TIMESTAMP - COOKIE_AGE - 1
    };
    let key = setup(SessionKey::parse(FILE_KEY), "file key");
    let path = setup(fixture.store.path_for(FILE_KEY), "file path");
    setup(fs::write(&path, &content), "writing the session file");
    setup(
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(system_time(mtime_unix))),
        "setting the modification time",
    );

    let loaded = match fixture.store.load(&key) {
        Ok(loaded) => loaded,
        Err(err) => {
            panic!("property violated: FileStore::load failed on bad stored data (rule D7): {err}")
        }
    };

    // What the file holds, decoded independently of the store.
    let text = std::str::from_utf8(&content).ok().filter(|t| !t.is_empty());
    let decoded = text.and_then(|t| fixture.codec.try_decode(t).ok());
    let mtime = OffsetDateTime::from_unix_timestamp(mtime_unix).unwrap_or(now);
    let expires_at = ExpiryValue::from_stored(
        decoded
            .as_ref()
            .and_then(|d| d.get_value(SESSION_EXPIRY_KEY)),
    )
    .date(mtime, COOKIE_AGE);
    let expired = ExpiryValue::At(expires_at).age(now, COOKIE_AGE) <= 0;
    let expected = decoded.filter(|_| !expired);
    let agrees = match (&loaded, &expected) {
        (Some(a), Some(b)) => same_data(a, b),
        (None, None) => true,
        _ => false,
    };
    assert!(
        agrees,
        "property violated: FileStore::load gave {loaded:?}, the file decodes to {expected:?} (expired: {expired})"
    );
    if let (Some(loaded), Some(text)) = (&loaded, text) {
        assert!(
            verifying_key(text, SESSION_SALT, true).is_some(),
            "property violated: a session file loaded without a valid signature"
        );
        DecodeCase {
            text,
            salt: SESSION_SALT,
            with_fallback: true,
            now: TIMESTAMP,
            max_age: None,
            limits: DecodeLimits::default(),
            base,
        }
        .check_mutant(Some(&Value::Object(loaded.as_map().clone())));
    }
    assert_eq!(
        path.exists(),
        !expired,
        "property violated: an expired file must be deleted on load, a live one kept (rule E5)"
    );
    let exists = match fixture.store.exists(&key) {
        Ok(exists) => exists,
        Err(err) => panic!("property violated: FileStore::exists failed: {err}"),
    };
    assert!(
        exists != expired,
        "property violated: exists() = {exists} after load of a file (expired: {expired})"
    );
    // Leave the directory empty for the next input.
    let _ = fs::remove_file(&path);
}

// ---------------------------------------------------------------------------------
// signed_cookie_load
// ---------------------------------------------------------------------------------

/// Signed-cookie stores: [now, one second past the cookie age] x [default limit,
/// 200-byte limit].
static COOKIE_STORES: LazyLock<[[SignedCookieStore; 2]; 2]> = LazyLock::new(|| {
    let store = |now, limit: Option<usize>| {
        let store = SignedCookieStore::new(
            keys(true),
            COOKIE_AGE,
            clock_at(now),
            Arc::new(JsonSerializer),
        );
        match limit {
            Some(limit) => store.with_max_value_len(limit),
            None => store,
        }
    };
    let late = TIMESTAMP + COOKIE_AGE + 1;
    [
        [store(TIMESTAMP, None), store(TIMESTAMP, Some(200))],
        [store(late, None), store(late, Some(200))],
    ]
});

/// The signed-cookie store's load (rules E6, F5, H3).
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
        (Some(loaded), Some(expected)) => {
            assert!(
                same_data(loaded, expected),
                "property violated: the store and signing::loads decode different data"
            );
            case.check(&Ok(Value::Object(loaded.as_map().clone())));
        }
        (None, None) => {}
        _ => panic!(
            "property violated: SignedCookieStore::load gave {loaded:?}, signing::loads within the limit gives {expected:?}"
        ),
    }
}

// ---------------------------------------------------------------------------------
// serializer_loads
// ---------------------------------------------------------------------------------

/// [`JsonSerializer::loads`] (rule F1). The whole input is the serialized bytes.
///
/// Checks: errors are [`Error::Serialization`]; the bytes are read as Latin-1 (a
/// reference parse of the Latin-1 text agrees); `dumps` of the result is ASCII and
/// loads back to exactly the same value.
pub fn serializer_loads(data: &[u8]) {
    let result = JsonSerializer.loads(data);
    let latin1: String = data.iter().map(|&b| char::from(b)).collect();
    let reference: std::result::Result<Value, _> = serde_json::from_str(&latin1);
    let value = match result {
        Ok(value) => value,
        Err(Error::Serialization(_)) => {
            assert!(
                reference.is_err(),
                "property violated: loads rejected JSON that parses as Latin-1 text"
            );
            return;
        }
        Err(other) => panic!("property violated: JsonSerializer::loads failed with {other:?}"),
    };
    assert!(
        reference.is_ok_and(|r| same_json(&r, &value)),
        "property violated: loads does not read its bytes as Latin-1 (rule F1)"
    );
    let dumped = match JsonSerializer.dumps(&value) {
        Ok(bytes) => bytes,
        Err(err) => panic!("property violated: dumps failed on a loaded value: {err}"),
    };
    assert!(
        dumped.is_ascii(),
        "property violated: dumps wrote non-ASCII bytes (rule F1)"
    );
    let again = JsonSerializer.loads(&dumped);
    assert!(
        again.as_ref().is_ok_and(|again| same_json(again, &value)),
        "property violated: loads(dumps(v)) != v for {value:?}: {again:?} via {:?}",
        String::from_utf8_lossy(&dumped)
    );
}

// ---------------------------------------------------------------------------------
// round_trip
// ---------------------------------------------------------------------------------

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
    let now = OffsetDateTime::from_unix_timestamp(TIMESTAMP).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    match SessionStore::create(store, &data, now, &RandomKeys) {
        Ok(key) => {
            assert!(
                key.as_str().len() <= store.max_value_len(),
                "property violated: a cookie over the limit was produced (rule H4)"
            );
            let loaded = store.load(&key);
            assert!(
                matches!(&loaded, Ok(Some(loaded)) if same_data(loaded, &data)),
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
