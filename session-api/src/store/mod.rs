//! The store contract (section D) in its sync and async forms, and the bridges.
//!
//! Beside Django's six operations, three optional ones, each declared in
//! [`Capabilities`] and checked by the conformance kit: versioned saves
//! ([`AsyncSessionStore::asave_if`], rules V1-V3), expiry-only refreshes
//! ([`AsyncSessionStore::atouch`], rule V4) and an account index
//! ([`AsyncSessionStore::accounts`], rule S5).

mod accounts;
mod backend;
mod bridges;
mod capabilities;
mod record;

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::key::{KeyGenerator, RandomKeys, SessionKey};

pub use accounts::{auth_account_id, AccountSessions, AsyncAccountSessions};
pub use backend::SessionBackend;
pub use bridges::{AsyncToSync, InlineAsync, SyncToAsync};
pub use capabilities::{Capabilities, KeyKind};
pub use record::{AccountSession, Lookup, Record, SaveMode, Version, MAX_CREATE_ATTEMPTS};

/// The async store contract (section D). Object-safe; `Arc<dyn AsyncSessionStore>` is
/// how the session handle and the kit hold stores.
///
/// A store implements six methods; [`acreate`](Self::acreate) and
/// [`acreate_with`](Self::acreate_with) have default bodies built on
/// [`asave`](Self::asave) with [`SaveMode::Create`]. The optional operations
/// ([`alookup`](Self::alookup), [`asave_if`](Self::asave_if),
/// [`atouch`](Self::atouch), [`accounts`](Self::accounts)) have defaults that a store
/// overrides together with the [`Capabilities`] that declare them.
#[async_trait]
pub trait AsyncSessionStore: Send + Sync + fmt::Debug {
    /// What this store supports.
    fn capabilities(&self) -> Capabilities;

    /// Whether a live record exists for `key` (rule D1).
    async fn aexists(&self, key: &SessionKey) -> Result<bool>;

    /// The stored record with its expiry; `None` when missing, expired or undecodable
    /// (rules D7, C9). Bad stored data is never an error; a failing backend is.
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>>;

    /// As [`aload`](Self::aload), telling an expired record from a missing one where
    /// the store can (what observers see as "expired on load"). The default asks
    /// `aload` and reports every miss as [`Lookup::Missing`].
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        Ok(Lookup::from_record(self.aload(key).await?))
    }

    /// Writes `record` (rules D4, D5) as `mode` says. Returns the key the record is
    /// stored under: `record.key` for id stores; a new key for
    /// [`KeyKind::SignedPayload`].
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey>;

    /// Creates a record under a fresh random key: [`acreate_with`](Self::acreate_with)
    /// and [`RandomKeys`].
    async fn acreate(&self, data: &SessionData, expires_at: OffsetDateTime) -> Result<SessionKey> {
        self.acreate_with(data, expires_at, &RandomKeys).await
    }

    /// Creates a record under a key from `keys` (rules A4, H6): generate,
    /// insert-if-absent, retry on [`Error::Create`], up to [`MAX_CREATE_ATTEMPTS`].
    async fn acreate_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        let mut record = Record::new(keys.generate(), data.clone(), expires_at);
        for _ in 0..MAX_CREATE_ATTEMPTS {
            match self.asave(&record, SaveMode::Create).await {
                Err(Error::Create) => record.key = keys.generate(),
                other => return other,
            }
        }
        Err(Error::TooManyCollisions {
            attempts: MAX_CREATE_ATTEMPTS,
        })
    }

    /// Updates the live record under `record.key` only if its stored version is
    /// `expected` (rule V1); returns the version now stored. A record written since
    /// the load is [`Error::Conflict`]; a missing or expired one is [`Error::Update`]
    /// and is never re-created (D5). `record.version` is ignored.
    ///
    /// Stores with [`Capabilities::versioned`] implement it; the default is
    /// [`Error::Unsupported`].
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let _ = (record, expected);
        Err(Error::Unsupported("versioned saves"))
    }

    /// Moves the expiry of the live record under `key` to `expires_at` without
    /// rewriting its data (rule V4): the cheap write of `SESSION_SAVE_EVERY_REQUEST`
    /// when nothing changed. A missing or expired record is [`Error::Update`].
    ///
    /// Stores with [`Capabilities::touch`] implement it; the default is
    /// [`Error::Unsupported`].
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let _ = (key, expires_at);
        Err(Error::Unsupported("expiry-only refresh"))
    }

    /// Deletes the record; a missing record is not an error (rule D6).
    async fn adelete(&self, key: &SessionKey) -> Result<()>;

    /// Removes expired records where the store keeps them; returns how many (rule D8).
    async fn aclear_expired(&self) -> Result<u64>;

    /// The store's account index (rule S5), when it keeps one: then
    /// [`Capabilities::list_by_account`] is true.
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        None
    }
}

/// The sync store contract: the same shape and semantics as [`AsyncSessionStore`]
/// (rule D9).
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// What this store supports.
    fn capabilities(&self) -> Capabilities;
    /// See [`AsyncSessionStore::aexists`].
    fn exists(&self, key: &SessionKey) -> Result<bool>;
    /// See [`AsyncSessionStore::aload`].
    fn load(&self, key: &SessionKey) -> Result<Option<Record>>;
    /// See [`AsyncSessionStore::alookup`].
    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        Ok(Lookup::from_record(self.load(key)?))
    }
    /// See [`AsyncSessionStore::asave`].
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey>;
    /// See [`AsyncSessionStore::acreate`].
    fn create(&self, data: &SessionData, expires_at: OffsetDateTime) -> Result<SessionKey> {
        self.create_with(data, expires_at, &RandomKeys)
    }
    /// See [`AsyncSessionStore::acreate_with`].
    fn create_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        let mut record = Record::new(keys.generate(), data.clone(), expires_at);
        for _ in 0..MAX_CREATE_ATTEMPTS {
            match self.save(&record, SaveMode::Create) {
                Err(Error::Create) => record.key = keys.generate(),
                other => return other,
            }
        }
        Err(Error::TooManyCollisions {
            attempts: MAX_CREATE_ATTEMPTS,
        })
    }
    /// See [`AsyncSessionStore::asave_if`].
    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let _ = (record, expected);
        Err(Error::Unsupported("versioned saves"))
    }
    /// See [`AsyncSessionStore::atouch`].
    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let _ = (key, expires_at);
        Err(Error::Unsupported("expiry-only refresh"))
    }
    /// See [`AsyncSessionStore::adelete`].
    fn delete(&self, key: &SessionKey) -> Result<()>;
    /// See [`AsyncSessionStore::aclear_expired`].
    fn clear_expired(&self) -> Result<u64>;
    /// See [`AsyncSessionStore::accounts`].
    fn accounts(&self) -> Option<&dyn AccountSessions> {
        None
    }
}
