//! Django's `django.core.signing`, byte for byte (rules F2..F7, H3).
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
//! # Errors
//!
//! Which [`Error`] variant a failure becomes:
//!
//! * [`Error::BadSignature`]: no `:` in the value, a signature that matches no secret,
//!   a timestamp that is not base62 (Django raises `ValueError` there, after the
//!   signature check), and the decoding limits of rule H3 (a value longer than
//!   [`DecodeLimits::max_signed_len`], checked before any HMAC; a payload that
//!   decompresses to more than [`DecodeLimits::max_decompressed_len`]).
//! * [`Error::SignatureExpired`]: verified but older than `max_age` (a kind of bad
//!   signature: [`Error::is_bad_signature`] is true for it).
//! * [`Error::Serialization`]: the signature verified but the payload is not valid
//!   base64, not a valid zlib stream, or not valid for the serializer. As in Django,
//!   these are *not* bad signatures, which is what lets [`SessionCodec::decode`] tell a
//!   tampered value (logged, rule F7) from an undecodable one (silent).
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

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::Duration;

use crate::clock::Clock;
use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::serializer::Serializer;

/// Django's default salt for `signing.dumps` / `signing.loads`.
pub const DEFAULT_SALT: &str = "django.core.signing";
/// Salt of the session codec: `"django.contrib.sessions."` + `"SessionStore"`, the
/// qualified name of every built-in store class (rule F6).
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";
/// Salt of the signed-cookie session backend (rule E6).
pub const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// The separator between value, timestamp and signature.
const SEP: char = ':';
/// Django's base62 alphabet (rule F4).
const BASE62_ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Length of an unpadded base64 HMAC-SHA256 (32 bytes).
const SIG_LEN: usize = 43;
/// Room for a base62 timestamp (6 characters until the year 3769).
const TIMESTAMP_RESERVE: usize = 6;

/// Url-safe base64: no padding written; on decode any trailing padding is stripped
/// first, and non-zero trailing bits are accepted as Python does (rule F2).
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

type HmacSha256 = Hmac<Sha256>;

// ---------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------

/// Url-safe base64 without `=` padding (Django's `b64_encode`, rule F2).
///
/// ```
/// assert_eq!(session_api::signing::b64_encode(b"\xfb\xff"), "-_8");
/// ```
pub fn b64_encode(bytes: impl AsRef<[u8]>) -> String {
    B64.encode(bytes)
}

/// Url-safe base64 decoding that accepts missing padding (Django's `b64_decode`, which
/// re-pads, rule F2).
///
/// Stricter than Python: characters outside `A-Za-z0-9-_` are an error rather than
/// skipped. Trailing `=` are ignored whatever their number.
///
/// # Errors
///
/// [`Error::Serialization`] for invalid base64 (as in Django, a decoding failure is not
/// a bad signature).
///
/// ```
/// use session_api::signing::b64_decode;
/// assert_eq!(b64_decode("ImhlbGxvIg").unwrap(), b"\"hello\"");
/// assert_eq!(b64_decode("ImhlbGxvIg==").unwrap(), b"\"hello\"");
/// assert!(b64_decode("a").is_err());
/// ```
pub fn b64_decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>> {
    let text = text.as_ref();
    let end = text
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |last| last + 1);
    B64.decode(&text[..end])
        .map_err(|e| Error::serialization(format!("invalid base64: {e}")))
}

/// Base62 with Django's alphabet `0-9A-Za-z` and a `-` prefix for negatives (Django's
/// `b62_encode`, rule F4).
///
/// ```
/// use session_api::signing::b62_encode;
/// assert_eq!(b62_encode(1767225600), "1vb66i");
/// assert_eq!(b62_encode(-61), "-z");
/// assert_eq!(b62_encode(0), "0");
/// ```
pub fn b62_encode(value: i64) -> String {
    if value == 0 {
        return "0".to_owned();
    }
    let mut magnitude = value.unsigned_abs();
    // u64::MAX has 11 base62 digits, plus the sign.
    let mut buf = [0u8; 12];
    let mut start = buf.len();
    while magnitude > 0 {
        start -= 1;
        // The remainder is below 62, so the cast and the index cannot fail.
        buf[start] = BASE62_ALPHABET[(magnitude % 62) as usize];
        magnitude /= 62;
    }
    if value < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    buf[start..].iter().map(|&b| char::from(b)).collect()
}

