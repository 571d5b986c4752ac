//! The key ring and the signers: [`SecretKeys`] (rule F5), [`Signer`] (Django's
//! `salted_hmac` with a constant-time compare, rule F4) and [`TimestampSigner`] (the
//! timestamp and `max_age`, rules F4, F5). The object layer of [`TimestampSigner`]
//! (`sign_object` / `unsign_object`) is in the sibling `object` module.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::Duration;

use super::encoding::{b62_decode, b62_digits, b62_encode, B62_MAX_LEN, B64};
use super::object::DecodeLimits;
use super::SEP;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// Length of an unpadded base64 HMAC-SHA256 (32 bytes).
pub(super) const SIG_LEN: usize = 43;
/// Room for a base62 timestamp (6 characters until the year 3769).
pub(super) const TIMESTAMP_RESERVE: usize = 6;

type HmacSha256 = Hmac<Sha256>;

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

    /// Checks every secret, the fallbacks included (rule G6).
    ///
    /// A secret that is empty or shorter than [`MIN_SECRET_LEN`] bytes is an error:
    /// with an empty fallback anyone can sign a session. A secret that is allowed but
    /// weak logs a warning like Django's `security.W025` check: fewer than
    /// [`W025_MIN_LEN`] bytes, fewer than [`W025_MIN_UNIQUE`] distinct bytes, or the
    /// `django-insecure-` prefix of Django's generated development keys. Neither the
    /// error nor the warning shows the secret. Called by
    /// [`SessionConfigBuilder::build`](crate::config::SessionConfigBuilder::build).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] naming the first bad secret (`SECRET_KEY` or
    /// `SECRET_KEY_FALLBACKS[i]`).
    ///
    /// ```
    /// use session_api::signing::SecretKeys;
    /// let strong = "k7Qz9vX2mP4wR8tY1nB6cJ3hL5sD0fG-k7Qz9vX2mP4wR8tY1n";
    /// assert!(SecretKeys::new(strong).validate().is_ok());
    /// assert!(SecretKeys::new(strong).with_fallbacks([""]).validate().is_err());
    /// assert!(SecretKeys::new("short").validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        for (name, secret) in self.named() {
            if secret.len() < MIN_SECRET_LEN {
                let what = if secret.is_empty() {
                    "is empty".to_owned()
                } else {
                    format!("is {} bytes long", secret.len())
                };
                return Err(Error::configuration(format!(
                    "{name} {what}: secrets must be at least {MIN_SECRET_LEN} bytes \
                     (Django recommends 50 random characters)"
                )));
            }
        }
        for (name, secret) in self.named() {
            let mut seen = [false; 256];
            for &b in secret {
                seen[usize::from(b)] = true;
            }
            let unique = seen.iter().filter(|&&s| s).count();
            if secret.len() < W025_MIN_LEN
                || unique < W025_MIN_UNIQUE
                || secret.starts_with(W025_INSECURE_PREFIX.as_bytes())
            {
                tracing::warn!(
                    "security.W025: {name} has fewer than {W025_MIN_LEN} characters or \
                     fewer than {W025_MIN_UNIQUE} unique characters, or is prefixed with \
                     '{W025_INSECURE_PREFIX}' ({} bytes, {unique} unique): generate a long \
                     random secret",
                    secret.len()
                );
            }
        }
        Ok(())
    }

    /// Each secret with its Django setting name.
    fn named(&self) -> impl Iterator<Item = (String, &[u8])> {
        std::iter::once(("SECRET_KEY".to_owned(), self.current())).chain(
            self.fallbacks()
                .enumerate()
                .map(|(i, secret)| (format!("SECRET_KEY_FALLBACKS[{i}]"), secret)),
        )
    }
}

/// The shortest secret [`SecretKeys::validate`] accepts, in bytes. Django has no hard
/// minimum (only the `security.W025` warning); 8 bytes refuses the empty and
/// one-character secrets a typo produces while keeping short test secrets usable.
pub const MIN_SECRET_LEN: usize = 8;
/// Django's `SECRET_KEY_MIN_LENGTH`: shorter secrets get the `security.W025` warning.
pub const W025_MIN_LEN: usize = 50;
/// Django's `SECRET_KEY_MIN_UNIQUE_CHARACTERS`: secrets with fewer distinct
/// characters get the `security.W025` warning.
pub const W025_MIN_UNIQUE: usize = 5;
/// Django's `SECRET_KEY_INSECURE_PREFIX`, the prefix of `startproject`'s keys.
const W025_INSECURE_PREFIX: &str = "django-insecure-";

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
        b62_encode(self.unix_seconds())
    }

    /// `int(time.time())`.
    fn unix_seconds(&self) -> i64 {
        let now = self.clock.now();
        let secs = now.unix_timestamp();
        if secs < 0 && now.nanosecond() > 0 {
            secs + 1
        } else {
            secs
        }
    }

    /// `value + ":" + timestamp`, then signed (rule F4).
    pub fn sign(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 2 + TIMESTAMP_RESERVE + SIG_LEN);
        out.push_str(value);
        self.sign_owned(out)
    }

    /// [`TimestampSigner::sign`] on an owned buffer: appends the timestamp and the
    /// signature in place.
    pub(super) fn sign_owned(&self, mut value: String) -> String {
        value.push(SEP);
        value.push_str(b62_digits(self.unix_seconds(), &mut [0u8; B62_MAX_LEN]));
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::signing::fixtures::{clock, keys, signer, FALLBACK, SECRET};
    use crate::signing::DEFAULT_SALT;

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
}
