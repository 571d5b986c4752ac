//! The store contract (section D) in its sync and async forms, and the bridges.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::key::{KeyGenerator, RandomKeys, SessionKey};

/// Rule A4: Django's cache backend gives up after this many key collisions.
pub const MAX_CREATE_ATTEMPTS: u32 = 10_000;

/// A stored session: what [`AsyncSessionStore::aload`] returns and
/// [`AsyncSessionStore::asave`] writes.
///
/// `#[non_exhaustive]`: build it with [`Record::new`]; later versions may add fields
/// (a version for optimistic saves) without breaking store authors.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Record {
    /// The key the record is stored under.
    pub key: SessionKey,
    /// The session's data.
    pub data: SessionData,
    /// When the record stops being valid: `get_expiry_date()` at save time (rule E1).
    pub expires_at: OffsetDateTime,
}

impl Record {
    /// A record of `data` under `key`, valid until `expires_at`.
    pub fn new(key: SessionKey, data: SessionData, expires_at: OffsetDateTime) -> Self {
        Record {
            key,
            data,
            expires_at,
        }
    }
}

/// How [`AsyncSessionStore::asave`] treats an existing record (rules D4, D5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaveMode {
    /// Insert if absent; an existing live record is [`Error::Create`] (Django's
    /// `must_create=True`).
    Create,
    /// Update only an existing live record; a missing or expired one is
    /// [`Error::Update`] and is never re-created (Django's `must_create=False`).
    Update,
}

/// What a store's keys are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Random ids validated by [`SessionKey::parse`]; the data lives in the store.
    Id,
    /// The key carries the data itself (signed cookies, rule E6); parsed with
    /// [`SessionKey::signed_payload`]; every save returns a new key.
    SignedPayload,
    /// The key carries the data sealed with an AEAD (encrypted cookies): parsed like
    /// [`KeyKind::SignedPayload`] and a new key on every save, but the client can read
    /// nothing and the format is this project's own, not Django's.
    SealedPayload,
}

/// What a store supports. The conformance kit selects its cases from this
/// declaration, never from the backend's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The kind of key.
    pub key_kind: KeyKind,
    /// Records live on the server, so `exists`, `delete` and update-of-a-deleted-record
    /// mean something (false for signed cookies).
    pub server_side: bool,
    /// `clear_expired` removes expired records (false where the backend expires them
    /// itself or keeps none: cache, signed cookies; rule D8).
    pub clear_expired: bool,
    /// The backend evicts expired records on its own (Redis TTL).
    pub backend_ttl: bool,
    /// The store can list and revoke every session of an account (rule E2).
    pub list_by_account: bool,
    /// Records are kept under a hash of their key, not the key (rule S3): what the
    /// store holds cannot be presented as a cookie.
    pub hashed_ids: bool,
}

impl Capabilities {
    /// A server-side store with id keys and `clear_expired`: memory, file, db.
    pub const fn server_side() -> Self {
        Capabilities {
            key_kind: KeyKind::Id,
            server_side: true,
            clear_expired: true,
            backend_ttl: false,
            list_by_account: false,
            hashed_ids: false,
        }
    }

    /// A client-side store whose key is the signed data (signed cookies).
    pub const fn client_side() -> Self {
        Capabilities {
            key_kind: KeyKind::SignedPayload,
            server_side: false,
            clear_expired: false,
            backend_ttl: false,
            list_by_account: false,
            hashed_ids: false,
        }
    }

    /// A client-side store whose key is the data sealed with an AEAD (encrypted
    /// cookies).
    pub const fn client_side_sealed() -> Self {
        Capabilities {
            key_kind: KeyKind::SealedPayload,
            ..Self::client_side()
        }
    }

    /// Builder-style: sets [`Capabilities::clear_expired`].
    pub const fn with_clear_expired(mut self, yes: bool) -> Self {
        self.clear_expired = yes;
        self
    }

    /// Builder-style: sets [`Capabilities::backend_ttl`].
    pub const fn with_backend_ttl(mut self, yes: bool) -> Self {
        self.backend_ttl = yes;
        self
    }

    /// Builder-style: sets [`Capabilities::list_by_account`].
    pub const fn with_list_by_account(mut self, yes: bool) -> Self {
        self.list_by_account = yes;
        self
    }

    /// Builder-style: sets [`Capabilities::hashed_ids`].
    pub const fn with_hashed_ids(mut self, yes: bool) -> Self {
        self.hashed_ids = yes;
        self
    }

    /// Parses a key the way this store's keys are parsed.
    pub fn parse_key(&self, value: &str) -> Result<SessionKey> {
        match self.key_kind {
            KeyKind::Id => SessionKey::parse(value),
            KeyKind::SignedPayload | KeyKind::SealedPayload => SessionKey::signed_payload(value),
        }
    }
}