/// Base62 decoding (Django's `b62_decode`, rule F4).
///
/// Like Django, `"-"` alone decodes to 0 and leading zeros are allowed.
///
/// # Errors
///
/// [`Error::BadSignature`] for an empty string, a character outside the alphabet, or a
/// value outside `i64` (checked arithmetic, never a panic).
///
/// ```
/// use session_api::signing::b62_decode;
/// assert_eq!(b62_decode("1vb66i").unwrap(), 1767225600);
/// assert_eq!(b62_decode("-z").unwrap(), -61);
/// assert!(b62_decode("zzzzzzzzzzzzzzzz").is_err());
/// ```
pub fn b62_decode(text: &str) -> Result<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if text.is_empty() {
        return Err(Error::BadSignature {
            reason: "empty base62 timestamp",
        });
    }
    let mut magnitude: u64 = 0;
    for byte in digits.bytes() {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'A'..=b'Z' => byte - b'A' + 10,
            b'a'..=b'z' => byte - b'a' + 36,
            _ => {
                return Err(Error::BadSignature {
                    reason: "invalid base62 timestamp",
                })
            }
        };
        magnitude = magnitude
            .checked_mul(62)
            .and_then(|m| m.checked_add(u64::from(digit)))
            .ok_or(Error::BadSignature {
                reason: "base62 timestamp out of range",
            })?;
    }
    let signed = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    i64::try_from(signed).map_err(|_| Error::BadSignature {
        reason: "base62 timestamp out of range",
    })
}

// ---------------------------------------------------------------------------------
// Secrets and signers
// ---------------------------------------------------------------------------------

/// The signing secrets: `SECRET_KEY` and `SECRET_KEY_FALLBACKS` (rule F5).
///
/// `Debug` never shows them.
///
/// ```
/// use session_api::signing::SecretKeys;
/// let keys = SecretKeys::new("current").with_fallbacks(["old", "older"]);
/// assert_eq!(keys.fallbacks().count(), 2);
/// assert_eq!(
///     format!("{keys:?}"),
///     "SecretKeys { current: \"<redacted>\", fallbacks: 2 }"
/// );
/// ```
#[derive(Clone)]
pub struct SecretKeys {
    current: Arc<[u8]>,
    fallbacks: Arc<[Arc<[u8]>]>,
}

impl SecretKeys {
    /// The current secret (`SECRET_KEY`), no fallbacks.
    pub fn new(current: impl Into<Vec<u8>>) -> Self {
        SecretKeys {
            current: current.into().into(),
            fallbacks: Arc::new([]),
        }
    }

    /// Replaces the fallbacks (`SECRET_KEY_FALLBACKS`): accepted when verifying, in
    /// this order after the current secret, never used to sign.
    #[must_use]
    pub fn with_fallbacks<I, K>(mut self, fallbacks: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<Vec<u8>>,
    {
        self.fallbacks = fallbacks
            .into_iter()
            .map(|k| Arc::<[u8]>::from(k.into()))
            .collect();
        self
    }

    /// The current secret.
    pub fn current(&self) -> &[u8] {
        &self.current
    }

    /// The fallback secrets, in order.
    pub fn fallbacks(&self) -> impl Iterator<Item = &[u8]> {
        self.fallbacks.iter().map(|k| &**k)
    }
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKeys")
            .field("current", &"<redacted>")
            .field("fallbacks", &self.fallbacks.len())
            .finish()
    }
}

/// Django's `Signer` with the default `sha256` algorithm and `:` separator.
///
/// The keyed HMAC state of every secret is computed once in [`Signer::new`] and cloned
/// per signature, so signing costs one HMAC and no key derivation.
///
/// ```
/// use session_api::signing::{SecretKeys, Signer};
/// let signer = Signer::new(&SecretKeys::new("secret"), "my.salt");
/// let signed = signer.sign("hello");
/// assert_eq!(signer.unsign(&signed).unwrap(), "hello");
/// assert!(signer.unsign("hello:nope").is_err());
/// ```
#[derive(Clone)]
pub struct Signer {
    salt: Arc<str>,
    /// Keyed with the current secret: signs and verifies.
    current: HmacSha256,
    /// Keyed with the fallback secrets: only verify.
    fallbacks: Arc<[HmacSha256]>,
}

impl Signer {
    /// A signer for `salt`: the HMAC key of each secret is
    /// `SHA256(salt + "signer" + secret)` (Django's `salted_hmac`, rule F4).
    pub fn new(keys: &SecretKeys, salt: &str) -> Self {
        Signer {
            salt: salt.into(),
            current: keyed_mac(salt, keys.current()),
            fallbacks: keys
                .fallbacks()
                .map(|secret| keyed_mac(salt, secret))
                .collect(),
        }
    }

    /// The salt this signer was built with.
    pub fn salt(&self) -> &str {
        &self.salt
    }

    /// The signature of `value` with the current secret: url-safe base64 (no padding)
    /// of the HMAC-SHA256.
    pub fn signature(&self, value: &str) -> String {
        let mut buf = [0u8; SIG_LEN];
        signature_into(&self.current, value, &mut buf)
            .iter()
            .map(|&b| char::from(b))
            .collect()
    }

