//! [`SessionBackend`]: one store through both contracts.

use std::fmt;
use std::sync::Arc;

use tokio::runtime::Handle;

use super::{AsyncSessionStore, AsyncToSync, Capabilities, InlineAsync, SessionStore, SyncToAsync};

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