/// The async store contract (section D). Object-safe; `Arc<dyn AsyncSessionStore>` is
/// how the session handle and the kit hold stores.
///
/// A store implements six methods; [`acreate`](Self::acreate) and
/// [`acreate_with`](Self::acreate_with) have default bodies built on
/// [`asave`](Self::asave) with [`SaveMode::Create`].
#[async_trait]
pub trait AsyncSessionStore: Send + Sync + fmt::Debug {
    /// What this store supports.
    fn capabilities(&self) -> Capabilities;

    /// Whether a live record exists for `key` (rule D1).
    async fn aexists(&self, key: &SessionKey) -> Result<bool>;

    /// The stored record with its expiry; `None` when missing, expired or undecodable
    /// (rules D7, C9). Bad stored data is never an error; a failing backend is.
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>>;

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

    /// Deletes the record; a missing record is not an error (rule D6).
    async fn adelete(&self, key: &SessionKey) -> Result<()>;

    /// Removes expired records where the store keeps them; returns how many (rule D8).
    async fn aclear_expired(&self) -> Result<u64>;
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
    /// See [`AsyncSessionStore::adelete`].
    fn delete(&self, key: &SessionKey) -> Result<()>;
    /// See [`AsyncSessionStore::aclear_expired`].
    fn clear_expired(&self) -> Result<u64>;
}

/// Sync -> async bridge: runs a [`SessionStore`] on tokio's blocking pool (Django's
/// `sync_to_async`). Outside a tokio runtime the call runs inline.
///
/// `Debug` shows the store's capabilities only (rule H5), as for [`SessionBackend`].
pub struct SyncToAsync<S: ?Sized>(pub Arc<S>);

impl<S: SessionStore + ?Sized> fmt::Debug for SyncToAsync<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncToAsync")
            .field("capabilities", &self.0.capabilities())
            .finish_non_exhaustive()
    }
}

impl<S: SessionStore + ?Sized + 'static> SyncToAsync<S> {
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&S) -> Result<T> + Send + 'static,
    {
        let store = Arc::clone(&self.0);
        match Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || f(&store))
                .await
                .map_err(Error::backend)?,
            Err(_) => f(&store),
        }
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized + 'static> AsyncSessionStore for SyncToAsync<S> {
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        let key = key.clone();
        self.run(move |s| s.exists(&key)).await
    }
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        let key = key.clone();
        self.run(move |s| s.load(&key)).await
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let record = record.clone();
        self.run(move |s| s.save(&record, mode)).await
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        let key = key.clone();
        self.run(move |s| s.delete(&key)).await
    }
    async fn aclear_expired(&self) -> Result<u64> {
        self.run(|s| s.clear_expired()).await
    }
}

/// Sync -> async without a thread hop, for stores whose calls never wait on I/O
/// (an in-process map, CPU-only signing): the async side calls the sync side inline,
/// which is cheaper than a trip through the blocking pool.
///
/// `Debug` shows the store's capabilities only (rule H5), as for [`SessionBackend`].
pub struct InlineAsync<S: ?Sized>(pub Arc<S>);

impl<S: SessionStore + ?Sized> fmt::Debug for InlineAsync<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineAsync")
            .field("capabilities", &self.0.capabilities())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> AsyncSessionStore for InlineAsync<S> {
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn aexists(&self, key: &SessionKey) -> Result<bool> {
        self.0.exists(key)
    }
    async fn aload(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.0.load(key)
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.0.save(record, mode)
    }
    async fn acreate_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        self.0.create_with(data, expires_at, keys)
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        self.0.delete(key)
    }
    async fn aclear_expired(&self) -> Result<u64> {
        self.0.clear_expired()
    }
}

/// Async -> sync bridge: blocks on an [`AsyncSessionStore`].
///
/// - From a plain thread: runs the future on the runtime whose handle the bridge was
///   built with ([`AsyncToSync::with_handle`]).
/// - From a multi-thread tokio runtime: `block_in_place` + `block_on`, so the worker's
///   other tasks move elsewhere and nothing deadlocks.
/// - From a current-thread runtime, blocking would stall the only thread that drives
///   the store's I/O: the call returns [`Error::BlockingNotAllowed`] instead of
///   deadlocking or panicking. Use the async methods there.
///
/// `Debug` shows the store's capabilities only (rule H5), as for [`SessionBackend`].
pub struct AsyncToSync<S: ?Sized> {
    inner: Arc<S>,
    handle: Option<Handle>,
}