    /// `value + ":" + signature(value)`.
    pub fn sign(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 1 + SIG_LEN);
        out.push_str(value);
        self.append_signature(out)
    }

    /// Appends `":" + signature(value)` to `value` without another allocation (when
    /// the capacity allows).
    fn append_signature(&self, mut value: String) -> String {
        let mut buf = [0u8; SIG_LEN];
        let sig = signature_into(&self.current, &value, &mut buf);
        value.reserve(1 + sig.len());
        value.push(SEP);
        value.extend(sig.iter().map(|&b| char::from(b)));
        value
    }

    /// Verifies `signed` and returns the value before the last `:` (rule F5).
    ///
    /// The signature is compared in constant time against the current secret's, then
    /// each fallback's.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] when there is no `:` or no secret matches.
    pub fn unsign<'a>(&self, signed: &'a str) -> Result<&'a str> {
        let (value, sig) = signed.rsplit_once(SEP).ok_or(Error::BadSignature {
            reason: "no \":\" found in value",
        })?;
        let mut buf = [0u8; SIG_LEN];
        for mac in std::iter::once(&self.current).chain(self.fallbacks.iter()) {
            let expected = signature_into(mac, value, &mut buf);
            // Slices of different lengths compare unequal (the length is not secret).
            if bool::from(expected.ct_eq(sig.as_bytes())) {
                return Ok(value);
            }
        }
        Err(Error::BadSignature {
            reason: "signature does not match",
        })
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("salt", &self.salt)
            .field("fallbacks", &self.fallbacks.len())
            .finish()
    }
}

/// HMAC-SHA256 keyed with `SHA256(salt + "signer" + secret)`.
fn keyed_mac(salt: &str, secret: &[u8]) -> HmacSha256 {
    let derived = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(b"signer")
        .chain_update(secret)
        .finalize();
    // HMAC pads a key shorter than the block size (64 bytes) with zeros, so the
    // 32-byte derived key zero-padded to a block is the same key; this avoids the
    // fallible `new_from_slice`.
    let mut block = hmac::digest::Key::<HmacSha256>::default();
    block[..derived.len()].copy_from_slice(&derived);
    <HmacSha256 as KeyInit>::new(&block)
}

/// Writes the base64 signature of `value` into `buf` and returns it.
fn signature_into<'b>(mac: &HmacSha256, value: &str, buf: &'b mut [u8; SIG_LEN]) -> &'b [u8] {
    let mut mac = mac.clone();
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let written = B64.encode_slice(digest, &mut buf[..]).unwrap_or(0);
    &buf[..written]
}

/// Bounds on what decoding will accept (rule H3).
///
/// ```
/// use session_api::signing::DecodeLimits;
/// let limits = DecodeLimits::default();
/// assert_eq!(limits.max_signed_len, 4 << 20);
/// assert_eq!(limits.max_decompressed_len, 16 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest signed string accepted, in bytes; longer input is rejected before any
    /// HMAC is computed. Default 4 MiB.
    pub max_signed_len: usize,
    /// Largest decompressed payload, in bytes; decompression stops one byte past it.
    /// Default 16 MiB.
    pub max_decompressed_len: usize,
}

impl DecodeLimits {
    /// Default [`DecodeLimits::max_signed_len`]: 4 MiB.
    pub const DEFAULT_MAX_SIGNED_LEN: usize = 4 << 20;
    /// Default [`DecodeLimits::max_decompressed_len`]: 16 MiB.
    pub const DEFAULT_MAX_DECOMPRESSED_LEN: usize = 16 << 20;
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_signed_len: Self::DEFAULT_MAX_SIGNED_LEN,
            max_decompressed_len: Self::DEFAULT_MAX_DECOMPRESSED_LEN,
        }
    }
}

/// Django's `TimestampSigner`: signs `value:base62(now)` (rules F4, F5), and the
/// object layer `sign_object` / `unsign_object` (rules F2, F3), with bounded decoding
/// (rule H3).
///
/// Build it once per store: construction derives the keys, signing does not.
#[derive(Clone, Debug)]
pub struct TimestampSigner {
    signer: Signer,
    clock: Arc<dyn Clock>,
    limits: DecodeLimits,
}

impl TimestampSigner {
    /// A timestamp signer for `salt`, reading the time from `clock`, with the default
    /// [`DecodeLimits`].
    pub fn new(keys: &SecretKeys, salt: &str, clock: Arc<dyn Clock>) -> Self {
        TimestampSigner {
            signer: Signer::new(keys, salt),
            clock,
            limits: DecodeLimits::default(),
        }
    }

    /// Replaces the decoding limits.
    #[must_use]
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The decoding limits.
    pub fn limits(&self) -> DecodeLimits {
        self.limits
    }

