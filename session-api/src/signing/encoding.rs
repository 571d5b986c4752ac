//! The encodings of a signed value: url-safe base64 (rule F2), base62 timestamps
//! (rule F4) and the zlib framing of compressed payloads (rules F3, H3).

use std::sync::{Mutex, PoisonError};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

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
    let mut buf = [0u8; B62_MAX_LEN];
    b62_digits(value, &mut buf).to_owned()
}

/// Room for any `i64` in base62: 11 digits and the sign.
pub(super) const B62_MAX_LEN: usize = 12;

/// [`b62_encode`] into a stack buffer (the signer appends it without allocating).
pub(super) fn b62_digits(value: i64, buf: &mut [u8; B62_MAX_LEN]) -> &str {
    let mut magnitude = value.unsigned_abs();
    let mut start = buf.len();
    loop {
        start -= 1;
        // The remainder is below 62, so the cast and the index cannot fail.
        buf[start] = BASE62_ALPHABET[(magnitude % 62) as usize];
        magnitude /= 62;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    // Only alphabet characters and '-' were written.
    std::str::from_utf8(&buf[start..]).unwrap_or("0")
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

/// Deflate and inflate states kept for reuse: setting one up (for deflate at level 6,
/// about 270 KiB, partly zeroed) costs more than compressing a session, so no request
/// sets up a zlib stream. A reset state behaves as a fresh one (zlib's
/// `deflateReset` / `inflateReset`), so the bytes do not change.
struct Pool<T> {
    idle: Mutex<Vec<T>>,
}

/// States kept per kind: enough for one per core on common servers; more concurrent
/// encodes set up and drop their own.
const POOL_MAX: usize = 16;

impl<T> Pool<T> {
    const fn new() -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Option<T> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn put(&self, state: T) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < POOL_MAX {
            idle.push(state);
        }
    }
}

static DEFLATE: Pool<Compress> = Pool::new();
static INFLATE: Pool<Decompress> = Pool::new();

/// The shortest input zlib could shrink by more than one byte. A deflate stream of two
/// or more bytes takes at least 4 bytes: in the shortest block kind (fixed Huffman),
/// 3 header bits, a first literal of at least 8 bits (a match needs a byte before
/// it), then another literal (8 bits) or a match (a 7-bit length and a 5-bit
/// distance at least), and a 7-bit end of block: 26 bits or more. Stored blocks carry
/// the bytes themselves and dynamic ones a code table of more than 40 bits. With the
/// 2-byte zlib header and the 4-byte Adler-32 that is 10 bytes, shorter than
/// `len - 1` only from 12 bytes on (shorter inputs give at least 8 bytes, never less
/// than `len - 1`).
pub(super) const MIN_COMPRESSIBLE_LEN: usize = 12;

/// Django's `compress=True` (rule F3): zlib at the default level (6), as Python's
/// `zlib.compress(data)`, kept only when it is shorter than `data.len() - 1`; `None`
/// when it is not.
///
/// Provably losing inputs (shorter than [`MIN_COMPRESSIBLE_LEN`]) skip zlib entirely;
/// otherwise deflate writes into a buffer of the longest winning size and stops as
/// soon as that is full. A pooled stream is used: none is set up per call.
pub(super) fn zlib_compress_if_shorter(data: &[u8]) -> Result<Option<Vec<u8>>> {
    if data.len() < MIN_COMPRESSIBLE_LEN {
        return Ok(None);
    }
    let mut deflate = DEFLATE
        .take()
        .unwrap_or_else(|| Compress::new(Compression::default(), true));
    // Kept only when `len < data.len() - 1`: at most `data.len() - 2` bytes win.
    let mut out = Vec::with_capacity(data.len() - 2);
    // With all the input and `Finish`, deflate ends the stream unless the output is
    // full first, in which case the result would be longer than the room.
    let status = deflate.compress_vec(data, &mut out, FlushCompress::Finish);
    deflate.reset();
    DEFLATE.put(deflate);
    match status {
        Ok(Status::StreamEnd) => Ok(Some(out)),
        Ok(_) => Ok(None),
        Err(e) => Err(Error::serialization(format!(
            "zlib compression failed: {e}"
        ))),
    }
}

/// Decompresses at most `limit` bytes; more is a bad signature (rule H3). Data after
/// the end of the zlib stream is ignored, as Python's `zlib.decompress` does. A pooled
/// stream is used.
pub(super) fn zlib_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut inflate = INFLATE.take().unwrap_or_else(|| Decompress::new(true));
    let result = inflate_bounded(&mut inflate, data, limit);
    inflate.reset(true);
    INFLATE.put(inflate);
    result
}