impl<S: AsyncSessionStore + ?Sized> fmt::Debug for AsyncToSync<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncToSync")
            .field("capabilities", &self.inner.capabilities())
            .field("has_handle", &self.handle.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncSessionStore + ?Sized> AsyncToSync<S> {
    /// A bridge that blocks on the current runtime (inside one) and is unusable from
    /// plain threads unless the call happens inside a runtime.
    pub fn new(inner: Arc<S>) -> Self {
        AsyncToSync {
            inner,
            handle: Handle::try_current().ok(),
        }
    }

    /// A bridge that uses `handle` when called from a thread outside any runtime.
    pub fn with_handle(inner: Arc<S>, handle: Handle) -> Self {
        AsyncToSync {
            inner,
            handle: Some(handle),
        }
    }

    fn block<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        match Handle::try_current() {
            Ok(current) => match current.runtime_flavor() {
                RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(move || current.block_on(fut))
                }
                _ => Err(Error::BlockingNotAllowed(
                    "sync session call inside a current-thread tokio runtime; use the async twin",
                )),
            },
            Err(_) => match &self.handle {
                Some(handle) => handle.block_on(fut),
                None => Err(Error::BlockingNotAllowed(
                    "sync session call outside a tokio runtime and the bridge has no runtime handle",
                )),
            },
        }
    }
}

impl<S: AsyncSessionStore + ?Sized> SessionStore for AsyncToSync<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn exists(&self, key: &SessionKey) -> Result<bool> {
        self.block(self.inner.aexists(key))
    }
    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        self.block(self.inner.aload(key))
    }
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.block(self.inner.asave(record, mode))
    }
    fn create_with(
        &self,
        data: &SessionData,
        expires_at: OffsetDateTime,
        keys: &dyn KeyGenerator,
    ) -> Result<SessionKey> {
        self.block(self.inner.acreate_with(data, expires_at, keys))
    }
    fn delete(&self, key: &SessionKey) -> Result<()> {
        self.block(self.inner.adelete(key))
    }
    fn clear_expired(&self) -> Result<u64> {
        self.block(self.inner.aclear_expired())
    }
}

/// A store seen through both contracts: what a [`crate::Session`] holds. Sync methods
/// of the session use the sync side, async twins the async side (rule D9).
///
/// `Debug` shows the store's [`Capabilities`] only, never the store's own `Debug`,
/// which may print keys or data (rule H5).
#[derive(Clone)]
pub struct SessionBackend {
    sync: Arc<dyn SessionStore>,
    nonblocking: Arc<dyn AsyncSessionStore>,
}

impl fmt::Debug for SessionBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionBackend")
            .field("capabilities", &self.capabilities())
            .finish_non_exhaustive()
    }
}

impl SessionBackend {
    /// A sync-native store; the async side runs it on the blocking pool.
    pub fn from_sync<S: SessionStore + 'static>(store: Arc<S>) -> Self {
        SessionBackend {
            sync: store.clone(),
            nonblocking: Arc::new(SyncToAsync(store)),
        }
    }

    /// A sync store whose calls never wait on I/O (memory, signed cookies); the async
    /// side calls it inline ([`InlineAsync`]).
    pub fn from_nonblocking_sync<S: SessionStore + 'static>(store: Arc<S>) -> Self {
        SessionBackend {
            sync: store.clone(),
            nonblocking: Arc::new(InlineAsync(store)),
        }
    }

    /// An async-native store; the sync side blocks on it (see [`AsyncToSync`]).
    pub fn from_async<S: AsyncSessionStore + 'static>(store: Arc<S>) -> Self {
        SessionBackend {
            sync: Arc::new(AsyncToSync::new(store.clone())),
            nonblocking: store,
        }
    }

    /// An async-native store whose sync side uses `handle` from plain threads.
    pub fn from_async_with_handle<S: AsyncSessionStore + 'static>(
        store: Arc<S>,
        handle: Handle,
    ) -> Self {
        SessionBackend {
            sync: Arc::new(AsyncToSync::with_handle(store.clone(), handle)),
            nonblocking: store,
        }
    }

    /// A store implementing both contracts natively (no bridge on either side).
    pub fn from_both<S: SessionStore + AsyncSessionStore + 'static>(store: Arc<S>) -> Self {
        SessionBackend {
            sync: store.clone(),
            nonblocking: store,
        }
    }

    /// The sync side.
    pub fn sync(&self) -> &dyn SessionStore {
        &*self.sync
    }

    /// The async side.
    pub fn nonblocking(&self) -> &dyn AsyncSessionStore {
        &*self.nonblocking
    }

    /// The store's capabilities.
    pub fn capabilities(&self) -> Capabilities {
        self.sync.capabilities()
    }
}