    /// The underlying plain signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The current time as Django writes it: base62 of the unix seconds.
    ///
    /// Like Python's `int(time.time())`, the seconds are truncated toward zero (this
    /// only differs from flooring before 1970).
    pub fn timestamp(&self) -> String {
        let now = self.clock.now();
        let mut secs = now.unix_timestamp();
        if secs < 0 && now.nanosecond() > 0 {
            secs += 1;
        }
        b62_encode(secs)
    }

    /// `value + ":" + timestamp`, then signed (rule F4).
    pub fn sign(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 2 + TIMESTAMP_RESERVE + SIG_LEN);
        out.push_str(value);
        self.sign_owned(out)
    }

    /// [`TimestampSigner::sign`] on an owned buffer: appends the timestamp and the
    /// signature in place.
    fn sign_owned(&self, mut value: String) -> String {
        value.push(SEP);
        value.push_str(&self.timestamp());
        self.signer.append_signature(value)
    }

    /// Verifies `signed`, then splits the timestamp off and, with `max_age`, checks the
    /// age against the clock (rule F5). Returns the value.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignature`] for input over [`DecodeLimits::max_signed_len`] (before
    /// any HMAC), a signature that matches no secret, or a missing or malformed
    /// timestamp; [`Error::SignatureExpired`] when `now - timestamp > max_age`.
    pub fn unsign<'a>(&self, signed: &'a str, max_age: Option<Duration>) -> Result<&'a str> {
        if signed.len() > self.limits.max_signed_len {
            return Err(Error::BadSignature {
                reason: "signed value too long",
            });
        }
        let stamped = self.signer.unsign(signed)?;
        let (value, timestamp) = stamped.rsplit_once(SEP).ok_or(Error::BadSignature {
            reason: "no timestamp found in value",
        })?;
        let timestamp = b62_decode(timestamp)?;
        if let Some(max_age) = max_age {
            // Nanoseconds in i128: no overflow for any i64 timestamp.
            let age =
                self.clock.now().unix_timestamp_nanos() - i128::from(timestamp) * 1_000_000_000;
            if age > max_age.whole_nanoseconds() {
                let age_secs = age.div_euclid(1_000_000_000);
                return Err(Error::SignatureExpired {
                    age: i64::try_from(age_secs).unwrap_or(i64::MAX),
                    max_age: max_age.whole_seconds(),
                });
            }
        }
        Ok(value)
    }

    /// Django's `sign_object`: serialize, optionally compress (rule F3), base64
    /// (rule F2), sign with a timestamp.
    ///
    /// With `compress`, zlib at the default level is used only when it saves more than
    /// one byte, and then the base64 text gets a leading `.`.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the serializer fails.
    pub fn sign_object(
        &self,
        obj: &dyn erased_serde::Serialize,
        serializer: &dyn Serializer,
        compress: bool,
    ) -> Result<String> {
        let data = serializer.dumps(obj)?;
        let compressed = if compress {
            Some(zlib_compress(&data)?).filter(|c| c.len() < data.len().saturating_sub(1))
        } else {
            None
        };
        let bytes = compressed.as_deref().unwrap_or(&data);
        // One buffer for the whole signed string: "." + base64 + ":" + ts + ":" + sig.
        let mut out =
            String::with_capacity(bytes.len().div_ceil(3) * 4 + 3 + TIMESTAMP_RESERVE + SIG_LEN);
        if compressed.is_some() {
            out.push('.');
        }
        B64.encode_string(bytes, &mut out);
        Ok(self.sign_owned(out))
    }

    /// Django's `unsign_object`: verify (and check `max_age`), strip a leading `.` and
    /// decompress, base64-decode, deserialize.
    ///
    /// # Errors
    ///
    /// As [`TimestampSigner::unsign`]; then [`Error::BadSignature`] when the payload
    /// decompresses to more than [`DecodeLimits::max_decompressed_len`], and
    /// [`Error::Serialization`] for invalid base64, zlib or serializer input (see the
    /// module docs).
    pub fn unsign_object(
        &self,
        signed: &str,
        serializer: &dyn Serializer,
        max_age: Option<Duration>,
    ) -> Result<Value> {
        let payload = self.unsign(signed, max_age)?;
        match payload.strip_prefix('.') {
            Some(compressed) => {
                let compressed = b64_decode(compressed)?;
                let data = zlib_decompress(&compressed, self.limits.max_decompressed_len)?;
                serializer.loads(&data)
            }
            None => serializer.loads(&b64_decode(payload)?),
        }
    }
}

/// zlib at the default level (6), as Python's `zlib.compress(data)`.
fn zlib_compress(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 16),
        Compression::default(),
    );
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|e| Error::serialization(format!("zlib compression failed: {e}")))
}

