//! What the store contract reads and writes: records, their versions, save modes.

use time::OffsetDateTime;

use crate::data::SessionData;
use crate::key::SessionKey;

/// Rule A4: Django's cache backend gives up after this many key collisions.
pub const MAX_CREATE_ATTEMPTS: u32 = 10_000;

/// A stored record's version: an opaque token chosen by the store, which changes
/// whenever the stored record does (a counter column, a digest of the stored bytes).
///
/// Only equality means something: [`super::AsyncSessionStore::asave_if`] writes when
/// the stored record still has the version that was loaded (rule V1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(u64);

impl Version {
    /// The version `token`.
    pub const fn new(token: u64) -> Self {
        Version(token)
    }

    /// The token.
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// A stored session: what [`super::AsyncSessionStore::aload`] returns and
/// [`super::AsyncSessionStore::asave`] writes.
///
/// `#[non_exhaustive]`: build it with [`Record::new`]; later versions may add fields
/// without breaking store authors.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Record {
    /// The key the record is stored under.
    pub key: SessionKey,
    /// The session's data.
    pub data: SessionData,
    /// When the record stops being valid: `get_expiry_date()` at save time (rule E1).
    pub expires_at: OffsetDateTime,
    /// The stored version, from a store with
    /// [`Capabilities::versioned`](super::Capabilities::versioned) (rule V1); `None`
    /// elsewhere, and ignored by [`super::AsyncSessionStore::asave`].
    pub version: Option<Version>,
}

impl Record {
    /// A record of `data` under `key`, valid until `expires_at`, without a version.
    pub fn new(key: SessionKey, data: SessionData, expires_at: OffsetDateTime) -> Self {
        Record {
            key,
            data,
            expires_at,
            version: None,
        }
    }

    /// Builder-style: the record with `version`.
    pub fn with_version(mut self, version: Option<Version>) -> Self {
        self.version = version;
        self
    }
}

/// How [`super::AsyncSessionStore::asave`] treats an existing record (rules D4, D5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaveMode {
    /// Insert if absent; an existing live record is [`crate::Error::Create`] (Django's
    /// `must_create=True`).
    Create,
    /// Update only an existing live record; a missing or expired one is
    /// [`crate::Error::Update`] and is never re-created (Django's `must_create=False`).
    Update,
}

/// What [`super::AsyncSessionStore::alookup`] found under a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// A live record.
    Found(Record),
    /// No record, or one the store cannot tell from none (a cache entry its time to
    /// live removed, undecodable data).
    Missing,
    /// A record past its expiry: loaded as none (rule D7); what an observer sees as
    /// expired on load.
    Expired,
}

impl Lookup {
    /// The record, when one was found.
    pub fn into_record(self) -> Option<Record> {
        match self {
            Lookup::Found(record) => Some(record),
            Lookup::Missing | Lookup::Expired => None,
        }
    }

    /// `Found` for `Some`, `Missing` for `None`: for stores that cannot tell an
    /// expired record from a missing one.
    pub fn from_record(record: Option<Record>) -> Self {
        match record {
            Some(record) => Lookup::Found(record),
            None => Lookup::Missing,
        }
    }
}

/// A live session of an account, as the account index lists it (rule S5).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountSession {
    /// The session's key as the store holds it (under hashed ids, the stored id:
    /// usable to revoke, not as a cookie).
    pub key: SessionKey,
    /// When it expires.
    pub expires_at: OffsetDateTime,
}

impl AccountSession {
    /// The session `key`, expiring at `expires_at`.
    pub fn new(key: SessionKey, expires_at: OffsetDateTime) -> Self {
        AccountSession { key, expires_at }
    }
}
