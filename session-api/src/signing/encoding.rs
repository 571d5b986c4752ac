//! The encodings of a signed value: url-safe base64 (rule F2), base62 timestamps
//! (rule F4) and the zlib framing of compressed payloads (rules F3, H3).

use std::io::{Read, Write};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use crate::error::{Error, Result};

/// Django's base62 alphabet (rule F4).
const BASE62_ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Url-safe base64: no padding written; on decode any trailing padding is stripped
/// first, and non-zero trailing bits are accepted as Python does (rule F2).
pub(super) const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

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

/// zlib at the default level (6), as Python's `zlib.compress(data)` (rule F3).
pub(super) fn zlib_compress(data: &[u8]) -> Result<Vec<u8>> {
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
pub(super) fn zlib_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::signing::fixtures::TS;

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
}
