//! The object layer: serialize, compress, encode and sign a value, and the reverse
//! (Django's `sign_object` / `unsign_object`, `dumps` / `loads`, rules F1..F3), with
//! the decoding bounds of rule H3.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use time::Duration;

use super::encoding::{b64_decode, zlib_compress, zlib_decompress, B64};
use super::signer::{SecretKeys, TimestampSigner, SIG_LEN, TIMESTAMP_RESERVE};
use crate::clock::Clock;
use crate::error::Result;
use crate::serializer::Serializer;

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

impl TimestampSigner {
    /// Django's `sign_object`: serialize, optionally compress (rule F3), base64
    /// (rule F2), sign with a timestamp.
    ///
    /// With `compress`, zlib at the default level is used only when it saves more than
    /// one byte, and then the base64 text gets a leading `.`.
    ///
    /// # Errors
    ///
    /// [`Error::Serialization`](crate::Error::Serialization) when the serializer fails.
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
    /// As [`TimestampSigner::unsign`]; then
    /// [`Error::BadSignature`](crate::Error::BadSignature) when the payload decompresses
    /// to more than [`DecodeLimits::max_decompressed_len`], and
    /// [`Error::Serialization`](crate::Error::Serialization) for invalid base64, zlib or
    /// serializer input (see the [`signing`](crate::signing) module docs).
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
                let data = zlib_decompress(&compressed, self.limits().max_decompressed_len)?;
                serializer.loads(&data)
            }
            None => serializer.loads(&b64_decode(payload)?),
        }
    }
}

/// Django's `signing.dumps`: a [`TimestampSigner`] for `salt` and
/// [`TimestampSigner::sign_object`].
///
/// Derives the keys on every call; code that signs repeatedly should keep a
/// [`TimestampSigner`].
///
/// # Errors
///
/// [`Error::Serialization`](crate::Error::Serialization) when the serializer fails.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::error::Error;
    use crate::serializer::JsonSerializer;
    use crate::signing::fixtures::{signer, zip_bomb_payload};

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
        // Signed with the right key: only the decompression limit stops it.
        let s = signer();
        let signed = s.sign(&zip_bomb_payload());
        assert!(signed.len() < DecodeLimits::DEFAULT_MAX_SIGNED_LEN);
        let err = s.unsign_object(&signed, &JsonSerializer, None).unwrap_err();
        assert!(matches!(err, Error::BadSignature { .. }), "{err}");
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
}
