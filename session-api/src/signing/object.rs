//! The object layer: serialize, compress, encode and sign a value, and the reverse
//! (Django's `sign_object` / `unsign_object`, `dumps` / `loads`, rules F1..F3), with
//! the decoding bounds of rule H3.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use time::Duration;

use super::encoding::{b64_decode, zlib_compress_if_shorter, zlib_decompress, B64};
use super::signer::{SecretKeys, TimestampSigner, SIG_LEN, TIMESTAMP_RESERVE};
use crate::clock::Clock;
use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::serializer::Serializer;

/// Bounds on what decoding will accept (rule H3), and so on what a save may write:
/// [`TimestampSigner::sign_object_bounded`] and
/// [`SessionCodec::encode`](crate::codec::SessionCodec::encode) refuse a value that
/// these limits would refuse on load ([`Error::SessionTooLarge`](crate::Error::SessionTooLarge)).
///
/// The defaults bound the JSON a load parses to 1 MiB, whatever the compression: a
/// parse into [`serde_json::Value`] costs up to about 35 times the text in memory, so
/// the 16 MiB allowed before cost over 600 MB for 22 KB of validly signed input. The
/// signed length covers the largest payload written uncompressed (base64 plus the
/// timestamp and signature), so the two limits agree.
///
/// ```
/// use session_api::signing::DecodeLimits;
/// let limits = DecodeLimits::default();
/// assert_eq!(limits.max_signed_len, 1_572_864);
/// assert_eq!(limits.max_decompressed_len, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Longest signed string accepted, in bytes; longer input is rejected before any
    /// HMAC is computed. Default 1.5 MiB.
    pub max_signed_len: usize,
    /// Largest serialized payload, in bytes, compressed or not: decompression stops
    /// one byte past it, and a plain payload over it is refused too. Default 1 MiB.
    pub max_decompressed_len: usize,
}

impl DecodeLimits {
    /// Default [`DecodeLimits::max_signed_len`]: 1.5 MiB, room for the base64 of a
    /// [`DEFAULT_MAX_DECOMPRESSED_LEN`](Self::DEFAULT_MAX_DECOMPRESSED_LEN) payload
    /// (1,398,102 bytes) plus the timestamp and signature.
    pub const DEFAULT_MAX_SIGNED_LEN: usize = 3 << 19;
    /// Default [`DecodeLimits::max_decompressed_len`]: 1 MiB.
    pub const DEFAULT_MAX_DECOMPRESSED_LEN: usize = 1 << 20;
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
    /// one byte, and then the base64 text gets a leading `.`. No size limit applies, as
    /// in Django; stores use [`sign_object_bounded`](Self::sign_object_bounded).
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
        self.sign_serialized(&data, compress)
    }

    /// [`sign_object`](Self::sign_object), refusing a payload that
    /// [`unsign_object`](Self::unsign_object) with these limits would refuse: the
    /// serialized data over [`DecodeLimits::max_decompressed_len`]. Nothing is
    /// compressed or signed then. The caller checks the signed length against its
    /// container (the codec against [`DecodeLimits::max_signed_len`], the signed-cookie
    /// store against the browser's limit).
    ///
    /// # Errors
    ///
    /// [`Error::SessionTooLarge`](crate::Error::SessionTooLarge) for a payload over the
    /// limit; [`Error::Serialization`](crate::Error::Serialization) when the serializer
    /// fails.
    pub fn sign_object_bounded(
        &self,
        obj: &dyn erased_serde::Serialize,
        serializer: &dyn Serializer,
        compress: bool,
    ) -> Result<String> {
        self.sign_bounded(&serializer.dumps(obj)?, compress)
    }

    /// [`sign_object_bounded`](Self::sign_object_bounded) for the session dict, through
    /// [`Serializer::dumps_session`]: what the session codec and the signed-cookie
    /// store sign.
    ///
    /// # Errors
    ///
    /// As [`sign_object_bounded`](Self::sign_object_bounded).
    pub fn sign_session_bounded(
        &self,
        data: &SessionData,
        serializer: &dyn Serializer,
        compress: bool,
    ) -> Result<String> {
        self.sign_bounded(&serializer.dumps_session(data)?, compress)
    }

    /// Refuses serialized data over the decoding limit, else signs it.
    fn sign_bounded(&self, data: &[u8], compress: bool) -> Result<String> {
        let limit = self.limits().max_decompressed_len;
        if data.len() > limit {
            return Err(Error::SessionTooLarge {
                size: data.len(),
                limit,
            });
        }
        self.sign_serialized(data, compress)
    }

    /// Compresses (if it pays), encodes and signs serialized bytes.
    fn sign_serialized(&self, data: &[u8], compress: bool) -> Result<String> {
        let compressed = if compress {
            zlib_compress_if_shorter(data)?
        } else {
            None
        };
        let bytes = compressed.as_deref().unwrap_or(data);
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
    /// [`Error::BadSignature`](crate::Error::BadSignature) when the payload, compressed
    /// or not, decodes to more than [`DecodeLimits::max_decompressed_len`], and
    /// [`Error::Serialization`](crate::Error::Serialization) for invalid base64, zlib or
    /// serializer input (see the [`signing`](crate::signing) module docs).
    pub fn unsign_object(
        &self,
        signed: &str,
        serializer: &dyn Serializer,
        max_age: Option<Duration>,
    ) -> Result<Value> {
        let payload = self.unsign(signed, max_age)?;
        let limit = self.limits().max_decompressed_len;
        let data = match payload.strip_prefix('.') {
            Some(compressed) => zlib_decompress(&b64_decode(compressed)?, limit)?,
            None => b64_decode(payload)?,
        };
        if data.len() > limit {
            return Err(Error::BadSignature {
                reason: "decoded data exceeds the size limit",
            });
        }
        serializer.loads(&data)
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
        // The default limit.
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
    fn h3_bounded_signing_refuses_what_loading_refuses() {
        let limits = DecodeLimits {
            max_signed_len: 1 << 20,
            max_decompressed_len: 1000,
        };
        let s = signer().with_limits(limits);
        let at = json!("a".repeat(998)); // 1000 bytes of JSON
        for compress in [true, false] {
            let signed = s
                .sign_object_bounded(&at, &JsonSerializer, compress)
                .unwrap();
            assert_eq!(s.unsign_object(&signed, &JsonSerializer, None).unwrap(), at);
        }
        let over = json!("a".repeat(999));
        for compress in [true, false] {
            assert!(matches!(
                s.sign_object_bounded(&over, &JsonSerializer, compress),
                Err(Error::SessionTooLarge {
                    size: 1001,
                    limit: 1000
                })
            ));
            // What the unbounded Django signing writes is refused on load, compressed
            // or not.
            let signed = s.sign_object(&over, &JsonSerializer, compress).unwrap();
            assert!(s
                .unsign_object(&signed, &JsonSerializer, None)
                .unwrap_err()
                .is_bad_signature());
        }
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
