//! Encrypted cookies: like [`signed_cookies`](crate::signed_cookies), the session data
//! is the cookie, but sealed with XChaCha20-Poly1305, so the client can read nothing
//! (Django's signed cookies are only signed: their data is base64 of JSON).
//!
//! # The token
//!
//! ```text
//! <key id>.<base64url( nonce (24 bytes) || ciphertext || tag (16 bytes) )>
//! ```
//!
//! - The plaintext is the sealing time (8 bytes, big-endian Unix seconds) followed by
//!   the serializer's bytes (JSON by default). Nothing is compressed: compressing
//!   attacker-influenced data next to secrets before encryption leaks the secrets
//!   through the length (CRIME, BREACH).
//! - The key id names the ring's key that sealed it ([`KeyRing`]): the current key
//!   seals, older keys still open their own cookies, so a key can be rotated without
//!   logging everybody out. The id and a format label are the associated data, so a
//!   token cannot be moved to another key id.
//! - The nonce is 24 random bytes from the operating system per seal: with
//!   XChaCha20's 192-bit nonces random nonces never realistically repeat.
//!
//! # Guarantees
//!
//! - `load` opens the token with the key its id names and rejects it when it is older
//!   than the cookie age (`max_age`, counted from the sealing time); anything else
//!   (tampered, truncated, unknown key id, expired, not a JSON object) loads as `None`
//!   and the session starts empty. A token that fails authentication is logged as a
//!   warning on target `django.security.SuspiciousSession`.
//! - Input longer than the cookie limit is rejected before any decryption; a value
//!   that would exceed it is [`Error::CookieTooLarge`] at save time (rule H4), as for
//!   signed cookies: 4096 bytes minus the cookie name and `=`.
//!
//! # Limits
//!
//! As for every client-side store: no server-side revocation (a copied cookie works
//! until it expires, even after a logout), and a custom `set_expiry` shorter than the
//! cookie age is not enforced on the server. Django cannot read these cookies.
//!
//! ```
//! use std::sync::Arc;
//! use session_api::signing::SecretKeys;
//! use session_api::{Session, SessionBackend, SessionConfig};
//! use session_stores::encrypted_cookies::{EncryptedCookieStore, KeyRing};
//!
//! # fn main() -> session_api::Result<()> {
//! let config = Arc::new(SessionConfig::builder(SecretKeys::new("s3cret-key")).build()?);
//! let ring = KeyRing::new("k1", &[42; 32])?; // load the key from your secret store
//! let store = EncryptedCookieStore::from_config(ring, &config);
//! let backend = SessionBackend::from_nonblocking_sync(Arc::new(store));
//! let session = Session::new(backend.clone(), config.clone(), None);
//! session.set("cart", &[3, 4])?;
//! session.save()?;
//! let cookie = session.session_key().map(|k| k.as_str().to_owned());
//! assert!(!cookie.as_deref().unwrap_or_default().contains("cart"));
//! let next_request = Session::new(backend, config, cookie.as_deref());
//! assert_eq!(next_request.get::<Vec<u32>>("cart")?, Some(vec![3, 4]));
//! # Ok(())
//! # }
//! ```

mod key_ring;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::XNonce;
use rand::rngs::OsRng;
use rand::TryRngCore;
use session_api::config::DEFAULT_COOKIE_NAME;
use session_api::{
    Capabilities, Clock, Error, KeyGenerator, Record, Result, SaveMode, Serializer, SessionConfig,
    SessionData, SessionKey, SessionStore,
};
use time::{Duration, OffsetDateTime};

pub use key_ring::{KeyRing, MAX_KEY_ID_LEN};

use crate::signed_cookies::max_value_len_for;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const TIMESTAMP_LEN: usize = 8;
/// Associated data: the format label, then the key id.
const AAD_LABEL: &[u8] = b"rust-sessions encrypted cookie v1:";

/// The encrypted-cookie store. See the [module documentation](self).
#[derive(Debug)]
pub struct EncryptedCookieStore {
    keys: KeyRing,
    serializer: Arc<dyn Serializer>,
    clock: Arc<dyn Clock>,
    cookie_age: i64,
    max_value_len: usize,
}

impl EncryptedCookieStore {
    /// A store sealing with `keys`, rejecting tokens older than `cookie_age` seconds,
    /// reading the time from `clock`, serializing with `serializer`; the cookie limit
    /// is set for the default cookie name `sessionid` (see [`Self::with_cookie_name`]).
    pub fn new(
        keys: KeyRing,
        cookie_age: i64,
        clock: Arc<dyn Clock>,
        serializer: Arc<dyn Serializer>,
    ) -> Self {
        EncryptedCookieStore {
            keys,
            serializer,
            clock,
            cookie_age,
            max_value_len: max_value_len_for(DEFAULT_COOKIE_NAME),
        }
    }

    /// A store on `keys` with the settings' cookie age, serializer, clock and a cookie
    /// limit for `SESSION_COOKIE_NAME`.
    pub fn from_config(keys: KeyRing, config: &SessionConfig) -> Self {
        Self::new(
            keys,
            config.cookie_age,
            Arc::clone(&config.clock),
            Arc::clone(&config.serializer),
        )
        .with_cookie_name(&config.cookie_name)
    }

    /// Sets the cookie limit for a cookie called `cookie_name`: 4096 bytes minus the
    /// name and `=`.
    #[must_use]
    pub fn with_cookie_name(self, cookie_name: &str) -> Self {
        self.with_max_value_len(max_value_len_for(cookie_name))
    }

