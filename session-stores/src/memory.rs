//! A process-local store: bounded, expiry-first eviction, safe under concurrent use.
//!
//! Like Django's local-memory cache it is not shared between processes: use it for
//! tests, development and single-process sites.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use session_api::{
    Capabilities, Clock, Record, Result, SaveMode, SessionData, SessionKey, SessionStore,
    SystemClock,
};

use crate::expiring::ExpiringMap;

/// Default bound on the number of sessions kept.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// The in-memory store.
///
/// When full, a new session first displaces expired ones, then the one closest to
/// expiry. Expired entries are never returned.
///
/// ```
/// use std::sync::Arc;
/// use session_stores::memory::MemoryStore;
/// use session_api::SessionBackend;
/// let backend = SessionBackend::from_nonblocking_sync(Arc::new(MemoryStore::new()));
/// assert!(backend.capabilities().server_side);
/// ```
///
/// Its `Debug` shows the number of sessions and the bound, never a key or data.
pub struct MemoryStore {
    inner: Mutex<ExpiringMap<SessionKey, SessionData>>,
    clock: Arc<dyn Clock>,
    max_entries: usize,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `try_lock`, as `Mutex`'s own `Debug`: formatting never waits or deadlocks.
        let len = match self.inner.try_lock() {
            Ok(map) => Some(map.len()),
            Err(std::sync::TryLockError::Poisoned(map)) => Some(map.into_inner().len()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        f.debug_struct("MemoryStore")
            .field("len", &len)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store bounded to [`DEFAULT_MAX_ENTRIES`], on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// A store on `clock` (inject a `ManualClock` in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            inner: Mutex::default(),
            clock,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }

    /// Sets the bound on the number of sessions (at least 1).
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max.max(1);
        self
    }

    /// How many sessions are held, expired ones included until evicted.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ExpiringMap<SessionKey, SessionData>> {
        // The map is consistent after every statement, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionStore for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::server_side()
    }

    fn exists(&self, key: &SessionKey) -> Result<bool> {
        Ok(self.lock().live(key, self.clock.now()).is_some())
    }

    fn load(&self, key: &SessionKey) -> Result<Option<Record>> {
        Ok(self
            .lock()
            .live_entry(key, self.clock.now())
            .map(|(data, expires_at)| Record::new(key.clone(), data.clone(), expires_at)))
    }

    fn save(&self, record: &Record, mode: SaveMode) -> Result<SessionKey> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let live = inner.live(&record.key, now).is_some();
        match (mode, live) {
            (SaveMode::Create, true) => return Err(session_api::Error::Create),
            // D5: a vanished (or expired) record is never re-created by an update.
            (SaveMode::Update, false) => return Err(session_api::Error::Update),
            (SaveMode::Create, false) | (SaveMode::Update, true) => {}
        }
        inner.insert(
            record.key.clone(),
            record.data.clone(),
            record.expires_at,
            self.max_entries,
            now,
        );
        Ok(record.key.clone())
    }

    fn delete(&self, key: &SessionKey) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }

    fn clear_expired(&self) -> Result<u64> {
        Ok(self.lock().purge(self.clock.now(), usize::MAX))
    }
}
