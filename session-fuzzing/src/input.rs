//! How a target turns the fuzzer's bytes into a candidate: the flags byte, the raw /
//! mutate / sign modes, and the mutation script.

use session_api::signing::SecretKeys;
use session_api::TimestampSigner;

use crate::fixtures::{clock_at, Base, SECRET, TIMESTAMP};

/// Applies a mutation script to `base`. The script is read in 4-byte operations
/// `(kind, position high byte, position low byte, byte)`; the position is taken modulo
/// the current length + 1. Kinds (modulo 6): overwrite, insert, delete, truncate, flip
/// one bit, append. A trailing partial operation is ignored.
///
/// ```
/// use session_fuzzing::mutate;
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
pub(crate) fn split_flags(data: &[u8]) -> (u8, &[u8]) {
    match data.split_first() {
        Some((flags, rest)) => (*flags, rest),
        None => (0, &[]),
    }
}

/// How a decoder target builds its candidate from the input after the flags byte.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
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
    pub(crate) fn of(flags: u8, sign: bool, salt: &'static str) -> Self {
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
pub(crate) fn candidate_bytes(
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
pub(crate) fn candidate(
    mode: Mode,
    rest: &[u8],
    bases: &'static [Base],
) -> (String, Option<&'static Base>) {
    let (bytes, base) = candidate_bytes(mode, rest, bases);
    (String::from_utf8_lossy(&bytes).into_owned(), base)
}