fn inflate_bounded(inflate: &mut Decompress, data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let invalid =
        |what: &dyn std::fmt::Display| Error::serialization(format!("invalid zlib data: {what}"));
    // One byte past the limit is enough to tell that the data is over it.
    let cap = limit.saturating_add(1);
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).clamp(64, 64 << 10).min(cap));
    loop {
        let before = (inflate.total_in(), inflate.total_out());
        let consumed = usize::try_from(before.0).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        let status = inflate
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|e| invalid(&e))?;
        if status == Status::StreamEnd || out.len() >= cap {
            break;
        }
        if out.len() == out.capacity() {
            out.reserve_exact(out.capacity().min(cap - out.len()));
        } else if (inflate.total_in(), inflate.total_out()) == before {
            return Err(invalid(&"truncated stream"));
        }
    }
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

    use std::io::Write as _;

    use flate2::write::ZlibEncoder;
    use proptest::prelude::*;

    use super::*;
    use crate::signing::fixtures::TS;

    /// A fresh zlib stream at level 6, fed through the writer: the reference.
    fn reference_zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// Django's rule on the reference.
    fn reference_decision(data: &[u8]) -> Option<Vec<u8>> {
        Some(reference_zlib(data)).filter(|c| c.len() < data.len().saturating_sub(1))
    }

    #[test]
    fn f3_short_inputs_never_compress() {
        // The bound behind MIN_COMPRESSIBLE_LEN: 8 bytes for nothing, 9 for one
        // byte, at least 10 from two bytes on (all 65,536 two-byte inputs).
        assert_eq!(reference_zlib(b"").len(), 8);
        assert_eq!(reference_zlib(b"a").len(), 9);
        let shortest_pair = (0..=u16::MAX)
            .map(|pair| reference_zlib(&pair.to_le_bytes()).len())
            .min();
        assert_eq!(shortest_pair, Some(10));
        for len in 0..MIN_COMPRESSIBLE_LEN {
            for byte in [0u8, b'a', 0xff] {
                assert_eq!(reference_decision(&vec![byte; len]), None, "{len}");
            }
        }
        // zlib itself first wins on a run of 13 bytes.
        let run = [b'a'; 13];
        assert_eq!(reference_zlib(&run).len(), 11);
        assert_eq!(
            zlib_compress_if_shorter(&run).unwrap(),
            reference_decision(&run)
        );
        assert!(zlib_compress_if_shorter(&run).unwrap().is_some());
    }

    proptest! {
        /// Byte for byte what a fresh stream gives, kept under Django's rule, for any
        /// input: short, incompressible or repetitive, on pooled (reused) streams.
        #[test]
        fn f3_pooled_compression_matches_a_fresh_stream(
            data in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(any::<u8>(), 0..3000),
                proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..400),
                (1usize..200, proptest::collection::vec(any::<u8>(), 1..8))
                    .prop_map(|(n, unit)| unit.repeat(n)),
            ]
        ) {
            let ours = zlib_compress_if_shorter(&data).unwrap();
            prop_assert_eq!(&ours, &reference_decision(&data));
            if let Some(compressed) = ours {
                prop_assert_eq!(zlib_decompress(&compressed, data.len()).unwrap(), data);
            }
        }
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
    fn zlib_decompress_reads_at_most_limit_plus_one() {
        let compressed = zlib_compress_if_shorter(&[7u8; 10_000]).unwrap().unwrap();
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