    /// Sets the longest token a save may produce, in bytes; longer tokens are
    /// [`Error::CookieTooLarge`], and longer input is rejected on load before any
    /// decryption.
    #[must_use]
    pub fn with_max_value_len(mut self, max_value_len: usize) -> Self {
        self.max_value_len = max_value_len;
        self
    }

    /// The longest token a save may produce.
    pub fn max_value_len(&self) -> usize {
        self.max_value_len
    }

    fn seal(&self, data: &SessionData) -> Result<SessionKey> {
        let key = self.keys.current();
        let serialized = self.serializer.dumps(data)?;
        // Refuse before encrypting what cannot fit: the token is the id, a dot and the
        // base64 of nonce + timestamp + data + tag.
        let sealed_len = NONCE_LEN + TIMESTAMP_LEN + serialized.len() + TAG_LEN;
        let token_len = key.id.len() + 1 + (sealed_len * 4).div_ceil(3);
        if token_len > self.max_value_len {
            return Err(Error::CookieTooLarge {
                size: token_len,
                limit: self.max_value_len,
            });
        }
        let mut plaintext = Vec::with_capacity(TIMESTAMP_LEN + serialized.len());
        plaintext.extend_from_slice(&self.clock.now().unix_timestamp().to_be_bytes());
        plaintext.extend_from_slice(&serialized);
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|err| Error::configuration(format!("no random nonce: {err}")))?;
        let aad = aad(&key.id);
        let ciphertext = key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::serialization("the session data could not be sealed"))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        let mut token = String::with_capacity(token_len);
        token.push_str(&key.id);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&sealed, &mut token);
        debug_assert_eq!(token.len(), token_len);
        SessionKey::signed_payload(&token)
    }

    /// The sealing time and the serialized data of a token, or why it is refused.
    fn open(&self, token: &str) -> std::result::Result<(i64, Vec<u8>), Refused> {
        if token.len() > self.max_value_len {
            return Err(Refused::Malformed);
        }
        let (id, body) = token.split_once('.').ok_or(Refused::Malformed)?;
        let key = self.keys.get(id).ok_or(Refused::UnknownKey)?;
        let sealed = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| Refused::Malformed)?;
        if sealed.len() < NONCE_LEN + TIMESTAMP_LEN + TAG_LEN {
            return Err(Refused::Malformed);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plaintext = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad(id),
                },
            )
            .map_err(|_| Refused::Forged)?;
        let (timestamp, data) = plaintext.split_at(TIMESTAMP_LEN);
        let mut seconds = [0u8; TIMESTAMP_LEN];
        seconds.copy_from_slice(timestamp);
        Ok((i64::from_be_bytes(seconds), data.to_vec()))
    }
}

fn aad(key_id: &str) -> Vec<u8> {
    [AAD_LABEL, key_id.as_bytes()].concat()
}

/// Why a token does not load.
enum Refused {
    /// Not a token of this format (wrong shape, too long, bad base64, too short).
    Malformed,
    /// Its key id is not in the ring (a removed key, or a forged id).
    UnknownKey,
    /// Authentication failed: tampered, or sealed with another key of that id.
    Forged,
}

impl SessionStore for EncryptedCookieStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::client_side_sealed()
    }

    /// Always false: nothing is stored on the server.
    fn exists(&self, _key: &SessionKey) -> Result<bool> {
        Ok(false)
    }

    /// The data of a valid token, as a record that expires at the sealing time plus
    /// the cookie age.
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        let (sealed_at, bytes) = match self.open(key.as_str()) {
            Ok(opened) => opened,
            Err(Refused::Forged) => {
                tracing::warn!(target: "django.security.SuspiciousSession", "Session data corrupted");
                return Ok(None);
            }
            Err(Refused::Malformed | Refused::UnknownKey) => {
                tracing::debug!("encrypted session cookie is not a token of this ring");
                return Ok(None);
            }
        };
        let Some(expires_at) = OffsetDateTime::from_unix_timestamp(sealed_at)
            .ok()
            .and_then(|at| at.checked_add(Duration::seconds(self.cookie_age)))
        else {
            return Ok(None);
        };
        // Expired at the limit, as the signed cookie's `age > max_age` is (rule F4).
        if self.clock.now() > expires_at {
            tracing::debug!("encrypted session cookie expired");
            return Ok(None);
        }
        let data = match self.serializer.loads(&bytes) {
            Ok(value) => SessionData::from_value(value),
            Err(_) => None,
        };
        Ok(data.map(|data| Record::new(key.clone(), data, expires_at)))
    }

    /// Seals the record's data; the returned key is the new cookie value. The mode and
    /// `expires_at` are ignored (no server state; the token's age is the cookie age).
    ///
    /// # Errors
    ///
    /// [`Error::CookieTooLarge`] when the token exceeds the limit (rule H4).
    fn save(&self, record: &Record, _mode: SaveMode) -> Result<SessionKey> {
        self.seal(&record.data)
    }

    /// Seals `data`; no key is generated and no collision is possible.
    fn create_with(
        &self,
        data: &SessionData,
        _expires_at: OffsetDateTime,
        _keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        self.seal(data)
    }

    /// Nothing to delete on the server (the old cookie stays valid until it expires).
    fn delete(&self, _key: &SessionKey) -> Result<()> {
        Ok(())
    }

    /// A no-op: nothing is stored (rule D8).
    fn clear_expired(&self) -> Result<u64> {
        Ok(0)
    }
}
