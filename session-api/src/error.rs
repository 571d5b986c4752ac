//! The one error type of `session-api`.

use std::error::Error as StdError;

/// A boxed error from a backend (database driver, cache client, file system).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `session-api` and in stores built on it.
///
/// Bad input from a client (a tampered cookie, a malformed key) never surfaces here as a
/// panic: loads turn it into an empty session (rules A3, D7) and parsers into
/// [`Error::InvalidKey`] or [`Error::BadSignature`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A session key outside `[a-z0-9]{8,40}` (rules A2, H1).
    #[error("invalid session key: {reason}")]
    InvalidKey {
        /// Why the key was rejected (never the key itself, rule H5).
        reason: &'static str,
    },
    /// `save(must_create=true)` found an existing record (rule D4).
    #[error("a session with this key already exists")]
    Create,
    /// `save(must_create=false)` found no record to update (rule D5).
    #[error("the session record to update no longer exists")]
    Update,
    /// `create` gave up after too many key collisions (rule A4).
    #[error("could not create a unique session key after {attempts} attempts; the store is probably unavailable")]
    TooManyCollisions {
        /// How many keys were tried.
        attempts: u32,
    },
    /// A missing dictionary key was deleted or popped without a default (rule B6).
    #[error("session has no key {0:?}")]
    KeyNotFound(String),
    /// A signed value failed verification (rule F5) or was malformed.
    #[error("bad signature: {reason}")]
    BadSignature {
        /// What was wrong.
        reason: &'static str,
    },
    /// A signed value verified but is older than `max_age` (rule F5).
    #[error("signature age {age} s > {max_age} s")]
    SignatureExpired {
        /// Age of the signature in seconds.
        age: i64,
        /// The allowed maximum, in seconds.
        max_age: i64,
    },
    /// Serializing or deserializing session data failed; carries the codec's error.
    #[error("serialization failed: {0}")]
    Serialization(#[source] BoxError),
    /// A setting is invalid (rule G6); carries the underlying error where there is
    /// one (a URL that does not parse, say), else the message.
    #[error("invalid configuration: {0}")]
    Configuration(#[source] BoxError),
    /// The signed-cookie value would exceed the browser limit (rule H4).
    #[error("session cookie is {size} bytes, over the {limit}-byte limit")]
    CookieTooLarge {
        /// Size of the cookie value in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A save would write a session that its own load would refuse (rule H3): the
    /// serialized data is over [`DecodeLimits::max_decompressed_len`], or the signed
    /// value over [`DecodeLimits::max_signed_len`]. Raised before anything is
    /// written, so the stored record is unchanged.
    ///
    /// [`DecodeLimits::max_decompressed_len`]: crate::signing::DecodeLimits::max_decompressed_len
    /// [`DecodeLimits::max_signed_len`]: crate::signing::DecodeLimits::max_signed_len
    #[error("session is {size} bytes, over the {limit}-byte limit its load would accept")]
    SessionTooLarge {
        /// Size of the serialized data or of the signed value, in bytes.
        size: usize,
        /// The limit it exceeds, in bytes.
        limit: usize,
    },
    /// A sync call was made where blocking on the async store is impossible, such as
    /// inside a current-thread tokio runtime.
    #[error("cannot block on an async session store here: {0}")]
    BlockingNotAllowed(&'static str),
    /// The session was deleted while the request was running (rule G5); adapters
    /// answer 400 Bad Request.
    #[error("The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.")]
    SessionInterrupted,
    /// The backend could not be reached in time (connection refused or lost, pool
    /// exhausted, timed out); adapters answer 503 Service Unavailable. Carries the
    /// source.
    #[error("session store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// A versioned save found the record written since it was loaded (rule V1); the
    /// handle's [`ConflictPolicy`](crate::config::ConflictPolicy) decides what follows.
    /// Adapters answer 409.
    #[error("the session was changed by a concurrent request since it was loaded")]
    Conflict,
    /// The store does not implement this optional operation (its
    /// [`Capabilities`](crate::store::Capabilities) say so).
    #[error("the session store does not support {0}")]
    Unsupported(&'static str),
    /// The backend failed (I/O, driver, protocol); carries the source.
    #[error("session backend error: {0}")]
    Backend(#[source] BoxError),
}

impl Error {
    /// Wraps any backend error.
    pub fn backend<E: Into<BoxError>>(err: E) -> Self {
        Error::Backend(err.into())
    }

    /// Wraps a store-unreachable error (see [`Error::Unavailable`]).
    pub fn unavailable<E: Into<BoxError>>(err: E) -> Self {
        Error::Unavailable(err.into())
    }

    /// Wraps a codec error (see [`Error::Serialization`]).
    pub fn serialization<E: Into<BoxError>>(err: E) -> Self {
        Error::Serialization(err.into())
    }

    /// Wraps an invalid-setting error or message (see [`Error::Configuration`]).
    pub fn configuration<E: Into<BoxError>>(err: E) -> Self {
        Error::Configuration(err.into())
    }

    /// True for [`Error::BadSignature`] and [`Error::SignatureExpired`] (Django's
    /// `SignatureExpired` is a kind of `BadSignature`).
    pub fn is_bad_signature(&self) -> bool {
        matches!(
            self,
            Error::BadSignature { .. } | Error::SignatureExpired { .. }
        )
    }
}
