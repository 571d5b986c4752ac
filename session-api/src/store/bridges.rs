//! The bridges between the sync and async contracts.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::runtime::{Handle, RuntimeFlavor};

use super::{
    AccountSession, AccountSessions, AsyncAccountSessions, AsyncSessionStore, Capabilities, Lookup,
    Record, SaveMode, SessionStore, Version,
};
use crate::data::SessionData;
use crate::error::{Error, Result};
use crate::key::{KeyGenerator, SessionKey};

/// The error of an account call on a store without an account index.
fn no_index() -> Error {
    Error::Unsupported("account index")
}

/// Sync -> async bridge: runs a [`SessionStore`] on tokio's blocking pool (Django's
/// `sync_to_async`). Outside a tokio runtime the call runs inline.
///
/// `Debug` shows the store's capabilities only (rule H5), as for [`SessionBackend`](super::SessionBackend).
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
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        let key = key.clone();
        self.run(move |s| s.lookup(&key)).await
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let record = record.clone();
        self.run(move |s| s.save(&record, mode)).await
    }
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        let record = record.clone();
        self.run(move |s| s.save_if(&record, expected)).await
    }
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        let key = key.clone();
        self.run(move |s| s.touch(&key, expires_at)).await
    }
    async fn adelete(&self, key: &SessionKey) -> Result<()> {
        let key = key.clone();
        self.run(move |s| s.delete(&key)).await
    }
    async fn aclear_expired(&self) -> Result<u64> {
        self.run(|s| s.clear_expired()).await
    }
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.0.accounts().map(|_| self as &dyn AsyncAccountSessions)
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized + 'static> AsyncAccountSessions for SyncToAsync<S> {
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        self.run(move |s| s.accounts().ok_or_else(no_index)?.list_sessions(account))
            .await
    }
    async fn arevoke_all(&self, account: i64) -> Result<u64> {
        self.run(move |s| s.accounts().ok_or_else(no_index)?.revoke_all(account))
            .await
    }
    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        let current = current.clone();
        self.run(move |s| {
            s.accounts()
                .ok_or_else(no_index)?
                .revoke_all_except(account, &current)
        })
        .await
    }
}

/// Sync -> async without a thread hop, for stores whose calls never wait on I/O
/// (an in-process map, CPU-only signing): the async side calls the sync side inline,
/// which is cheaper than a trip through the blocking pool.
///
/// `Debug` shows the store's capabilities only (rule H5), as for [`SessionBackend`](super::SessionBackend).
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
    async fn alookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.0.lookup(key)
    }
    async fn asave(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.0.save(record, mode)
    }
    async fn asave_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.0.save_if(record, expected)
    }
    async fn atouch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.0.touch(key, expires_at)
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
    fn accounts(&self) -> Option<&dyn AsyncAccountSessions> {
        self.0.accounts().map(|_| self as &dyn AsyncAccountSessions)
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> AsyncAccountSessions for InlineAsync<S> {
    async fn alist_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        self.0
            .accounts()
            .ok_or_else(no_index)?
            .list_sessions(account)
    }
    async fn arevoke_all(&self, account: i64) -> Result<u64> {
        self.0.accounts().ok_or_else(no_index)?.revoke_all(account)
    }
    async fn arevoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        self.0
            .accounts()
            .ok_or_else(no_index)?
            .revoke_all_except(account, current)
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
/// `Debug` shows the store's capabilities only (rule H5), as for [`SessionBackend`](super::SessionBackend).
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
    fn lookup(&self, key: &SessionKey) -> Result<Lookup> {
        self.block(self.inner.alookup(key))
    }
    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        self.block(self.inner.asave(record, mode))
    }
    fn save_if(&self, record: &Record, expected: Version) -> Result<Version> {
        self.block(self.inner.asave_if(record, expected))
    }
    fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime) -> Result<()> {
        self.block(self.inner.atouch(key, expires_at))
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
    fn accounts(&self) -> Option<&dyn AccountSessions> {
        self.inner.accounts().map(|_| self as &dyn AccountSessions)
    }
}

impl<S: AsyncSessionStore + ?Sized> AccountSessions for AsyncToSync<S> {
    fn list_sessions(&self, account: i64) -> Result<Vec<AccountSession>> {
        let index = self.inner.accounts().ok_or_else(no_index)?;
        self.block(index.alist_sessions(account))
    }
    fn revoke_all(&self, account: i64) -> Result<u64> {
        let index = self.inner.accounts().ok_or_else(no_index)?;
        self.block(index.arevoke_all(account))
    }
    fn revoke_all_except(&self, account: i64, current: &SessionKey) -> Result<u64> {
        let index = self.inner.accounts().ok_or_else(no_index)?;
        self.block(index.arevoke_all_except(account, current))
    }
}