/// Decompresses at most `limit` bytes; more is a bad signature (rule H3). Data after
/// the end of the zlib stream is ignored, as Python's `zlib.decompress` does.
fn zlib_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit).min(64 << 10));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    ZlibDecoder::new(data)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| Error::serialization(format!("invalid zlib data: {e}")))?;
    if out.len() > limit {
        return Err(Error::BadSignature {
            reason: "decompressed data exceeds the size limit",
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// Django's module-level functions
// ---------------------------------------------------------------------------------

/// Django's `signing.dumps`: a [`TimestampSigner`] for `salt` and
/// [`TimestampSigner::sign_object`].
///
/// Derives the keys on every call; code that signs repeatedly should keep a
/// [`TimestampSigner`].
///
/// # Errors
///
/// [`Error::Serialization`] when the serializer fails.
///
/// ```
/// use std::sync::Arc;
/// use session_api::signing::{dumps, SecretKeys, DEFAULT_SALT};
/// use session_api::{JsonSerializer, ManualClock};
/// let clock = Arc::new(ManualClock::new(time::macros::datetime!(2026-01-01 0:00 UTC)));
/// let keys = SecretKeys::new("shared-fixture-secret-do-not-use-in-production");
/// let signed = dumps(&[1, 2, 3], &keys, DEFAULT_SALT, &JsonSerializer, false, clock).unwrap();
/// assert!(signed.starts_with("WzEsMiwzXQ:1vb66i:"));
/// ```
pub fn dumps(
    obj: &dyn erased_serde::Serialize,
    keys: &SecretKeys,
    salt: &str,
    serializer: &dyn Serializer,
    compress: bool,
    clock: Arc<dyn Clock>,
) -> Result<String> {
    TimestampSigner::new(keys, salt, clock).sign_object(obj, serializer, compress)
}

/// Django's `signing.loads`: a [`TimestampSigner`] for `salt` (default limits) and
/// [`TimestampSigner::unsign_object`].
///
/// # Errors
///
/// As [`TimestampSigner::unsign_object`].
pub fn loads(
    signed: &str,
    keys: &SecretKeys,
    salt: &str,
    serializer: &dyn Serializer,
    max_age: Option<Duration>,
    clock: Arc<dyn Clock>,
) -> Result<Value> {
    TimestampSigner::new(keys, salt, clock).unsign_object(signed, serializer, max_age)
}

// ---------------------------------------------------------------------------------
// The session codec
// ---------------------------------------------------------------------------------

/// The `session_data` codec of the db and file stores (rules F6, F7): signing `dumps`
/// with [`SESSION_SALT`] and compression, and a decode that never fails.
///
/// ```
/// use std::sync::Arc;
/// use session_api::signing::{SecretKeys, SessionCodec};
/// use session_api::{JsonSerializer, SessionData, SystemClock};
/// let codec = SessionCodec::new(&SecretKeys::new("secret"), Arc::new(SystemClock), Arc::new(JsonSerializer));
/// let mut data = SessionData::new();
/// data.set("cart", &[3, 4]).unwrap();
/// let encoded = codec.encode(&data).unwrap();
/// assert_eq!(codec.decode(&encoded), data);
/// assert!(codec.decode("tampered").is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct SessionCodec {
    signer: TimestampSigner,
    serializer: Arc<dyn Serializer>,
}

impl SessionCodec {
    /// A codec with salt [`SESSION_SALT`] and the default [`DecodeLimits`].
    pub fn new(keys: &SecretKeys, clock: Arc<dyn Clock>, serializer: Arc<dyn Serializer>) -> Self {
        SessionCodec {
            signer: TimestampSigner::new(keys, SESSION_SALT, clock),
            serializer,
        }
    }

    /// Replaces the decoding limits (rule H3).
    #[must_use]
    pub fn with_limits(mut self, limits: DecodeLimits) -> Self {
        self.signer = self.signer.with_limits(limits);
        self
    }

    /// The underlying signer.
    pub fn signer(&self) -> &TimestampSigner {
        &self.signer
    }

    /// Django's `SessionBase.encode`: `signing.dumps(data, salt, serializer,
    /// compress=True)` (rule F6).
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`] when the serializer fails.
    pub fn encode(&self, data: &SessionData) -> Result<String> {
        self.signer.sign_object(data, &*self.serializer, true)
    }

    /// Decodes without swallowing errors (for tools such as a `decode` command).
    ///
    /// # Errors
    ///
    /// As [`TimestampSigner::unsign_object`], and [`Error::Serialization`] when the
    /// payload is not a JSON object.
    pub fn try_decode(&self, encoded: &str) -> Result<SessionData> {
        let value = self
            .signer
            .unsign_object(encoded, &*self.serializer, None)?;
        SessionData::from_value(value)
            .ok_or_else(|| Error::serialization("session data is not a JSON object"))
    }

    /// Django's `SessionBase.decode` (rule F7): never fails. A bad signature (including
    /// the limits of rule H3) logs the warning "Session data corrupted" on target
    /// `django.security.SuspiciousSession` and gives an empty session; any other
    /// failure gives an empty session silently.
    pub fn decode(&self, encoded: &str) -> SessionData {
        match self.try_decode(encoded) {
            Ok(data) => data,
            Err(err) => {
                if err.is_bad_signature() {
                    tracing::warn!(target: "django.security.SuspiciousSession", "Session data corrupted");
                }
                SessionData::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::clock::ManualClock;
    use crate::serializer::JsonSerializer;
    use serde_json::json;
    use time::macros::datetime;

    const SECRET: &str = "shared-fixture-secret-do-not-use-in-production";
    const FALLBACK: &str = "shared-fixture-previous-secret";
    const TS: i64 = 1_767_225_600;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(datetime!(2026-01-01 0:00 UTC)))
    }

    fn keys() -> SecretKeys {
        SecretKeys::new(SECRET).with_fallbacks([FALLBACK])
    }

    fn signer() -> TimestampSigner {
        TimestampSigner::new(&keys(), DEFAULT_SALT, clock())
    }

    #[test]
    fn f4_b62_round_trips_and_edges() {
        assert_eq!(b62_encode(TS), "1vb66i");
        assert_eq!(b62_decode("1vb66i").unwrap(), TS);
        for v in [
            0,
            1,
            -1,
            61,
            62,
            -62,
            3843,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(b62_decode(&b62_encode(v)).unwrap(), v, "{v}");
        }
        // Python's values: b62_encode(2**63 - 1) and b62_encode(-2**63).
        assert_eq!(b62_encode(i64::MIN), "-AzL8n0Y58m8");
        assert_eq!(b62_decode("AzL8n0Y58m7").unwrap(), i64::MAX);
        // Django: "-" -> 0, "00" -> 0, "-0" -> 0.
        assert_eq!(b62_decode("-").unwrap(), 0);
        assert_eq!(b62_decode("00").unwrap(), 0);
        assert_eq!(b62_decode("-0").unwrap(), 0);
        assert_eq!(b62_decode("z").unwrap(), 61);
    }

    #[test]
    fn f4_b62_decode_rejects_without_panicking() {
        for bad in [
            "",
            "é",
            "1vb6 6i",
            "+1",
            "--1",
            "AzL8n0Y58m8",
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
            "-AzL8n0Y58m9",
        ] {
            let err = b62_decode(bad).unwrap_err();
            assert!(matches!(err, Error::BadSignature { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn f2_b64_unpadded_and_repadded() {
        assert_eq!(b64_encode(b""), "");
        assert_eq!(b64_encode(b"a"), "YQ");
        assert_eq!(b64_encode(b"\xfb\xff\xfe"), "-__-");
        for text in ["YQ", "YQ=", "YQ==", "YQ====="] {
            assert_eq!(b64_decode(text).unwrap(), b"a", "{text}");
        }
        // Non-zero trailing bits are accepted, as Python does ("YR" -> b"a").
        assert_eq!(b64_decode("YR").unwrap(), b"a");
        assert_eq!(b64_decode("").unwrap(), b"");
        for bad in ["a", "ab!c", "a+b/", "ab=cd", "Y Q", "é"] {
            let err = b64_decode(bad).unwrap_err();
            assert!(matches!(err, Error::Serialization(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn f4_signature_matches_django() {
        // From signing.json: signing.dumps("hello").
        let s = signer();
        assert_eq!(
            s.signer().signature("ImhlbGxvIg:1vb66i"),
            "EW_d7W0P8Wx4ESS9uRS44Gt79L4_R9dn6tBgTT7uT58"
        );
        assert_eq!(
            s.sign("ImhlbGxvIg"),
            "ImhlbGxvIg:1vb66i:EW_d7W0P8Wx4ESS9uRS44Gt79L4_R9dn6tBgTT7uT58"
        );
    }

    #[test]
    fn f5_constant_time_compare_rejects_near_misses() {
        let signer = Signer::new(&keys(), "salt");
        let signed = signer.sign("value");
        assert_eq!(signer.unsign(&signed).unwrap(), "value");
        let (value, sig) = signed.rsplit_once(':').unwrap();
        // Last character flipped, one character short, one extra, empty.
        let mut flipped = sig.to_owned();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        for bad_sig in [
            flipped.as_str(),
            &sig[..sig.len() - 1],
            &format!("{sig}A"),
            "",
        ] {
            let err = signer.unsign(&format!("{value}:{bad_sig}")).unwrap_err();
            assert!(matches!(err, Error::BadSignature { .. }));
        }
        assert!(matches!(
            signer.unsign("no separator").unwrap_err(),
            Error::BadSignature { .. }
        ));
    }

    #[test]
    fn f5_fallback_verifies_current_signs() {
        let old = Signer::new(&SecretKeys::new(FALLBACK), "salt");
        let new = Signer::new(&keys(), "salt");
        let signed_old = old.sign("v");
        assert_eq!(new.unsign(&signed_old).unwrap(), "v");
        let signed_new = new.sign("v");
        assert_ne!(signed_new, signed_old);
        assert_eq!(
            signed_new,
            Signer::new(&SecretKeys::new(SECRET), "salt").sign("v")
        );
        // Without the fallback the old value is rejected.
        assert!(Signer::new(&SecretKeys::new(SECRET), "salt")
            .unsign(&signed_old)
            .is_err());
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let text = format!(
            "{:?} {:?} {:?}",
            keys(),
            signer(),
            Signer::new(&keys(), "s")
        );
        assert!(!text.contains(SECRET) && !text.contains(FALLBACK), "{text}");
    }

    #[test]
    fn h3_oversized_input_rejected_before_hmac() {
        let s = signer().with_limits(DecodeLimits {
            max_signed_len: 64,
            max_decompressed_len: 1024,
        });
        let ok = s.sign_object(&json!("x"), &JsonSerializer, false).unwrap();
        assert!(ok.len() <= 64);
        assert_eq!(s.unsign_object(&ok, &JsonSerializer, None).unwrap(), "x");
        // A correctly signed but too long value is rejected by length alone.
        let long = s
            .sign_object(&json!("x".repeat(100)), &JsonSerializer, false)
            .unwrap();
        assert!(matches!(
            s.unsign_object(&long, &JsonSerializer, None).unwrap_err(),
            Error::BadSignature {
                reason: "signed value too long"
            }
        ));
        // Default: 4 MiB.
        let huge = "a".repeat(DecodeLimits::DEFAULT_MAX_SIGNED_LEN + 1);
        assert!(matches!(
            signer().unsign(&huge, None).unwrap_err(),
            Error::BadSignature {
                reason: "signed value too long"
            }
        ));
    }

    #[test]
    fn h3_decompression_limit_exact_boundary() {
        let data = json!("a".repeat(998)); // 1000 bytes of JSON
        let s = signer().with_limits(DecodeLimits {
            max_signed_len: 1 << 20,
            max_decompressed_len: 1000,
        });
        let signed = s.sign_object(&data, &JsonSerializer, true).unwrap();
        assert!(signed.starts_with('.'));
        assert_eq!(
            s.unsign_object(&signed, &JsonSerializer, None).unwrap(),
            data
        );
        let tight = s.clone().with_limits(DecodeLimits {
            max_signed_len: 1 << 20,
            max_decompressed_len: 999,
        });
        assert!(matches!(
            tight
                .unsign_object(&signed, &JsonSerializer, None)
                .unwrap_err(),
            Error::BadSignature { .. }
        ));
    }

    #[test]
    fn h3_zip_bomb_rejected() {
        // 50 MB of zeros, compressed in chunks (about 50 KB), signed with the right key.
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..50 {
            encoder.write_all(&chunk).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        let s = signer();
        let payload = format!(".{}", b64_encode(&bomb));
        let signed = s.sign(&payload);
        assert!(signed.len() < DecodeLimits::DEFAULT_MAX_SIGNED_LEN);
        let err = s.unsign_object(&signed, &JsonSerializer, None).unwrap_err();
        assert!(matches!(err, Error::BadSignature { .. }), "{err}");
        // The codec treats it as corrupted data.
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let bomb_session = TimestampSigner::new(&keys(), SESSION_SALT, clock()).sign(&payload);
        assert!(codec.decode(&bomb_session).is_empty());
        assert!(codec
            .try_decode(&bomb_session)
            .unwrap_err()
            .is_bad_signature());
    }

    #[test]
    fn zlib_decompress_reads_at_most_limit_plus_one() {
        let compressed = zlib_compress(&[7u8; 10_000]).unwrap();
        assert_eq!(zlib_decompress(&compressed, 10_000).unwrap().len(), 10_000);
        assert!(zlib_decompress(&compressed, 9_999).is_err());
        // Trailing garbage after the stream is ignored (Python does the same).
        let mut trailing = compressed.clone();
        trailing.extend_from_slice(b"garbage");
        assert_eq!(zlib_decompress(&trailing, 10_000).unwrap().len(), 10_000);
        // A truncated or bogus stream is an error, not a panic.
        for bad in [
            &compressed[..compressed.len() - 4],
            b"not zlib".as_slice(),
            b"",
        ] {
            let err = zlib_decompress(bad, 10_000).unwrap_err();
            assert!(matches!(err, Error::Serialization(_)), "{err}");
        }
    }

    #[test]
    fn f3_compression_only_when_it_saves_more_than_one_byte() {
        let s = signer();
        let short = s
            .sign_object(&json!({"a": 1}), &JsonSerializer, true)
            .unwrap();
        assert!(!short.starts_with('.'));
        let long = s
            .sign_object(&json!({"repeat": "ab".repeat(200)}), &JsonSerializer, true)
            .unwrap();
        assert!(long.starts_with(".eJ"));
    }

    #[test]
    fn f5_expiry_uses_the_clock() {
        let c = clock();
        let s = TimestampSigner::new(&keys(), DEFAULT_SALT, c.clone());
        let signed = s.sign("v");
        let max_age = Duration::seconds(60);
        c.advance(Duration::seconds(60));
        assert_eq!(s.unsign(&signed, Some(max_age)).unwrap(), "v");
        c.advance(Duration::milliseconds(1));
        assert!(matches!(
            s.unsign(&signed, Some(max_age)).unwrap_err(),
            Error::SignatureExpired {
                age: 60,
                max_age: 60
            }
        ));
        c.advance(Duration::seconds(1));
        assert!(matches!(
            s.unsign(&signed, Some(max_age)).unwrap_err(),
            Error::SignatureExpired {
                age: 61,
                max_age: 60
            }
        ));
        assert_eq!(s.unsign(&signed, None).unwrap(), "v");
    }

    #[test]
    fn f5_malformed_timestamp_is_bad_signature() {
        let plain = Signer::new(&keys(), DEFAULT_SALT);
        let s = signer();
        for stamped in ["v", "v:", "v:!!", "v:zzzzzzzzzzzzzzzzzzz"] {
            let err = s.unsign(&plain.sign(stamped), None).unwrap_err();
            assert!(
                matches!(err, Error::BadSignature { .. }),
                "{stamped}: {err}"
            );
        }
    }

    #[test]
    fn f7_codec_decode_failure_modes() {
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let ts = TimestampSigner::new(&keys(), SESSION_SALT, clock());
        // Verified but not base64 / not zlib / not JSON / not an object: silent, not bad
        // signatures.
        for payload in ["!!!", ".eJzz", "bm90IGpzb24", "WzEsMl0"] {
            let signed = ts.sign(payload);
            let err = codec.try_decode(&signed).unwrap_err();
            assert!(matches!(err, Error::Serialization(_)), "{payload}: {err}");
            assert!(codec.decode(&signed).is_empty());
        }
        // Wrong salt: a bad signature.
        let other = TimestampSigner::new(&keys(), DEFAULT_SALT, clock())
            .sign_object(&json!({"a": 1}), &JsonSerializer, true)
            .unwrap();
        assert!(codec.try_decode(&other).unwrap_err().is_bad_signature());
        assert!(codec.decode(&other).is_empty());
    }

    /// Records the target and message of every event.
    #[derive(Default, Clone)]
    struct Capture(Arc<std::sync::Mutex<Vec<(String, String)>>>);

    struct MessageVisitor(String);

    impl tracing::field::Visit for MessageVisitor {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut visitor = MessageVisitor(String::new());
            event.record(&mut visitor);
            let target = event.metadata().target().to_owned();
            self.0.lock().unwrap().push((target, visitor.0));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    fn logged(f: impl FnOnce()) -> Vec<(String, String)> {
        let capture = Capture::default();
        tracing::subscriber::with_default(capture.clone(), f);
        let events = capture.0.lock().unwrap().clone();
        events
    }

    #[test]
    fn f7_bad_signature_logs_warning_other_failures_are_silent() {
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let events = logged(|| {
            assert!(codec.decode("tampered:value").is_empty());
        });
        assert_eq!(
            events,
            [(
                "django.security.SuspiciousSession".to_owned(),
                "Session data corrupted".to_owned()
            )]
        );
        let not_json = TimestampSigner::new(&keys(), SESSION_SALT, clock()).sign("bm90IGpzb24");
        let events = logged(|| {
            assert!(codec.decode(&not_json).is_empty());
        });
        assert!(events.is_empty(), "{events:?}");
        let good = codec
            .encode(&SessionData::from_value(json!({"a": 1})).unwrap())
            .unwrap();
        assert!(logged(|| assert_eq!(codec.decode(&good).len(), 1)).is_empty());
    }

    #[test]
    fn f6_codec_round_trip() {
        let codec = SessionCodec::new(&keys(), clock(), Arc::new(JsonSerializer));
        let data = SessionData::from_value(json!({"a": 1})).unwrap();
        let encoded = codec.encode(&data).unwrap();
        // From signing.json (session encode of {"a": 1}).
        assert_eq!(
            encoded,
            "eyJhIjoxfQ:1vb66i:0KgQxR-DD_SdAOrlJq1XOqtBamL_9pT69c0rmJwQeIM"
        );
        assert_eq!(codec.decode(&encoded), data);
    }
}
