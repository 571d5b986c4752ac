//! Django's `django.core.signing`, byte for byte (rules F2..F5, H3).
//!
//! A signed value looks like `payload:timestamp:signature`:
//!
//! * `payload` is the serializer's bytes (JSON by default, rule F1), optionally
//!   zlib-compressed (then prefixed with `.`, rule F3), in url-safe base64 without
//!   padding (rule F2);
//! * `timestamp` is the signing time in unix seconds, base62 (rule F4);
//! * `signature` is url-safe base64 (no padding) of HMAC-SHA256 over everything before
//!   the last `:`, keyed with `SHA256(salt + "signer" + secret)` (Django's `salted_hmac`,
//!   rule F4).
//!
//! Verification accepts the current secret or any fallback, in that order, comparing
//! in constant time; signing always uses the current secret (rule F5).
//!
//! The module is split by concept, everything re-exported here:
//!
//! * the encodings: url-safe base64 ([`b64_encode`], [`b64_decode`]), base62
//!   ([`b62_encode`], [`b62_decode`]) and the zlib framing of compressed payloads;
//! * the key ring and the signers: [`SecretKeys`] (the current secret and its
//!   fallbacks), [`Signer`] (salted HMAC, constant-time compare) and
//!   [`TimestampSigner`] (the timestamp and `max_age`);
//! * the object layer: [`TimestampSigner::sign_object`] /
//!   [`TimestampSigner::unsign_object`], Django's module-level [`dumps`] and [`loads`],
//!   and the decoding bounds [`DecodeLimits`] (rule H3).
//!
//! The session-data codec built on top of it (rules F6, F7) is
//! [`SessionCodec`](crate::codec::SessionCodec), in [`crate::codec`].
//!
//! # Errors
//!
//! Which [`Error`](crate::Error) variant a failure becomes:
//!
//! * [`Error::BadSignature`](crate::Error::BadSignature): no `:` in the value, a
//!   signature that matches no secret, a timestamp that is not base62 (Django raises
//!   `ValueError` there, after the signature check), and the decoding limits of rule
//!   H3 (a value longer than [`DecodeLimits::max_signed_len`], checked before any
//!   HMAC; a payload that decompresses to more than
//!   [`DecodeLimits::max_decompressed_len`]).
//! * [`Error::SignatureExpired`](crate::Error::SignatureExpired): verified but older
//!   than `max_age` (a kind of bad signature:
//!   [`Error::is_bad_signature`](crate::Error::is_bad_signature) is true for it).
//! * [`Error::Serialization`](crate::Error::Serialization): the signature verified but
//!   the payload is not valid base64, not a valid zlib stream, or not valid for the
//!   serializer. As in Django, these are *not* bad signatures, which is what lets
//!   [`SessionCodec::decode`](crate::codec::SessionCodec::decode) tell a tampered
//!   value (logged, rule F7) from an undecodable one (silent).
//!
//! # Where this module differs from Django
//!
//! * Base64 decoding is stricter than Python's `urlsafe_b64decode`, which skips
//!   characters outside the alphabet and data after padding: here only the url-safe
//!   alphabet is accepted, followed by optional `=` padding (any amount). Everything
//!   Django writes decodes the same way.
//! * Integers in [`b62_decode`] are bounded to `i64` (checked arithmetic).
//! * Decoding is bounded (rule H3).
//!
//! ```
//! use std::sync::Arc;
//! use session_api::signing::{SecretKeys, TimestampSigner, DEFAULT_SALT};
//! use session_api::{JsonSerializer, ManualClock};
//! use time::macros::datetime;
//!
//! let keys = SecretKeys::new("shared-fixture-secret-do-not-use-in-production");
//! let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)));
//! let signer = TimestampSigner::new(&keys, DEFAULT_SALT, clock);
//! let signed = signer
//!     .sign_object(&serde_json::json!("hello"), &JsonSerializer, false)
//!     .unwrap();
//! assert_eq!(signed, "ImhlbGxvIg:1vb66i:EW_d7W0P8Wx4ESS9uRS44Gt79L4_R9dn6tBgTT7uT58");
//! let value = signer.unsign_object(&signed, &JsonSerializer, None).unwrap();
//! assert_eq!(value, "hello");
//! ```

mod encoding;
mod object;
mod signer;

pub use encoding::{b62_decode, b62_encode, b64_decode, b64_encode};
pub use object::{dumps, loads, DecodeLimits};
pub use signer::{
    SecretKeys, Signer, TimestampSigner, MIN_SECRET_LEN, W025_MIN_LEN, W025_MIN_UNIQUE,
};

/// Django's default salt for `signing.dumps` / `signing.loads`.
pub const DEFAULT_SALT: &str = "django.core.signing";
/// Salt of the session codec: `"django.contrib.sessions."` + `"SessionStore"`, the
/// qualified name of every built-in store class (rule F6).
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";
/// Salt of the signed-cookie session backend (rule E6).
pub const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// The separator between value, timestamp and signature.
const SEP: char = ':';

/// The secrets and clock of the Django 5.2 fixtures, shared by the unit tests of the
/// signing modules and of [`crate::codec`].
#[cfg(test)]
pub(crate) mod fixtures {
    use std::io::Write as _;
    use std::sync::Arc;

    use flate2::write::ZlibEncoder;
    use flate2::Compression;
    use time::macros::datetime;

    use super::{b64_encode, SecretKeys, TimestampSigner, DEFAULT_SALT};
    use crate::clock::ManualClock;

    /// `SECRET_KEY` of the fixtures.
    pub(crate) const SECRET: &str = "shared-fixture-secret-do-not-use-in-production";
    /// `SECRET_KEY_FALLBACKS[0]` of the fixtures.
    pub(crate) const FALLBACK: &str = "shared-fixture-previous-secret";
    /// The signing time of the fixtures (2026-01-01 00:00 UTC), in unix seconds.
    pub(crate) const TS: i64 = 1_767_225_600;

    /// A clock at [`TS`].
    pub(crate) fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)))
    }

    /// The current secret and the fallback.
    pub(crate) fn keys() -> SecretKeys {
        SecretKeys::new(SECRET).with_fallbacks([FALLBACK])
    }

    /// A timestamp signer with [`keys`], [`DEFAULT_SALT`] and [`clock`].
    pub(crate) fn signer() -> TimestampSigner {
        TimestampSigner::new(&keys(), DEFAULT_SALT, clock())
    }

    /// A compressed payload (`.` + base64) of 50 MB of zeros, about 50 KB long:
    /// compressed in chunks, so the test never holds the 50 MB (rule H3).
    #[allow(clippy::unwrap_used)]
    pub(crate) fn zip_bomb_payload() -> String {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..50 {
            encoder.write_all(&chunk).unwrap();
        }
        format!(".{}", b64_encode(encoder.finish().unwrap()))
    }
}
