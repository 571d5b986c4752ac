//! Django's signed-cookie backend (`django.contrib.sessions.backends.signed_cookies`,
//! rules E6, H4).
//!
//! The session data *is* the key: every save returns a new key,
//! `signing.dumps(data, compress=True, salt="django.contrib.sessions.backends.signed_cookies")`,
//! which the middleware sends as the cookie value. Nothing is kept on the server.
//!
//! # Guarantees
//!
//! - Values are byte-identical to Django's (same secret, same clock): a Django site and
//!   this store read each other's cookies.
//! - `load` verifies the signature with the current secret or any fallback (rule F5)
//!   and rejects values older than the cookie age; the record it returns expires when
//!   the signature does (signing time + cookie age); any failure (tampered, truncated,
//!   expired, wrong secret, not a JSON object) loads as `None`, so the session starts
//!   empty. A bad signature is logged as a warning on target
//!   `django.security.SuspiciousSession`; an expired one at debug level.
//! - Input longer than the cookie limit is rejected before any HMAC (rule H3).
//! - A value that would exceed the cookie limit is [`Error::CookieTooLarge`] at save
//!   time, never truncated or silently dropped by the browser (rule H4). The default
//!   limit is 4096 bytes minus the cookie name and `=` (browsers limit name + value).
//!
//! # Limits (Django's, documented there)
//!
//! - No server-side revocation: a cookie replayed before it expires is accepted, even
//!   after a logout ([`adelete`](session_api::AsyncSessionStore::adelete) has nothing to delete).
//! - The data is signed, not encrypted: the client can read it (base64 of JSON,
//!   possibly zlib-compressed).
//! - The signature age is checked against the cookie age only; a shorter custom expiry
//!   (`set_expiry`) is not enforced on the server (Django ticket #19201), and a longer
//!   one is cut at the cookie age.
//!
//! ```
//! use std::sync::Arc;
//! use session_api::signing::SecretKeys;
//! use session_api::{Session, SessionBackend, SessionConfig};
//! use session_stores::signed_cookies::SignedCookieStore;
//!
//! # fn main() -> session_api::Result<()> {
//! let config = Arc::new(SessionConfig::builder(SecretKeys::new("s3cret-key")).build()?);
//! let backend = SessionBackend::from_nonblocking_sync(Arc::new(SignedCookieStore::from_config(&config)));
//! let session = Session::new(backend.clone(), config.clone(), None);
//! session.set("cart", &[3, 4])?;
//! session.save()?;
//! let cookie = session.session_key().map(|k| k.as_str().to_owned());
//! let next_request = Session::new(backend, config, cookie.as_deref());
//! assert_eq!(next_request.get::<Vec<u32>>("cart")?, Some(vec![3, 4]));
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use session_api::config::DEFAULT_COOKIE_NAME;
use session_api::signing::{b62_decode, SecretKeys, TimestampSigner, SIGNED_COOKIES_SALT};
use session_api::{
    Capabilities, Clock, DecodeLimits, Error, KeyGenerator, Record, Result, SaveMode, Serializer,
    SessionConfig, SessionData, SessionKey, SessionStore,
};
use time::{Duration, OffsetDateTime};

/// What browsers accept for a cookie's name, `=` and value together.
pub const BROWSER_COOKIE_LIMIT: usize = 4096;

/// The longest cookie value that fits [`BROWSER_COOKIE_LIMIT`] with `cookie_name`.
pub fn max_value_len_for(cookie_name: &str) -> usize {
    BROWSER_COOKIE_LIMIT.saturating_sub(cookie_name.len() + 1)
}

/// The signed-cookie store (rules E6, H4). See the [module documentation](self).
#[derive(Debug)]
pub struct SignedCookieStore {
    signer: TimestampSigner,
    serializer: Arc<dyn Serializer>,
    cookie_age: i64,
    max_value_len: usize,
}

impl SignedCookieStore {
    /// A store signing with `keys` (current secret and fallbacks), rejecting values
    /// older than `cookie_age` seconds, reading the time from `clock`, serializing
    /// with `serializer`. The cookie limit is set for Django's default cookie name
    /// `sessionid` (4086 bytes of value); see [`Self::with_cookie_name`].
    pub fn new(
        keys: SecretKeys,
        cookie_age: i64,
        clock: Arc<dyn Clock>,
        serializer: Arc<dyn Serializer>,
    ) -> Self {
        let max_value_len = max_value_len_for(DEFAULT_COOKIE_NAME);
        SignedCookieStore {
            signer: TimestampSigner::new(&keys, SIGNED_COOKIES_SALT, clock)
                .with_limits(limits_for(max_value_len)),
            serializer,
            cookie_age,
            max_value_len,
        }
    }

