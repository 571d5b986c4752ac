//! Session keys: Django's alphabet and lengths (rules A1, A2, H1, H5).

use std::fmt;

use rand::rngs::OsRng;
use rand::TryRngCore;

use crate::error::{Error, Result};

/// Characters of generated and accepted keys (rule A1): lowercase only, so
/// case-insensitive file systems cannot alias two keys.
pub const KEY_ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Length of generated keys (rule A1).
pub const GENERATED_KEY_LEN: usize = 32;
/// Shortest accepted key (rule A2).
pub const MIN_KEY_LEN: usize = 8;
/// Longest accepted key: the width of Django's `session_key` column (rule H1).
pub const MAX_KEY_LEN: usize = 40;
/// How many characters of a key `Debug`/`Display` show (rule H5).
const SHOWN_PREFIX: usize = 4;

/// A validated session key.
///
/// For id-keyed stores (all but signed cookies) a key is 8 to 40 characters of
/// `[a-z0-9]`; [`SessionKey::parse`] rejects anything else before it can reach a path,
/// query or cache key. Client-side stores whose key *is* the data (signed cookies) build
/// keys with [`SessionKey::signed_payload`] instead.
///
/// `Debug` and `Display` show only a short prefix, so keys do not leak into logs;
/// [`SessionKey::as_str`] gives the full value for the cookie and the store.
///
/// ```
/// use session_api::SessionKey;
/// let key = SessionKey::parse("abcdefgh12345678").unwrap();
/// assert_eq!(format!("{key}"), "abcd…");
/// assert!(SessionKey::parse("../../etc/passwd").is_err());
/// assert_eq!(SessionKey::generate().as_str().len(), 32);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey(Box<str>);

impl SessionKey {
    /// Validates an id key: 8..=40 characters from `[a-z0-9]` (rules A2, H1).
    pub fn parse(value: &str) -> Result<Self> {
        if value.len() < MIN_KEY_LEN {
            return Err(Error::InvalidKey {
                reason: "shorter than 8 characters",
            });
        }
        if value.len() > MAX_KEY_LEN {
            return Err(Error::InvalidKey {
                reason: "longer than 40 characters",
            });
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(Error::InvalidKey {
                reason: "characters outside [a-z0-9]",
            });
        }
        Ok(SessionKey(value.into()))
    }

    /// Generates a fresh 32-character key from the operating system's generator
    /// (`getrandom(2)` on Linux), rule A1.
    ///
    /// Every key is drawn from the OS, never from a user-space generator: such a
    /// generator's state is copied by `fork()`, and the parent and its children would
    /// then hand out the same keys. Each character is uniform over [`KEY_ALPHABET`]
    /// (bytes of 252 and above are rejected, 252 being 7 × 36).
    ///
    /// # Panics
    ///
    /// If the operating system's generator fails, as `rand`'s thread-local generator
    /// also does: no key can be generated safely then.
    pub fn generate() -> Self {
        // 36 letters per 252 byte values: a byte is kept with probability 252/256.
        const ACCEPT_BELOW: u8 = 252;
        let mut key = String::with_capacity(GENERATED_KEY_LEN);
        // 48 bytes hold 32 accepted ones in all but fewer than 1 in 10^18 draws.
        let mut buf = [0u8; 48];
        while key.len() < GENERATED_KEY_LEN {
            if let Err(err) = OsRng.try_fill_bytes(&mut buf) {
                panic!("the operating system's random generator failed: {err}");
            }
            let accepted = buf.iter().filter(|&&b| b < ACCEPT_BELOW);
            for &b in accepted.take(GENERATED_KEY_LEN - key.len()) {
                key.push(char::from(
                    KEY_ALPHABET[usize::from(b) % KEY_ALPHABET.len()],
                ));
            }
        }
        SessionKey(key.into())
    }

    /// Wraps the value of a client-side store whose key carries the data itself
    /// (signed cookies, rule E6). Such keys are never used to build a path or query;
    /// only printable ASCII without `;`, `,`, space, `"` or `\` is accepted, so the
    /// value is always a valid cookie value, and at least 8 characters (rule A2).
    pub fn signed_payload(value: &str) -> Result<Self> {
        // Django's `_validate_session_key`: a key needs at least 8 characters, on every
        // backend (rule A2), so a shorter cookie is dropped before any read.
        if value.len() < MIN_KEY_LEN {
            return Err(Error::InvalidKey {
                reason: "shorter than 8 characters",
            });
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'"' | b'\\'))
        {
            return Err(Error::InvalidKey {
                reason: "not a cookie-safe value",
            });
        }
        Ok(SessionKey(value.into()))
    }

    /// The full key, for the cookie and the store. Do not log it (rule H5).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn prefix(&self) -> &str {
        self.0.get(..SHOWN_PREFIX).unwrap_or(&self.0)
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({}…)", self.prefix())
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.prefix())
    }
}

impl std::str::FromStr for SessionKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SessionKey::parse(s)
    }
}

/// Where new keys come from. The default is [`RandomKeys`]; tests and the conformance
/// kit inject a deterministic generator to force collisions (rule A4).
pub trait KeyGenerator: Send + Sync + fmt::Debug {
    /// The next candidate key.
    fn generate(&self) -> SessionKey;
}

/// Keys from the operating system's generator ([`SessionKey::generate`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomKeys;

impl KeyGenerator for RandomKeys {
    fn generate(&self) -> SessionKey {
        SessionKey::generate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_generated_keys_are_32_lowercase_alphanumerics_and_distinct() {
        let a = SessionKey::generate();
        let b = SessionKey::generate();
        assert_ne!(a, b);
        for k in [&a, &b] {
            assert_eq!(k.as_str().len(), 32);
            assert!(SessionKey::parse(k.as_str()).is_ok());
        }
    }

    #[test]
    fn h1_lengths_8_to_40_accepted_7_and_41_rejected() {
        assert!(SessionKey::parse(&"a".repeat(8)).is_ok());
        assert!(SessionKey::parse(&"a".repeat(40)).is_ok());
        assert!(matches!(
            SessionKey::parse(&"a".repeat(7)),
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            SessionKey::parse(&"a".repeat(41)),
            Err(Error::InvalidKey { .. })
        ));
        assert!(SessionKey::parse("").is_err());
    }

    #[test]
    fn h1_rejects_uppercase_non_ascii_separators_and_nul() {
        for bad in [
            "ABCDEFGHIJ",
            "abcdefgh\0ij",
            "../../../etc/passwd",
            "abcdefgh/ij",
            "abcdefgh\\ij",
            "abcdéfghij",
            "abcdefgh ij",
            "abcdefgh.ij",
        ] {
            assert!(SessionKey::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn h5_debug_and_display_show_only_a_prefix() {
        let key = SessionKey::parse("abcdefghijklmnopqrstuvwxyz012345").unwrap();
        assert_eq!(format!("{key}"), "abcd…");
        assert_eq!(format!("{key:?}"), "SessionKey(abcd…)");
        assert!(!format!("{key:?}").contains("efgh"));
    }

    #[test]
    fn signed_payload_keys_reject_cookie_breaking_characters() {
        assert!(SessionKey::signed_payload("eyJhIjoxfQ:1vb66i:abc").is_ok());
        assert!(SessionKey::signed_payload("a;b").is_err());
        assert!(SessionKey::signed_payload("a b").is_err());
        assert!(SessionKey::signed_payload("").is_err());
    }
}
