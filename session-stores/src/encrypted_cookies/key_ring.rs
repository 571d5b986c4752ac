//! The keys of the encrypted-cookie store: the current key seals, older keys only open.

use std::fmt;

use chacha20poly1305::aead::KeyInit;
use chacha20poly1305::XChaCha20Poly1305;
use session_api::{Error, Result};

/// The longest key id: ids travel in every cookie, so they stay short.
pub const MAX_KEY_ID_LEN: usize = 16;

/// One sealing key: an id carried in the token and a 256-bit XChaCha20-Poly1305 key.
#[derive(Clone)]
pub(super) struct SealingKey {
    pub(super) id: Box<str>,
    pub(super) cipher: XChaCha20Poly1305,
}

impl SealingKey {
    fn new(id: &str, key: &[u8; 32]) -> Result<Self> {
        let valid = !id.is_empty()
            && id.len() <= MAX_KEY_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(Error::configuration(format!(
                "an encrypted-cookie key id is 1 to {MAX_KEY_ID_LEN} characters of [a-z0-9]"
            )));
        }
        Ok(SealingKey {
            id: id.into(),
            cipher: XChaCha20Poly1305::new(key.into()),
        })
    }
}

/// The key ring: the current key seals every new cookie; the older keys still open
/// the cookies they sealed, until they are removed from the ring (key rotation
/// without logging everybody out).
///
/// `Debug` shows the key ids only.
///
/// ```
/// use session_stores::encrypted_cookies::KeyRing;
/// let ring = KeyRing::new("k2", &[7; 32])?.with_older("k1", &[1; 32])?;
/// assert_eq!(ring.current_id(), "k2");
/// assert_eq!(format!("{ring:?}"), r#"KeyRing { current: "k2", older: ["k1"] }"#);
/// # Ok::<(), session_api::Error>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    current: SealingKey,
    older: Vec<SealingKey>,
}

impl KeyRing {
    /// A ring whose current key is `key`, named `id` (1 to [`MAX_KEY_ID_LEN`]
    /// characters of `[a-z0-9]`).
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid id.
    pub fn new(id: &str, key: &[u8; 32]) -> Result<Self> {
        Ok(KeyRing {
            current: SealingKey::new(id, key)?,
            older: Vec::new(),
        })
    }

    /// Adds an older key, used only to open cookies sealed with it.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for an invalid id or an id already in the ring (a
    /// token names its key by id, so ids must be unique).
    pub fn with_older(mut self, id: &str, key: &[u8; 32]) -> Result<Self> {
        let key = SealingKey::new(id, key)?;
        if self.get(&key.id).is_some() {
            return Err(Error::configuration(format!(
                "encrypted-cookie key id {id:?} is in the ring twice"
            )));
        }
        self.older.push(key);
        Ok(self)
    }

    /// The id of the key that seals new cookies.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    pub(super) fn current(&self) -> &SealingKey {
        &self.current
    }

    pub(super) fn get(&self, id: &str) -> Option<&SealingKey> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|key| &*key.id == id)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let older: Vec<&str> = self.older.iter().map(|key| &*key.id).collect();
        f.debug_struct("KeyRing")
            .field("current", &&*self.current.id)
            .field("older", &older)
            .finish()
    }
}