    /// A store from the settings: `SECRET_KEY`/`SECRET_KEY_FALLBACKS`,
    /// `SESSION_COOKIE_AGE`, the serializer and clock, and a cookie limit for
    /// `SESSION_COOKIE_NAME`.
    pub fn from_config(config: &SessionConfig) -> Self {
        Self::new(
            config.secret_keys.clone(),
            config.cookie_age,
            Arc::clone(&config.clock),
            Arc::clone(&config.serializer),
        )
        .with_cookie_name(&config.cookie_name)
    }

    /// Sets the cookie limit for a cookie called `cookie_name`:
    /// 4096 bytes minus the name and `=` ([`max_value_len_for`]).
    #[must_use]
    pub fn with_cookie_name(self, cookie_name: &str) -> Self {
        self.with_max_value_len(max_value_len_for(cookie_name))
    }

    /// Sets the longest cookie value a save may produce, in bytes; longer values are
    /// [`Error::CookieTooLarge`]. Values longer than this are also rejected on load
    /// before any HMAC (a browser would not have sent them).
    #[must_use]
    pub fn with_max_value_len(mut self, max_value_len: usize) -> Self {
        self.max_value_len = max_value_len;
        self.signer = self.signer.with_limits(limits_for(max_value_len));
        self
    }

    /// The longest cookie value a save may produce.
    pub fn max_value_len(&self) -> usize {
        self.max_value_len
    }

    /// The signature age limit in seconds (`SESSION_COOKIE_AGE`).
    pub fn cookie_age(&self) -> i64 {
        self.cookie_age
    }

    /// Signs `data` into a cookie value (the new key).
    fn sign(&self, data: &SessionData) -> Result<SessionKey> {
        let signed = self
            .signer
            .sign_session_bounded(data, &*self.serializer, true)?;
        if signed.len() > self.max_value_len {
            return Err(Error::CookieTooLarge {
                size: signed.len(),
                limit: self.max_value_len,
            });
        }
        SessionKey::signed_payload(&signed)
    }
}

/// When a verified value `payload:timestamp:signature` was signed (rule F4).
fn signed_at(value: &str) -> Option<OffsetDateTime> {
    let mut parts = value.rsplitn(3, ':');
    let _signature = parts.next()?;
    let seconds = b62_decode(parts.next()?).ok()?;
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

fn limits_for(max_value_len: usize) -> DecodeLimits {
    DecodeLimits {
        max_signed_len: max_value_len,
        ..DecodeLimits::default()
    }
}

impl SessionStore for SignedCookieStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::client_side()
    }

    /// Always false: nothing is stored on the server (rule E6).
    fn exists(&self, _key: &SessionKey) -> Result<bool> {
        Ok(false)
    }

    /// The data of a valid cookie value, as a record that expires when its signature
    /// does: the signing time plus the cookie age (a custom `set_expiry` is not
    /// enforced, Django ticket #19201).
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        let max_age = Some(Duration::seconds(self.cookie_age));
        match self
            .signer
            .unsign_object(key.as_str(), &*self.serializer, max_age)
        {
            Ok(value) => Ok(SessionData::from_value(value).and_then(|data| {
                let expires_at =
                    signed_at(key.as_str())?.checked_add(Duration::seconds(self.cookie_age))?;
                Some(Record::new(key.clone(), data, expires_at))
            })),
            Err(Error::SignatureExpired { .. }) => {
                tracing::debug!("signed session cookie expired");
                Ok(None)
            }
            Err(err) => {
                if err.is_bad_signature() {
                    tracing::warn!(target: "django.security.SuspiciousSession", "Session data corrupted");
                }
                Ok(None)
            }
        }
    }

    /// Re-signs the record's data; the returned key is the new cookie value. The mode
    /// and `expires_at` are ignored (no server state; the signature age is the cookie
    /// age).
    ///
    /// # Errors
    ///
    /// [`Error::CookieTooLarge`] when the value exceeds the limit (rule H4).
    fn save(&self, record: &Record, _mode: SaveMode) -> Result<SessionKey> {
        self.sign(&record.data)
    }

    /// Signs `data`; no key is generated and no collision is possible.
    fn create_with(
        &self,
        data: &SessionData,
        _expires_at: OffsetDateTime,
        _keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        self.sign(data)
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
